"""Maintainer judgements: a versioned CSV of record pairs judged ``same`` or ``different``.

Columns: ``source_id_1, record_id_1, source_id_2, record_id_2, judgement, author, date`` (and an
optional ``note``). The file is append-only history kept in git beside the catalog; for a pair
judged several times, the latest line wins. Judgements override the model on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .match import RecordKey

COLUMNS = [
    "source_id_1",
    "record_id_1",
    "source_id_2",
    "record_id_2",
    "judgement",
    "author",
    "date",
]
JUDGEMENTS = ("same", "different")


class JudgementError(ValueError):
    """A judgements file that cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class Judgements:
    same: list[tuple[RecordKey, RecordKey]]
    different: list[tuple[RecordKey, RecordKey]]

    @cached_property
    def _index(self) -> dict[frozenset, str]:
        index = {frozenset(p): "same" for p in self.same}
        index.update({frozenset(p): "different" for p in self.different})
        return index

    def of(self, left: RecordKey, right: RecordKey) -> str | None:
        return self._index.get(frozenset((left, right)))


def load_judgements(path: Path | None) -> Judgements:
    if path is None or not path.exists():
        return Judgements([], [])
    latest: dict[frozenset, tuple[str, RecordKey, RecordKey]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise JudgementError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            judgement = (row["judgement"] or "").strip().lower()
            if judgement not in JUDGEMENTS:
                raise JudgementError(
                    f"{path}:{line}: judgement must be same or different, got {row['judgement']!r}"
                )
            if not (row["author"] or "").strip():
                raise JudgementError(f"{path}:{line}: author is empty")
            try:
                dt.date.fromisoformat((row["date"] or "").strip()[:10])
            except ValueError as exc:
                raise JudgementError(f"{path}:{line}: date {row['date']!r} is not ISO") from exc
            left = (row["source_id_1"].strip(), row["record_id_1"].strip())
            right = (row["source_id_2"].strip(), row["record_id_2"].strip())
            latest[frozenset((left, right))] = (judgement, left, right)
    same = [(a, b) for j, a, b in latest.values() if j == "same"]
    different = [(a, b) for j, a, b in latest.values() if j == "different"]
    return Judgements(same, different)
