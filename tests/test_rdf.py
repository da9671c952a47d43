"""The RDF outputs: mapping, deterministic writers, JSON-LD, code lists, vocabulary and shapes."""

from __future__ import annotations

import gzip
import json

import pytest
from pyshacl import validate
from rdflib import RDFS, SKOS, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from pana_data.pipeline import run_pipeline
from pana_data.rdf import (
    all_prefixes,
    codelists_graph,
    release_blocks,
    release_triples,
    shapes_graph,
    to_rdflib,
    vocabulary_graph,
    write_rdf,
)
from pana_data.rdf.mapping import Uris
from pana_data.schema import CODE_LISTS, Actor
from pana_data.sources import code_matches
from tests.helpers import ROOT, rapper_check

ORG = "http://www.w3.org/ns/org#"
DCT = "http://purl.org/dc/terms/"


def example_actor(**overrides) -> Actor:
    data = {name: info.examples[0] for name, info in Actor.model_fields.items()}
    return Actor.model_validate({**data, **overrides})


def unusual_actors() -> list[Actor]:
    return [
        example_actor(),
        example_actor(
            id="pana-aaaaaaaaaaaa",
            site_web="https://www.mairie-évry.fr/asso?x=1&y=é#top",
            courriel="o'brien+asso@exemple.fr",
            nom='Le "Lieu" <numérique>\nsur deux lignes',
            description="Tabulation\tet « guillemets »",
            siret=None,
            siren=None,
            rna=None,
            latitude=None,
            longitude=None,
        ),
    ]


def write_all(blocks, folder):
    folder.mkdir(parents=True, exist_ok=True)
    write_rdf(blocks, folder, all_prefixes())
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_every_writer_gives_the_same_graph(tmp_path):
    actors = unusual_actors()
    members = {a.id: [("src", f"rec/{a.id} é")] for a in actors}
    redirects = [{"old_id": "pana-zzzzzzzzzzzz", "new_id": actors[0].id}]
    triples = release_triples(actors, members, redirects)
    write_all(release_blocks(actors, members, redirects), tmp_path)
    expected = to_rdflib(triples)
    turtle = Graph().parse(tmp_path / "actors.ttl", format="turtle")
    ntriples = Graph().parse(
        data=gzip.decompress((tmp_path / "actors.nt.gz").read_bytes()), format="nt"
    )
    jsonld = Graph().parse(tmp_path / "actors.jsonld", format="json-ld")
    for graph in (turtle, ntriples, jsonld):
        assert isomorphic(graph, expected)
    uris = Uris()
    assert (URIRef(uris.actor("pana-aaaaaaaaaaaa")), None, URIRef(ORG + "Organization")) in turtle
    assert (
        URIRef(uris.actor("pana-zzzzzzzzzzzz")),
        URIRef(DCT + "isReplacedBy"),
        URIRef(uris.actor(actors[0].id)),
    ) in turtle
    # A legal entity only with a SIREN or an RNA number.
    legal = URIRef("http://www.w3.org/ns/legal#LegalEntity")
    assert (URIRef(uris.actor(actors[0].id)), None, legal) in turtle
    assert (URIRef(uris.actor("pana-aaaaaaaaaaaa")), None, legal) not in turtle


def test_outputs_are_deterministic_whatever_the_order(tmp_path):
    actors = [example_actor(), example_actor(id="pana-bbbbbbbbbbbb", nom="Autre")]
    members = {a.id: [("src", a.id), ("autre", "1")] for a in actors}
    first = write_all(release_blocks(actors, members), tmp_path / "a")
    second = write_all(release_blocks(list(reversed(actors)), members), tmp_path / "b")
    assert first == second
    header = first["actors.ttl"].decode().split("\n")
    prefixes = [line for line in header if line.startswith("@prefix")]
    assert prefixes == sorted(prefixes) and prefixes


def test_every_code_is_a_skos_concept_with_a_french_label():
    graph = codelists_graph()
    labels = {str(o) for o in graph.objects(None, None) if getattr(o, "language", None) == "fr"}
    for codes in CODE_LISTS.values():
        for member in codes:
            assert member.label in labels


