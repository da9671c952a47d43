"""Source kinds and registers one by one, against loopback servers: paging and splitting,
resolution errors, catalog checks, assertions and enrichment rules."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from werkzeug import Request, Response

from pana_data.archive import Archive
from pana_data.catalog import CatalogError, SourceSpec, load_catalog
from pana_data.harvest import HarvestError, harvest
from pana_data.pipeline import run_pipeline
from pana_data.sources import check_spec
from tests import mirror as m
from tests.helpers import partner_csv


def catalog_file(tmp_path, sources, **extra):
    path = tmp_path / "catalog.yaml"
    doc = {"sources": [{"licence": "etalab-2.0", **s} for s in sources], **extra}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def result(siren: str, dep: str) -> dict:
    """A real /search result, moved to another SIREN and département."""
    base = json.loads(m.SEARCH[1].read_text())["results"][0]
    siret = siren + "00017"
    return {
        **base,
        "siren": siren,
        "dirigeants": [],
        "siege": {**base["siege"], "siret": siret, "departement": dep},
        "matching_etablissements": [],
    }


def test_a_query_past_10000_results_is_split_by_departement(tmp_path, httpserver):
    seen = []

    def search(request: Request) -> Response:
        page, per_page = int(request.args["page"]), int(request.args["per_page"])
        assert per_page <= 25 and page * per_page <= 10_000
        dep = request.args.get("departement")
        seen.append((dep, page))
        if dep is None:
            results, total = [], 12_000
        elif dep in ("87", "2A"):
            results = [result(f"{'87' if dep == '87' else '20'}{i:07d}", dep) for i in range(30)]
            total = len(results)
            results = results[(page - 1) * per_page : page * per_page]
        else:
            results, total = [], 0
        doc = {"results": results, "total_results": total, "page": page, "per_page": per_page}
        return Response(json.dumps(doc), content_type="application/json")

    httpserver.expect_request("/search").respond_with_handler(search)
    path = catalog_file(
        tmp_path,
        [
            {
                "id": "sirene",
                "kind": "recherche-entreprises",
                "url": httpserver.url_for("/").rstrip("/"),
                "params": {"est_association": True},
                "rate_limit": 1000,
            }
        ],
    )
    catalog = load_catalog(path)
    harvested = harvest(catalog.sources[0], catalog, Archive(tmp_path / "raw"))
    assert ("87", 2) in seen and ("2A", 2) in seen and ("75", 1) in seen
    assert harvested.requests == 1 + 101 + 2  # the whole query, 101 départements, 2 second pages
    meta = json.loads(harvested.body.read())["meta"]
    assert len(meta["queries"]) == 101 and meta["total_results"] == 12_000


def test_a_departement_past_10000_results_is_a_clear_error(tmp_path, httpserver):
    doc = {"results": [], "total_results": 20_000, "page": 1, "per_page": 25}
    httpserver.expect_request("/search").respond_with_json(doc)
    spec = {
        "id": "sirene",
        "kind": "recherche-entreprises",
        "url": httpserver.url_for("/").rstrip("/"),
        "params": {"departement": "75"},
    }
    catalog = load_catalog(catalog_file(tmp_path, [spec]))
    with pytest.raises(HarvestError, match="20000 results .* narrow the query"):
        harvest(catalog.sources[0], catalog, Archive(tmp_path / "raw"))


def test_a_429_is_waited_out_then_the_crawl_goes_on(tmp_path, httpserver):
    calls = []

    def search(request: Request) -> Response:
        calls.append(request.args["page"])
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        doc = {"results": [result("400461356", "49")], "total_results": 1, "page": 1}
        return Response(json.dumps(doc), content_type="application/json")

    httpserver.expect_request("/search").respond_with_handler(search)
    spec = {"id": "s", "kind": "recherche-entreprises", "url": httpserver.url_for("/")[:-1]}
    catalog = load_catalog(catalog_file(tmp_path, [{**spec, "params": {"q": "restos"}}]))
    harvested = harvest(catalog.sources[0], catalog, Archive(tmp_path / "raw"))
    assert calls == ["1", "1"] and harvested.requests == 1


def test_datagouv_names_the_resources_it_has_when_none_fits(tmp_path, httpserver):
    httpserver.expect_request("/api/1/datasets/mon-jeu/").respond_with_json(
        {"resources": [{"id": "r1", "format": "pdf"}, {"id": "r2", "format": "xlsx"}]}
    )
    spec = {
        "id": "d",
        "kind": "datagouv",
        "url": httpserver.url_for("/")[:-1],
        "params": {"dataset": "mon-jeu"},
        "parse_as": "table",
        "mapping": {"nom": "Nom"},
    }
    catalog = load_catalog(catalog_file(tmp_path, [spec]))
    with pytest.raises(
        HarvestError, match=r"no a csv resource; resources: r1 \(pdf\), r2 \(xlsx\)"
    ):
        harvest(catalog.sources[0], catalog, Archive(tmp_path / "raw"))


def test_an_html_maintenance_page_fails_the_source_not_the_run(tmp_path, httpserver):
    page = "<!DOCTYPE html><html><body>Maintenance en cours</body></html>"
    httpserver.expect_request("/api/1/datasets/rna/").respond_with_data(
        page, content_type="text/html"
    )
    (tmp_path / "p.csv").write_bytes(partner_csv(["Nom"], [["Maison des associations"]]))
    path = catalog_file(
        tmp_path,
        [
            {"id": "p", "kind": "table", "url": "p.csv", "mapping": {"nom": "Nom"}},
            {
                "id": "rna",
                "kind": "datagouv",
                "url": httpserver.url_for("/")[:-1],
                "params": {"dataset": "rna"},
                "parse_as": "rna",
            },
        ],
    )
    version = run_pipeline(path, tmp_path / "out")
    report = {
        s["source_id"]: s for s in json.loads((version / "report.json").read_text())["sources"]
    }
    assert report["p"]["status"] == "ok"
    assert report["rna"]["status"] == "failed" and "HTML page" in report["rna"]["error"]


def test_secrets_are_named_never_written_in_the_catalog(tmp_path):
    path = catalog_file(
        tmp_path,
        [{"id": "di", "kind": "data-inclusion", "secrets": {"token": "eyJhbGciOi.secret"}}],
    )
    with pytest.raises(CatalogError, match="secrets.token must name an environment variable"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"kind": "data-inclusion"}, "needs secrets token"),
        ({"kind": "recherche-entreprises", "params": {"per_pag": 5}}, "no param(s) per_pag"),
        (
            {"kind": "table", "url": "x.csv", "include": {"a": ["b"]}},
            "include applies to registers",
        ),
        ({"kind": "datagouv", "params": {"dataset": "x"}}, "needs parse_as"),
        ({"kind": "table"}, "needs a url"),
        ({"kind": "nope", "url": "x"}, "unknown source kind 'nope'"),
    ],
)
def test_check_spec_names_what_a_kind_does_not_take(spec, problem):
    problems = check_spec(SourceSpec.model_validate({"id": "s", "licence": "x", **spec}))
    assert any(problem in p for p in problems), problems


def test_assertions_name_every_broken_rule(tmp_path):
    rows = [["Lieu A", ""], ["Lieu B", ""], ["Lieu C", "0555000000"]]
    (tmp_path / "p.csv").write_bytes(partner_csv(["Nom", "Tel"], rows))
    (tmp_path / "q.csv").write_bytes(partner_csv(["Nom"], [["Autre lieu"]]))
    spec = {
        "id": "p",
        "kind": "table",
        "url": "p.csv",
        "mapping": {"nom": "Nom", "telephone": "Tel"},
        "assertions": {"max_records": 2, "filled": {"telephone": 0.5}},
    }
    other = {"id": "q", "kind": "table", "url": "q.csv", "mapping": {"nom": "Nom"}}
    version = run_pipeline(catalog_file(tmp_path, [spec, other]), tmp_path / "out")
    status = {
        s["source_id"]: s for s in json.loads((version / "report.json").read_text())["sources"]
    }
    error = status["p"]["error"]
    assert status["p"]["status"] == "failed"
    assert "3 valid records of 3 rows, more than max_records=2" in error
    assert "telephone filled in 33% of valid records, under 50%" in error


def test_an_assertion_on_an_unknown_field_is_an_error(tmp_path):
    (tmp_path / "p.csv").write_bytes(partner_csv(["Nom"], [["Lieu"]]))
    (tmp_path / "q.csv").write_bytes(partner_csv(["Nom"], [["Autre"]]))
    bad = {"assertions": {"filled": {"telefone": 0.5}}}
    sources = [
        {"id": "p", "kind": "table", "url": "p.csv", "mapping": {"nom": "Nom"}, **bad},
        {"id": "q", "kind": "table", "url": "q.csv", "mapping": {"nom": "Nom"}},
    ]
    version = run_pipeline(catalog_file(tmp_path, sources), tmp_path / "out")
    status = {
        s["source_id"]: s for s in json.loads((version / "report.json").read_text())["sources"]
    }
    assert "names no schema field: telefone" in status["p"]["error"]


def test_a_register_never_overrides_a_siret_and_flags_a_partners_active_actor(tmp_path):
    """An actor a partner says is active, whose association the RNA says is dissolved, is
    closed; a SIREN from a register never contradicts the actor's own SIRET."""
    rna = (m.FIXTURES / "rna" / "rna_waldec_extract_latin1.csv").read_bytes()
    (tmp_path / "rna.csv").write_bytes(rna)
    rows = [
        ["Comité des fêtes", "W872000104", "", "actif"],
        ["Randonneurs", "W872000110", "", ""],
    ]
    (tmp_path / "p.csv").write_bytes(partner_csv(["Nom", "RNA", "SIRET", "Statut"], rows))
    sources = [
        {
            "id": "p",
            "kind": "table",
            "url": "p.csv",
            "mapping": {"nom": "Nom", "rna": "RNA", "siret": "SIRET", "statut": "Statut"},
        },
        {"id": "rna", "kind": "rna", "url": "rna.csv"},
    ]
    version = run_pipeline(catalog_file(tmp_path, sources), tmp_path / "out")
    actors = {a["rna"]: a for a in _csv(version / "actors.csv")}
    assert actors["W872000104"]["statut"] == "ferme"
    assert actors["W872000104"]["nom_legal"] == "Comité des fêtes d'Aixe-sur-Vienne"
    # The RNA row holds a 9-digit SIREN in its siret column: not a SIRET, nothing is filled.
    assert actors["W872000110"]["siren"] == "" and actors["W872000110"]["statut"] == "inconnu"


