"""Exporters registry: each writes one file of a release from the actors it is given."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..rdf import actors_graph
from ..schema import MULTI_SEPARATOR, SCHEMA_VERSION, Actor
from ..schema.generate import table_schema


@dataclass
class Release:
    """What a release is built from. Exporters read it; they never query sources."""

    version: str
    folder: Path
    actors: list[Actor]
    members: dict[str, list[tuple[str, str]]]
    rejects: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    catalog_title: str = "Catalogue PANA"
    licence: str = "etalab-2.0"
    written: list[str] = field(default_factory=list)


Exporter = Callable[[Release], str]
EXPORTERS: dict[str, Exporter] = {}


def exporter(name: str) -> Callable[[Exporter], Exporter]:
    def decorate(func: Exporter) -> Exporter:
        EXPORTERS[name] = func
        return func

    return decorate


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return MULTI_SEPARATOR.join(str(v) for v in value)
    return str(value)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


@exporter("actors.csv")
def export_csv(release: Release) -> str:
    rows = [a.model_dump(mode="json") for a in release.actors]
    _write_csv(release.folder / "actors.csv", Actor.columns(), rows)
    return "actors.csv"


@exporter("actors.json")
def export_json(release: Release) -> str:
    data = [{c: a.model_dump(mode="json")[c] for c in Actor.columns()} for a in release.actors]
    text = json.dumps(data, ensure_ascii=False, indent=1)
    (release.folder / "actors.json").write_text(text + "\n", encoding="utf-8")
    return "actors.json"


@exporter("actors.ttl")
def export_turtle(release: Release) -> str:
    graph = actors_graph(release.actors, release.members)
    graph.serialize(release.folder / "actors.ttl", format="longturtle", encoding="utf-8")
    return "actors.ttl"


SOURCES_COLUMNS = ["actor_id", "source_id", "record_id"]
REJECTS_COLUMNS = ["source_id", "record_id", "field", "reason"]
WARNINGS_COLUMNS = ["source_id", "record_id", "field", "reason"]


@exporter("actors_sources.csv")
def export_actor_sources(release: Release) -> str:
    rows = [
        {"actor_id": actor_id, "source_id": s, "record_id": r}
        for actor_id, keys in sorted(release.members.items())
        for s, r in keys
    ]
    _write_csv(release.folder / "actors_sources.csv", SOURCES_COLUMNS, rows)
    return "actors_sources.csv"


@exporter("rejects.csv")
def export_rejects(release: Release) -> str:
    _write_csv(release.folder / "rejects.csv", REJECTS_COLUMNS, release.rejects)
    return "rejects.csv"


@exporter("warnings.csv")
def export_warnings(release: Release) -> str:
    _write_csv(release.folder / "warnings.csv", WARNINGS_COLUMNS, release.warnings)
    return "warnings.csv"


@exporter("report.json")
def export_report(release: Release) -> str:
    report = {
        "version": release.version,
        "schema_version": SCHEMA_VERSION,
        "actors": len(release.actors),
        "records": sum(len(m) for m in release.members.values()),
        "rejected_records": len({(r["source_id"], r["record_id"]) for r in release.rejects}),
        "warnings": len(release.warnings),
        "sources": release.sources,
    }
    text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    (release.folder / "report.json").write_text(text + "\n", encoding="utf-8")
    return "report.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _simple_schema(columns: list[str], key: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "fields": [
            {"name": c, "type": "string", "constraints": {"required": True}} for c in columns
        ]
    }
    if key:
        schema["primaryKey"] = key
    return schema


TABULAR = {
    "actors.csv": ("acteurs", lambda: table_schema()),
    "actors_sources.csv": (
        "acteurs-sources",
        lambda: _simple_schema(SOURCES_COLUMNS, ["source_id", "record_id"]),
    ),
    "rejects.csv": ("rejets", lambda: _simple_schema(REJECTS_COLUMNS)),
    "warnings.csv": ("avertissements", lambda: _simple_schema(WARNINGS_COLUMNS)),
}


@exporter("datapackage.json")
def export_datapackage(release: Release) -> str:
    """Frictionless data package describing the CSV files, hashes included; written last."""
    resources = []
    for path, (name, schema) in TABULAR.items():
        file = release.folder / path
        if not file.exists():
            continue
        table = schema()
        for key in ("$schema", "name", "title", "description", "version", "homepage", "path"):
            table.pop(key, None)
        table.pop("licenses", None)
        resources.append(
            {
                "name": name,
                "path": path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": file.stat().st_size,
                "hash": f"sha256:{sha256_of(file)}",
                "schema": table,
            }
        )
    package = {
        "profile": "tabular-data-package",
        "name": "pana-acteurs",
        "title": "Points d'appui au numérique associatif (PANA)",
        "description": (
            "Acteurs qui informent, orientent ou accompagnent les associations sur le numérique, "
            "moissonnés, validés et dédupliqués par pana-data."
        ),
        "version": release.version,
        "licenses": [
            {
                "name": "etalab-2.0",
                "title": "Licence Ouverte / Open Licence version 2.0",
                "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
            }
        ],
        "sources": [{"title": s["source_id"], "path": s.get("url") or ""} for s in release.sources],
        "resources": resources,
    }
    text = json.dumps(package, ensure_ascii=False, indent=2)
    (release.folder / "datapackage.json").write_text(text + "\n", encoding="utf-8")
    return "datapackage.json"
