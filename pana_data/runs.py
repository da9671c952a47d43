"""Run reports for maintainers: what each source did in a run (fetched, unchanged or failed;
rows, rejects by reason, assertions), the actors that changed, and a failure notice posted to a
webhook. Plain functions over ``work/last_run.json`` and a version folder; the flows turn them
into Prefect artifacts."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import requests

CHANGE_ROWS = 500  # rows of the changes table; changes.jsonl has them all
_VALUE = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d[\d.,]*\b")


def reason_of(field: str, reason: str) -> str:
    """A reject's reason without the values it quotes, so that reasons can be counted."""
    return f"{field}: {_VALUE.sub('…', reason)}"


def rejects_by_reason(rejects: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per source, how many records each reason rejected (a record counts once per reason)."""
    seen = {(r["source_id"], r["record_id"], reason_of(r["field"], r["reason"])) for r in rejects}
    counts: dict[str, Counter] = {}
    for source_id, _, reason in seen:
        counts.setdefault(source_id, Counter())[reason] += 1
    return {s: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for s, c in counts.items()}


def outcome(source: dict[str, Any]) -> str:
    """fetched, unchanged (the server answered 304 or the bytes were the same) or failed."""
    if source.get("status") in ("failed", "stale"):
        return "failed"
    if source.get("not_modified") and not source.get("downloaded"):
        return "unchanged"
    return "fetched"


def source_markdown(source: dict[str, Any]) -> str:
    """The report of one source in one run."""
    lines = [
        f"# {source['source_id']}: {outcome(source)}",
        "",
        f"- status: `{source.get('status')}`"
        + (f", {source['error']}" if source.get("error") else ""),
    ]
    for key, label in (("rows", "rows"), ("entries", "register entries"),
                       ("accepted", "accepted"), ("rejected", "rejected"),
                       ("downloaded", "bytes downloaded"), ("not_modified", "answers 304")):  # fmt: skip
        if source.get(key) is not None:
            lines.append(f"- {label}: {source[key]:,}")
    if source.get("sha256"):
        lines.append(f"- harvest sha256: `{source['sha256']}`")
    reasons = source.get("rejects_by_reason") or {}
    if reasons:
        lines.extend(["", "| rejected because | records |", "| --- | ---: |"])
        lines.extend(f"| {r.replace('|', '/')} | {n} |" for r, n in reasons.items())
    return "\n".join(lines) + "\n"


def change_rows(version: Path, new_version: bool) -> list[dict[str, Any]]:
    """The actors this run changed (none when it made no version), for a table."""
    path = version / "changes.jsonl"
    if not new_version or not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            change = json.loads(line)
            names = [v for v in change["fields"].get("nom", []) if v]
            rows.append({"op": change["op"], "id": change["id"],
                         "nom": names[-1] if names else "",
                         "fields": ", ".join(sorted(change["fields"]))})  # fmt: skip
            if len(rows) == CHANGE_ROWS:
                break
    return rows


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 10) -> None:
    """POST a JSON notice; a webhook that fails is logged by the caller, never retried."""
    response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()
