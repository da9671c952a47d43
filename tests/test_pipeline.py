"""The library pipeline end to end on real files, without Prefect."""

import csv
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from pana_data.pipeline import NothingToPublish, run_pipeline
from pana_data.schema.generate import json_schema
from tests.helpers import (
    DEMO,
    FIXTURES,
    lamednum_csv,
    partner_csv,
    published_texts,
    rapper_check,
    tool,
)

SIX_FILES = {
    "actors.csv",
    "actors.json",
    "actors.ttl",
    "actors_sources.csv",
    "rejects.csv",
    "datapackage.json",
}


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def demo_input_ids() -> dict[str, set[str]]:
    """Record ids of every demo input row, read independently of the pipeline."""
    data = DEMO / "data"
    with (data / "2026-10-15_hubik_lieux-de-mediation-numerique_nouvelle-aquitaine.csv").open(
        encoding="utf-8"
    ) as f:
        lamednum = {row["id"] for row in csv.DictReader(f)}
    with (data / "rnma_annuaire_maisons_associations.csv").open(encoding="cp1252") as f:
        rnma = {str(i) for i, _ in enumerate(csv.DictReader(f, delimiter=";"), 1)}
    ligue = {
        item["code"]
        for item in json.loads((data / "ligue-guidasso-structures.json").read_text())["data"]
    }
    return {
        "lamednum-nouvelle-aquitaine": lamednum,
        "rnma-maisons-associations": rnma,
        "ligue-guidasso": ligue,
    }


@pytest.fixture(scope="module")
def demo_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("published")
    version = run_pipeline(None, out)
    return out, version


def test_demo_publishes_the_six_files(demo_release):
    out, version = demo_release
    latest = out / "latest"
    assert latest.is_symlink() and latest.resolve() == version.resolve()
    assert SIX_FILES <= {p.name for p in latest.iterdir()}
    versions = json.loads((out / "versions.json").read_text())
    assert versions["latest"] == version.name
    assert [v["id"] for v in versions["versions"]] == [version.name]


def test_every_input_row_is_published_or_rejected(demo_release):
    out, _ = demo_release
    accepted: dict[str, set[str]] = {}
    for row in read_csv(out / "latest" / "actors_sources.csv"):
        key = row["record_id"]
        assert key not in accepted.setdefault(row["source_id"], set()), "record published twice"
        accepted[row["source_id"]].add(key)
    rejected: dict[str, set[str]] = {}
    for row in read_csv(out / "latest" / "rejects.csv"):
        rejected.setdefault(row["source_id"], set()).add(row["record_id"])
        assert row["field"] and row["reason"]
    for source_id, ids in demo_input_ids().items():
        got_accepted = accepted.get(source_id, set())
        got_rejected = rejected.get(source_id, set())
        assert not got_accepted & got_rejected
        assert got_accepted | got_rejected == ids, source_id
    # The demo's messiness is really exercised.
    assert rejected and all(rejected.values())


def test_demo_overlaps_are_merged(demo_release):
    out, _ = demo_release
    actors = json.loads((out / "latest" / "actors.json").read_text())
    mda = [a for a in actors if a["siret"] == "41852963200022"]
    assert len(mda) == 1
    assert set(mda[0]["sources"]) == {
        "lamednum-nouvelle-aquitaine",
        "rnma-maisons-associations",
        "ligue-guidasso",
    }
    # A city's libraries share its SIRET but stay distinct actors.
    city = [a for a in actors if a["siret"] == "21870085400019"]
    assert len(city) == 2
    bourg = next(a for a in actors if a["commune"] == "Bourg-en-Bresse")
    assert bourg["code_postal"] == "01000" and bourg["telephone"] == "+33474451234"


def test_actors_json_conforms_to_the_generated_schema(demo_release):
    out, _ = demo_release
    schema = json_schema()
    for actor in json.loads((out / "latest" / "actors.json").read_text()):
        jsonschema.validate(actor, schema)


def test_datapackage_validates_with_frictionless(demo_release):
    out, _ = demo_release
    frictionless = tool("frictionless")
    assert frictionless, "frictionless is a dependency"
    result = subprocess.run(
        [frictionless, "validate", "--json", "datapackage.json"],
        cwd=out / "latest",
        capture_output=True,
        text=True,
    )
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report, indent=1)[:3000]
    package = json.loads((out / "latest" / "datapackage.json").read_text())
    described = {r["path"] for r in package["resources"]}
    on_disk = {p.name for p in (out / "latest").iterdir()} - {"datapackage.json"}
    assert described == on_disk
    assert len(report["tasks"]) == len(described)


