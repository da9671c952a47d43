"""The DuckDB store: records, rejects, warnings, harvests and actor membership.

Tables are derived from the schema models, so a new field needs no hand-written DDL. Loading a
source replaces that source's rows in one transaction: a failed load leaves the last good harvest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from .archive import ArchivedBody
from .schema import SourceRecord
from .schema.generate import _resolve

_SCALAR_TYPES = {"string": "VARCHAR", "number": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN"}


def record_columns() -> dict[str, str]:
    """Column name -> DuckDB type of the ``records`` table, from ``SourceRecord``."""
    schema = SourceRecord.model_json_schema()
    defs = schema.get("$defs", {})
    columns = {"source_id": "VARCHAR", "record_id": "VARCHAR"}
    for name, prop in schema["properties"].items():
        if name in columns:
            continue
        prop, _ = _resolve(prop, defs)
        if prop.get("type") == "array":
            columns[name] = "VARCHAR[]"
        elif prop.get("format") == "date":
            columns[name] = "DATE"
        else:
            columns[name] = _SCALAR_TYPES.get(prop.get("type", "string"), "VARCHAR")
    return columns


ISSUE_COLUMNS = {
    "source_id": "VARCHAR",
    "record_id": "VARCHAR",
    "field": "VARCHAR",
    "reason": "VARCHAR",
    "raw": "VARCHAR",
}


HARVEST_COUNTS = (
    "rows",
    "accepted",
    "rejected",
    "warnings",
    "downloaded",
    "requests",
    "not_modified",
    "entries",
)

MEMORY_LIMIT = os.environ.get("PANA_DUCKDB_MEMORY_LIMIT", "2GB")


def limit_memory(con: duckdb.DuckDBPyConnection, spill_to: Path | None = None) -> None:
    """Cap DuckDB's memory (``PANA_DUCKDB_MEMORY_LIMIT``, default 2GB): past it, it spills to
    disk instead of growing, which keeps a national run inside a small machine."""
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    if spill_to is not None:
        spill_to.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(spill_to)])


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    limit_memory(con)
    cols = ", ".join(f"{name} {kind}" for name, kind in record_columns().items())
    issues = ", ".join(f"{name} {kind}" for name, kind in ISSUE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS records ({cols}, PRIMARY KEY (source_id, record_id))")
    # A field added to the schema (a minor version) is a new column of an existing store.
    present = {r[0] for r in con.execute("DESCRIBE records").fetchall()}
    for name, kind in record_columns().items():
        if name not in present:
            con.execute(f'ALTER TABLE records ADD COLUMN "{name}" {kind}')
    con.execute(f"CREATE TABLE IF NOT EXISTS rejects ({issues})")
    con.execute(f"CREATE TABLE IF NOT EXISTS warnings ({issues})")
    con.execute(
        "CREATE TABLE IF NOT EXISTS harvests (source_id VARCHAR PRIMARY KEY, url VARCHAR, "
        "sha256 VARCHAR, size BIGINT, fetched_at VARCHAR, rows BIGINT, accepted BIGINT, "
        "rejected BIGINT, warnings BIGINT, downloaded BIGINT, requests BIGINT, "
        "not_modified BIGINT, entries BIGINT)"
    )
    present = {r[0] for r in con.execute("DESCRIBE harvests").fetchall()}
    for name in ("downloaded", "requests", "not_modified", "entries"):
        if name not in present:
            con.execute(f"ALTER TABLE harvests ADD COLUMN {name} BIGINT")
    con.execute(
        "CREATE TABLE IF NOT EXISTS actor_members (actor_id VARCHAR, source_id VARCHAR, "
        "record_id VARCHAR, PRIMARY KEY (source_id, record_id))"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS actor_ids (actor_id VARCHAR PRIMARY KEY, minted_at VARCHAR)"
    )
    # Ids absorbed by a merge: old_id now redirects to new_id (published as ids_redirects.csv).
    con.execute(
        "CREATE TABLE IF NOT EXISTS actor_redirects (old_id VARCHAR PRIMARY KEY, new_id VARCHAR, "
        "date VARCHAR)"
    )
    # The last actor of every record ever seen: ids survive a record's absence from a run.
    con.execute(
        "CREATE TABLE IF NOT EXISTS record_actors (source_id VARCHAR, record_id VARCHAR, "
        "actor_id VARCHAR, name_key VARCHAR, seen_at VARCHAR, PRIMARY KEY (source_id, record_id))"
    )
    return con


def _read_jsonl(columns: dict[str, str]) -> str:
    """SELECT over a JSON-lines file given as the query's parameter (never pasted into SQL)."""
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    return (
        f"SELECT {', '.join(columns)} FROM read_json(?, format='newline_delimited', columns={spec})"
    )


def load_source(
    con: duckdb.DuckDBPyConnection,
    source_id: str,
    staged: dict[str, str],
    body: ArchivedBody,
    summary: dict[str, int],
    url: str | None = None,
    register: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Replace one source's rows with its staged output, atomically. ``url`` is what reports
    show of where the harvest came from (default: the archived body's url); ``register`` loads
    a register's entries in the same transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        if register is not None:
            register(con)
        for table, columns in (
            ("records", record_columns()),
            ("rejects", ISSUE_COLUMNS),
            ("warnings", ISSUE_COLUMNS),
        ):
            con.execute(f"DELETE FROM {table} WHERE source_id = ?", [source_id])
            if Path(staged[table]).stat().st_size:
                con.execute(f"INSERT INTO {table} {_read_jsonl(columns)}", [staged[table]])
        con.execute("DELETE FROM harvests WHERE source_id = ?", [source_id])
        values = {
            "source_id": source_id,
            "url": url or body.url,
            "sha256": body.sha256,
            "size": body.size,
            "fetched_at": body.fetched_at,
            **{k: summary.get(k) for k in HARVEST_COUNTS},
        }
        con.execute(
            f"INSERT INTO harvests ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def harvest_summaries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return fetch_dicts(con, "SELECT * FROM harvests ORDER BY source_id")


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
