"""Reading tabular bytes (CSV, XLSX, JSON lists) into rows of strings, with encoding and delimiter
detection. Shared by the kinds; knows nothing of the schema."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from openpyxl import load_workbook

DELIMITERS = (",", ";", "\t")


class FormatError(ValueError):
    """Bytes that cannot be read in the declared or detected format."""


def detect_encoding(data: bytes) -> str:
    """UTF-8 with BOM, UTF-8, else Windows-1252 (a superset of Latin-1 for printable text)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        return max(DELIMITERS, key=header.count)


def detect_format(name: str) -> str:
    lowered = name.lower().split("?", 1)[0]
    for suffix, fmt in ((".xlsx", "xlsx"), (".json", "json"), (".csv", "csv"), (".tsv", "csv")):
        if lowered.endswith(suffix):
            return fmt
    return "csv"


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if hasattr(value, "hour") else value.isoformat()
    text = str(value).strip()
    return text or None


class Rows:
    """Rows of a table, with its header when the format has one (CSV, XLSX)."""

    def __init__(self, columns: list[str] | None, rows: Iterator[dict]):
        self.columns = columns
        self._rows = rows

    def __iter__(self) -> Iterator[dict]:
        return self._rows


def read_csv(data: bytes, encoding: str | None, delimiter: str | None) -> Rows:
    encoding = encoding or detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FormatError(f"cannot decode as {encoding}: {exc}") from exc
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(
        io.StringIO(text, newline=""), delimiter=delimiter or detect_delimiter(text)
    )
    columns = [(name or "").strip() for name in reader.fieldnames or []]
    reader.fieldnames = columns

    def rows() -> Iterator[dict]:
        for row in reader:
            extra = row.pop(None, None)
            if extra:
                row["__extra__"] = "|".join(extra)
            yield {k: _cell(v) for k, v in row.items()}

    return Rows(columns, rows())


def read_xlsx(data: bytes, sheet: str | None) -> Rows:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise FormatError(f"not a readable XLSX file: {exc}") from exc
    ws = book[sheet] if sheet else book.worksheets[0]
    cells = ws.iter_rows(values_only=True)
    header = next(cells, None) or ()
    names = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]

    def rows() -> Iterator[dict]:
        for values in cells:
            if values is None or all(v is None for v in values):
                continue
            yield {name: _cell(v) for name, v in zip(names, values, strict=False)}

    return Rows(names, rows())


def read_json(data: bytes, records_path: str | None) -> Rows:
    try:
        doc = json.loads(data.decode(detect_encoding(data)))
    except ValueError as exc:
        raise FormatError(f"not valid JSON: {exc}") from exc
    for key in (records_path or "").split(".") if records_path else []:
        if not isinstance(doc, dict) or key not in doc:
            raise FormatError(f"records_path {records_path!r}: no key {key!r}")
        doc = doc[key]
    if not isinstance(doc, list):
        raise FormatError("expected a JSON list of records (set records_path)")
    for item in doc:
        if not isinstance(item, dict):
            raise FormatError(f"expected objects in the JSON list, got {type(item).__name__}")
    return Rows(None, (_flatten(item) for item in doc))


def _flatten(item: dict, prefix: str = "") -> dict:
    """Nested objects become dotted column names (``adresse.voie``); lists stay lists."""
    flat: dict = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            flat[name] = [_cell(v) for v in value if _cell(v) is not None]
        else:
            flat[name] = _cell(value)
    return flat


def read_rows(
    data: bytes,
    fmt: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    records_path: str | None = None,
) -> Rows:
    if fmt == "csv":
        return read_csv(data, encoding, delimiter)
    if fmt == "xlsx":
        return read_xlsx(data, sheet)
    if fmt == "json":
        return read_json(data, records_path)
    raise FormatError(f"unknown format {fmt!r}")
