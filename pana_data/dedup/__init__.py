"""Deduplication: match records, cluster them, give clusters stable ids, merge them into actors.

Matching has two passes over the DuckDB ``records`` table: a deterministic one (same valid SIRET
or RNA number, compatible location) and a probabilistic one (Splink, when a model is given).
Scored pairs at or above ``auto`` merge; those between ``review`` and ``auto``, and high-scoring
pairs that a rule refuses, go to maintainers' review. Maintainer judgements override both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..schema import Actor
from ..store import fetch_dicts
from .features import build_features
from .ids import assign_ids
from .judgements import Judgements
from .match import RecordKey, candidate_pairs, cluster
from .merge import merge

AUTO_MERGE = 0.99
REVIEW_FROM = 0.5
# Splink's gamma values: -1 null, then from the strongest level down to 0 (else).
NAME_LEVELS = {
    4: "same name",
    3: "name ≥ 0.95",
    2: "name ≥ 0.88",
    1: "name ≥ 0.80",
    0: "names differ",
}
LOCATION_LEVELS = {
    3: "same commune, < 300 m",
    2: "same postcode or commune",
    1: "< 2 km",
    0: "far apart",
}
BUNDLED_MODEL = Path(__file__).parent / "model.json"
REVIEW_FIELDS = ("nom", "adresse", "code_postal", "commune", "siret", "telephone")


@dataclass
class Matching:
    """How to match: a Splink model (None: deterministic pass only), thresholds, judgements."""

    model: Path | None = None
    auto: float = AUTO_MERGE
    review: float = REVIEW_FROM
    judgements: Judgements = field(default_factory=lambda: Judgements([], []))


@dataclass
class MatchResult:
    clusters: list[list[RecordKey]]
    review: list[dict[str, Any]]
    stats: dict[str, Any]


@dataclass
class DedupResult:
    actors: list[Actor]
    members: dict[str, list[RecordKey]]
    review: list[dict[str, Any]]
    stats: dict[str, Any]
    redirects: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)


def _reasons(row: dict) -> str:
    parts = [
        NAME_LEVELS.get(row["gamma_name_norm"], ""),
        LOCATION_LEVELS.get(row["gamma_location"], ""),
    ]
    for name in ("siret", "phone", "email", "website"):
        if row.get(f"gamma_{name}") == 1:
            parts.append(f"same {name}")
    return "; ".join(p for p in parts if p)


def _refusal(row: dict, left: RecordKey, right: RecordKey, auto: float) -> str:
    """Why a pair scored above the automatic threshold was not merged."""
    if row["match_probability"] < auto:
        return ""
    if row["gamma_name_norm"] <= 0:
        why = "names differ"
    elif row["gamma_siret"] == 0:
        why = "two different SIRETs"
    elif left[0] == right[0]:
        why = "both from one source"
    else:
        why = "would join places with different postcodes, INSEE codes or a judged pair"
    return f"; not merged: {why}"


def match_records(con: duckdb.DuckDBPyConnection, matching: Matching) -> MatchResult:
    rows = con.execute(
        "SELECT source_id, record_id, code_postal, code_insee FROM records ORDER BY ALL"
    ).fetchall()
    keys = [(s, r) for s, r, _, _ in rows]
    locations = {(s, r): (postcode, insee) for s, r, postcode, insee in rows if postcode or insee}
    del rows
    pairs = candidate_pairs(con)
    stats: dict[str, Any] = {"records": len(keys), "deterministic_candidate_pairs": len(pairs)}
    scored: list[dict] = []
    if matching.model is not None and len(keys) > 1:
        from .probabilistic import score_pairs  # Splink is imported only when it is used

        build_features(con)
        stats["comparisons_per_blocking_rule"] = score_pairs(con, matching.model, matching.review)
        scored = fetch_dicts(
            con,
            "SELECT l.source_id AS source_id_1, l.record_id AS record_id_1, "
            "r.source_id AS source_id_2, r.record_id AS record_id_2, s.* "
            "FROM match_scores s JOIN match_features l ON l.uid = s.uid_l "
            "JOIN match_features r ON r.uid = s.uid_r "
            "ORDER BY s.match_probability DESC, l.source_id, l.record_id, r.source_id, r.record_id",
        )
    auto_pairs = [
        ((s["source_id_1"], s["record_id_1"]), (s["source_id_2"], s["record_id_2"]))
        for s in scored
        if s["match_probability"] >= matching.auto
        # Shared contacts alone never merge: the names must be alike too.
        and s["gamma_name_norm"] > 0
        # Two valid, different SIRETs are two establishments: a maintainer decides.
        and s["gamma_siret"] != 0
    ]
    clusters = cluster(
        keys,
        pairs + auto_pairs,
        locations,
        judged_same=matching.judgements.same,
        judged_different=matching.judgements.different,
    )
    cluster_of = {k: i for i, members in enumerate(clusters) for k in members}
    review = []
    for s in scored:
        left, right = (s["source_id_1"], s["record_id_1"]), (s["source_id_2"], s["record_id_2"])
        if cluster_of[left] == cluster_of[right] or matching.judgements.of(left, right):
            continue  # merged, or already judged
        review.append(
            {
                "score": round(s["match_probability"], 4),
                "source_id_1": left[0],
                "record_id_1": left[1],
                "source_id_2": right[0],
                "record_id_2": right[1],
                "reasons": _reasons(s) + _refusal(s, left, right, matching.auto),
            }
        )
    sizes = Counter(len(c) for c in clusters)
    stats.update(
        {
            "auto_merge_candidate_pairs": len(auto_pairs),
            "review_pairs": len(review),
            "judged_same": len(matching.judgements.same),
            "judged_different": len(matching.judgements.different),
            "clusters": len(clusters),
            "largest_cluster": max(sizes, default=0),
            "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
        }
    )
    return MatchResult(clusters, review, stats)


def deduplicate(
    con: duckdb.DuckDBPyConnection,
    priority: Callable[[str], int],
    matching: Matching | None = None,
) -> DedupResult:
    """Match, cluster, give stable ids and merge; actors are sorted by id."""
    result = match_records(con, matching or Matching())
    rows = fetch_dicts(con, "SELECT * FROM records ORDER BY source_id, record_id")
    by_key = {(r["source_id"], r["record_id"]): r for r in rows}
    for pair in result.review:  # both records side by side for the maintainers
        for side in (1, 2):
            record = by_key[(pair[f"source_id_{side}"], pair[f"record_id_{side}"])]
            for name in REVIEW_FIELDS:
                pair[f"{name}_{side}"] = record[name]
    members = assign_ids(con, result.clusters, {k: r["nom"] for k, r in by_key.items()})
    actors, provenance = [], []
    for actor_id, keys in sorted(members.items()):
        actor, origin = merge(actor_id, [by_key[k] for k in keys], priority)
        actors.append(actor)
        provenance.extend(
            {"actor_id": actor_id, "field": f, "source_id": s, "record_id": r} for f, s, r in origin
        )
    # Published redirects lead to a live actor; one whose actor has since gone is kept in the
    # store (it would apply again if the actor came back) but not published.
    redirects = [
        r
        for r in fetch_dicts(
            con, "SELECT old_id, new_id, date FROM actor_redirects ORDER BY old_id"
        )
        if r["new_id"] in members
    ]
    return DedupResult(actors, members, result.review, result.stats, redirects, provenance)


__all__ = ["DedupResult", "Matching", "deduplicate", "match_records"]
