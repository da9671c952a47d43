"""The DCAT-AP 3.0.1 catalog of the published versions, checked with the official SEMIC shapes."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from pyshacl import validate
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, SH, VOID

from pana_data.pipeline import run_pipeline
from pana_data.publish.dcat import CatalogMeta, catalog_graph, write_catalog
from tests.helpers import FIXTURES, changed_demo, rapper_check

SHAPES = FIXTURES / "dcat-ap"
DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")  # rdflib's closed XSD warns under pytest
BASE = "https://w3id.org/pana/"
SERIES = URIRef(BASE + "jeu/acteurs")
FRANCE = URIRef("http://publications.europa.eu/resource/authority/country/FRA")

# Recommended properties the catalog does not give, and why (see the report in the README).
KNOWN_WARNINGS = {
    # dcat:DatasetSeries is typed dcat:Dataset too (DCAT 3 entails it; the range shapes need it),
    # so the Dataset shapes ask it for distributions: a series has none, its versions do.
    (SERIES, DCAT.distribution),
    # The adms publisher type depends on who publishes: set CatalogMeta.publisher_type.
    (URIRef(BASE + "editeur"), DCTERMS.type),
    # Geometry of the EU authority's France: the authority table's data, not the catalog's.
    (FRANCE, DCAT.bbox),
    (FRANCE, DCAT.centroid),
}

# html/shapes.ttl checks dataset dates with the non-standard sh:shape (ignored): check them here.
DATES_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix : <urn:pana:test#> .
:DateOrDateTime a sh:NodeShape ;
    sh:targetSubjectsOf dct:issued, dct:modified, dcat:startDate, dcat:endDate ;
    sh:property [ sh:path dct:issued ; sh:maxCount 1 ;
                  sh:or ( [ sh:datatype xsd:date ] [ sh:datatype xsd:dateTime ] ) ] ,
                [ sh:path dct:modified ; sh:maxCount 1 ;
                  sh:or ( [ sh:datatype xsd:date ] [ sh:datatype xsd:dateTime ] ) ] ,
                [ sh:path dcat:startDate ; sh:maxCount 1 ; sh:datatype xsd:date ] ,
                [ sh:path dcat:endDate ; sh:maxCount 1 ; sh:datatype xsd:date ] .
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two demo releases in one folder (the second with a change): ``publish`` writes the
    catalog after each."""
    tmp = tmp_path_factory.mktemp("dcat")
    out = tmp / "out"
    run_pipeline(None, out)
    run_pipeline(changed_demo(tmp / "demo"), out)
    return out


@pytest.fixture(scope="module")
def catalog(published):
    return Graph().parse(published / "catalog.ttl")


def shacl_results(data: Graph, shapes: str) -> list[tuple[URIRef, URIRef, URIRef, str]]:
    """(severity, focus node, path, message) of every result of a pyshacl run."""
    shacl = Graph().parse(data=shapes) if "@prefix" in shapes else Graph().parse(SHAPES / shapes)
    _, report, _ = validate(data, shacl_graph=shacl, allow_warnings=True)
    return sorted(
        (
            report.value(r, SH.resultSeverity),
            report.value(r, SH.focusNode),
            report.value(r, SH.resultPath),
            str(report.value(r, SH.resultMessage)),
        )
        for r in report.subjects(RDF.type, SH.ValidationResult)
    )


def test_catalog_parses_with_rapper(published):
    rapper_check(published / "catalog.ttl")


def test_catalog_parses_with_rdflib(catalog):
    assert (URIRef(BASE + "catalogue"), RDF.type, DCAT.Catalog) in catalog
    assert len(catalog) > 300


def test_mandatory_shapes_conform(catalog):
    assert shacl_results(catalog, "shapes.ttl") == []


def test_range_shapes_conform_with_background_knowledge(catalog):
    background = Graph().parse(SHAPES / "background-eu-vocab.ttl")
    assert shacl_results(catalog + background, "range.ttl") == []


def test_range_shapes_conform_without_background_knowledge(catalog):
    """Every borrowed IRI is typed in the catalog itself: no authority table is needed."""
    assert shacl_results(catalog, "range.ttl") == []


def test_dates_are_dates_or_datetimes(catalog):
    assert shacl_results(catalog, DATES_SHAPES) == []


