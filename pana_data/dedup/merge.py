"""Clusters -> actors: each field takes its value by declared rules.

Rules: records are ranked by source priority (catalog order), then most recent ``date_maj``;
a scalar field takes the first non-empty value; a list field takes the union in rank order;
``statut`` takes the first known status; ``date_maj`` the most recent; département and région are
derived again from the chosen postcode or INSEE code, and taken from the records only when the
actor has neither.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ..schema import Actor, ActorData, Statut

DERIVED = {"departement", "region"}


def _rank(priority: Callable[[str], int]) -> Callable[[dict], tuple]:
    def key(record: dict) -> tuple:
        date = record.get("date_maj") or dt.date.min
        return (priority(record["source_id"]), -date.toordinal(), record["record_id"])

    return key


Provenance = list[tuple[str, str, str]]  # (field, source_id, record_id) that gave a value


def merge(
    actor_id: str, records: list[dict], priority: Callable[[str], int]
) -> tuple[Actor, Provenance]:
    """The actor, and which record gave each published value."""
    ranked = sorted(records, key=_rank(priority))
    values: dict[str, Any] = {}
    origin: Provenance = []

    def take(name: str, record: dict) -> None:
        values[name] = record[name]
        origin.append((name, record["source_id"], record["record_id"]))

    def first(name: str, candidates: list[dict]) -> None:
        chosen = next((r for r in candidates if r.get(name) not in (None, "")), None)
        if chosen is None:
            values[name] = None
        else:
            take(name, chosen)

    for name, info in ActorData.model_fields.items():
        if name in DERIVED:
            continue  # filled below, once the address is chosen
        if name == "date_maj":
            first(name, sorted(ranked, key=lambda r: r.get(name) or dt.date.min, reverse=True))
        elif name == "statut":
            first(name, [r for r in ranked if r.get(name) != Statut.INCONNU.value])
            values[name] = values[name] or Statut.INCONNU.value
        elif info.default_factory is list:
            merged: list = []
            for r in ranked:
                new = [v for v in (r.get(name) or []) if v not in merged]
                if new:
                    merged.extend(new)
                    origin.append((name, r["source_id"], r["record_id"]))
            values[name] = merged
        else:
            first(name, ranked)
    if not (values.get("code_postal") or values.get("code_insee")):
        first("departement", ranked)
        if values["departement"] is None:  # else the région follows from the département
            first("region", ranked)
    sources: list[str] = []
    for r in ranked:
        if r["source_id"] not in sources:
            sources.append(r["source_id"])
    return Actor.model_validate({**values, "id": actor_id, "sources": sources}), origin
