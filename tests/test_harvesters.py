"""Harvesters end to end against a loopback mirror replaying the real recorded answers: the held-out
RNA extract (ISO-8859-1) resolved through data.gouv.fr, SIRENE through the API Recherche
d'entreprises, data·inclusion, HelloAsso and Géoplateforme geocoding, through `pana run --catalog`."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pana_data.pipeline import run_pipeline
from tests import mirror as m
from tests.helpers import partner_csv, published_texts

# Strings that only the RNA declarant's address (adrg_*) or a SIRENE dirigeant hold.
PERSONAL = [
    "DÉCLARANT",
    "DECLARANT",
    "42BIS CHEMIN MERLO",
    "LES AVIRONS",
    "quartier Tchad",
    "QUARTIER KAVANI",
    m.DIRIGEANT["nom"],
    m.DIRIGEANT["prenoms"],
]
PARTNER_HEADER = ["Structure", "Adresse", "CP", "Ville", "SIRET", "RNA"]
PARTNERS = [
    ["Maison des associations", "8 rue de la Font Pinot", "87000", "Limoges", "44278105000012", ""],
    ["Comité des fêtes d'Aixe", "", "87700", "Aixe-sur-Vienne", "", "W872000104"],
    ["Club de l'âge d'or", "", "87250", "Bessines-sur-Gartempe", "", "W872000105"],
    ["Escale", "", "97600", "Mamoudzou", "", "W9T1002359"],
    ["Cercle d'échecs", "", "87000", "Limoges", "", "W872000112"],
    ["Restos du cœur d'Angers", "", "49000", "Angers", "40046135600133", ""],
    ["Manakin", "", "75018", "Paris", "84201905100015", ""],
    ["Foyer rural", "1 place de l'Église", "87270", "Couzeix", "", ""],
]


@pytest.fixture
def api(httpserver):
    mirror = m.Mirror(root=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile("^/")).respond_with_handler(mirror)
    return mirror


def write_catalog(tmp_path: Path, root: str, **changes) -> Path:
    (tmp_path / "partenaires.csv").write_bytes(partner_csv(PARTNER_HEADER, PARTNERS))
    sources = {
        "partenaires": {
            "kind": "table",
            "url": "partenaires.csv",
            "mapping": {
                "nom": "Structure",
                "adresse": "Adresse",
                "code_postal": "CP",
                "commune": "Ville",
                "siret": "SIRET",
                "rna": "RNA",
            },
        },
        "rna-87": {
            "kind": "datagouv",
            "url": root,
            "params": {"dataset": m.DATASET},
            "parse_as": "rna",
            "include": {"objet_social1": ["017*"], "position": ["A"]},
            "assertions": {"min_records": 20, "filled": {"nom_legal": 0.9}},
        },
        "sirene": {
            "kind": "recherche-entreprises",
            "url": root,
            "params": {"nature_juridique": "9220", "est_association": True},
        },
        "data-inclusion": {
            "kind": "data-inclusion",
            "url": root,
            "params": {"sources": ["dora", "soliguide"], "size": 2},
            "secrets": {"token": "PANA_TEST_DI_TOKEN"},
        },
        "helloasso": {
            "kind": "helloasso",
            "url": root,
            "params": {"filters": {"departments": ["87"]}, "page_size": 2},
            "secrets": {"client_id": "PANA_TEST_HA_ID", "client_secret": "PANA_TEST_HA_SECRET"},
        },
    }
    for sid, change in changes.items():
        sources[sid] = None if change is None else {**sources[sid], **change}
    catalog = {
        "geocoding": {"url": f"{root}/geocodage", "min_score": 0.6},
        "sources": [
            {"id": sid, "licence": "etalab-2.0", **spec}
            for sid, spec in sources.items()
            if spec is not None
        ],
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("PANA_TEST_DI_TOKEN", m.TOKEN)
    monkeypatch.setenv("PANA_TEST_HA_ID", m.HA_ID)
    monkeypatch.setenv("PANA_TEST_HA_SECRET", m.HA_SECRET)


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def report_of(version: Path) -> dict:
    return json.loads((version / "report.json").read_text())


def last_run(out: Path) -> dict:
    return json.loads((out / "work" / "last_run.json").read_text())


def by(actors: list[dict], field: str, value: str) -> dict:
    found = [a for a in actors if a[field] == value]
    assert len(found) == 1, (field, value, found)
    return found[0]


def test_registers_enrich_and_verify_actors(tmp_path, api, secrets):
    version = run_pipeline(write_catalog(tmp_path, api.root), tmp_path / "out")
    report = report_of(version)
    assert {s["source_id"]: s["status"] for s in report["sources"]} == dict.fromkeys(
        ["partenaires", "rna-87", "sirene", "data-inclusion", "helloasso"], "ok"
    ), report["sources"]
    actors = read_csv(version / "actors.csv")
    # Dissolved (D), deleted (S) associations and a ceased unité légale are flagged.
    for rna in ("W872000104", "W872000105", "W9T1002359"):
        assert by(actors, "rna", rna)["statut"] == "ferme"
    manakin = by(actors, "siret", "84201905100015")
    assert manakin["statut"] == "ferme" and manakin["rna"] == "W751245606"
    # Crosswalks and legal names from the registers, beside the usual name.
    restos = by(actors, "siret", "40046135600133")
    assert restos["rna"] == "W491004193" and restos["nom_legal"] == "LES RESTAURANTS DU COEUR"
    assert restos["nom"] == "Restos du cœur d'Angers" and restos["statut"] == "inconnu"
    echecs = by(actors, "rna", "W872000112")
    assert echecs["nom_legal"] == "Cercle d'échecs de Limoges" and echecs["statut"] == "inconnu"
    # Registers do not flood the map: only the included RNA entry (objet 017…, active) and no
    # SIRENE entry without a partner enter it.
    mda = by(actors, "siret", "44278105000012")
    assert mda["rna"] == "W872000101" and mda["sources"] == "partenaires|rna-87"
    assert not [a for a in actors if a["sources"] == "sirene"]
    assert [a["nom"] for a in actors if a["sources"] == "rna-87"] == []
    assert not any(a["siret"] == "13002526500013" for a in actors)  # DINUM: no partner
    # The APIs' actors are there; a directory Delete removes an organisation.
    names = {a["nom"] for a in actors}
    assert {"Atelier vélo solidaire", "Chorale À plein chant", "Cyber-base de Limoges"} <= names
    assert "Ancienne asso supprimée" not in names
    # Provenance names the register entry that gave a value.
    provenance = read_csv(version / "actors_provenance.csv")
    assert {
        "actor_id": restos["id"],
        "field": "nom_legal",
        "source_id": "sirene",
        "record_id": "40046135600133",
    } in provenance
    assert report["registers"]["rna-87"]["closed"] == 3
    assert report["registers"]["sirene"]["closed"] == 1


def test_geocoding_fills_coordinates_above_the_score_and_caches(tmp_path, api, secrets):
    catalog = write_catalog(tmp_path, api.root)
    version = run_pipeline(catalog, tmp_path / "out")
    actors = read_csv(version / "actors.csv")
    mda = by(actors, "siret", "44278105000012")
    assert (mda["latitude"], mda["longitude"], mda["code_insee"]) == ("45.8336", "1.2611", "87085")
    foyer = by(actors, "nom", "Foyer rural")
    assert foyer["latitude"] == "" and foyer["code_insee"] == ""  # score 0.31 < 0.6: not used
    warnings = read_csv(version / "warnings.csv")
    assert any(
        w["source_id"] == "partenaires" and w["field"] == "latitude" and "0.31" in w["reason"]
        for w in warnings
    )
    assert report_of(version)["geocoding"]["status"] == "ok"
    asked = list(api.geocoded)
    assert "8 rue de la Font Pinot" in asked
    run_pipeline(catalog, tmp_path / "out")
    assert api.geocoded == asked  # the cache answered: no address was sent again


def test_no_personal_data_is_published(tmp_path, api, secrets):
    out = tmp_path / "out"
    version = run_pipeline(write_catalog(tmp_path, api.root), out)
    assert api.sent("/search") > 0  # the dirigeant was served
    published = published_texts(version)
    assert len(published) >= 10
    for name, text in published:
        for needle in PERSONAL:
            assert needle.lower() not in text.lower(), f"{needle!r} in {name}"
    # Not even in the working store: the register tables never read those columns.
    import duckdb

    con = duckdb.connect(str(out / "work" / "pana.duckdb"), read_only=True)
    try:
        for (table,) in con.execute("SHOW TABLES").fetchall():
            columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
            assert not [c for c in columns if c.startswith("adrg_") or c == "dirigeants"]
            dump = json.dumps(con.execute(f'SELECT * FROM "{table}"').fetchall(), default=str)
            for needle in PERSONAL:
                assert needle.lower() not in dump.lower(), f"{needle!r} in table {table}"
    finally:
        con.close()
    # Secrets are never archived.
    for path in (out / "work" / "raw").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (m.TOKEN, m.HA_SECRET, m.HA_TOKEN):
                assert secret.encode() not in data, f"{secret} in {path}"


def test_second_run_downloads_nothing_from_servers_answering_304(tmp_path, api, secrets):
    catalog = write_catalog(tmp_path, api.root)
    first_version = run_pipeline(catalog, tmp_path / "out")
    first = report_of(first_version)
    sent_before = len(api.log)
    assert run_pipeline(catalog, tmp_path / "out") == first_version  # nothing changed
    second = last_run(tmp_path / "out")
    assert second["version"] == first_version.name and not second["new_version"]
    first_dl = {s["source_id"]: s["downloaded"] for s in first["sources"]}
    second_dl = {s["source_id"]: s["downloaded"] for s in second["sources"]}
    assert all(first_dl[s] > 0 for s in ("rna-87", "sirene", "data-inclusion"))
    assert {s: second_dl[s] for s in ("rna-87", "sirene", "data-inclusion")} == dict.fromkeys(
        ("rna-87", "sirene", "data-inclusion"), 0
    )
    gets = [entry for entry in api.log[sent_before:] if entry[0] == "GET"]
    assert gets and all(status in (304, 302) and size == 0 for _, _, status, size in gets), gets
    # HelloAsso's directory is a POST (never conditional): only its organisation pages are 304.
    assert second_dl["helloasso"] > 0
    assert {s["source_id"]: s["not_modified"] for s in second["sources"]}["helloasso"] == 2


def test_a_failing_api_source_never_blocks_the_others(tmp_path, api, monkeypatch, secrets):
    monkeypatch.delenv("PANA_TEST_DI_TOKEN")
    catalog = write_catalog(tmp_path, api.root, sirene={"url": f"{api.root}/absent"})
    version = run_pipeline(catalog, tmp_path / "out")
    report = {s["source_id"]: s for s in report_of(version)["sources"]}
    assert report["data-inclusion"]["status"] == "failed"
    assert "PANA_TEST_DI_TOKEN" in report["data-inclusion"]["error"]
    assert report["sirene"]["status"] == "failed"
    assert "404" in report["sirene"]["error"] and "/absent/search" in report["sirene"]["error"]
    assert report["rna-87"]["status"] == "ok" and report["helloasso"]["status"] == "ok"


def test_register_assertions_keep_the_last_good_harvest(tmp_path, api, secrets):
    catalog = write_catalog(tmp_path, api.root)
    first = run_pipeline(catalog, tmp_path / "out")
    closed = by(read_csv(first / "actors.csv"), "rna", "W872000104")["statut"]
    api.rna_file = tmp_path / "tronque.csv"  # the register shrinks to its header and one row
    lines = m.Mirror().rna_file.read_bytes().splitlines(keepends=True)
    api.rna_file.write_bytes(b"".join(lines[:2]))
    assert run_pipeline(catalog, tmp_path / "out") == first  # same content: no new version
    status = {s["source_id"]: s for s in last_run(tmp_path / "out")["sources"]}["rna-87"]
    assert status["status"] == "stale"
    assert "1 register entries, fewer than min_records=20" in status["error"]
    assert closed == "ferme"  # and the last good register keeps it closed: no change


@pytest.mark.flow
def test_pana_run_with_registers_and_api_mirror(prefect_harness, tmp_path, api, secrets):
    from flows.cli import app

    out = tmp_path / "out"
    catalog = write_catalog(tmp_path, api.root)
    result = CliRunner().invoke(
        app, ["run", "--prefect", "--catalog", str(catalog), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    actors = read_csv(out / "latest" / "actors.csv")
    assert by(actors, "rna", "W9T1002359")["statut"] == "ferme"
    for name, text in published_texts(out / "latest"):
        assert not [n for n in PERSONAL if n.lower() in text.lower()], name
