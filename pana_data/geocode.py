"""Batch geocoding of records without coordinates, through the Géoplateforme
``POST {url}/search/csv/`` service (the old api-adresse domain is closed).

Addresses are sent in CSV batches (``columns=adresse``, ``columns=commune``,
``postcode=code_postal``); the answer adds ``latitude``, ``longitude``, ``result_score``,
``result_status`` and ``result_citycode``. Every answer goes to a cache table keyed by the
normalised address, so a later run asks only for new addresses. Answers scored below
``min_score`` are never used: the record keeps no coordinates and gets a warning.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import duckdb

from .catalog import Geocoding
from .http import HttpClient

SOURCE_ID = "geocoding"


def key_sql(table: str = "") -> str:
    """The normalised address a cache entry is kept under, as SQL over ``table``'s columns."""
    t = f"{table}." if table else ""

    def norm(column: str) -> str:
        return f"lower(trim(regexp_replace(coalesce({t}{column}, ''), '\\s+', ' ', 'g')))"

    return f"{norm('adresse')} || '|' || coalesce({t}code_postal, '') || '|' || {norm('commune')}"


KEY = key_sql()
WARNING = "geocoding score"
CACHED_STATUSES = ("ok", "not-found")


def ensure_cache(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS geocode_cache (query VARCHAR PRIMARY KEY, latitude DOUBLE, "
        "longitude DOUBLE, score DOUBLE, citycode VARCHAR, label VARCHAR, status VARCHAR, "
        "geocoded_at VARCHAR)"
    )


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _batch_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "adresse", "code_postal", "commune"])
    for i, row in enumerate(rows):
        writer.writerow([i, row["adresse"] or "", row["code_postal"] or "", row["commune"] or ""])
    return out.getvalue().encode("utf-8")


def geocode_batch(
    http: HttpClient, config: Geocoding, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One CSV request; the answers in the order of ``rows`` (a row the service left out comes
    back as not-found)."""
    fetched = http.fetch(
        SOURCE_ID,
        f"{config.url.rstrip('/')}/search/csv/",
        method="POST",
        files={"data": ("adresses.csv", _batch_csv(rows), "text/csv")},
        data=[("columns", "adresse"), ("columns", "commune"), ("postcode", "code_postal")],
        expect="csv",
    )
    text = fetched.body.read().decode("utf-8-sig")
    answers = {row.get("id"): row for row in csv.DictReader(io.StringIO(text))}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out = []
    for i, row in enumerate(rows):
        answer = answers.get(str(i), {})
        out.append(
            {
                "query": row["query"],
                "latitude": _float(answer.get("latitude")),
                "longitude": _float(answer.get("longitude")),
                "score": _float(answer.get("result_score")),
                "citycode": answer.get("result_citycode") or None,
                "label": answer.get("result_label") or None,
                # A row missing from the answer is not "not found": it is asked again next run.
                "status": answer.get("result_status") or ("not-found" if answer else "missing"),
                "geocoded_at": now,
            }
        )
    return out


def geocode_records(
    con: duckdb.DuckDBPyConnection, http: HttpClient, config: Geocoding
) -> dict[str, Any]:
    """Fill coordinates (and a missing INSEE code) of records that have an address but no
    coordinates; return counts for the report."""
    ensure_cache(con)
    todo = con.execute(
        f"""SELECT DISTINCT {KEY} AS query, adresse, code_postal, commune FROM records
            WHERE latitude IS NULL AND adresse IS NOT NULL
              AND (code_postal IS NOT NULL OR commune IS NOT NULL)
              AND {KEY} NOT IN (SELECT query FROM geocode_cache)
            ORDER BY query"""
    ).fetchall()
    rows = [dict(zip(("query", "adresse", "code_postal", "commune"), r, strict=True)) for r in todo]
    asked = 0
    try:
        for start in range(0, len(rows), config.batch_size):
            batch = rows[start : start + config.batch_size]
            # Only answers: an error status (a transient failure) is asked again next run.
            answers = [
                a for a in geocode_batch(http, config, batch) if a["status"] in CACHED_STATUSES
            ]
            if answers:
                con.executemany(
                    "INSERT OR REPLACE INTO geocode_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [list(a.values()) for a in answers],
                )
            asked += len(batch)
    finally:  # what was answered is used even when a later batch fails
        filled, low = _apply(con, config)
    return {"asked": asked, "geocoded": filled, "not_used": low}


def _apply(con: duckdb.DuckDBPyConnection, config: Geocoding) -> tuple[int, int]:
    """Coordinates (and a missing INSEE code) from the cache; a warning where the answer was too
    uncertain to use."""
    ok = f"c.status = 'ok' AND c.score >= {float(config.min_score)} AND c.latitude IS NOT NULL"
    filled = con.execute(
        f"""UPDATE records SET latitude = c.latitude, longitude = c.longitude,
                   code_insee = coalesce(records.code_insee, c.citycode)
            FROM geocode_cache c
            WHERE records.latitude IS NULL AND {key_sql("records")} = c.query
              AND {ok}"""
    ).fetchone()[0]
    con.execute(
        "DELETE FROM warnings WHERE field = 'latitude' AND starts_with(reason, ?)", [WARNING]
    )
    low = con.execute(
        f"""INSERT INTO warnings
            SELECT r.source_id, r.record_id, 'latitude',
                   '{WARNING} ' || coalesce(CAST(round(c.score, 2) AS VARCHAR), 'none') || ' (' ||
                   c.status || '): below {config.min_score}, coordinates not used', NULL
            FROM records r JOIN geocode_cache c
              ON {key_sql("r")} = c.query
            WHERE r.latitude IS NULL AND NOT ({ok})"""
    ).fetchone()[0]
    return filled, low