def test_recommended_shapes_leave_only_known_warnings(catalog):
    results = shacl_results(catalog, "shapes_recommended.ttl")
    assert {severity for severity, *_ in results} <= {SH.Warning}
    assert {(focus, path) for _, focus, path, _ in results} <= KNOWN_WARNINGS
    assert len(results) <= len(KNOWN_WARNINGS)  # 4, whatever the number of versions


def test_versions_form_a_series(published, catalog):
    versions = json.loads((published / "versions.json").read_text())["versions"]
    first, second = (URIRef(f"{BASE}jeu/acteurs/{v['id']}") for v in versions)
    latest = URIRef(f"{BASE}jeu/acteurs/{os.readlink(published / 'latest')}")
    assert latest == second
    assert set(catalog.objects(URIRef(BASE + "catalogue"), DCAT.dataset)) == {
        SERIES,
        first,
        second,
    }
    assert (second, DCAT.previousVersion, first) in catalog
    assert catalog.value(first, DCAT.previousVersion) is None
    assert catalog.value(SERIES, DCAT.hasCurrentVersion) == second
    assert catalog.value(SERIES, DCAT.first) == first
    assert catalog.value(SERIES, DCAT.last) == second
    for dataset, version in ((first, versions[0]), (second, versions[1])):
        assert (dataset, DCAT.inSeries, SERIES) in catalog
        assert catalog.value(dataset, DCAT.version) == Literal(version["id"])
        assert catalog.value(dataset, DCTERMS.issued) == Literal(
            version["published_at"], datatype=XSD.dateTime
        )
    service = URIRef(BASE + "service/sparql")
    assert set(catalog.objects(service, DCAT.servesDataset)) == {SERIES, second}
    assert catalog.value(second, VOID.sparqlEndpoint) == URIRef(BASE + "sparql")
    assert catalog.value(first, VOID.sparqlEndpoint) is None  # the endpoint serves the latest


def test_distributions_match_the_files(published, catalog):
    checked = 0
    for version in json.loads((published / "versions.json").read_text())["versions"]:
        dataset = URIRef(f"{BASE}jeu/acteurs/{version['id']}")
        folder = published / version["id"]
        package = json.loads((folder / "datapackage.json").read_text())
        expected = {r["path"] for r in package["resources"]} | {"datapackage.json"}
        listed = set()
        for dist in catalog.objects(dataset, DCAT.distribution):
            url = str(catalog.value(dist, DCAT.downloadURL))
            assert url.startswith(f"{BASE}versions/{version['id']}/")
            assert catalog.value(dist, DCAT.accessURL) == URIRef(url)
            path = folder / url.rsplit("/", 1)[1]
            listed.add(path.name)
            data = path.read_bytes()
            assert catalog.value(dist, DCAT.byteSize) == Literal(
                len(data), datatype=XSD.nonNegativeInteger
            )
            checksum = catalog.value(dist, SPDX.checksum)
            assert catalog.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
            assert catalog.value(checksum, SPDX.checksumValue) == Literal(
                hashlib.sha256(data).hexdigest(), datatype=XSD.hexBinary
            )
            # Every file has a format; JSON Lines has no registered media type to state.
            assert catalog.value(dist, DCTERMS.format) is not None
            assert (catalog.value(dist, DCAT.mediaType) is None) == path.name.endswith(".jsonl")
            checked += 1
        assert listed == expected
    assert checked >= 2 * 10


def test_void_statistics(published, catalog):
    latest = published / "latest"
    dataset = URIRef(f"{BASE}jeu/acteurs/{os.readlink(latest)}")
    report = json.loads((latest / "report.json").read_text())
    triples = int(catalog.value(dataset, VOID.triples))
    if "rdf" in report:
        assert triples == report["rdf"]["triples"]
        assert int(catalog.value(dataset, VOID.entities)) == report["rdf"]["entities"]
    else:
        assert triples == len(Graph().parse(latest / "actors.ttl"))
    assert catalog.value(dataset, VOID.uriSpace) == Literal(BASE + "id/")
    assert URIRef("http://www.w3.org/ns/org#") in set(catalog.objects(dataset, VOID.vocabulary))
    dumps = {str(u).rsplit("/", 1)[1] for u in catalog.objects(dataset, VOID.dataDump)}
    assert "actors.ttl" in dumps
    assert dumps <= {"actors.ttl", "actors.nt.gz"}


