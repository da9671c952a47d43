"""Parse and validate: raw records -> schema records, rejects and warnings.

Code-list values go through the source's lookups, then match a code by value or French label
(case and accents ignored). An unknown code-list value is a warning, not a rejection. Any other
schema violation quarantines the record with its source, record id, field and reason; the raw row
is kept beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .archive import ArchivedBody
from .catalog import SourceSpec
from .schema import CODE_LISTS, SourceRecord
from .schema.codelists import MULTI_CODE_FIELDS, match_key
from .schema.models import split_multi
from .sources import DEFAULT_LOOKUPS, RawRecord, get_parser


@dataclass
class Issue:
    source_id: str
    record_id: str
    field: str
    reason: str
    raw: dict[str, Any] | None = None


@dataclass
class ParseResult:
    source_id: str
    rows: int = 0
    records: list[SourceRecord] = field(default_factory=list)
    rejects: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "accepted": len(self.records),
            "rejected": len({r.record_id for r in self.rejects}),
            "warnings": len(self.warnings),
        }


class CodeMapper:
    """Source lookups first (kind defaults, then catalog), then the code list itself.

    A lookup key may contain separators (``Informer; Orienter``): the whole value is looked up
    before it is split into items."""

    def __init__(self, spec: SourceSpec):
        merged: dict[str, dict[str, str | None]] = {}
        for lookups in (DEFAULT_LOOKUPS.get(spec.parse_as or spec.kind, {}), spec.lookups):
            for name, table in lookups.items():
                merged.setdefault(name, {}).update({match_key(k): v for k, v in table.items()})
        self.lookups = merged

    def map(self, name: str, value: Any) -> tuple[Any, list[str]]:
        """Return the mapped value(s) and warnings for unknown values."""
        if name not in CODE_LISTS or value in (None, ""):
            return value, []
        multi = name in MULTI_CODE_FIELDS
        table = self.lookups.get(name, {})
        if isinstance(value, str):
            if match_key(value) in table or not multi:
                items = [value]
            else:
                items = split_multi(value)
        else:
            items = list(value)
        out: list[str] = []
        warnings: list[str] = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            key = match_key(item)
            targets = [item]
            if key in table:
                if table[key] is None:
                    continue
                targets = table[key].split("|")
            for target in targets:
                code = CODE_LISTS[name].match(target)
                if code is None:
                    warnings.append(f"unknown {name} value {item!r} ignored")
                elif code.value not in out:
                    out.append(code.value)
        if multi:
            return out, warnings
        return (out[0] if out else None), warnings


def _field_of(error: dict) -> str:
    loc = [p for p in error["loc"] if isinstance(p, str)]
    return loc[0] if loc else "record"


def validate_rows(spec: SourceSpec, raws: Iterable[RawRecord]) -> ParseResult:
    result = ParseResult(spec.id)
    mapper = CodeMapper(spec)
    seen: set[str] = set()
    for raw in raws:
        result.rows += 1
        record_id = str(raw.record_id).strip() if raw.record_id not in (None, "") else ""
        if not record_id:
            record_id = f"row-{raw.row_number}"
            result.rejects.append(
                Issue(spec.id, record_id, "record_id", "record id is empty", raw.raw)
            )
            continue
        if record_id in seen:
            result.rejects.append(
                Issue(spec.id, record_id, "record_id", "record id appears twice", raw.raw)
            )
            continue
        seen.add(record_id)
        for name, message in raw.notes:
            result.warnings.append(Issue(spec.id, record_id, name, message))
        data = dict(raw.fields)
        for name in list(data):
            data[name], notes = mapper.map(name, data[name])
            for message in notes:
                result.warnings.append(Issue(spec.id, record_id, name, message))
        try:
            record = SourceRecord.model_validate(
                {**data, "source_id": spec.id, "record_id": record_id}
            )
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                name = _field_of(error)
                reason = error["msg"].removeprefix("Value error, ")
                if name in data and "input" not in reason:
                    reason = f"{reason} (value {data[name]!r})"
                result.rejects.append(Issue(spec.id, record_id, name, reason, raw.raw))
            continue
        result.records.append(record)
    return result


def parse_source(spec: SourceSpec, body: ArchivedBody) -> ParseResult:
    """Read an archived body with the source's kind and validate every row."""
    return validate_rows(spec, get_parser(spec.parse_as or spec.kind)(spec, body))


def write_staged(result: ParseResult, folder: Path, token: str) -> dict[str, str]:
    """Write the stage's output as JSON lines, for the load stage to read. ``token`` makes the
    names this parse's own, so that two runs parsing the same source never share a file."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{result.source_id}.{token}"
    paths = {
        "records": folder / f"{stem}.records.jsonl",
        "rejects": folder / f"{stem}.rejects.jsonl",
        "warnings": folder / f"{stem}.warnings.jsonl",
    }
    with paths["records"].open("w", encoding="utf-8") as out:
        for record in result.records:
            out.write(record.model_dump_json() + "\n")
    for name in ("rejects", "warnings"):
        with paths[name].open("w", encoding="utf-8") as out:
            for issue in getattr(result, name):
                item = asdict(issue)
                item["raw"] = json.dumps(issue.raw, ensure_ascii=False) if issue.raw else None
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
    return {k: str(v) for k, v in paths.items()}
