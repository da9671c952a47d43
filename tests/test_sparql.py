"""The read-only SPARQL endpoint: loading a version, the protocol (SPARQLWrapper as an
independent client), limits, the CLI, and every example query of docs/sparql.md.

The fixture release follows the RDF mapping (IRIs, vocabularies) by hand, so these tests do not
depend on the exporters; when the exporters publish ``actors.nt.gz``, the docs' queries are also
run against a real demo release."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from SPARQLWrapper import CSV, JSON, TSV, TURTLE, XML, SPARQLWrapper
from typer.testing import CliRunner

from pana_data import sparql
from tests.helpers import ROOT

B = "https://w3id.org/pana/"
A = f"{B}id/acteur/"

PROLOGUE = """\
@prefix org: <http://www.w3.org/ns/org#> .
@prefix legal: <http://www.w3.org/ns/legal#> .
@prefix locn: <http://www.w3.org/ns/locn#> .
@prefix adms: <http://www.w3.org/ns/adms#> .
@prefix cv: <http://data.europa.eu/m8g/> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix schema: <https://schema.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix pana: <https://w3id.org/pana/vocab#> .
@prefix code: <https://w3id.org/pana/code/> .
@prefix acteur: <https://w3id.org/pana/id/acteur/> .
@prefix rec: <https://w3id.org/pana/id/enregistrement/> .
@prefix src: <https://w3id.org/pana/id/source/> .
@prefix moisson: <https://w3id.org/pana/id/moisson/> .
"""


def actor(
    id_: str,
    label: str,
    *,
    typologie: str,
    dep: str,
    region: str,
    commune: str,
    postcode: str,
    insee: str,
    street: str,
    statut: str = "actif",
    siret: str | None = None,
    rna: str | None = None,
    point: tuple[float, float] | None = None,
    themes: tuple[str, ...] = (),
    niveaux: tuple[str, ...] = ("informer",),
    reseaux: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    email: str | None = None,
    phone: str | None = None,
    homepage: str | None = None,
    records: tuple[tuple[str, str, str], ...] = (),  # (source, record id, harvest hash)
    modified: str = "2026-01-15",
) -> str:
    """One actor in Turtle, as the RDF mapping (docs/sparql.md, "Le modèle") describes it."""
    s = f"acteur:{id_}"
    node = f"<{A}{id_}"
    lines = [f"{s} a org:Organization"]
    if siret or rna:
        lines.append("    a legal:LegalEntity")
    lines += [
        f'    dct:identifier "{id_}"',
        f'    skos:prefLabel "{label}"@fr',
        f'    dct:modified "{modified}"^^xsd:date',
        f"    org:classification <{B}code/typologie/{typologie}>",
        f"    pana:statut <{B}code/statut/{statut}>",
        f"    locn:address {node}#adresse>",
        f"    schema:areaServed <http://id.insee.fr/geo/departement/{dep}>",
    ]
    lines += [f"    org:purpose <{B}code/thematiques/{t}>" for t in themes]
    lines += [f"    pana:niveauService <{B}code/niveaux-service/{n}>" for n in niveaux]
    if email or phone:
        lines.append(f"    cv:contactPoint {node}#contact>")
    if homepage:
        lines.append(f"    foaf:homepage <{homepage}>")
    if point:
        lines.append(f"    locn:geometry {node}#geometrie>")
    extra = []
    if siret:
        lines += [f"    adms:identifier {node}#siret>", f"    adms:identifier {node}#siren>"]
        extra += [
            f'{node}#siret> a adms:Identifier ; skos:notation "{siret}" ; '
            "dct:conformsTo <https://www.sirene.fr/siret> .",
            f'{node}#siren> a adms:Identifier ; skos:notation "{siret[:9]}" ; '
            "dct:conformsTo <https://www.sirene.fr/siren> .",
        ]
    if rna:
        lines.append(f"    adms:identifier {node}#rna>")
        extra.append(
            f'{node}#rna> a adms:Identifier ; skos:notation "{rna}" ; '
            "dct:conformsTo <https://www.data.gouv.fr/rna> ."
        )
    extra.append(
        f"{node}#adresse> a locn:Address ; "
        f'locn:fullAddress "{street}, {postcode} {commune}" ; locn:thoroughfare "{street}" ; '
        f'locn:postCode "{postcode}" ; locn:postName "{commune}" ; locn:adminUnitL2 "{dep}" ; '
        f'locn:adminUnitL1 "{region}" ; locn:addressID "{insee}" .'
    )
    if point:
        lat, lon = point
        extra.append(
            f'{node}#geometrie> a locn:Geometry ; geo:asWKT "POINT({lon} {lat})"^^geo:wktLiteral ; '
            f'wgs:lat "{lat}"^^xsd:decimal ; wgs:long "{lon}"^^xsd:decimal .'
        )
    if email or phone:
        contact = [f"{node}#contact> a cv:ContactPoint"]
        if phone:
            contact.append(f'cv:telephone "{phone}"')
        if email:
            contact.append(f"cv:email <mailto:{email}>")
        extra.append(" ; ".join(contact) + " .")
    for kind, values, link in (("reseau", reseaux, "org:organization"), ("label", labels, None)):
        for value in values:
            m = f"{node}#{kind}-{value}>"
            lines.append(f"    org:hasMembership {m}")
            target = (
                f"org:organization <{B}code/reseaux/{value}>"
                if link
                else f"org:role <{B}code/labels/{value}>"
            )
            extra.append(
                f"{m} a org:Membership ; org:member {s} ; {target} ; "
                f'dct:date "{modified}"^^xsd:date .'
            )
    for source, record, harvest in records:
        r = f"<{B}id/enregistrement/{source}/{urllib.parse.quote(record, safe='')}>"
        h = f"<{B}id/moisson/{source}/{harvest}>"
        lines += [f"    prov:wasDerivedFrom {r}", f"    prov:wasGeneratedBy {h}"]
        extra.append(
            f"{r} a prov:Entity ; dct:source <{B}id/source/{source}> ; prov:wasGeneratedBy {h} ."
        )
    return " ;\n".join(lines) + " .\n" + "\n".join(extra) + "\n"


SOURCES = """
src:rnma-maisons-associations a prov:Entity ; dct:title "Maisons des associations (RNMA)" ;
    dct:license <https://www.etalab.gouv.fr/licence-ouverte-open-licence> .
