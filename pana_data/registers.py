"""Public registers (RNA, SIRENE): loaded into DuckDB as entries, they enrich and verify actors
instead of flooding the map.

- Staging: a register kind loads its archived bytes into a DuckDB table, written to Parquet for
  the load stage. Entries matching the catalog's ``include`` filter become records (validated like
  any other source's) and so enter the map; the others never do.
- Enrichment: an actor matched to a register entry by identifier (SIRET, then RNA, then SIREN)
  gets its ``rna``/``siren`` crosswalk filled and its legal name (``nom_legal``) beside its usual
  name, and ``statut`` = ``ferme`` when every matched entry is dissolved or closed.

Every register table has at least ``entry_id``, ``rna``, ``siret``, ``nom_legal`` and ``ferme``
(``siren`` is derived from the SIRET when the register has no column for it).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import ValidationError

from .archive import ArchivedBody
from .catalog import SourceSpec
from .schema import Actor
from .sources import RawRecord
from .sources.base import Register
from .store import fetch_dicts, limit_memory
from .validate import ParseResult, validate_rows

REQUIRED = ("entry_id", "rna", "siret", "nom_legal", "ferme")


class RegisterError(ValueError):
    """A register or its include filter that cannot be used; the message names the source."""


def table_name(source_id: str) -> str:
    """The DuckDB table holding a register's entries (source ids are kebab-case)."""
    return "register_" + source_id.replace("-", "_")


@dataclass
class StagedRegister:
    parquet: Path
    entries: int
    rejected: int
    filled: dict[str, float]
    result: ParseResult  # the included entries, validated as records


def _include_sql(spec: SourceSpec, columns: list[str]) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, values in (spec.include or {}).items():
        if column not in columns:
            raise RegisterError(
                f"source {spec.id}: include: no column {column!r}; columns are: "
                f"{', '.join(columns)}"
            )
        ors = []
        for value in values:
            value = str(value)
            if value.endswith("*"):
                ors.append(f'starts_with(lower(CAST("{column}" AS VARCHAR)), lower(?))')
                params.append(value[:-1])
            else:
                ors.append(f'lower(CAST("{column}" AS VARCHAR)) = lower(?)')
                params.append(value)
        clauses.append("(" + " OR ".join(ors or ["FALSE"]) + ")")
    return " AND ".join(clauses) or "TRUE", params


def included(
    spec: SourceSpec, register: Register, con: duckdb.DuckDBPyConnection, table: str
) -> list[RawRecord]:
    """The entries the catalog's ``include`` lets into the map, as raw records."""
    if spec.include is None:
        return []
    columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
    where, params = _include_sql(spec, columns)
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in register.to_record.items())
    rows = fetch_dicts(
        con,
        f'SELECT "{register.record_id}" AS __id, {select} FROM "{table}" WHERE {where} '
        f'ORDER BY "{register.record_id}"',
        params,
    )
    out = []
    for number, row in enumerate(rows, start=1):
        record_id = row.pop("__id")
        fields = {k: v for k, v in row.items() if v is not None}
        for name, value in spec.constants.items():
            fields.setdefault(name, value)
        raw = {k: (str(v) if v is not None else None) for k, v in row.items()}
        out.append(RawRecord(record_id=record_id, fields=fields, raw=raw, row_number=number))
    return out