def _csv(path):
    import csv

    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_include_names_a_missing_column(tmp_path):
    (tmp_path / "rna.csv").write_bytes(
        (m.FIXTURES / "rna" / "rna_waldec_extract_latin1.csv").read_bytes()
    )
    (tmp_path / "q.csv").write_bytes(partner_csv(["Nom"], [["Autre"]]))
    sources = [
        {"id": "rna", "kind": "rna", "url": "rna.csv", "include": {"objet": ["x"]}},
        {"id": "q", "kind": "table", "url": "q.csv", "mapping": {"nom": "Nom"}},
    ]
    version = run_pipeline(catalog_file(tmp_path, sources), tmp_path / "out")
    status = {
        s["source_id"]: s for s in json.loads((version / "report.json").read_text())["sources"]
    }
    assert re.search(
        r"include: no column 'objet'; columns are: entry_id, rna", status["rna"]["error"]
    )


def test_the_national_catalog_is_valid(monkeypatch):
    from typer.testing import CliRunner

    from pana_data.cli import app
    from tests.helpers import ROOT

    monkeypatch.delenv("DATA_INCLUSION_TOKEN", raising=False)
    result = CliRunner().invoke(
        app, ["catalog", "check", "--catalog", str(ROOT / "catalogs" / "national.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "https://recherche-entreprises.api.gouv.fr" in result.output
    assert "DATA_INCLUSION_TOKEN is not set" in result.output  # a warning, not a failure


def test_sirene_entries_keep_only_valid_identifiers_and_never_people():
    from pana_data.sources.recherche_entreprises import entries

    base = json.loads(m.SEARCH[1].read_text())["results"][0]
    bad = {**base, "complements": {**base["complements"], "identifiant_association": "W87100012X"}}
    assert [e["rna"] for e in entries(bad)] == [None]
    assert entries({**base, "nature_juridique": "1000"}) == []  # an entrepreneur individuel
    assert entries({**base, "statut_diffusion": "P"}) == []
    assert entries({**base, "siege": None, "matching_etablissements": [None, 3]}) == []
    assert entries(None) == []


def test_one_bad_register_value_never_stops_enrichment():
    import duckdb

    from pana_data.registers import enrich
    from pana_data.schema import Actor

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE register_sirene AS SELECT '40046135600133' AS entry_id, "
        "'W87100012X' AS rna, '40046135600133' AS siret, 'LES RESTOS' AS nom_legal, "
        "FALSE AS ferme"
    )
    actor = Actor(id="pana-000000000001", nom="Restos", siret="40046135600133", sources=["p"])
    result = enrich(con, [actor], ["sirene"])
    enriched = result.actors[0]
    assert enriched.rna is None and enriched.nom_legal == "LES RESTOS"
    assert result.stats["sirene"]["invalid"] == 1 and result.stats["sirene"]["nom_legal"] == 1


def test_a_source_no_longer_a_register_stops_enriching(tmp_path):
    (tmp_path / "rna.csv").write_bytes(
        (m.FIXTURES / "rna" / "rna_waldec_extract_latin1.csv").read_bytes()
    )
    (tmp_path / "p.csv").write_bytes(partner_csv(["Nom", "RNA"], [["Comité", "W872000104"]]))
    partner = {"id": "p", "kind": "table", "url": "p.csv", "mapping": {"nom": "Nom", "rna": "RNA"}}
    register = {"id": "reg", "kind": "rna", "url": "rna.csv"}
    first = run_pipeline(catalog_file(tmp_path, [partner, register]), tmp_path / "out")
    assert _csv(first / "actors.csv")[0]["statut"] == "ferme"
    (tmp_path / "reg.csv").write_bytes(partner_csv(["Nom"], [["Autre"]]))
    table = {"id": "reg", "kind": "table", "url": "reg.csv", "mapping": {"nom": "Nom"}}
    second = run_pipeline(catalog_file(tmp_path, [partner, table]), tmp_path / "out")
    comite = [a for a in _csv(second / "actors.csv") if a["nom"] == "Comité"]
    assert comite[0]["statut"] == "inconnu" and comite[0]["nom_legal"] == ""


def test_an_empty_include_is_refused(tmp_path):
    spec = {"id": "r", "kind": "rna", "url": "x.csv", "include": {}}
    with pytest.raises(CatalogError, match="an include filter names at least one column"):
        load_catalog(catalog_file(tmp_path, [spec]))


def test_helloasso_renews_an_expired_token_and_skips_a_vanished_organisation(
    tmp_path, httpserver, monkeypatch
):
    monkeypatch.setenv("HA_ID", "id")
    monkeypatch.setenv("HA_SECRET", "secret")
    tokens = iter(["t1", "t2"])

    def token(request: Request) -> Response:
        return Response(json.dumps({"access_token": next(tokens)}), content_type="application/json")

    def directory(request: Request) -> Response:
        data = [
            {"action": "Insert", "record": {"organizationSlug": slug}}
            for slug in ("a", "gone", "b")
        ]
        return Response(
            json.dumps({"data": data, "pagination": {}}), content_type="application/json"
        )

    def org(request: Request) -> Response:
        slug = request.path.rsplit("/", 1)[1]
        if slug == "gone":
            return Response("", status=404)
        if slug == "b" and request.headers["Authorization"] == "Bearer t1":
            return Response("", status=401)  # t1 expired
        doc = {"organizationSlug": slug, "name": f"Asso {slug}", "updateDate": "2026-01-01T10:00"}
        return Response(json.dumps(doc), content_type="application/json")

    httpserver.expect_request("/oauth2/token", method="POST").respond_with_handler(token)
    httpserver.expect_request("/v5/directory/organizations").respond_with_handler(directory)
    httpserver.expect_request(re.compile("^/v5/organizations/")).respond_with_handler(org)
    spec = {
        "id": "ha",
        "kind": "helloasso",
        "url": httpserver.url_for("/")[:-1],
        "secrets": {"client_id": "HA_ID", "client_secret": "HA_SECRET"},
    }
    catalog = load_catalog(catalog_file(tmp_path, [spec]))
    harvested = harvest(catalog.sources[0], catalog, Archive(tmp_path / "raw"))
    meta = json.loads(harvested.body.read())["meta"]
    assert meta["organisations"] == 2 and meta["missing"] == ["gone"]
    from pana_data.validate import parse_source

    parsed = parse_source(catalog.sources[0], harvested.body)
    assert sorted(r.nom for r in parsed.records) == ["Asso a", "Asso b"]


def test_a_null_data_inclusion_item_is_quarantined_not_fatal(tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("DI", "tok")
    items = [None, {"id": "x--1", "source": 1, "nom": "Lieu"}, "texte"]
    httpserver.expect_request("/api/v1/structures").respond_with_json(
        {"items": items, "page": 1, "pages": 1, "size": 3, "total": 3}
    )
    spec = {
        "id": "di",
        "kind": "data-inclusion",
        "url": httpserver.url_for("/")[:-1],
        "secrets": {"token": "DI"},
    }
    catalog = load_catalog(catalog_file(tmp_path, [spec]))
    from pana_data.validate import parse_source

    harvested = harvest(catalog.sources[0], catalog, Archive(tmp_path / "raw"))
    parsed = parse_source(catalog.sources[0], harvested.body)
    assert [r.record_id for r in parsed.records] == ["1--x--1"]  # a numeric source, prefixed
    assert len(parsed.rejects) == 2