src:lamednum-nouvelle-aquitaine a prov:Entity ; dct:title "Lieux de médiation numérique" ;
    dct:license <https://www.etalab.gouv.fr/licence-ouverte-open-licence> .
src:rna-haute-vienne a prov:Entity ; dct:title "Répertoire national des associations" ;
    dct:license <https://www.etalab.gouv.fr/licence-ouverte-open-licence> .
<https://w3id.org/pana/id/moisson/rnma-maisons-associations/00112233aabbccdd> a prov:Activity ;
    prov:used <https://example.org/rnma.csv> ;
    prov:endedAtTime "2026-01-31T10:00:00+00:00"^^xsd:dateTime .
<https://w3id.org/pana/id/moisson/lamednum-nouvelle-aquitaine/44556677eeff0011> a prov:Activity ;
    prov:used <https://example.org/lamednum.csv> ;
    prov:endedAtTime "2026-01-30T09:00:00+00:00"^^xsd:dateTime .
<https://w3id.org/pana/id/moisson/rna-haute-vienne/8899aabbccddeeff> a prov:Activity ;
    prov:used <https://example.org/rna.zip> ;
    prov:endedAtTime "2026-01-29T08:00:00+00:00"^^xsd:dateTime .
"""
RNMA = ("rnma-maisons-associations", "1", "00112233aabbccdd")
HUBIK1 = ("lamednum-nouvelle-aquitaine", "hubik 0001", "44556677eeff0011")
RNMA4 = ("rnma-maisons-associations", "4", "00112233aabbccdd")
HUBIK = ("lamednum-nouvelle-aquitaine", "hubik 0007", "44556677eeff0011")
HUBIK2 = ("lamednum-nouvelle-aquitaine", "hubik-0002", "44556677eeff0011")
RNA = ("rna-haute-vienne", "W231000001", "8899aabbccddeeff")

LIMOGES = (45.8336, 1.2611)


def maison(label: str) -> str:
    return actor(
        "pana-v7ozztjjkofm",
        label,
        typologie="MAISON_ASSOS",
        dep="87",
        region="75",
        commune="Limoges",
        postcode="87000",
        insee="87085",
        street="32 rue de la Loi",
        siret="41852963200022",
        point=LIMOGES,
        themes=("collecte-de-fonds", "communication"),
        niveaux=("informer", "accompagner"),
        reseaux=("rnma",),
        labels=("pana",),
        email="mda@limoges.example",
        phone="+33555000001",
        homepage="https://mda.limoges.example/",
        records=(RNMA, HUBIK1),
    )


ORDI = actor(
    "pana-ordi87",
    "Ordi Solidaire 87",
    typologie="ASSO",
    dep="87",
    region="75",
    commune="Saint-Junien",
    postcode="87200",
    insee="87154",
    street="14 avenue Henri Barbusse",
    rna="W872004567",
    point=(45.8875, 0.9019),  # ≈ 28 km from Limoges: outside the 10 km circle
    labels=("pana",),
    records=(HUBIK2,),
)
EPN = actor(
    "pana-epn87",
    "EPN du Val de l'Aurence",
    typologie="EPN",
    dep="87",
    region="75",
    commune="Limoges",
    postcode="87100",
    insee="87085",
    street="Rue Pierre et Marie Curie",
    point=(45.8231, 1.2301),  # ≈ 2.7 km from the centre
    labels=("pana",),
    themes=("competences-numeriques",),
    records=(HUBIK2,),
)
CRIB = actor(
    "pana-crib33",
    "CRIB Gironde",
    typologie="CRIB",
    dep="33",
    region="75",
    commune="Bordeaux",
    postcode="33000",
    insee="33063",
    street="10 place de la Bourse",
    siret="78421433000051",
    point=(44.8412, -0.57),
    themes=("collecte-de-fonds", "gouvernance"),
    reseaux=("rnma",),
    labels=("pana",),
    email="crib33@example.org",
    records=(RNMA4,),
)
FERME = actor(
    "pana-ferme23",
    "Espace numérique de Guéret",
    typologie="EPN",
    dep="23",
    region="75",
    commune="Guéret",
    postcode="23000",
    insee="23096",
    street="1 place Bonnyaud",
    statut="ferme",
    rna="W231000001",
    records=(HUBIK, RNA),
)
PARIS = actor(
    "pana-mda75",
    "Maison des associations du 11e",
    typologie="MAISON_ASSOS",
    dep="75",
    region="11",
    commune="Paris",
    postcode="75011",
    insee="75111",
    street="8 rue du Général Renault",
    themes=("benevolat",),
    reseaux=("rnma",),
    phone="+33100000011",
    records=(RNMA,),
)
DISPARU = actor(
    "pana-disparu",
    "Point info associations de Tulle",
    typologie="PIVA",
    dep="19",
    region="75",
    commune="Tulle",
    postcode="19000",
    insee="19272",
    street="2 quai de la République",
)
ANCIEN = actor(
    "pana-ancien01",
    "Maison des assos Limoges (doublon)",
    typologie="MAISON_ASSOS",
    dep="87",
    region="75",
    commune="Limoges",
    postcode="87000",
    insee="87085",
    street="32 rue de la Loi",
)

# the previous version: the maison had a shorter name, Tulle existed, the EPN did not, and
# pana-ancien01 was a separate actor (merged into the maison since)
V1 = [maison("Maison des associations"), ORDI, CRIB, FERME, PARIS, DISPARU, ANCIEN]
V2 = [maison("Maison des associations de Limoges"), ORDI, EPN, CRIB, FERME, PARIS]
REDIRECT = "acteur:pana-ancien01 dct:isReplacedBy acteur:pana-v7ozztjjkofm .\n"

SCHEMES = {
    "typologie": {
        "MAISON_ASSOS": "Maison des associations",
        "ASSO": "Association",
        "EPN": "Espace public numérique",
        "CRIB": "Centre de ressources et d'information des bénévoles",
        "PIVA": "Point d'information vie associative",
    },
    "thematiques": {
        "collecte-de-fonds": "Collecte de fonds",
        "communication": "Communication",
        "gouvernance": "Gouvernance",
        "benevolat": "Bénévolat",
        "competences-numeriques": "Compétences numériques",
    },
    "niveaux-service": {
        "informer": "Informer",
        "orienter": "Orienter",
        "accompagner": "Accompagner",
    },
    "labels": {"pana": "Point d'appui au numérique associatif"},
    "reseaux": {"rnma": "Réseau national des maisons des associations"},
    "statut": {"actif": "Actif", "ferme": "Fermé", "inconnu": "Inconnu"},
    "region": {"75": "Nouvelle-Aquitaine", "11": "Île-de-France"},
}


def codelists_ttl() -> str:
    out = [PROLOGUE]
    for scheme, concepts in SCHEMES.items():
        out.append(f'code:{scheme} a skos:ConceptScheme ; skos:prefLabel "{scheme}"@fr .')
        for value, label in concepts.items():
            out.append(
                f'<{B}code/{scheme}/{value}> a skos:Concept ; skos:prefLabel "{label}"@fr ; '
                f'skos:notation "{value}" ; skos:inScheme code:{scheme} .'
            )
    return "\n".join(out) + "\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_release(out: Path) -> Path:
    """Two versions: 2026-01-01 (actors.ttl only) and 2026-02-01 (actors.nt.gz, codelists)."""
    entries = []
    for version, actors, ntriples in (("2026-01-01", V1, False), ("2026-02-01", V2, True)):
        folder = out / version
        folder.mkdir(parents=True)
        turtle = PROLOGUE + SOURCES + "".join(actors) + (REDIRECT if ntriples else "")
        if ntriples:
            triples = ox.parse(turtle.encode(), ox.RdfFormat.TURTLE)
            nt = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
            with gzip.open(folder / "actors.nt.gz", "wb") as f:
                f.write(nt)
            (folder / "codelists.ttl").write_text(codelists_ttl(), encoding="utf-8")
        else:
            (folder / "actors.ttl").write_text(turtle, encoding="utf-8")
        files = sorted(p for p in folder.iterdir())
        package = {
            "name": "pana-acteurs",
            "version": version,
            "resources": [{"path": p.name, "hash": f"sha256:{_sha(p)}"} for p in files],
        }
        (folder / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
        entries.append({"id": version, "files": {p.name: _sha(p) for p in files}})
    (out / "versions.json").write_text(
        json.dumps({"latest": "2026-02-01", "versions": entries}), encoding="utf-8"
    )
    (out / "latest").symlink_to("2026-02-01", target_is_directory=True)
    return out / "2026-02-01"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_release(tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def store(release):
    return sparql.load_version(release, history=1)


@pytest.fixture(scope="module")
def endpoint(store):
    server = sparql.make_server(store, port=0, timeout_s=5.0, max_results=1000, version="test")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url + "sparql"
    server.shutdown()
    server.server_close()


def select(store, query: str, **kw) -> list[dict[str, str]]:
    body, ctype = sparql.run_query(store, query, "text/csv", timeout_s=10, max_results=10**6, **kw)
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def http(url: str, data: bytes | None = None, headers: dict | None = None, method=None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


COUNT = "SELECT (COUNT(?a) AS ?n) WHERE { ?a a org:Organization }"


# --- loading --------------------------------------------------------------------------------


def test_load_version_default_graph_codelists_and_history(store):
    assert select(store, COUNT) == [{"n": "6"}]
    assert select(store, "SELECT (COUNT(*) AS ?n) { ?c a skos:Concept }")[0]["n"] == str(
        sum(map(len, SCHEMES.values()))
    )
    graphs = [g.value for g in store.named_graphs()]
    assert graphs == [f"{B}version/2026-01-01"]
    rows = select(
        store, "SELECT (COUNT(?a) AS ?n) { GRAPH version:2026-01-01 { ?a a org:Organization } }"
    )
    assert rows == [{"n": "7"}]
    assert sparql.base_of(store) == B


def test_load_version_without_history_and_from_turtle(release):
    only = sparql.load_version(release)
    assert list(only.named_graphs()) == []
    older = sparql.load_version(release.parent / "2026-01-01", history=3)  # actors.ttl, none before
    assert select(older, COUNT) == [{"n": "7"}]
    assert sparql.version_dir(release.parent) == release
    with pytest.raises(FileNotFoundError):
        sparql.version_dir(release.parent, "1999-01-01")


def test_on_disk_store_is_built_once_reused_and_rebuilt_when_stale(tmp_path):
    out = tmp_path / "published"
    folder = write_release(out)
    stores = tmp_path / "stores"
    first = sparql.load_version(folder, stores, history=1)
    assert select(first, COUNT) == [{"n": "6"}]
    (built,) = stores.iterdir()
    marker = (built / "COMPLETE").stat().st_mtime_ns
    del first
    again = sparql.load_version(folder, stores, history=1)
    assert [p.name for p in stores.iterdir()] == [built.name]  # reused, not rebuilt
    assert (built / "COMPLETE").stat().st_mtime_ns == marker
    with pytest.raises(RuntimeError, match="read-write"):  # opened read-only
        again.add(ox.Quad(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o")))
    # the version's data changes (its datapackage hash with it): the stale store is replaced
    del again
    nt = gzip.decompress((folder / "actors.nt.gz").read_bytes())
    nt += f"<{A}pana-nouveau> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/org#Organization> .\n".encode()
    (folder / "actors.nt.gz").write_bytes(gzip.compress(nt))
    package = json.loads((folder / "datapackage.json").read_text())
    for resource in package["resources"]:
        resource["hash"] = f"sha256:{_sha(folder / resource['path'])}"
    (folder / "datapackage.json").write_text(json.dumps(package))
    fresh = sparql.load_version(folder, stores, history=1)
    assert select(fresh, COUNT) == [{"n": "7"}]
    assert [p.name for p in stores.iterdir()] != [built.name] and len(list(stores.iterdir())) == 1


# --- run_query ------------------------------------------------------------------------------


def test_run_query_formats(store):
    q = "SELECT ?id WHERE { ?a dct:identifier ?id } ORDER BY ?id LIMIT 2"
    body, ctype = sparql.run_query(store, q, None, timeout_s=5, max_results=100)
    assert ctype == "application/sparql-results+json; charset=utf-8"
    ids = [b["id"]["value"] for b in json.loads(body)["results"]["bindings"]]
    assert ids == ["pana-crib33", "pana-epn87"]
    for accept, media in [
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv;q=0.9, text/tab-separated-values", "text/tab-separated-values"),
        ("text/*", "text/csv"),
        ("*/*", "application/sparql-results+json"),
    ]:
        answer = sparql.run_query(store, q, accept, timeout_s=5, max_results=100)
        assert answer.content_type.split(";")[0] == media and not answer.truncated
    with pytest.raises(sparql.NotAcceptable):
        sparql.run_query(store, q, "image/png", timeout_s=5, max_results=100)
    graph = "CONSTRUCT { ?a skos:prefLabel ?l } WHERE { ?a a org:Organization ; skos:prefLabel ?l }"
    for accept, fmt in [
        (None, "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
    ]:
        body, ctype = sparql.run_query(store, graph, accept, timeout_s=5, max_results=100)
        if fmt == "json-ld":  # rdflib's JSON-LD parser warns about its own deprecations
            assert len(list(ox.parse(body, ox.RdfFormat.JSON_LD))) == 6, ctype
        else:
            assert len(rdflib.Graph().parse(data=body, format=fmt)) == 6, ctype


def test_result_limit_truncates_and_says_so(store):
    q = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
    for accept in ("application/sparql-results+json", "application/sparql-results+xml"):
        answer = sparql.run_query(store, q, accept, timeout_s=5, max_results=5)
        assert answer.truncated
        parsed = ox.parse_query_results(
            answer.body, format=ox.QueryResultsFormat.from_media_type(accept)
        )
        assert len(list(parsed)) == 5
    for accept in ("text/csv", "text/tab-separated-values"):
        answer = sparql.run_query(store, q, accept, timeout_s=5, max_results=5)
        assert answer.truncated and len(answer.body.splitlines()) == 1 + 5
    answer = sparql.run_query(
        store, "CONSTRUCT WHERE { ?s ?p ?o }", None, timeout_s=5, max_results=7
    )
    assert answer.truncated and len(rdflib.Graph().parse(data=answer.body, format="turtle")) == 7
    exact = sparql.run_query(store, COUNT, None, timeout_s=5, max_results=1)
    assert not exact.truncated


def test_timeout_kills_a_slow_query_quickly(store):
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    start = time.monotonic()
    with pytest.raises(sparql.QueryTimeout):
        sparql.run_query(store, slow, None, timeout_s=0.5, max_results=10)
    assert time.monotonic() - start < 2
    assert select(store, COUNT) == [{"n": "6"}]  # the store is still fine


def test_updates_service_and_syntax_errors_are_refused(store):
    for update in (
        "INSERT DATA { <http://e/s> <http://e/p> 1 }",
        "PREFIX ex: <http://e/> DELETE WHERE { ?s ?p ?o }",
        "DROP ALL",
        "LOAD <http://example.org/x.ttl>",
    ):
        with pytest.raises(sparql.UpdateRefused):
            sparql.run_query(store, update, None, timeout_s=5, max_results=10)
    with pytest.raises(sparql.ServiceRefused):
        sparql.run_query(
            store,
            "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
            None,
            timeout_s=5,
            max_results=10,
        )
    # A long string with an escaped quote must not hide a SERVICE that follows it.
    for hidden in (
        "SELECT * WHERE { BIND('''\\'''' AS ?a) SERVICE <http://127.0.0.1:9/s> { ?s ?p ?o } BIND('x' AS ?b) }",
        'SELECT * WHERE { BIND("""a\\"""" AS ?a) SERVICE <http://127.0.0.1:9/s> { ?s ?p ?o } BIND("x" AS ?b) }',
        "SELECT * WHERE { BIND('''it''s''' AS ?a) SERVICE <http://127.0.0.1:9/s> { ?s ?p ?o } }",
    ):
        with pytest.raises(sparql.ServiceRefused):
            sparql.run_query(store, hidden, None, timeout_s=5, max_results=10)
    # keywords inside strings, IRIs, names and variables are not keywords
    ok = 'SELECT ?service WHERE { BIND("SERVICE; DELETE" AS ?service) FILTER(?service != <http://e/insert>) }'
    assert sparql.run_query(store, ok, "text/csv", timeout_s=5, max_results=10).body.startswith(
        b"service"
    )
    with pytest.raises(sparql.QuerySyntaxError, match="syntax error"):
        sparql.run_query(store, "SELECT ?s WHERE { ?s ?p }", None, timeout_s=5, max_results=10)


# --- the HTTP endpoint, with SPARQLWrapper as the client ------------------------------------

LABELS = "SELECT ?id ?label WHERE { ?a dct:identifier ?id ; skos:prefLabel ?label } ORDER BY ?id"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_select_in_every_format(endpoint, method):
    client = SPARQLWrapper(endpoint)
    client.setMethod(method)
    client.setQuery(LABELS)
    client.setReturnFormat(JSON)
    bindings = client.queryAndConvert()["results"]["bindings"]
    assert [b["id"]["value"] for b in bindings][:2] == ["pana-crib33", "pana-epn87"]
    assert {"type": "literal", "value": "CRIB Gironde", "xml:lang": "fr"} in [
        b["label"] for b in bindings
    ]
    client.setReturnFormat(XML)
    document = client.queryAndConvert()  # an xml.dom.minidom document
    assert len(document.getElementsByTagName("result")) == 6
    client.setReturnFormat(CSV)
    rows = list(csv.DictReader(io.StringIO(client.queryAndConvert().decode())))
    assert rows[0] == {"id": "pana-crib33", "label": "CRIB Gironde"}
    client.setReturnFormat(TSV)
    lines = client.queryAndConvert().decode().splitlines()
    assert lines[0] == "?id\t?label" and lines[1] == '"pana-crib33"\t"CRIB Gironde"@fr'


def test_sparqlwrapper_ask_and_construct(endpoint):
    client = SPARQLWrapper(endpoint)
    client.setQuery('ASK { ?a adms:identifier/skos:notation "41852963200022" }')
    client.setReturnFormat(JSON)
    assert client.queryAndConvert()["boolean"] is True
    client.setQuery(
        "CONSTRUCT { ?a skos:prefLabel ?l ; locn:address ?ad . ?ad locn:postName ?c } "
        'WHERE { ?a skos:prefLabel ?l ; locn:address ?ad . ?ad locn:adminUnitL2 "87" ; '
        "locn:postName ?c }"
    )
    client.setReturnFormat(TURTLE)
    graph = rdflib.Graph().parse(data=client.queryAndConvert(), format="turtle")
    labels = {str(o) for o in graph.objects(None, rdflib.SKOS.prefLabel)}
    assert labels == {
        "Maison des associations de Limoges",
        "Ordi Solidaire 87",
        "EPN du Val de l'Aurence",
    }


def test_protocol_get_post_encodings_and_negotiation(endpoint):
    encoded = urllib.parse.urlencode({"query": COUNT})
    status, headers, body = http(f"{endpoint}?{encoded}", headers={"Accept": "text/csv"})
    assert (status, body) == (200, b"n\r\n6\r\n")
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Pana-Truncated"] == "false"
    form = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "text/tab-separated-values",
    }
    status, headers, body = http(endpoint, encoded.encode(), form)
    assert (status, body) == (200, b"?n\n6\n")
    direct = {"Content-Type": "application/sparql-query; charset=utf-8"}
    status, headers, body = http(endpoint, COUNT.encode(), direct)
    assert status == 200 and headers["Content-Type"].startswith("application/sparql-results+json")
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "6"
    status, _, body = http(f"{endpoint}?{encoded}&format=xml")
    assert status == 200 and body.startswith(b"<?xml")
    status, _, _ = http(f"{endpoint}?{encoded}", headers={"Accept": "image/png"})
    assert status == 406


def test_protocol_errors_methods_updates_and_home_page(endpoint):
    bad = urllib.parse.urlencode({"query": "SELECT ?s WHERE { ?s ?p }"})
    status, headers, body = http(f"{endpoint}?{bad}")
    assert (
        status == 400 and b"syntax error" in body and headers["Access-Control-Allow-Origin"] == "*"
    )
    status, _, body = http(endpoint)
    assert status == 400 and b"query" in body
    for method in ("PUT", "DELETE"):
        status, headers, _ = http(endpoint, b"", method=method)
        assert status == 405 and "GET" in headers["Allow"]
    update = "INSERT DATA { <http://e/s> <http://e/p> 1 }"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http(endpoint, urllib.parse.urlencode({"update": update}).encode(), form)[0] == 403
    sparql_update = {"Content-Type": "application/sparql-update"}
    assert http(endpoint, update.encode(), sparql_update)[0] == 403
    as_query = urllib.parse.urlencode({"query": update}).encode()
    status, _, body = http(endpoint, as_query, form)
    assert status == 403 and b"read-only" in body
    assert http(endpoint, b"x", {"Content-Type": "text/plain"})[0] == 415
    status, headers, _ = http(endpoint, method="OPTIONS")
    assert status == 204 and "POST" in headers["Access-Control-Allow-Methods"]
    status, headers, body = http(endpoint.removesuffix("sparql"))
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"/sparql" in body
    client = SPARQLWrapper(endpoint)  # SPARQLWrapper's own update path is refused too
    client.setMethod("POST")
    client.setQuery(update)
    with pytest.raises(Exception, match="403"):
        client.query()
    assert select_count_over_http(endpoint) == "6"  # nothing changed


def select_count_over_http(endpoint: str) -> str:
    encoded = urllib.parse.urlencode({"query": COUNT})
    return http(f"{endpoint}?{encoded}", headers={"Accept": "text/csv"})[2].split()[1].decode()


def test_protocol_timeout_and_limit(store):
    server = sparql.make_server(store, port=0, timeout_s=0.5, max_results=3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = server.url + "sparql?"
        slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
        start = time.monotonic()
        status, _, body = http(url + urllib.parse.urlencode({"query": slow}))
        assert status == 503 and b"timed out" in body and time.monotonic() - start < 2
        status, headers, body = http(url + urllib.parse.urlencode({"query": LABELS}))
        assert status == 200 and headers["X-Pana-Truncated"] == "true"
        assert len(json.loads(body)["results"]["bindings"]) == 3
    finally:
        server.shutdown()
        server.server_close()


def test_default_graph_uri_selects_an_earlier_version(endpoint):
    params = urllib.parse.urlencode({"query": COUNT, "default-graph-uri": f"{B}version/2026-01-01"})
    assert http(f"{endpoint}?{params}", headers={"Accept": "text/csv"})[2] == b"n\r\n7\r\n"


# --- the CLI --------------------------------------------------------------------------------


def test_cli_sparql_query(release):
    from flows.cli import app

    runner = CliRunner()
    out = str(release.parent)
    result = runner.invoke(app, ["sparql", "query", COUNT, "--out", out, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["n", "6"]
    result = runner.invoke(
        app, ["sparql", "query", LABELS, "--out", out, "--version", "2026-01-01"]
    )
    assert result.exit_code == 0 and len(json.loads(result.stdout)["results"]["bindings"]) == 7
    construct = "CONSTRUCT WHERE { ?a a org:Organization }"
    result = runner.invoke(app, ["sparql", "query", construct, "--out", out, "--format", "turtle"])
    assert len(rdflib.Graph().parse(data=result.stdout, format="turtle")) == 6
    diff = "SELECT ?a WHERE { GRAPH ?v { ?a a org:Organization } FILTER NOT EXISTS { ?a a org:Organization } }"
    result = runner.invoke(
        app, ["sparql", "query", diff, "--out", out, "--history", "1", "-f", "tsv"]
    )
    assert result.stdout.count("\n") == 3  # header + the two actors gone since 2026-01-01
    result = runner.invoke(app, ["sparql", "query", "SELECT ?s WHERE { ?s }", "--out", out])
    assert result.exit_code == 1 and "syntax error" in result.stderr
    result = runner.invoke(app, ["sparql", "query", COUNT, "--out", str(release / "nope")])
    assert result.exit_code == 1 and "no published version" in result.stderr


# --- docs/sparql.md: every example query runs ------------------------------------------------

DOC = ROOT / "docs" / "sparql.md"


def doc_queries() -> list[tuple[str, str]]:
    """(heading, query) of every ```sparql block, with the ### heading above it."""
    text = DOC.read_text(encoding="utf-8")
    found, heading = [], None
    for match in re.finditer(r"^### ([^\n]+)$|^```sparql\n(.*?)^```", text, flags=re.M | re.S):
        if match[1]:
            heading = match[1].strip()
        else:
            found.append((heading, match[2]))
    return found


def answer_rows(store, query: str) -> list[dict[str, str]]:
    body, ctype = sparql.run_query(
        store, query, "text/csv, text/turtle", timeout_s=10, max_results=10**5
    )
    if ctype.startswith("text/turtle"):
        return [{"triple": str(t)} for t in rdflib.Graph().parse(data=body, format="turtle")]
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


# what each example must answer on the fixture release: a predicate over its rows
EXPECTED = {
    "Actors per département": lambda rows: (
        {r["departement"]: r["acteurs"] for r in rows}
        == {"87": "3", "33": "1", "23": "1", "75": "1"}
    ),
    "Actors offering a theme in a région": lambda rows: (
        {r["nom"] for r in rows} == {"Maison des associations de Limoges", "CRIB Gironde"}
    ),
    "Look an actor up by SIRET": lambda rows: [r["id"] for r in rows] == ["pana-v7ozztjjkofm"],
    "PANA-labelled actors within 10 km of a point": lambda rows: (
        [r["nom"] for r in rows]
        == ["Maison des associations de Limoges", "EPN du Val de l'Aurence"]
    ),
    "Actors of a network": lambda rows: (
        {r["nom"] for r in rows}
        == {"Maison des associations de Limoges", "CRIB Gironde", "Maison des associations du 11e"}
    ),
    "Maisons des associations with their contact details": lambda rows: (
        {(r["nom"], r["telephone"]) for r in rows}
        == {
            ("Maison des associations de Limoges", "+33555000001"),
            ("Maison des associations du 11e", "+33100000011"),
        }
    ),
    "Closed actors and where that comes from": lambda rows: (
        {r["source"] for r in rows}
        == {"Lieux de médiation numérique", "Répertoire national des associations"}
    ),
    "Where an actor's data came from (provenance)": lambda rows: (
        {r["enregistrement"].rsplit("/", 1)[1] for r in rows} == {"1", "hubik%200001"}
    ),
    "Follow an absorbed identifier": lambda rows: (
        [r["nouvel_id"] for r in rows] == ["pana-v7ozztjjkofm"]
    ),
    "Actors new since the previous version": lambda rows: [r["id"] for r in rows] == ["pana-epn87"],
    "Actors gone since the previous version": lambda rows: (
        {(r["id"], r["remplace_par"]) for r in rows}
        == {("pana-disparu", ""), ("pana-ancien01", f"{A}pana-v7ozztjjkofm")}
    ),
    "Actors renamed between two versions": lambda rows: (
        [(r["avant"], r["apres"]) for r in rows]
        == [("Maison des associations", "Maison des associations de Limoges")]
    ),
    "Actors per concept of a code list": lambda rows: (
        {r["libelle"]: r["acteurs"] for r in rows}.items()
        >= {
            "Maison des associations": "2",
            "Espace public numérique": "2",
            "Association": "1",
        }.items()
    ),
    "Actors per theme, with labels": lambda rows: (
        {r["libelle"]: r["acteurs"] for r in rows}
        == {
            "Collecte de fonds": "2",
            "Communication": "1",
            "Gouvernance": "1",
            "Bénévolat": "1",
            "Compétences numériques": "1",
        }
    ),
    "An actor's whole record (CONSTRUCT)": lambda rows: len(rows) > 20,
}


def test_docs_have_enough_examples_each_under_a_heading():
    queries = doc_queries()
    assert len(queries) >= 10 and all(heading for heading, _ in queries)
    assert len({h for h, _ in queries}) == len(queries)


@pytest.mark.parametrize("heading,query", doc_queries(), ids=[h for h, _ in doc_queries()])
def test_docs_example_answers_on_the_fixture(store, heading, query):
    rows = answer_rows(store, query)
    check = EXPECTED.get(heading)
    if check is None:
        assert rows, f"{heading}: no answer"
    else:
        assert check(rows), f"{heading}: {rows}"


# on the demo release (one version, no merged identifiers) these have nothing to answer
DEMO_EMPTY = {
    "Follow an absorbed identifier",
    "Actors new since the previous version",
    "Actors gone since the previous version",
    "Actors renamed between two versions",
}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A real release of the bundled demo, published by the pipeline and its RDF exporters."""
    from pana_data.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("demo")
    folder = Path(run_pipeline(None, out))
    if not (folder / "actors.nt.gz").exists():
        pytest.skip("this version of the exporters does not publish actors.nt.gz")
    return sparql.load_version(folder, history=1)


@pytest.mark.parametrize("heading,query", doc_queries(), ids=[h for h, _ in doc_queries()])
def test_docs_example_answers_on_the_demo_release(demo_store, heading, query):
    rows = answer_rows(demo_store, query)
    assert (not rows) if heading in DEMO_EMPTY else rows, f"{heading}: {rows}"
    if heading == "Look an actor up by SIRET":
        assert [r["nom"] for r in rows] == ["Maison des Associations de Limoges"]


def test_docs_prefixes_are_the_endpoint_prefixes():
    text = DOC.read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `(\w+):` \| `<([^>]+)>` \|", text, flags=re.M))
    assert table == sparql.prefixes(B)
