"""Exporters registry: each writes one file of a release from the actors it is given, and
declares what the data package says of that file (media type, title, Table Schema)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..rdf import (
    all_prefixes,
    codelists_graph,
    context,
    write_release_rdf,
)
from ..schema import MULTI_SEPARATOR, SCHEMA_VERSION, Actor
from ..schema.generate import table_schema
from . import changes

LICENCES = {
    "etalab-2.0": {
        "title": "Licence Ouverte / Open Licence version 2.0",
        "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
    },
    "ODbL-1.0": {
        "title": "Open Database License 1.0",
        "path": "https://opendatacommons.org/licenses/odbl/1-0/",
    },
    "CC-BY-4.0": {
        "title": "Creative Commons Attribution 4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
    },
}


def licence_of(name: str) -> dict[str, str]:
    return {"name": name, **LICENCES.get(name, {})}


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
    review: list[dict[str, Any]] = field(default_factory=list)
    redirects: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    dedup_stats: dict[str, Any] = field(default_factory=dict)
    geocoding: dict[str, Any] = field(default_factory=dict)
    base_uri: str = "https://w3id.org/pana/"
    catalog_publisher: str = "pana-data"
    catalog_contact_email: str | None = None
    code_matches: dict[str, Any] = field(default_factory=dict)  # kind -> field -> {value: code}
    rdf_triples: int | None = None  # set once the RDF files are written
    previous_version: str | None = None  # the latest version before this one
    previous_actors: dict[str, dict[str, Any]] = field(default_factory=dict)  # its actors.json
    _rows: list[dict[str, Any]] | None = None
    _changes: list[dict[str, Any]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The actors as ``actors.json`` holds them (every column, JSON values), by id."""
        if self._rows is None:
            self._rows = actor_rows(self.actors)
        return self._rows

    def changes(self) -> list[dict[str, Any]]:
        """Every actor added, modified or deleted since the previous version."""
        if self._changes is None:
            after = {row["id"]: row for row in self.rows()}
            self._changes = changes.diff(self.previous_actors, after)
        return self._changes

    def write_rdf(self) -> int:
        """Write the three RDF files in one pass, once for the three exporters."""
        if self.rdf_triples is None:
            self.rdf_triples = write_release_rdf(
                self.actors,
                self.members,
                self.redirects,
                self.sources,
                self.base_uri,
                self.folder,
                all_prefixes(self.base_uri),
            )
        return self.rdf_triples

    written: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exporter:
    """Writes ``filename`` into the release folder."""

    filename: str
    write: Callable[[Release], None]
    mediatype: str
    title: str
    schema: Callable[[], dict[str, Any]] | None = None  # Table Schema of a CSV file

    @property
    def resource_name(self) -> str:
        return self.filename.lower().replace("_", "-").replace(".", "-")


EXPORTERS: dict[str, Exporter] = {}


def exporter(
    filename: str, mediatype: str, title: str, schema: Callable[[], dict] | None = None
) -> Callable[[Callable[[Release], None]], Callable[[Release], None]]:
    def decorate(func: Callable[[Release], None]) -> Callable[[Release], None]:
        EXPORTERS[filename] = Exporter(filename, func, mediatype, title, schema)
        return func

    return decorate


def actor_rows(actors: list[Actor]) -> list[dict[str, Any]]:
    """Actors as ``actors.json`` holds them: every column, JSON values, by id."""
    columns = Actor.columns()
    dumped = (a.model_dump(mode="json") for a in actors)
    return sorted(({c: d[c] for c in columns} for d in dumped), key=_by_id)


def _by_id(row: dict[str, Any]) -> str:
    return row["id"]


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


def _string_schema(columns: list[str], key: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "fields": [
            {"name": c, "type": "string", "constraints": {"required": True}} for c in columns
        ]
    }
    if key:
        schema["primaryKey"] = key
    return schema


def _actors_table_schema() -> dict[str, Any]:
    keep = ("fields", "primaryKey", "missingValues")
    return {k: v for k, v in table_schema().items() if k in keep}


SOURCES_COLUMNS = ["actor_id", "source_id", "record_id"]
ISSUE_COLUMNS = ["source_id", "record_id", "field", "reason"]


@exporter("actors.csv", "text/csv", "Acteurs PANA (CSV)", _actors_table_schema)
def export_csv(release: Release) -> None:
    _write_csv(release.folder / "actors.csv", Actor.columns(), release.rows())


@exporter("actors.json", "application/json", "Acteurs PANA (JSON, schéma actor.schema.json)")
def export_json(release: Release) -> None:
    text = json.dumps(release.rows(), ensure_ascii=False, indent=1)
    (release.folder / "actors.json").write_text(text + "\n", encoding="utf-8")