def test_tampered_file_fails_the_datapackage_hash(demo_release, tmp_path):
    out, _ = demo_release
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in (out / "latest").iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    with (copy / "actors.ttl").open("a") as f:
        f.write("# changed after publication\n")
    report = subprocess.run(
        [tool("frictionless"), "validate", "--json", "datapackage.json"],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert json.loads(report.stdout)["valid"] is False


def test_turtle_passes_rapper(demo_release):
    out, _ = demo_release
    rapper_check(out / "latest" / "actors.ttl")


def test_second_run_on_unchanged_input_makes_no_new_version(demo_release, tmp_path):
    out = tmp_path / "out"
    first = run_pipeline(None, out)
    second = run_pipeline(None, out)
    assert first == second and (first / "actors.csv").exists()
    versions = json.loads((out / "versions.json").read_text())
    assert [v["id"] for v in versions["versions"]] == [first.name] == [versions["latest"]]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [first.name, "latest", "versions.json", "catalog.ttl", "catalog.jsonld", "work"]
    )


def write_catalog(tmp_path: Path, sources: list[dict]) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return path


PARTNER_HEADER = ["Structure", "Code postal", "Commune", "Tél", "SIRET"]


def test_failing_source_does_not_block_the_others(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lieux.csv").write_bytes(
        (FIXTURES / "lamednum-exemple-valide.csv").read_bytes()
    )
    catalog = write_catalog(
        tmp_path,
        [
            {
                "id": "lieux",
                "kind": "mediation-numerique",
                "url": "data/lieux.csv",
                "licence": "etalab-2.0",
            },
            {
                "id": "absent",
                "kind": "table",
                "url": "data/absent.csv",
                "licence": "x",
                "mapping": {"nom": "Structure"},
            },
        ],
    )
    version = run_pipeline(catalog, tmp_path / "out")
    report = json.loads((version / "report.json").read_text())
    status = {s["source_id"]: s for s in report["sources"]}
    assert status["lieux"]["status"] == "ok"
    assert status["absent"]["status"] == "failed"
    assert "absent.csv" in status["absent"]["error"]
    assert len(read_csv(version / "actors.csv")) == 1

    # The source comes back, then breaks: its last good harvest is used, marked stale.
    (tmp_path / "data" / "absent.csv").write_bytes(
        partner_csv(PARTNER_HEADER, [["MDA de Tulle", "19000", "Tulle", "0555000000", ""]])
    )
    run_pipeline(catalog, tmp_path / "out")
    (tmp_path / "data" / "absent.csv").write_bytes(b"\x00garbage")
    catalog.write_text(catalog.read_text().replace("Structure", "Nom"))
    lieux = (tmp_path / "data" / "lieux.csv").read_bytes()  # a change, so that a version is made
    (tmp_path / "data" / "lieux.csv").write_bytes(lieux.replace(b"+33180059880", b"+33180059881"))
    third = run_pipeline(catalog, tmp_path / "out")
    status = {s["source_id"]: s for s in json.loads((third / "report.json").read_text())["sources"]}
    assert status["absent"]["status"] == "stale"
    assert status["absent"]["url"] == "data/absent.csv"  # as declared, not this machine's path
    assert str(tmp_path) not in (third / "report.json").read_text()
    assert str(tmp_path) not in (third / "datapackage.json").read_text()
    assert {r["nom"] for r in read_csv(third / "actors.csv")} == {"Anonymal", "MDA de Tulle"}


def test_http_source_goes_through_the_archive(tmp_path, httpserver):
    body = lamednum_csv(
        [
            {
                "id": "h1",
                "pivot": "00000000000000",
                "nom": "EPN en ligne",
                "commune": "Tulle",
                "code_postal": "19000",
                "adresse": "1 place",
                "date_maj": "2026-10-01",
            }
        ]
    )
    httpserver.expect_request("/lieux.csv").respond_with_data(body, content_type="text/csv")
    catalog = write_catalog(
        tmp_path,
        [
            {
                "id": "distant",
                "kind": "mediation-numerique",
                "url": httpserver.url_for("/lieux.csv"),
                "licence": "etalab-2.0",
            }
        ],
    )
    version = run_pipeline(catalog, tmp_path / "out")
    assert [r["nom"] for r in read_csv(version / "actors.csv")] == ["EPN en ligne"]
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("pana-data/")
    index = (tmp_path / "out" / "work" / "raw" / "index.jsonl").read_text().splitlines()
    entry = json.loads(index[-1])
    assert entry["url"] == httpserver.url_for("/lieux.csv") and entry["status"] == 200
    assert Path(entry["path"]).read_bytes() == body