def test_code_lists_match_the_sources_values():
    graph = codelists_graph(matches=code_matches())
    uris = Uris()
    asso = URIRef(uris.concept("typologie", "ASSO"))
    matches = {str(o) for o in graph.objects(asso, SKOS.exactMatch)}
    assert matches == {"https://w3id.org/pana/code/ext/data-inclusion/typologie/ASSO"}
    aidants = URIRef(uris.concept("labels", "aidants-connect"))
    targets = {str(o).rsplit("/", 2)[-2] for o in graph.objects(aidants, SKOS.exactMatch)}
    assert targets == {"labels"} and len(set(graph.objects(aidants, SKOS.exactMatch))) == 2


def test_minted_terms_have_french_and_english_labels():
    graph = vocabulary_graph()
    terms = {s for s in graph.subjects(RDFS.label, None)}
    assert len(terms) == 3
    for term in terms:
        languages = {o.language for o in graph.objects(term, RDFS.label)}
        assert languages == {"fr", "en"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("published")
    return run_pipeline(None, out)


def test_every_predicate_is_standard_or_minted(demo):
    graph = Graph().parse(demo / "actors.ttl", format="turtle")
    minted = {str(s) for s in vocabulary_graph().subjects(RDFS.label, None)}
    standard = set(all_prefixes().values()) - {"https://w3id.org/pana/vocab#"}
    for predicate in set(graph.predicates()):
        assert str(predicate) in minted or any(str(predicate).startswith(ns) for ns in standard)


def test_demo_rdf_conforms_to_the_generated_shapes(demo):
    data = Graph().parse(demo / "actors.ttl", format="turtle")
    conforms, _, text = validate(data, shacl_graph=shapes_graph(), inference="none")
    assert conforms, text


def test_the_shapes_catch_what_the_schema_forbids(demo):
    data = Graph().parse(demo / "actors.ttl", format="turtle")
    notation = URIRef("http://www.w3.org/2004/02/skos/core#notation")
    siret = next(s for s in data.subjects(notation, None) if str(s).endswith("#siret"))
    data.set((siret, notation, Literal("123")))
    actor = next(iter(data.subjects(URIRef(DCT + "identifier"), None)))
    data.remove((actor, URIRef("https://w3id.org/pana/vocab#statut"), None))
    conforms, report, _ = validate(data, shacl_graph=shapes_graph(), inference="none")
    assert not conforms
    messages = {
        str(o) for o in report.objects(None, URIRef("http://www.w3.org/ns/shacl#resultPath"))
    }
    assert "https://w3id.org/pana/vocab#statut" in messages


def test_every_rdf_file_passes_rapper(demo, tmp_path):
    nt = tmp_path / "actors.nt"
    nt.write_bytes(gzip.decompress((demo / "actors.nt.gz").read_bytes()))
    files = [
        (demo / "actors.ttl", "turtle"),
        (nt, "ntriples"),
        (demo / "codelists.ttl", "turtle"),
        (ROOT / "vocab" / "pana.ttl", "turtle"),
        (ROOT / "vocab" / "codelists.ttl", "turtle"),
        (ROOT / "schemas" / "v1" / "actor.shacl.ttl", "turtle"),
    ]
    for path, syntax in files:
        rapper_check(path, syntax)


def test_demo_jsonld_uses_the_published_context(demo):
    doc = json.loads((demo / "actors.jsonld").read_text())
    published = json.loads((demo / "context.jsonld").read_text())["@context"]
    assert doc["@context"].items() <= published.items()
    assert json.loads((ROOT / "vocab" / "context.jsonld").read_text())["@context"] == published
    turtle = Graph().parse(demo / "actors.ttl", format="turtle")
    assert isomorphic(Graph().parse(demo / "actors.jsonld", format="json-ld"), turtle)
    report = json.loads((demo / "report.json").read_text())
    assert report["rdf"]["triples"] == len(turtle)


def test_base_uri_comes_from_the_catalog(tmp_path):
    import yaml

    from tests.helpers import DEMO

    catalog = yaml.safe_load((DEMO / "catalog.yaml").read_text())
    catalog["base_uri"] = "https://data.example.org/pana/"
    for source in catalog["sources"]:
        source["url"] = str(DEMO / source["url"])
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, allow_unicode=True))
    version = run_pipeline(path, tmp_path / "out")
    graph = Graph().parse(version / "actors.ttl", format="turtle")
    subjects = {str(s) for s in graph.subjects(URIRef(DCT + "identifier"), None)}
    assert subjects and all(
        s.startswith("https://data.example.org/pana/id/acteur/") for s in subjects
    )
    conforms, _, text = validate(
        graph, shacl_graph=shapes_graph("https://data.example.org/pana/"), inference="none"
    )
    assert conforms, text


