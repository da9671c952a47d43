"""Matching: which records describe the same actor.

The deterministic pass: records of *different* sources sharing a valid SIRET (or RNA number) and a
compatible location are the same actor. Records of one source are never merged with each other:
a source lists distinct places (a town's libraries may all carry the town's SIRET). Location is
checked for the whole cluster, not only pair by pair, so a record without a postcode cannot chain
two towns together. The probabilistic pass (``probabilistic``) adds scored
pairs, and ``cluster`` unions them all under the same rules and the maintainers' judgements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

RecordKey = tuple[str, str]  # (source_id, record_id)

# Strongest pairs first (both postcode and INSEE code equal), so that when a record could join
# several places of another source it joins the one whose location matches best.
# A SIRET or RNA number is a deterministic key only where it is unambiguous: no source gives it
# to two records (a town's libraries sharing the town's SIRET go to the probabilistic pass, which
# compares names). This also keeps the join linear: each key pairs at most one record per source.
PAIRS_SQL = """
WITH unambiguous_siret AS (
    SELECT siret FROM records WHERE siret IS NOT NULL
    GROUP BY siret HAVING count(*) = count(DISTINCT source_id)
),
unambiguous_rna AS (
    SELECT rna FROM records WHERE rna IS NOT NULL
    GROUP BY rna HAVING count(*) = count(DISTINCT source_id)
),
same_key AS (
    SELECT a.source_id AS s1, a.record_id AS r1, b.source_id AS s2, b.record_id AS r2
    FROM records a JOIN unambiguous_siret USING (siret)
    JOIN records b ON a.siret = b.siret AND a.source_id < b.source_id
    UNION
    SELECT a.source_id, a.record_id, b.source_id, b.record_id
    FROM records a JOIN unambiguous_rna USING (rna)
    JOIN records b ON a.rna = b.rna AND a.source_id < b.source_id
)
SELECT p.s1, p.r1, p.s2, p.r2
FROM same_key p
JOIN records a ON a.source_id = p.s1 AND a.record_id = p.r1
JOIN records b ON b.source_id = p.s2 AND b.record_id = p.r2
WHERE coalesce(a.code_insee = b.code_insee, TRUE)
  AND coalesce(a.code_postal = b.code_postal, TRUE)
ORDER BY coalesce(a.code_insee = b.code_insee, FALSE)::INT
       + coalesce(a.code_postal = b.code_postal, FALSE)::INT DESC,
         p.s1, p.r1, p.s2, p.r2
"""


def candidate_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[RecordKey, RecordKey]]:
    return [((a, b), (c, d)) for a, b, c, d in con.execute(PAIRS_SQL).fetchall()]


@dataclass
class _Group:
    members: set[RecordKey]
    sources: set[str]
    places: dict[str, set[str]] = field(default_factory=dict)  # code_postal / code_insee values
    apart: set[RecordKey] = field(default_factory=set)  # judged different from a member

    def may_join(self, other: _Group) -> bool:
        """Never merge what a maintainer judged different (checked even for judged pairs)."""
        return not (self.apart & other.members or other.apart & self.members)

    def compatible(self, other: _Group) -> bool:
        if not self.may_join(other) or self.sources & other.sources:
            return False
        return all(
            len(values | other.places.get(name, set())) <= 1 for name, values in self.places.items()
        )

    def absorb(self, other: _Group) -> None:
        self.members |= other.members
        self.sources |= other.sources
        self.apart |= other.apart
        for name, values in other.places.items():
            self.places.setdefault(name, set()).update(values)


def cluster(
    keys: list[RecordKey],
    pairs: list[tuple[RecordKey, RecordKey]],
    locations: dict[RecordKey, tuple[str | None, str | None]] | None = None,
    judged_same: list[tuple[RecordKey, RecordKey]] = (),
    judged_different: list[tuple[RecordKey, RecordKey]] = (),
) -> list[list[RecordKey]]:
    """Union pairs in order, refusing a union that would put two records of one source, or two
    different postcodes or INSEE codes (``locations``: key -> (postcode, INSEE code)), in one
    cluster. Maintainer judgements come first and win:
    pairs judged the same are merged whatever the rules say, pairs judged different are never in
    one cluster, directly or through others."""
    locations = locations or {}
    known = set(keys)
    parent: dict[RecordKey, RecordKey] = {}  # only records that took part in a union
    groups: dict[RecordKey, _Group] = {}

    def group(k: RecordKey) -> _Group:
        if k not in groups:  # made on first use: most records never merge
            postcode, insee = locations.get(k, (None, None))
            places = {n: {v} for n, v in (("code_postal", postcode), ("code_insee", insee)) if v}
            groups[k] = _Group({k}, {k[0]}, places)
        return groups[k]

    for left, right in judged_different:
        if left in known and right in known:
            group(left).apart.add(right)
            group(right).apart.add(left)

    def find(k: RecordKey) -> RecordKey:
        root = k
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(k, k) != root:  # path compression
            parent[k], k = root, parent[k]
        return root

    def union(left: RecordKey, right: RecordKey, judged: bool) -> None:
        if left not in known or right not in known:
            return
        a, b = find(left), find(right)
        if a == b:
            return
        if not (group(a).may_join(group(b)) if judged else group(a).compatible(group(b))):
            return
        if b < a:
            a, b = b, a
        parent[b] = a
        parent.setdefault(a, a)
        groups[a].absorb(groups.pop(b))

    for left, right in judged_same:
        union(left, right, judged=True)
    for left, right in pairs:
        union(left, right, judged=False)

    members: dict[RecordKey, list[RecordKey]] = {}
    for k in keys:
        members.setdefault(find(k), []).append(k)
    return sorted((sorted(g) for g in members.values()), key=lambda g: g[0])
