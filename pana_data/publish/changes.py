"""What changed from one version to the next: one line per actor added, modified or deleted,
with each changed field's value before and after, and a human summary (counts per operation,
per source and per département, merges). ``pana diff`` computes the same for any two versions."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

OPS = ("ADD", "MOD", "DEL")
NOTABLE = 20  # merges listed by name in a summary


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def read_actors(folder: Path) -> dict[str, dict[str, Any]]:
    """A published version's actors (its ``actors.json``) by id."""
    rows = json.loads((folder / "actors.json").read_text(encoding="utf-8"))
    return {row["id"]: row for row in rows}


def read_redirects(folder: Path) -> list[dict[str, Any]]:
    """A published version's absorbed ids (its ``ids_redirects.csv``)."""
    path = folder / "ids_redirects.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def diff(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[dict]:
    """``{"op", "id", "fields": {name: [before, after]}}`` for every actor that changed, by id.
    Empty values (none, "", []) are absent: an actor gaining a field shows ``[null, value]``."""
    changes = []
    for actor_id in sorted(before.keys() | after.keys()):
        old, new = before.get(actor_id), after.get(actor_id)
        names = sorted((old or {}).keys() | (new or {}).keys())
        fields = {}
        for name in names:
            a = None if old is None or _empty(old.get(name)) else old.get(name)
            b = None if new is None or _empty(new.get(name)) else new.get(name)
            if a != b:
                fields[name] = [a, b]
        op = "ADD" if old is None else "DEL" if new is None else "MOD"
        if fields or op != "MOD":
            changes.append({"op": op, "id": actor_id, "fields": fields})
    return changes


def jsonl(changes: list[dict]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n" for c in changes)


def summary(
    changes: list[dict],
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    old: str | None,
    new: str,
    redirects: list[dict[str, Any]] = (),
) -> str:
    """The CHANGELOG of a version: markdown, in French like the data."""
    title = f"# Changements de {old} à {new}" if old else f"# Version {new} (première version)"
    counts = Counter(c["op"] for c in changes)
    lines = [
        title,
        "",
        f"{len(after)} acteurs"
        + (f" (contre {len(before)} dans {old})." if old else ".")
        + f" {counts['ADD']} ajoutés, {counts['MOD']} modifiés, {counts['DEL']} supprimés.",
        "",
    ]
    if not changes:
        lines.extend(["Aucun changement.", ""])
        return "\n".join(lines)

    def table(heading: str, key_of) -> None:
        grid: dict[str, Counter] = {}
        for c in changes:
            row = after.get(c["id"]) or before.get(c["id"]) or {}
            for key in key_of(row):
                grid.setdefault(key or "—", Counter())[c["op"]] += 1
        lines.extend([f"## Par {heading}", "", f"| {heading} | ajouts | modifications | "
                      "suppressions |", "| --- | ---: | ---: | ---: |"])  # fmt: skip
        for key in sorted(grid):
            lines.append(f"| {key} | " + " | ".join(str(grid[key][op]) for op in OPS) + " |")
        lines.append("")

    table("source", lambda row: row.get("sources") or [None])
    table("département", lambda row: [row.get("departement")])
    fields = Counter(name for c in changes if c["op"] == "MOD" for name in c["fields"])
    if fields:
        lines.extend(["## Champs modifiés", "", "| champ | acteurs |", "| --- | ---: |"])
        lines.extend(f"| {name} | {n} |" for name, n in sorted(fields.items()))
        lines.append("")
    deleted = {c["id"] for c in changes if c["op"] == "DEL"}
    merges = [r for r in redirects if r["old_id"] in deleted and r["new_id"] in after]
    if merges:
        lines.extend([f"## Fusions ({len(merges)})", ""])
        for r in sorted(merges, key=lambda r: r["old_id"])[:NOTABLE]:
            lines.append(
                f"- {r['old_id']} ({before[r['old_id']].get('nom')}) → {r['new_id']} "
                f"({after[r['new_id']].get('nom')})"
            )
        if len(merges) > NOTABLE:
            lines.append(f"- … et {len(merges) - NOTABLE} autres (ids_redirects.csv)")
        lines.append("")
    return "\n".join(lines)