def _sql_type(annotation: Any) -> str:
    """The DuckDB type of a model field: lists stay lists (VARCHAR[]) in Parquet."""
    kind = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None
        kind = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(kind) is list:
        return "VARCHAR[]"
    return {float: "DOUBLE", dt.date: "DATE", int: "BIGINT"}.get(kind, "VARCHAR")


def _duckdb_actors(release: Release):
    """A DuckDB connection holding the release's actors (from its actors.json, typed by the
    model), for the formats DuckDB writes."""
    import duckdb

    source = release.folder / "actors.json"
    if not source.exists():
        export_json(release)
    columns = {c: _sql_type(Actor.model_fields[c].annotation) for c in Actor.columns()}
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE actors AS SELECT * FROM read_json(?, format = 'array', columns = ?)",
            [str(source), columns],
        )
    except BaseException:
        con.close()
        raise
    return con


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


@exporter("actors.parquet", "application/vnd.apache.parquet", "Acteurs PANA (Parquet)")
def export_parquet(release: Release) -> None:
    con = _duckdb_actors(release)
    try:
        target = _sql_path(release.folder / "actors.parquet")
        con.execute(f"COPY (SELECT * FROM actors ORDER BY id) TO '{target}' (FORMAT parquet)")
    finally:
        con.close()


@exporter(
    "actors.geojson",
    "application/geo+json",
    "Acteurs PANA géolocalisés (GeoJSON, points)",
)
def export_geojson(release: Release) -> None:
    """A FeatureCollection of the actors with coordinates; every other column a property."""
    con = _duckdb_actors(release)
    properties = ", ".join(
        f"{c} := {c}" for c in Actor.columns() if c not in ("latitude", "longitude")
    )
    try:
        target = _sql_path(release.folder / "actors.geojson")
        con.execute(
            f"""COPY (
              SELECT 'FeatureCollection' AS type, coalesce(list(struct_pack(
                  type := 'Feature', id := id,
                  geometry := struct_pack(type := 'Point', coordinates := [longitude, latitude]),
                  properties := struct_pack({properties})) ORDER BY id), []) AS features
              FROM actors WHERE latitude IS NOT NULL AND longitude IS NOT NULL
            ) TO '{target}' (FORMAT json)"""
        )
    finally:
        con.close()


@exporter("changes.jsonl", "application/x-ndjson", "Changements depuis la version précédente")
def export_changes(release: Release) -> None:
    (release.folder / "changes.jsonl").write_text(
        changes.jsonl(release.changes()), encoding="utf-8"
    )


@exporter("CHANGELOG.md", "text/markdown", "Résumé des changements depuis la version précédente")
def export_changelog(release: Release) -> None:
    text = changes.summary(
        release.changes(),
        release.previous_actors,
        {row["id"]: row for row in release.rows()},
        release.previous_version,
        release.version,
        release.redirects,
    )
    (release.folder / "CHANGELOG.md").write_text(text, encoding="utf-8")


@exporter("actors.ttl", "text/turtle", "Acteurs PANA (RDF Turtle, trié)")
def export_turtle(release: Release) -> None:
    release.write_rdf()


@exporter("actors.nt.gz", "application/n-triples", "Acteurs PANA (RDF N-Triples, gzip)")
def export_ntriples(release: Release) -> None:
    release.write_rdf()


@exporter("actors.jsonld", "application/ld+json", "Acteurs PANA (JSON-LD)")
def export_jsonld(release: Release) -> None:
    release.write_rdf()


@exporter("context.jsonld", "application/ld+json", "Contexte JSON-LD des fichiers RDF")
def export_context(release: Release) -> None:
    text = json.dumps(context(all_prefixes(release.base_uri)), ensure_ascii=False, indent=1)
    (release.folder / "context.jsonld").write_text(text + "\n", encoding="utf-8")


@exporter("codelists.ttl", "text/turtle", "Listes de codes (SKOS)")
def export_codelists(release: Release) -> None:
    graph = codelists_graph(release.base_uri, release.code_matches)
    graph.serialize(release.folder / "codelists.ttl", format="longturtle", encoding="utf-8")


@exporter(
    "actors_sources.csv",
    "text/csv",
    "Enregistrements sources de chaque acteur",
    lambda: _string_schema(SOURCES_COLUMNS, ["source_id", "record_id"]),
)
def export_actor_sources(release: Release) -> None:
    rows = [
        {"actor_id": actor_id, "source_id": s, "record_id": r}
        for actor_id, keys in sorted(release.members.items())
        for s, r in keys
    ]
    _write_csv(release.folder / "actors_sources.csv", SOURCES_COLUMNS, rows)


