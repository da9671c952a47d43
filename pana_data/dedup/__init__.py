"""Deduplication: match records, cluster them, give clusters stable ids, merge them into actors."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from ..schema import Actor
from ..store import fetch_dicts
from .ids import assign_ids
from .match import candidate_pairs, cluster
from .merge import merge


def deduplicate(
    con: duckdb.DuckDBPyConnection, priority: Callable[[str], int]
) -> tuple[list[Actor], dict[str, list[tuple[str, str]]]]:
    """Return the actors (sorted by id) and actor id -> member record keys."""
    rows = fetch_dicts(con, "SELECT * FROM records ORDER BY source_id, record_id")
    by_key = {(r["source_id"], r["record_id"]): r for r in rows}
    locations = {
        k: {"code_postal": r["code_postal"], "code_insee": r["code_insee"]}
        for k, r in by_key.items()
    }
    clusters = cluster(list(by_key), candidate_pairs(con), locations)
    members = assign_ids(con, clusters, {k: r["nom"] for k, r in by_key.items()})
    actors = [merge(a, [by_key[k] for k in keys], priority) for a, keys in members.items()]
    actors.sort(key=lambda a: a.id)
    return actors, members


__all__ = ["deduplicate"]
