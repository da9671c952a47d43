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


def merge(actor_id: str, records: list[dict], priority: Callable[[str], int]) -> Actor:
    ranked = sorted(records, key=_rank(priority))
    values: dict[str, Any] = {}
    for name, info in ActorData.model_fields.items():
        if name in DERIVED:
            continue  # filled below, once the address is chosen
        if name == "date_maj":
            dates = [r[name] for r in ranked if r.get(name)]
            values[name] = max(dates) if dates else None
        elif name == "statut":
            known = [r[name] for r in ranked if r.get(name) not in (None, Statut.INCONNU.value)]
            values[name] = known[0] if known else Statut.INCONNU.value
        elif info.default_factory is list:
            merged: list = []
            for r in ranked:
                merged.extend(v for v in (r.get(name) or []) if v not in merged)
            values[name] = merged
        else:
            values[name] = next((r[name] for r in ranked if r.get(name) not in (None, "")), None)
    if not (values.get("code_postal") or values.get("code_insee")):
        values["departement"] = next((r["departement"] for r in ranked if r["departement"]), None)
        if values["departement"] is None:  # else the région follows from the département
            values["region"] = next((r["region"] for r in ranked if r["region"]), None)
    sources: list[str] = []
    for r in ranked:
        if r["source_id"] not in sources:
            sources.append(r["source_id"])
    return Actor.model_validate({**values, "id": actor_id, "sources": sources})