@exporter(
    "rejects.csv", "text/csv", "Enregistrements rejetés", lambda: _string_schema(ISSUE_COLUMNS)
)
def export_rejects(release: Release) -> None:
    _write_csv(release.folder / "rejects.csv", ISSUE_COLUMNS, release.rejects)


@exporter("warnings.csv", "text/csv", "Avertissements", lambda: _string_schema(ISSUE_COLUMNS))
def export_warnings(release: Release) -> None:
    _write_csv(release.folder / "warnings.csv", ISSUE_COLUMNS, release.warnings)


REVIEW_COLUMNS = ["score", "reasons"] + [
    f"{name}_{side}"
    for side in (1, 2)
    for name in (
        "source_id",
        "record_id",
        "nom",
        "adresse",
        "code_postal",
        "commune",
        "siret",
        "telephone",
    )
]


@exporter(
    "review.csv",
    "text/csv",
    "Paires incertaines à revoir par les mainteneurs",
    lambda: {
        "fields": [
            {"name": c, "type": "number" if c == "score" else "string"} for c in REVIEW_COLUMNS
        ]
    },
)
def export_review(release: Release) -> None:
    _write_csv(release.folder / "review.csv", REVIEW_COLUMNS, release.review)


PROVENANCE_COLUMNS = ["actor_id", "field", "source_id", "record_id"]


@exporter(
    "actors_provenance.csv",
    "text/csv",
    "Source de chaque valeur publiée",
    lambda: _string_schema(PROVENANCE_COLUMNS),
)
def export_provenance(release: Release) -> None:
    _write_csv(release.folder / "actors_provenance.csv", PROVENANCE_COLUMNS, release.provenance)


REDIRECT_COLUMNS = ["old_id", "new_id", "date"]


@exporter(
    "ids_redirects.csv",
    "text/csv",
    "Identifiants absorbés par une fusion et leur nouvel identifiant",
    lambda: {
        "fields": [
            {"name": "old_id", "type": "string", "constraints": {"required": True, "unique": True}},
            {"name": "new_id", "type": "string", "constraints": {"required": True}},
            {"name": "date", "type": "date", "constraints": {"required": True}},
        ],
        "primaryKey": "old_id",
    },
)
def export_redirects(release: Release) -> None:
    _write_csv(release.folder / "ids_redirects.csv", REDIRECT_COLUMNS, release.redirects)


@exporter("report.json", "application/json", "Rapport de la version (sources, comptes)")
def export_report(release: Release) -> None:
    report = {
        "version": release.version,
        "schema_version": SCHEMA_VERSION,
        "actors": len(release.actors),
        "records": sum(len(m) for m in release.members.values()),
        "rejected_records": len({(r["source_id"], r["record_id"]) for r in release.rejects}),
        "warnings": len(release.warnings),
        "deduplication": {k: v for k, v in release.dedup_stats.items() if k != "registers"},
        "registers": release.dedup_stats.get("registers", {}),
        "geocoding": release.geocoding,
        "rdf": {"triples": release.write_rdf(), "entities": len(release.actors)},
        "sources": release.sources,
    }
    text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    (release.folder / "report.json").write_text(text + "\n", encoding="utf-8")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


BINARY = (".gz", ".parquet")


def write_datapackage(release: Release) -> dict[str, Any]:
    """Frictionless data package describing every written file, hashes included."""
    resources = []
    for filename in release.written:
        spec = EXPORTERS[filename]
        path = release.folder / filename
        resource: dict[str, Any] = {
            "name": spec.resource_name,
            "path": filename,
            "title": spec.title,
            "mediatype": spec.mediatype,
            "bytes": path.stat().st_size,
            "hash": f"sha256:{sha256_of(path)}",
        }
        if not filename.endswith(BINARY):
            resource["encoding"] = "utf-8"
        if spec.schema:
            resource.update({"profile": "tabular-data-resource", "format": "csv"})
            resource["schema"] = spec.schema()
        else:
            resource.update({"type": "file", "format": filename.rsplit(".", 1)[-1]})
        resources.append(resource)
    package = {
        "name": "pana-acteurs",
        "title": "Points d'appui au numérique associatif (PANA)",
        "description": (
            "Acteurs qui informent, orientent ou accompagnent les associations sur le numérique, "
            "moissonnés, validés et dédupliqués par pana-data."
        ),
        "version": release.version,
        "licenses": [licence_of(release.licence)],
        "sources": [
            {"title": s.get("title") or s["source_id"], "path": s.get("url") or ""}
            for s in release.sources
        ],
        "resources": resources,
    }
    text = json.dumps(package, ensure_ascii=False, indent=2)
    (release.folder / "datapackage.json").write_text(text + "\n", encoding="utf-8")
    return package
