"""Matching: which records describe the same actor.

This first matcher is deterministic: records of *different* sources sharing a valid SIRET and a
compatible location are the same actor. Records of one source are never merged with each other:
a source lists distinct places (a town's libraries may all carry the town's SIRET). Location is
checked for the whole cluster, not only pair by pair, so a record without a postcode cannot chain
two towns together. The probabilistic matcher replaces this module in its own issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

RecordKey = tuple[str, str]  # (source_id, record_id)

# Strongest pairs first (both postcode and INSEE code equal), so that when a record could join
# several places of another source it joins the one whose location matches best.
PAIRS_SQL = """
SELECT a.source_id, a.record_id, b.source_id, b.record_id
FROM records a
JOIN records b
  ON a.siret = b.siret
 AND a.source_id < b.source_id
 AND coalesce(a.code_insee = b.code_insee, TRUE)
 AND coalesce(a.code_postal = b.code_postal, TRUE)
WHERE a.siret IS NOT NULL
ORDER BY coalesce(a.code_insee = b.code_insee, FALSE)::INT
       + coalesce(a.code_postal = b.code_postal, FALSE)::INT DESC,
         a.source_id, a.record_id, b.source_id, b.record_id
"""


def candidate_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[RecordKey, RecordKey]]:
    return [((a, b), (c, d)) for a, b, c, d in con.execute(PAIRS_SQL).fetchall()]


@dataclass
class _Group:
    sources: set[str]
    places: dict[str, set[str]] = field(default_factory=dict)  # code_postal / code_insee values

    def compatible(self, other: _Group) -> bool:
        if self.sources & other.sources:
            return False
        return all(
            len(values | other.places.get(name, set())) <= 1 for name, values in self.places.items()
        )

    def absorb(self, other: _Group) -> None:
        self.sources |= other.sources
        for name, values in other.places.items():
            self.places.setdefault(name, set()).update(values)


def cluster(
    keys: list[RecordKey],
    pairs: list[tuple[RecordKey, RecordKey]],
    locations: dict[RecordKey, dict[str, str | None]] | None = None,
) -> list[list[RecordKey]]:
    """Union pairs in order, refusing a union that would put two records of one source, or two
    different postcodes or INSEE codes, in one cluster."""
    locations = locations or {}
    parent = {k: k for k in keys}
    groups = {
        k: _Group({k[0]}, {n: {v} for n, v in locations.get(k, {}).items() if v is not None})
        for k in keys
    }

    def find(k: RecordKey) -> RecordKey:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for left, right in pairs:
        a, b = find(left), find(right)
        if a == b or not groups[a].compatible(groups[b]):
            continue
        if b < a:
            a, b = b, a
        parent[b] = a
        groups[a].absorb(groups.pop(b))

    members: dict[RecordKey, list[RecordKey]] = {}
    for k in keys:
        members.setdefault(find(k), []).append(k)
    return sorted((sorted(g) for g in members.values()), key=lambda g: g[0])
