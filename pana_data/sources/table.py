"""Kind ``table``: any partner CSV, XLSX or JSON list, mapped to the schema by the catalog."""

from __future__ import annotations

from collections.abc import Iterator

from ..archive import ArchivedBody
from ..catalog import SourceSpec
from .base import RawRecord, register
from .tabular import FormatError, detect_format, read_rows


def _columns(spec: SourceSpec) -> dict[str, list[str]]:
    return {
        target: [cols] if isinstance(cols, str) else list(cols)
        for target, cols in spec.mapping.items()
    }


def _check_columns(spec: SourceSpec, wanted: set[str], columns: list[str]) -> None:
    missing = sorted(wanted - set(columns))
    if missing:
        raise FormatError(
            f"source {spec.id}: column(s) {', '.join(missing)} not found; "
            f"columns are: {', '.join(c for c in columns if c != '__extra__')}"
        )


@register("table")
def parse_table(spec: SourceSpec, body: ArchivedBody) -> Iterator[RawRecord]:
    data = body.read()
    rows = read_rows(
        data,
        spec.format or detect_format(data, spec.url),
        encoding=spec.encoding,
        delimiter=spec.delimiter,
        sheet=spec.sheet,
        records_path=spec.records_path,
    )
    mapping = _columns(spec)
    wanted = {c for cols in mapping.values() for c in cols} | (
        {spec.record_id} if spec.record_id else set()
    )
    if rows.header or rows.columns:  # an empty JSON list has no columns to check
        _check_columns(spec, wanted, rows.columns)
    for number, row in rows:
        fields: dict = dict(spec.constants)
        for target, cols in mapping.items():
            values = [row.get(c) for c in cols]
            values = [v for v in values if v not in (None, "")]
            if not values:
                continue
            if len(values) == 1:
                fields[target] = values[0]
            elif all(isinstance(v, str) for v in values):
                fields[target] = " ".join(values)
            else:
                fields[target] = values
        record_id = row.get(spec.record_id) if spec.record_id else str(number)
        yield RawRecord(record_id=record_id, fields=fields, raw=row, row_number=number)