def test_jsonld_is_the_same_graph(published, catalog):
    jsonld = Graph().parse(published / "catalog.jsonld", format="json-ld")
    assert isomorphic(jsonld, catalog)


def test_writing_twice_gives_identical_bytes(published, catalog):
    """Rewriting the catalog ``publish`` wrote, with the same metadata, changes no byte."""
    before = [(published / n).read_bytes() for n in ("catalog.ttl", "catalog.jsonld")]
    title = str(catalog.value(URIRef(BASE + "catalogue"), DCTERMS.title))
    publisher = str(catalog.value(URIRef(BASE + "editeur"), FOAF.name))
    meta = CatalogMeta(title=title, publisher=publisher, licence="etalab-2.0")
    paths = write_catalog(published, meta)
    assert [p.name for p in paths] == ["catalog.ttl", "catalog.jsonld"]
    assert [p.read_bytes() for p in paths] == before
    assert [p.read_bytes() for p in write_catalog(published, meta)] == before
    assert not list(published.glob(".catalog*.tmp"))


def test_meta_defaults_and_overrides(published):
    meta = CatalogMeta(
        title="Catalogue PANA",
        publisher="Un éditeur",
        licence="ODbL-1.0",
        base_uri="https://example.org/pana",
        contact_email="contact@example.org",
        download_base="https://files.example.org/pana",
        publisher_type="NonProfitOrganisation",
    )
    assert meta.base_uri == "https://example.org/pana/"
    assert meta.sparql_endpoint == "https://example.org/pana/sparql"
    g = catalog_graph(published, meta)
    base = "https://example.org/pana/"
    urls = {str(u) for u in g.objects(None, DCAT.downloadURL)}
    assert urls and all(u.startswith("https://files.example.org/pana/") for u in urls)
    contact = URIRef(base + "contact")
    assert g.value(contact, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail")) == URIRef(
        "mailto:contact@example.org"
    )
    assert g.value(URIRef(base + "catalogue"), DCTERMS.license) == URIRef(
        "https://opendatacommons.org/licenses/odbl/1-0/"
    )
    assert shacl_results(g, "shapes.ttl") == []
    assert shacl_results(g, "range.ttl") == []
    publisher_type = (URIRef(base + "editeur"), DCTERMS.type)
    assert publisher_type not in {
        (f, p) for _, f, p, _ in shacl_results(g, "shapes_recommended.ttl")
    }


def test_counts_triples_when_the_report_has_none(tmp_path):
    """An older version without report.json["rdf"] nor actors.nt.gz: triples parsed from Turtle."""
    folder = tmp_path / "2024-01-01"
    folder.mkdir()
    ttl = b'<urn:a> <urn:p> "1" , "2" .\n<urn:b> <urn:p> <urn:a> .\n'
    (folder / "actors.ttl").write_bytes(ttl)
    (folder / "report.json").write_text('{"actors": 2}')
    resource = {
        "path": "actors.ttl",
        "title": "Acteurs",
        "mediatype": "text/turtle",
        "bytes": len(ttl),
        "hash": "sha256:" + hashlib.sha256(ttl).hexdigest(),
    }
    (folder / "datapackage.json").write_text(json.dumps({"resources": [resource]}))
    versions = {
        "latest": "2024-01-01",
        "versions": [
            {"id": "2024-01-01", "published_at": "2024-01-01T10:00:00+00:00", "files": {}},
            {"id": "2023-12-01", "published_at": "2023-12-01T10:00:00+00:00"},  # folder gone
        ],
    }
    (tmp_path / "versions.json").write_text(json.dumps(versions))
    meta = CatalogMeta(title="T", publisher="P", licence="etalab-2.0")
    g = catalog_graph(tmp_path, meta)
    dataset = URIRef(BASE + "jeu/acteurs/2024-01-01")
    assert int(g.value(dataset, VOID.triples)) == 3
    assert int(g.value(dataset, VOID.entities)) == 2
    assert g.value(URIRef(BASE + "jeu/acteurs/2023-12-01"), RDF.type) is None
    assert {str(d).rsplit("/", 1)[1] for d in g.objects(dataset, DCAT.distribution)} == {
        "actors.ttl",
        "datapackage.json",
    }
    assert shacl_results(g, "shapes.ttl") == []