def test_http_error_is_a_source_failure(tmp_path, httpserver):
    httpserver.expect_request("/gone.csv").respond_with_data("no", status=404)
    httpserver.expect_request("/ok.csv").respond_with_data(
        lamednum_csv([{"id": "x", "nom": "EPN", "code_postal": "19000", "commune": "Tulle"}])
    )
    catalog = write_catalog(
        tmp_path,
        [
            {"id": "gone", "kind": "table", "url": httpserver.url_for("/gone.csv"), "licence": "x"},
            {
                "id": "ok",
                "kind": "mediation-numerique",
                "url": httpserver.url_for("/ok.csv"),
                "licence": "x",
            },
        ],
    )
    version = run_pipeline(catalog, tmp_path / "out")
    status = {
        s["source_id"]: s for s in json.loads((version / "report.json").read_text())["sources"]
    }
    assert status["gone"]["status"] == "failed" and "404" in status["gone"]["error"]
    assert status["ok"]["status"] == "ok"


def test_nothing_is_published_when_every_source_fails(tmp_path):
    catalog = write_catalog(
        tmp_path, [{"id": "a", "kind": "table", "url": "absent.csv", "licence": "x"}]
    )
    with pytest.raises(NothingToPublish, match="a: HarvestError"):
        run_pipeline(catalog, tmp_path / "out")
    assert not (tmp_path / "out" / "latest").exists()


def test_a_source_whose_rows_are_all_rejected_keeps_its_last_good_harvest(tmp_path):
    good = [{"id": f"l{i}", "nom": f"Lieu {i}", "code_postal": "87000"} for i in range(3)]
    (tmp_path / "lieux.csv").write_bytes(lamednum_csv(good))
    (tmp_path / "autre.csv").write_bytes(lamednum_csv([{"id": "z", "nom": "Autre"}]))
    catalog = write_catalog(
        tmp_path,
        [
            {"id": "lieux", "kind": "mediation-numerique", "url": "lieux.csv", "licence": "x"},
            {"id": "autre", "kind": "mediation-numerique", "url": "autre.csv", "licence": "x"},
        ],
    )
    first = run_pipeline(catalog, tmp_path / "out")
    broken = [{**row, "code_postal": "870"} for row in good]  # every row now invalid
    (tmp_path / "lieux.csv").write_bytes(lamednum_csv(broken))
    assert run_pipeline(catalog, tmp_path / "out") == first  # same content: no new version
    # Another source changes: the new version keeps lieux's last good harvest, marked stale.
    (tmp_path / "autre.csv").write_bytes(lamednum_csv([{"id": "z", "nom": "Autre lieu"}]))
    second = run_pipeline(catalog, tmp_path / "out")
    assert second != first
    status = {
        s["source_id"]: s for s in json.loads((second / "report.json").read_text())["sources"]
    }
    assert status["lieux"]["status"] == "stale"
    assert "0 valid records of 3 rows" in status["lieux"]["error"]
    ids = [sorted(r["id"] for r in read_csv(v / "actors.csv")) for v in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 4


def test_output_folder_with_a_quote_in_its_name(tmp_path):
    version = run_pipeline(None, tmp_path / "l'export")
    assert len(read_csv(version / "actors.csv")) > 10


def test_demo_register_enriches_without_adding_actors(demo_release):
    out, _ = demo_release
    actors = {a["siret"] or a["rna"]: a for a in read_csv(out / "latest" / "actors.csv")}
    assert actors["82314567700014"]["statut"] == "ferme"  # dissolved in the RNA extract
    mda = actors["41852963200022"]
    assert mda["rna"] == "W872000418" and mda["nom_legal"] == "MAISON DES ASSOCIATIONS DE LIMOGES"
    assert not [a for a in actors.values() if a["sources"] == "rna-haute-vienne"]
    for name, text in published_texts(out / "latest"):
        assert "PRIVÉE" not in text and "Déclarants" not in text, name
