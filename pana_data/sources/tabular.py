"""Reading tabular bytes (CSV, XLSX, JSON lists) into rows of strings, with format, encoding and
delimiter detection. Shared by the kinds; knows nothing of the schema."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from openpyxl import load_workbook

DELIMITERS = (",", ";", "\t", "|")
FIELD_SIZE_LIMIT = 16 * 1024 * 1024  # long descriptions are data, not an attack
csv.field_size_limit(FIELD_SIZE_LIMIT)


class FormatError(ValueError):
    """Bytes that cannot be read in the declared or detected format."""


def detect_encoding(data: bytes) -> str:
    """UTF-8 with BOM, UTF-8, else Windows-1252 (a superset of Latin-1 for printable text)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
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
    """The delimiter that splits the first lines into the most columns, consistently."""
    lines = text.splitlines()[:50]
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows)
        score = (consistent if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def detect_format(data: bytes, name: str = "") -> str:
    """An XLSX is a zip whatever its name; then the file name's extension; then JSON if the bytes
    parse as JSON; else CSV."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    path = name.lower().split("?", 1)[0]
    for suffix, fmt in ((".csv", "csv"), (".tsv", "csv"), (".txt", "csv"), (".json", "json")):
        if path.endswith(suffix):
            return fmt
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
        try:
            json.loads(data.decode(detect_encoding(data)))
            return "json"
        except ValueError:
            pass
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


def _unique(names: list[str]) -> list[str]:
    """Duplicate column names get a suffix (``Tel``, ``Tel (2)``) so no cell is lost."""
    taken = set(names)
    out: list[str] = []
    for name in names:
        if name in out:
            n = 2
            while f"{name} ({n})" in taken:
                n += 1
            name = f"{name} ({n})"
            taken.add(name)
        out.append(name)
    return out


class Rows:
    """``(row number, row)`` pairs of a table, and its columns. Row numbers count every data row
    of the file (blank ones too), so they stay put when a blank row is skipped. JSON has no
    header: its columns are the keys its objects use."""

    def __init__(self, columns: list[str], rows: Iterator[tuple[int, dict]], header: bool):
        self.columns = columns
        self.header = header
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        return self._rows


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Decode with the declared encoding, else the detected one. A file that is not UTF-8 as a
    whole is decoded line by line (UTF-8, else cp1252): concatenated exports mix both, and one
    cp1252 line must not turn every accent of the UTF-8 lines into mojibake."""
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise FormatError(f"cannot decode as {encoding}: {exc}") from exc
    if detect_encoding(data) == "utf-16":
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = []
    for line in data.splitlines(keepends=True):
        for encoding in ("utf-8", "cp1252", "latin-1"):
            try:
                lines.append(line.decode(encoding))
                break
            except UnicodeDecodeError:
                continue
    return "".join(lines).lstrip("\ufeff")


def read_csv(data: bytes, encoding: str | None, delimiter: str | None) -> Rows:
    text = decode_text(data, encoding).lstrip("\ufeff")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter or detect_delimiter(text), strict=True
    )
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise FormatError(f"line 1: {exc}") from exc
    columns = _unique([name.strip() for name in header])

    def rows() -> Iterator[tuple[int, dict]]:
        number = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FormatError(f"line {reader.line_num}: {exc}") from exc
            number += 1
            if not any(v.strip() for v in values):
                continue
            row = {name: _cell(v) for name, v in zip(columns, values, strict=False)}
            if len(values) > len(columns):
                row["__extra__"] = "|".join(values[len(columns) :])
            yield number, row

    return Rows(columns, rows(), header=True)


def read_xlsx(data: bytes, sheet: str | None) -> Rows:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise FormatError(f"not a readable XLSX file: {exc}") from exc
    if sheet and sheet not in book.sheetnames:
        raise FormatError(f"no sheet {sheet!r}; sheets are: {', '.join(book.sheetnames)}")
    ws = book[sheet] if sheet else book.worksheets[0]
    ws.reset_dimensions()  # the stored <dimension> may be wrong; read every row there is
    cells = ws.iter_rows(values_only=True)
    header = next(cells, None) or ()
    names = _unique(
        [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
    )

    def rows() -> Iterator[tuple[int, dict]]:
        for number, values in enumerate(cells, start=1):
            if values is None or all(v is None for v in values):
                continue
            yield number, {name: _cell(v) for name, v in zip(names, values, strict=False)}

    return Rows(names, rows(), header=True)


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


def read_json(data: bytes, records_path: str | None) -> Rows:
    try:
        doc = json.loads(data.decode(detect_encoding(data)))
    except ValueError as exc:
        raise FormatError(f"not valid JSON: {exc}") from exc
    for key in records_path.split(".") if records_path else []:
        if not isinstance(doc, dict) or key not in doc:
            raise FormatError(f"records_path {records_path!r}: no key {key!r}")
        doc = doc[key]
    if not isinstance(doc, list):
        raise FormatError("expected a JSON list of records (set records_path)")
    items = []
    for index, item in enumerate(doc):
        if not isinstance(item, dict):
            raise FormatError(
                f"item {index} of the JSON list is a {type(item).__name__}, not an object"
            )
        items.append(_flatten(item))
    columns = list(dict.fromkeys(key for item in items for key in item))
    return Rows(columns, enumerate(items, start=1), header=False)


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
