"""Matching features: one row per record with normalised keys and capped blocking keys, in DuckDB.

Names, addresses and websites go through the pure functions of ``normalize`` (one source of truth),
computed once per record in Python and joined in DuckDB through Arrow. Every blocking key is capped: a value shared by more than ``BLOCK_CAP``
records is dropped (NULL never blocks), so comparisons grow about linearly with the data.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from . import normalize

BLOCK_CAP = 100


def _python_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Compute the Python keys (once per distinct value) and hand them to DuckDB through Arrow."""
    rows = con.execute(
        "SELECT source_id, record_id, nom, adresse, site_web FROM records"
    ).fetchall()

    def keys(func, column: int) -> list[str | None]:
        # Each distinct value once: the same place is often spelled alike in several sources.
        known = {value: func(value) for value in {r[column] for r in rows}}
        return [known[r[column]] for r in rows]

    table = pa.table(
        {
            "source_id": [r[0] for r in rows],
            "record_id": [r[1] for r in rows],
            "name_norm": keys(normalize.name_key, 2),
            "address_norm": keys(normalize.address_key, 3),
            "website": keys(normalize.website_key, 4),
        },
        schema=pa.schema(
            [
                (n, pa.string())
                for n in ("source_id", "record_id", "name_norm", "address_norm", "website")
            ]
        ),
    )
    con.register("python_keys", table)


def _capped(expr: str, cap: int) -> str:
    """``expr``, or NULL where more than ``cap`` records share its value."""
    return f"CASE WHEN count({expr}) OVER (PARTITION BY {expr}) <= {cap} THEN {expr} END"


FEATURES_SQL = """
CREATE OR REPLACE TABLE match_features AS
WITH base AS (
    SELECT
        row_number() OVER (ORDER BY source_id, record_id) AS uid,
        source_id, record_id,
        k.name_norm,
        k.address_norm,
        code_postal AS postcode,
        code_insee,
        lower(strip_accents(commune)) AS commune,
        latitude, longitude,
        siret, siren, rna,
        telephone AS phone,
        courriel AS email,
        k.website
    FROM records JOIN python_keys k USING (source_id, record_id)
),
tokens AS (
    SELECT uid, unnest(string_split(coalesce(name_norm, ''), ' ')) AS token FROM base
),
frequencies AS (
    SELECT token, count(*) AS n FROM tokens WHERE token <> '' GROUP BY token
),
ranked AS (
    SELECT t.uid, t.token,
           row_number() OVER (PARTITION BY t.uid ORDER BY f.n, t.token) AS rank
    FROM tokens t JOIN frequencies f USING (token)
),
rare AS (
    SELECT uid,
           max(token) FILTER (WHERE rank = 1) AS rare_token_1,
           max(token) FILTER (WHERE rank = 2) AS rare_token_2
    FROM ranked GROUP BY uid
)
SELECT b.*, r.rare_token_1, r.rare_token_2,
    {bk_pc_tok1} AS bk_pc_tok1,
    {bk_pc_tok2} AS bk_pc_tok2,
    {bk_insee_name} AS bk_insee_name,
    {bk_siret} AS bk_siret,
    {bk_rna} AS bk_rna,
    {bk_phone} AS bk_phone,
    {bk_email} AS bk_email,
    {bk_website} AS bk_website
FROM base b LEFT JOIN rare r USING (uid)
"""


def build_features(con: duckdb.DuckDBPyConnection, cap: int = BLOCK_CAP) -> int:
    """(Re)build ``match_features`` from ``records``; return its row count."""
    _python_keys(con)
    pc_tok1 = "postcode || '|' || rare_token_1"
    pc_tok2 = "postcode || '|' || rare_token_2"
    insee_name = "code_insee || '|' || substr(name_norm, 1, 6)"
    con.execute(
        FEATURES_SQL.format(
            bk_pc_tok1=_capped(pc_tok1, cap),
            bk_pc_tok2=_capped(pc_tok2, cap),
            bk_insee_name=_capped(insee_name, cap),
            bk_siret=_capped("siret", cap),
            bk_rna=_capped("rna", cap),
            bk_phone=_capped("phone", cap),
            bk_email=_capped("email", cap),
            bk_website=_capped("website", cap),
        )
    )
    con.unregister("python_keys")
    return con.execute("SELECT count(*) FROM match_features").fetchall()[0][0]