def test_values_the_schema_accepts_become_valid_iris_and_decimals(tmp_path):
    """pyoxigraph (the SPARQL store) is stricter than rdflib: it must load every file."""
    import pyoxigraph as ox

    actors = [
        example_actor(
            id="pana-cccccccccccc",
            site_web="https://www.exemple.fr/agenda?f[type]=atelier#/page#section",
            courriel="a%zz@exemple.fr",
            latitude=0.00001,
            longitude=-0.00002,
        )
    ]
    triples = release_triples(actors, {actors[0].id: [("src", "1")]})
    write_all(release_blocks(actors, {actors[0].id: [("src", "1")]}), tmp_path)
    for name, syntax in (("actors.ttl", ox.RdfFormat.TURTLE),):
        assert len(list(ox.parse(path=str(tmp_path / name), format=syntax))) == len(triples)
    nt = gzip.decompress((tmp_path / "actors.nt.gz").read_bytes())
    parsed = list(ox.parse(nt, format=ox.RdfFormat.N_TRIPLES))
    values = {t.object.value for t in parsed if isinstance(t.object, ox.Literal)}
    assert {"0.00001", "-0.00002", "POINT(-0.00002 0.00001)"} <= values
    homepages = [t.object.value for t in parsed if t.predicate.value.endswith("homepage")]
    assert homepages == ["https://www.exemple.fr/agenda?f%5Btype%5D=atelier#/page%23section"]


def test_parallel_rendering_writes_the_same_bytes(tmp_path, monkeypatch):
    from pana_data.rdf import writers

    actors = [example_actor(id=f"pana-{i:012d}", nom=f"Lieu {i}") for i in range(9)]
    members = {a.id: [("src", a.id)] for a in actors}
    redirects = [{"old_id": "pana-zzzzzzzzzzzz", "new_id": actors[0].id}]
    sources = [{"source_id": "src", "sha256": "ab" * 32, "url": "https://e.org/x.csv"}]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    serial.mkdir()
    parallel.mkdir()
    prefixes = all_prefixes()
    monkeypatch.setattr(writers, "CHUNK", 2)  # five parts of actors, then the rest
    base = "https://w3id.org/pana/"
    counts = [
        writers.write_release_rdf(actors, members, redirects, sources, base, folder, prefixes, n)
        for folder, n in ((serial, 1), (parallel, 2))
    ]
    expected = release_triples(actors, members, redirects, sources)
    assert counts[0] == counts[1] == len(expected)
    for name in writers.FILES:
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
    assert sorted(p.name for p in parallel.iterdir()) == sorted(writers.FILES)  # parts removed
    # Parts (actors, records by chunks, absorbed ids, sources) change nothing: the same bytes
    # as one render of every block (gzip members aside).
    whole = write_all(release_blocks(actors, members, redirects, sources), tmp_path / "whole")
    for name in ("actors.ttl", "actors.jsonld"):
        assert (parallel / name).read_bytes() == whole[name], name
    nt = gzip.decompress((parallel / "actors.nt.gz").read_bytes())
    assert nt == gzip.decompress(whole["actors.nt.gz"])
    # A multi-member gzip stream is one N-Triples document.
    dump = gzip.decompress((parallel / "actors.nt.gz").read_bytes())
    assert isomorphic(Graph().parse(data=dump, format="nt"), to_rdflib(expected))
    assert isomorphic(
        Graph().parse(parallel / "actors.jsonld", format="json-ld"), to_rdflib(expected)
    )


def test_a_broken_worker_pool_falls_back_to_one_process(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    from pana_data.rdf import writers

    class Broken:
        def __init__(self, *args, **kwargs):
            raise BrokenProcessPool("workers could not start")

    actors = [example_actor(id=f"pana-{i:012d}", nom=f"Lieu {i}") for i in range(9)]
    members = {a.id: [("src", a.id)] for a in actors}
    monkeypatch.setattr(writers, "CHUNK", 2)
    expected = tmp_path / "expected"
    expected.mkdir()
    prefixes = all_prefixes()
    base = "https://w3id.org/pana/"
    writers.write_release_rdf(actors, members, [], [], base, expected, prefixes, 1)
    monkeypatch.setattr(writers, "ProcessPoolExecutor", Broken)
    count = writers.write_release_rdf(actors, members, [], [], base, tmp_path, prefixes, 2)
    assert count == len(release_triples(actors, members))
    for name in writers.FILES:
        assert (tmp_path / name).read_bytes() == (expected / name).read_bytes()