def stage_register(
    spec: SourceSpec, register: Register, body: ArchivedBody, folder: Path, token: str
) -> StagedRegister:
    """Load a register's archived body into DuckDB, check its shape, write it to Parquet and
    validate the included entries."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{spec.id}-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "stage.duckdb"))
        try:
            limit_memory(con, Path(tmp) / "spill")
            loaded = register.load(spec, body, con, "entries")
            columns = [r[0] for r in con.execute('DESCRIBE "entries"').fetchall()]
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise RegisterError(f"source {spec.id}: register entries lack {', '.join(missing)}")
            filled = {}
            for name in spec.assertions.filled:
                if name not in columns:
                    raise RegisterError(
                        f"source {spec.id}: assertions.filled: no column {name!r} in the register"
                    )
                count = con.execute(
                    f'SELECT count("{name}") / greatest(count(*), 1) FROM "entries"'
                ).fetchone()
                filled[name] = float(count[0])
            parquet = folder / f"{spec.id}.{token}.register.parquet"
            con.execute(f"COPY \"entries\" TO '{_sql_path(parquet)}' (FORMAT parquet)")
            result = validate_rows(spec, included(spec, register, con, "entries"))
        finally:
            con.close()
    return StagedRegister(parquet, loaded.rows, loaded.rejected, filled, result)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def load_register(con: duckdb.DuckDBPyConnection, source_id: str, parquet: str) -> None:
    """Replace a register's table with its staged entries (inside the caller's transaction)."""
    con.execute(
        f'CREATE OR REPLACE TABLE "{table_name(source_id)}" AS SELECT * FROM read_parquet(?)',
        [parquet],
    )


def register_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source id -> table of every register loaded in the store."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'register\\_%' ESCAPE '\\'"
    ).fetchall()
    return {name.removeprefix("register_").replace("_", "-"): name for (name,) in rows}


def drop_register(con: duckdb.DuckDBPyConnection, source_id: str) -> None:
    con.execute(f'DROP TABLE IF EXISTS "{table_name(source_id)}"')


@dataclass
class Enrichment:
    actors: list[Actor]
    provenance: list[dict[str, Any]]
    stats: dict[str, dict[str, int]]


KEYS = ("siret", "rna", "siren")  # strongest first


def enrich(con: duckdb.DuckDBPyConnection, actors: list[Actor], registers: list[str]) -> Enrichment:
    """Fill crosswalks, legal names and closures from the registers, in catalog order (the
    first register to give a value wins)."""
    tables = register_tables(con)
    stats: dict[str, dict[str, int]] = {}
    provenance: list[dict[str, Any]] = []
    if not actors or not any(sid in tables for sid in registers):
        return Enrichment(actors, provenance, stats)
    keys = pa.Table.from_pylist(  # noqa: F841 - read by DuckDB below
        [{"actor_id": a.id, "siret": a.siret, "rna": a.rna, "siren": a.siren} for a in actors],
        schema=pa.schema([(n, pa.string()) for n in ("actor_id", *KEYS)]),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE actor_keys AS SELECT * FROM keys")
    updates: dict[str, dict[str, Any]] = {}
    for source_id in registers:
        table = tables.get(source_id)
        if table is None:
            continue
        columns = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}
        siren = "siren" if "siren" in columns else "substr(siret, 1, 9)"
        # Each actor's entries under its strongest shared key.
        matches = fetch_dicts(
            con,
            f"""
            WITH e AS (SELECT entry_id, rna, siret, {siren} AS siren, nom_legal, ferme
                       FROM "{table}"),
            m AS (
                SELECT k.actor_id, 1 AS strength, e.* FROM actor_keys k JOIN e ON k.siret = e.siret
                UNION ALL
                SELECT k.actor_id, 2, e.* FROM actor_keys k JOIN e ON k.rna = e.rna
                UNION ALL
                SELECT k.actor_id, 3, e.* FROM actor_keys k JOIN e ON k.siren = e.siren
            )
            SELECT * EXCLUDE (best) FROM (
                SELECT *, min(strength) OVER (PARTITION BY actor_id) AS best FROM m
            ) WHERE strength = best ORDER BY actor_id, entry_id
            """,
        )
        by_actor: dict[str, list[dict]] = {}
        for row in matches:
            by_actor.setdefault(row["actor_id"], []).append(row)
        counts = {"matched": 0, "rna_filled": 0, "siren_filled": 0, "nom_legal": 0, "closed": 0}
        for actor_id, rows in by_actor.items():
            counts["matched"] += 1
            update = updates.setdefault(actor_id, {})
            first = rows[0]
            rnas = {r["rna"] for r in rows if r["rna"]}
            sirens = {r["siren"] for r in rows if r["siren"]}
            # setdefault: an earlier register (catalog order) keeps what it gave.
            if len(rnas) == 1:
                update.setdefault("rna", (rnas.pop(), first["entry_id"], source_id))
            if len(sirens) == 1:
                update.setdefault("siren", (sirens.pop(), first["entry_id"], source_id))
            if first["nom_legal"]:
                update.setdefault("nom_legal", (first["nom_legal"], first["entry_id"], source_id))
            if all(r["ferme"] for r in rows):
                update.setdefault("ferme", (first["entry_id"], source_id))
        stats[source_id] = counts
    con.execute("DROP TABLE IF EXISTS actor_keys")
    out = []
    for actor in actors:
        update = updates.get(actor.id)
        if not update:
            out.append(actor)
            continue
        values = actor.model_dump()
        changes: dict[str, tuple[Any, str, str, str]] = {}  # field -> (value, entry, source, stat)
        for name, stat in (
            ("rna", "rna_filled"),
            ("siren", "siren_filled"),
            ("nom_legal", "nom_legal"),
        ):
            if name not in update or values.get(name):
                continue
            value, entry, source_id = update[name]
            if name == "siren" and values.get("siret") and value != values["siret"][:9]:
                continue  # a SIRET decides the SIREN: never contradict it
            changes[name] = (value, entry, source_id, stat)
        if "ferme" in update and values.get("statut") != "ferme":
            entry, source_id = update["ferme"]
            changes["statut"] = ("ferme", entry, source_id, "closed")
        kept: dict[str, Any] = {}
        for name, (value, entry, source_id, stat) in changes.items():
            try:  # one bad register value never stops a release: it is left out, and counted
                Actor.model_validate({**values, **kept, name: value})
            except ValidationError:
                stats[source_id]["invalid"] = stats[source_id].get("invalid", 0) + 1
                continue
            kept[name] = value
            stats[source_id][stat] += 1
            provenance.append(
                {"actor_id": actor.id, "field": name, "source_id": source_id, "record_id": entry}
            )
        out.append(Actor.model_validate({**values, **kept}) if kept else actor)
    return Enrichment(out, provenance, stats)
