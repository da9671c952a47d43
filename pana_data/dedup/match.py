"""Matching: which records describe the same actor.

This first matcher is deterministic: records of *different* sources sharing a valid SIRET and a
compatible location are the same actor. Records of one source are never merged with each other:
a source lists distinct places (a town's libraries may all carry the town's SIRET). The
probabilistic matcher replaces this module in its own issue.
"""

from __future__ import annotations

import duckdb

RecordKey = tuple[str, str]  # (source_id, record_id)

PAIRS_SQL = """
SELECT a.source_id, a.record_id, b.source_id, b.record_id
FROM records a
JOIN records b
  ON a.siret = b.siret
 AND a.source_id < b.source_id
 AND coalesce(a.code_insee = b.code_insee, TRUE)
 AND coalesce(a.code_postal = b.code_postal, TRUE)
WHERE a.siret IS NOT NULL
ORDER BY ALL
"""


def candidate_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[RecordKey, RecordKey]]:
    return [((a, b), (c, d)) for a, b, c, d in con.execute(PAIRS_SQL).fetchall()]


def cluster(
    keys: list[RecordKey], pairs: list[tuple[RecordKey, RecordKey]]
) -> list[list[RecordKey]]:
    """Union pairs in order, refusing a union that would put two records of one source together."""
    parent = {k: k for k in keys}
    sources = {k: {k[0]} for k in keys}

    def find(k: RecordKey) -> RecordKey:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for left, right in pairs:
        a, b = find(left), find(right)
        if a == b or sources[a] & sources[b]:
            continue
        if b < a:
            a, b = b, a
        parent[b] = a
        sources[a] |= sources.pop(b)

    groups: dict[RecordKey, list[RecordKey]] = {}
    for k in keys:
        groups.setdefault(find(k), []).append(k)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
