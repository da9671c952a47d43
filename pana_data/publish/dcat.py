"""A DCAT-AP 3.0.1 catalog of every published version, with VoID statistics.

``write_catalog`` reads ``versions.json`` and each version's ``datapackage.json`` (and
``report.json``) in a publication folder and writes ``catalog.ttl`` and ``catalog.jsonld`` next
to them. The catalog is rebuilt from what is on disk, so it always lists every version.

Every IRI the catalog borrows from another vocabulary (EU authority tables, IANA media types,
licences, standards) is typed with the class DCAT-AP expects and labelled, so the catalog passes
the DCAT-AP range shapes on its own, without the EU "background knowledge".
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph
from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, SKOS, VOID

from ..schema.generate import SCHEMA_BASE_URL
from .exporters import LICENCES, sha256_of
from .files import atomic_write

log = logging.getLogger("pana_data")

VERSIONS_FILE = "versions.json"  # the same file as versions.VERSIONS_FILE (no import: a cycle)
CATALOG_TTL = "catalog.ttl"
CATALOG_JSONLD = "catalog.jsonld"

DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 (rdflib's DCAT is DCAT 2, closed)
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
ADMS = Namespace("http://www.w3.org/ns/adms#")

EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"
FRANCE = URIRef(EU + "country/FRA")
FRENCH = URIRef(EU + "language/FRA")
DATA_THEMES = URIRef(EU + "data-theme")
SOCIETY = URIRef(EU + "data-theme/SOCI")
STABLE = URIRef(EU + "planned-availability/STABLE")
SPARQL_PROTOCOL = URIRef("https://www.w3.org/TR/sparql11-protocol/")
SHA256 = SPDX.checksumAlgorithm_sha256

# Vocabularies the actors' RDF uses (void:vocabulary).
VOCABULARIES = {
    "adms": "http://www.w3.org/ns/adms#",
    "cv": "http://data.europa.eu/m8g/",
    "locn": "http://www.w3.org/ns/locn#",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}

KEYWORDS = (
    "associations",
    "numérique",
    "vie associative",
    "accompagnement",
    "médiation numérique",
    "PANA",
)

# File name suffix -> (IANA media type, EU file type or None, compression media type or None).
FILE_TYPES: list[tuple[str, tuple[str | None, str | None, str | None]]] = [
    (".nt.gz", ("application/n-triples", "RDF_N_TRIPLES", "application/gzip")),
    (".ttl.gz", ("text/turtle", "RDF_TURTLE", "application/gzip")),
    (".csv.gz", ("text/csv", "CSV", "application/gzip")),
    (".jsonld", ("application/ld+json", "JSON_LD", None)),
    (".json", ("application/json", "JSON", None)),
    (".csv", ("text/csv", "CSV", None)),
    (".ttl", ("text/turtle", "RDF_TURTLE", None)),
    (".nt", ("application/n-triples", "RDF_N_TRIPLES", None)),
    (".gz", ("application/gzip", "GZIP", None)),
    (".geojson", ("application/geo+json", "GEOJSON", None)),
    (".parquet", ("application/vnd.apache.parquet", "PARQUET", None)),
    # The EU file types have no JSON Lines nor Markdown: both are text.
    (".jsonl", (None, "TXT", None)),  # no registered media type either
    (".md", ("text/markdown", "TXT", None)),
]
FILE_TYPE_LABELS = {
    "CSV": "CSV",
    "JSON": "JSON",
    "JSON_LD": "JSON-LD",
    "RDF_TURTLE": "RDF Turtle",
    "RDF_N_TRIPLES": "RDF N-Triples",
    "GZIP": "GZIP",
    "GEOJSON": "GeoJSON",
    "PARQUET": "Parquet",
    "TXT": "Text",
}

# Licence name -> adms licence types (dct:type of the dct:LicenseDocument).
ADMS_LICENCE_TYPES = {
    "Attribution": "Attribution",
    "ViralEffect-ShareAlike": "Viral effect (a.k.a. Share-alike)",
}
LICENCE_TYPES = {
    "etalab-2.0": ("Attribution",),
    "CC-BY-4.0": ("Attribution",),
    "ODbL-1.0": ("Attribution", "ViralEffect-ShareAlike"),
}

PREFIXES = {
    "adms": ADMS,
    "dcat": DCAT,
    "dcatap": DCATAP,
    "dct": DCTERMS,
    "foaf": FOAF,
    "skos": SKOS,
    "spdx": SPDX,
    "vcard": VCARD,
    "void": VOID,
    "xsd": XSD,
}


@dataclass
class CatalogMeta:
    """What the catalog says of itself; the rest comes from the published folder."""

    title: str
    publisher: str
    licence: str
    base_uri: str = "https://w3id.org/pana/"
    description: str = (
        "Carte des points d'appui au numérique associatif (PANA) : les structures qui "
        "informent, orientent ou accompagnent les associations dans leurs usages du numérique, "
        "moissonnées, validées et dédupliquées, publiées en versions datées."
    )
    contact_email: str | None = None
    sparql_endpoint: str | None = None  # default f"{base_uri}sparql"
    download_base: str | None = None  # default f"{base_uri}versions/"
    description_en: str = (
        "Map of the PANA support points for the digital work of French associations: the "
        "organisations that inform, guide or support associations with digital tools, "
        "harvested, validated and deduplicated, published as dated versions."
    )
    publisher_uri: str | None = None  # default f"{base_uri}editeur"
    publisher_type: str | None = None  # an adms publisher type, e.g. "NonProfitOrganisation"

    def __post_init__(self) -> None:
        if not self.base_uri.endswith(("/", "#")):
            self.base_uri += "/"
        if self.sparql_endpoint is None:
            self.sparql_endpoint = f"{self.base_uri}sparql"
        if self.download_base is None:
            self.download_base = f"{self.base_uri}versions/"
        elif not self.download_base.endswith("/"):
            self.download_base += "/"
        if self.publisher_uri is None:
            self.publisher_uri = f"{self.base_uri}editeur"


# ---------------------------------------------------------------------------------------------
# Reading the publication folder


@dataclass
class _File:
    path: str
    title: str
    mediatype: str | None
    size: int
    sha256: str
    conforms_to: str | None = None


@dataclass
class _Version:
    id: str
    published_at: str
    folder: Path
    files: list[_File]
    licence: str
    actors: int
    triples: int | None
    entities: int | None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _count_triples(path: Path) -> int | None:
    """Triples of a Turtle file, parsed with pyoxigraph (fast, streaming)."""
    try:
        with path.open("rb") as f:
            return sum(1 for _ in pyoxigraph.parse(f, format=pyoxigraph.RdfFormat.TURTLE))
    except (OSError, SyntaxError, ValueError) as exc:
        log.warning("catalog: cannot count the triples of %s: %s", path, exc)
        return None


def _schema_of(path: str) -> str | None:
    if path == "actors.csv":
        return SCHEMA_BASE_URL + "actor.tableschema.json"
    if path == "actors.json":
        return SCHEMA_BASE_URL + "actor.schema.json"
    return None


def _read_version(out_dir: Path, entry: dict[str, Any], default_licence: str) -> _Version | None:
    folder = out_dir / entry["id"]
    if not folder.is_dir():
        log.warning("catalog: version %s is listed but has no folder; left out", entry["id"])
        return None
    package = _read_json(folder / "datapackage.json") or {}
    files: list[_File] = []
    for res in package.get("resources", []):
        path = res["path"]
        digest = str(res.get("hash", ""))
        if not digest.startswith("sha256:") or "bytes" not in res:
            if not (folder / path).is_file():
                continue
            digest, size = f"sha256:{sha256_of(folder / path)}", (folder / path).stat().st_size
        else:
            size = int(res["bytes"])
        files.append(
            _File(
                path,
                res.get("title") or path,
                res.get("mediatype"),
                size,
                digest.removeprefix("sha256:"),
                _schema_of(path),
            )
        )
    listed = {f.path for f in files}
    # The package itself, and any file versions.json lists that the package does not.
    extra = set(entry.get("files", {})) | {"datapackage.json"}
    for path in sorted(extra - listed):
        if (folder / path).is_file():
            title = (
                "Description du paquet de données (Frictionless Data Package)"
                if path == "datapackage.json"
                else path
            )
            file = folder / path
            files.append(_File(path, title, None, file.stat().st_size, sha256_of(file)))
    files.sort(key=lambda f: f.path)

    licences = package.get("licenses") or []
    licence = licences[0].get("name", default_licence) if licences else default_licence
    report = _read_json(folder / "report.json") or {}
    rdf = report.get("rdf") if isinstance(report.get("rdf"), dict) else {}
    triples = rdf.get("triples")
    if triples is None and (folder / "actors.ttl").is_file():
        triples = _count_triples(folder / "actors.ttl")
    actors = entry.get("counts", {}).get("actors", report.get("actors", 0))
    entities = rdf.get("entities", actors)
    return _Version(
        id=entry["id"],
        published_at=entry["published_at"],
        folder=folder,
        files=files,
        licence=licence,
        actors=int(actors or 0),
        triples=None if triples is None else int(triples),
        entities=None if entities is None else int(entities),
    )


def _read_versions(out_dir: Path, default_licence: str) -> list[_Version]:
    data = _read_json(out_dir / VERSIONS_FILE) or {"versions": []}
    versions = [_read_version(out_dir, e, default_licence) for e in data.get("versions", [])]
    return [v for v in versions if v is not None]


# ---------------------------------------------------------------------------------------------
# The graph


def _datetime(value: str) -> Literal:
    return Literal(value, datatype=XSD.dateTime if "T" in value else XSD.date)


def _file_type(path: str, mediatype: str | None) -> tuple[str | None, str | None, str | None]:
    for suffix, kind in FILE_TYPES:
        if path.endswith(suffix):
            return kind
    return mediatype, None, None


def _licence_uri(name: str) -> URIRef:
    if name.startswith(("http://", "https://")):
        return URIRef(name)
    known = LICENCES.get(name)
    return URIRef(known["path"] if known else f"https://spdx.org/licenses/{name}")


class _Builder:
    def __init__(self, meta: CatalogMeta) -> None:
        self.meta = meta
        self.g = Graph(bind_namespaces="none")
        for prefix, namespace in PREFIXES.items():
            self.g.bind(prefix, namespace)
        base = meta.base_uri
        self.catalog = URIRef(f"{base}catalogue")
        self.series = URIRef(f"{base}jeu/acteurs")
        self.service = URIRef(f"{base}service/sparql")
        self.publisher = URIRef(meta.publisher_uri or f"{base}editeur")
        self.contact = URIRef(f"{base}contact")
        self.homepage = URIRef(base)

    def add(self, s: Any, p: URIRef, o: Any) -> None:
        self.g.add((s, p, o))

    def fr(self, s: Any, p: URIRef, text: str) -> None:
        self.add(s, p, Literal(text, lang="fr"))

    # Borrowed IRIs, typed and labelled ------------------------------------------------------

    def concept(self, uri: URIRef, label_en: str, label_fr: str | None = None) -> URIRef:
        self.add(uri, RDF.type, SKOS.Concept)
        self.add(uri, SKOS.prefLabel, Literal(label_en, lang="en"))
        if label_fr:
            self.add(uri, SKOS.prefLabel, Literal(label_fr, lang="fr"))
        return uri

    def standard(self, uri: str, title: str) -> URIRef:
        ref = URIRef(uri)
        self.add(ref, RDF.type, DCTERMS.Standard)
        self.add(ref, DCTERMS.title, Literal(title))
        return ref

    def licence(self, name: str) -> URIRef:
        uri = _licence_uri(name)
        self.add(uri, RDF.type, DCTERMS.LicenseDocument)
        self.add(uri, DCTERMS.title, Literal(LICENCES.get(name, {}).get("title", name)))
        for kind in LICENCE_TYPES.get(name, ()):
            self.add(
                uri,
                DCTERMS.type,
                self.concept(
                    URIRef(f"http://purl.org/adms/licencetype/{kind}"), ADMS_LICENCE_TYPES[kind]
                ),
            )
        return uri

    def media_type(self, mediatype: str) -> URIRef:
        uri = URIRef(IANA + mediatype)
        self.add(uri, RDF.type, DCTERMS.MediaType)
        return uri

    def file_type(self, code: str) -> URIRef:
        uri = URIRef(f"{EU}file-type/{code}")
        self.add(uri, RDF.type, DCTERMS.MediaTypeOrExtent)
        self.add(uri, DCTERMS.title, Literal(FILE_TYPE_LABELS.get(code, code)))
        return uri

    def common(self) -> None:
        self.add(FRANCE, RDF.type, DCTERMS.Location)
        self.add(FRENCH, RDF.type, DCTERMS.LinguisticSystem)
        self.add(DATA_THEMES, RDF.type, SKOS.ConceptScheme)
        self.add(DATA_THEMES, DCTERMS.title, Literal("Data theme", lang="en"))
        self.concept(SOCIETY, "Population and society", "Population et société")
        self.add(SOCIETY, SKOS.inScheme, DATA_THEMES)
        self.concept(STABLE, "stable")
        self.add(self.homepage, RDF.type, FOAF.Document)
        self.standard(str(SPARQL_PROTOCOL), "SPARQL 1.1 Protocol")

    # Agents ---------------------------------------------------------------------------------

    def agents(self) -> None:
        meta = self.meta
        for cls in (FOAF.Agent, FOAF.Organization):
            self.add(self.publisher, RDF.type, cls)
        self.add(self.publisher, FOAF.name, Literal(meta.publisher))
        if meta.publisher_type:
            kind = URIRef(f"http://purl.org/adms/publishertype/{meta.publisher_type}")
            self.add(self.publisher, DCTERMS.type, self.concept(kind, meta.publisher_type))
        self.add(self.contact, RDF.type, VCARD.Kind)
        self.add(self.contact, VCARD.fn, Literal(meta.publisher))
        if meta.contact_email:
            self.add(self.contact, VCARD.hasEmail, URIRef(f"mailto:{meta.contact_email}"))
        else:
            self.add(self.contact, VCARD.hasURL, self.homepage)

    def described(self, s: URIRef) -> None:
        """Publisher, contact, territory, language and theme, said of every dataset."""
        self.add(s, DCTERMS.publisher, self.publisher)
        self.add(s, DCAT.contactPoint, self.contact)
        self.add(s, DCTERMS.spatial, FRANCE)
        self.add(s, DCTERMS.language, FRENCH)
        self.add(s, DCAT.theme, SOCIETY)
        for word in KEYWORDS:
            self.fr(s, DCAT.keyword, word)

    # Catalog, series, service ---------------------------------------------------------------

    def catalog_node(self, versions: list[_Version]) -> None:
        meta, c = self.meta, self.catalog
        self.add(c, RDF.type, DCAT.Catalog)
        self.fr(c, DCTERMS.title, meta.title)
        self.fr(c, DCTERMS.description, meta.description)
        self.add(c, DCTERMS.description, Literal(meta.description_en, lang="en"))
        self.add(c, DCTERMS.publisher, self.publisher)
        self.add(c, DCTERMS.license, self.licence(meta.licence))
        self.add(c, DCTERMS.language, FRENCH)
        self.add(c, DCTERMS.spatial, FRANCE)
        self.add(c, DCAT.themeTaxonomy, DATA_THEMES)
        self.add(c, FOAF.homepage, self.homepage)
        self.add(c, DCAT.service, self.service)
        self.add(c, DCAT.dataset, self.series)
        if versions:
            self.add(c, DCTERMS.issued, _datetime(versions[0].published_at))
            self.add(c, DCTERMS.modified, _datetime(versions[-1].published_at))

    def series_node(self, versions: list[_Version]) -> None:
        s = self.series
        self.add(s, RDF.type, DCAT.DatasetSeries)
        self.add(s, RDF.type, DCAT.Dataset)  # entailed by DCAT 3; stated for the range shapes
        self.fr(s, DCTERMS.title, "Acteurs PANA — points d'appui au numérique associatif")
        self.fr(s, DCTERMS.description, self.meta.description)
        self.add(s, DCTERMS.description, Literal(self.meta.description_en, lang="en"))
        self.described(s)
        self.add(s, DCTERMS.conformsTo, self.schema())
        if versions:
            first, last = versions[0], versions[-1]
            self.add(s, DCTERMS.issued, _datetime(first.published_at))
            self.add(s, DCTERMS.modified, _datetime(last.published_at))
            self.add(s, DCAT.first, self.version_uri(first.id))
            self.add(s, DCAT.last, self.version_uri(last.id))
            self.add(s, DCAT.hasCurrentVersion, self.version_uri(last.id))
            self.period(s, first.published_at, last.published_at)
            for v in versions:
                self.add(s, DCAT.hasVersion, self.version_uri(v.id))

    def service_node(self, versions: list[_Version]) -> None:
        s, endpoint = self.service, URIRef(self.meta.sparql_endpoint or "")
        self.add(s, RDF.type, DCAT.DataService)
        self.fr(s, DCTERMS.title, "Point d'accès SPARQL de la carte PANA")
        self.fr(
            s,
            DCTERMS.description,
            "Interrogation SPARQL 1.1 de la dernière version publiée des acteurs PANA.",
        )
        self.add(s, DCAT.endpointURL, endpoint)
        self.add(s, DCAT.endpointDescription, endpoint)  # SPARQL 1.1 Service Description
        self.add(s, DCTERMS.conformsTo, SPARQL_PROTOCOL)
        self.add(s, DCTERMS.publisher, self.publisher)
        self.add(s, DCAT.contactPoint, self.contact)
        self.add(s, DCAT.theme, SOCIETY)
        self.add(s, DCTERMS.license, self.licence(self.meta.licence))
        for word in ("SPARQL", "données liées", "associations", "numérique"):
            self.fr(s, DCAT.keyword, word)
        self.add(s, DCAT.servesDataset, self.series)
        if versions:
            self.add(s, DCAT.servesDataset, self.version_uri(versions[-1].id))

    def period(self, s: URIRef, start: str, end: str) -> None:
        """dct:temporal: the dates the data describe (a version: the day it was published)."""
        node = BNode("t" + hashlib.sha1(str(s).encode()).hexdigest()[:16])
        self.add(s, DCTERMS.temporal, node)
        self.add(node, RDF.type, DCTERMS.PeriodOfTime)
        self.add(node, DCAT.startDate, Literal(start[:10], datatype=XSD.date))
        self.add(node, DCAT.endDate, Literal(end[:10], datatype=XSD.date))

    def schema(self) -> URIRef:
        return self.standard(SCHEMA_BASE_URL + "actor.schema.json", "Schéma Acteur PANA (JSON)")

    # Versions -------------------------------------------------------------------------------

    def version_uri(self, version: str) -> URIRef:
        return URIRef(f"{self.meta.base_uri}jeu/acteurs/{version}")

    def download_url(self, version: str, path: str) -> URIRef:
        return URIRef(f"{self.meta.download_base}{version}/{path}")

    def version_node(self, v: _Version, previous: _Version | None, current: bool) -> None:
        d = self.version_uri(v.id)
        self.add(d, RDF.type, DCAT.Dataset)
        self.add(d, RDF.type, VOID.Dataset)
        self.add(self.catalog, DCAT.dataset, d)
        self.fr(d, DCTERMS.title, f"Acteurs PANA — version {v.id}")
        self.fr(
            d,
            DCTERMS.description,
            f"Version {v.id} de la carte des points d'appui au numérique associatif : "
            f"{v.actors} acteurs dédupliqués.",
        )
        self.add(d, DCTERMS.identifier, Literal(str(d)))
        self.add(d, DCAT.inSeries, self.series)
        self.add(d, DCAT.version, Literal(v.id))
        self.add(d, DCTERMS.issued, _datetime(v.published_at))
        self.add(d, DCTERMS.modified, _datetime(v.published_at))  # a version never changes
        self.period(d, v.published_at, v.published_at)
        self.described(d)
        self.add(d, DCTERMS.license, self.licence(v.licence))
        self.add(d, DCTERMS.conformsTo, self.schema())
        self.add(d, DCAT.landingPage, self.homepage)
        if previous is not None:
            self.add(d, DCAT.previousVersion, self.version_uri(previous.id))
            self.add(d, DCAT.prev, self.version_uri(previous.id))
        # VoID
        if v.triples is not None:
            self.add(d, VOID.triples, Literal(v.triples, datatype=XSD.integer))
        if v.entities is not None:
            self.add(d, VOID.entities, Literal(v.entities, datatype=XSD.integer))
        self.add(d, VOID.uriSpace, Literal(f"{self.meta.base_uri}id/"))
        for namespace in VOCABULARIES.values():
            self.add(d, VOID.vocabulary, URIRef(namespace))
        if current:  # the endpoint serves the latest version only
            self.add(d, VOID.sparqlEndpoint, URIRef(self.meta.sparql_endpoint or ""))
        paths = {f.path for f in v.files}
        for dump in ("actors.nt.gz", "actors.ttl"):
            if dump in paths:
                self.add(d, VOID.dataDump, self.download_url(v.id, dump))
        for f in v.files:
            self.distribution(d, v, f)

    def distribution(self, dataset: URIRef, v: _Version, f: _File) -> None:
        dist = URIRef(f"{dataset}/{f.path}")
        url = self.download_url(v.id, f.path)
        self.add(dataset, DCAT.distribution, dist)
        self.add(dist, RDF.type, DCAT.Distribution)
        self.fr(dist, DCTERMS.title, f.title)
        self.fr(dist, DCTERMS.description, f"{f.title} — fichier {f.path} de la version {v.id}.")
        self.add(dist, DCAT.accessURL, url)
        self.add(dist, DCAT.downloadURL, url)
        mediatype, file_type, compress = _file_type(f.path, f.mediatype)
        if mediatype:
            self.add(dist, DCAT.mediaType, self.media_type(mediatype))
        if file_type:
            self.add(dist, DCTERMS.format, self.file_type(file_type))
        if compress:
            self.add(dist, DCAT.compressFormat, self.media_type(compress))
        self.add(dist, DCAT.byteSize, Literal(f.size, datatype=XSD.nonNegativeInteger))
        # A blank node named after its distribution: the same label on every run.
        checksum = BNode("c" + hashlib.sha1(str(dist).encode()).hexdigest()[:16])
        self.add(dist, SPDX.checksum, checksum)
        self.add(checksum, RDF.type, SPDX.Checksum)
        self.add(checksum, SPDX.algorithm, SHA256)
        self.add(checksum, SPDX.checksumValue, Literal(f.sha256, datatype=XSD.hexBinary))
        self.add(dist, DCTERMS.license, self.licence(v.licence))
        self.add(dist, DCATAP.availability, STABLE)
        self.add(dist, DCTERMS.issued, _datetime(v.published_at))
        if f.conforms_to:
            self.add(dist, DCTERMS.conformsTo, self.standard(f.conforms_to, f"Schéma de {f.path}"))


def catalog_graph(out_dir: Path, meta: CatalogMeta) -> Graph:
    """The DCAT-AP catalog of every version published in ``out_dir``."""
    out_dir = Path(out_dir)
    versions = _read_versions(out_dir, meta.licence)
    b = _Builder(meta)
    b.common()
    b.agents()
    b.catalog_node(versions)
    b.series_node(versions)
    b.service_node(versions)
    for i, v in enumerate(versions):
        b.version_node(v, versions[i - 1] if i else None, current=i == len(versions) - 1)
    return b.g


# ---------------------------------------------------------------------------------------------
# Deterministic JSON-LD


def _curie(uri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        ns = str(namespace)
        if uri.startswith(ns) and uri != ns and "/" not in uri[len(ns) :]:
            return f"{prefix}:{uri[len(ns) :]}"
    return uri


def to_jsonld(graph: Graph) -> dict[str, Any]:
    """Flat, sorted JSON-LD: one node object per IRI subject, single-use blank nodes nested."""
    context = {prefix: str(ns) for prefix, ns in sorted(PREFIXES.items())}
    uses: dict[BNode, int] = {}
    for o in graph.objects():
        if isinstance(o, BNode):
            uses[o] = uses.get(o, 0) + 1
    nested = {b for b, n in uses.items() if n == 1 and (None, None, b) in graph}

    def value(o: Any) -> Any:
        if isinstance(o, Literal):
            item: dict[str, Any] = {"@value": str(o)}
            if o.language:
                item["@language"] = o.language
            elif o.datatype and o.datatype != XSD.string:
                item["@type"] = _curie(str(o.datatype))
            return item
        if isinstance(o, BNode) and o in nested:
            return node(o)
        return {"@id": _curie(str(o)) if isinstance(o, URIRef) else f"_:{o}"}

    def node(s: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {"@id": _curie(str(s)) if isinstance(s, URIRef) else f"_:{s}"}
        if isinstance(s, BNode) and s in nested:
            del obj["@id"]
        types = sorted(_curie(str(t)) for t in graph.objects(s, RDF.type))
        if types:
            obj["@type"] = types
        for p in sorted({p for p in graph.predicates(s) if p != RDF.type}, key=_curie):
            values = [value(o) for o in graph.objects(s, p)]
            obj[_curie(str(p))] = sorted(values, key=lambda v: json.dumps(v, sort_keys=True))
        return obj

    subjects = sorted(
        {s for s in graph.subjects() if not (isinstance(s, BNode) and s in nested)},
        key=lambda s: (isinstance(s, BNode), str(s)),
    )
    return {"@context": context, "@graph": [node(s) for s in subjects]}


def write_catalog(out_dir: Path, meta: CatalogMeta) -> list[Path]:
    """Write ``catalog.ttl`` and ``catalog.jsonld`` in ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    graph = catalog_graph(out_dir, meta)
    turtle = graph.serialize(format="longturtle", encoding="utf-8")
    jsonld = json.dumps(to_jsonld(graph), ensure_ascii=False, indent=1) + "\n"
    paths = [out_dir / CATALOG_TTL, out_dir / CATALOG_JSONLD]
    atomic_write(paths[0], turtle)
    atomic_write(paths[1], jsonld.encode("utf-8"))
    return paths
