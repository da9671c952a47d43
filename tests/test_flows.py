"""The Prefect flow for real, through prefect_test_harness (a temporary local server)."""

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import FIXTURES, partner_csv

pytestmark = pytest.mark.flow

HEADER = ["Nom de la structure", "CP", "Ville", "Téléphone", "SIRET"]


@pytest.fixture
def hand_catalog(tmp_path):
    """A catalog written by hand: LaMednum files and a cp1252 `;` partner table."""
    data = tmp_path / "sources"
    data.mkdir()
    (data / "2026-10-01_exemple_lieux-de-mediation-numerique_grand-est.csv").write_bytes(
        (FIXTURES / "lamednum-exemple-valide.csv").read_bytes()
    )
    (data / "partenaire.csv").write_bytes(
        partner_csv(
            HEADER,
            [
                ["Anonymal (Reims)", "51100", "Reims", "03 26 00 00 00", "434 933 123 00029"],
                ["Maison des associations d'Épernay", "51200", "Épernay", "0326000001", ""],
                ["Sans téléphone valable", "51100", "Reims", "NC", ""],
            ],
        )
    )
    catalog = {
        "title": "Catalogue écrit à la main",
        "sources": [
            {
                "id": "lieux-grand-est",
                "kind": "mediation-numerique",
                "url": "sources/2026-10-01_exemple_lieux-de-mediation-numerique_grand-est.csv",
                "licence": "etalab-2.0",
            },
            {
                "id": "partenaire",
                "kind": "table",
                "url": "sources/partenaire.csv",
                "licence": "etalab-2.0",
                "mapping": {
                    "nom": "Nom de la structure",
                    "code_postal": "CP",
                    "commune": "Ville",
                    "telephone": "Téléphone",
                    "siret": "SIRET",
                },
            },
            {
                "id": "casse",
                "kind": "table",
                "url": "sources/introuvable.xlsx",
                "licence": "etalab-2.0",
            },
        ],
    }
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(catalog, allow_unicode=True), encoding="utf-8")
    return path


def rows(path):
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_pana_run_with_a_hand_written_catalog(prefect_harness, hand_catalog, tmp_path, monkeypatch):
    """With a server set (PREFECT_API_URL), `pana run` is the Prefect flow, reported there."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import get_current_settings

    from flows.cli import app

    monkeypatch.setenv("PREFECT_API_URL", get_current_settings().api.url)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "--catalog", str(hand_catalog), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no Prefect server set" not in result.output
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=20)
    assert [r.parameters["out_dir"] for r in runs if r.name and r.parameters].count(str(out)) == 1
    latest = out / "latest"
    actors = rows(latest / "actors.csv")
    # The partner's Anonymal shares the example's SIRET and postcode: one actor, two sources.
    merged = [a for a in actors if a["siret"] == "43493312300029"]
    assert len(merged) == 1 and merged[0]["sources"] == "lieux-grand-est|partenaire"
    assert len(actors) == 2
    assert [(r["source_id"], r["record_id"], r["field"]) for r in rows(latest / "rejects.csv")] == [
        ("partenaire", "3", "telephone")
    ]
    report = json.loads((latest / "report.json").read_text())
    status = {s["source_id"]: s["status"] for s in report["sources"]}
    assert status == {"lieux-grand-est": "ok", "partenaire": "ok", "casse": "failed"}


def test_flow_runs_one_task_per_source_per_stage(prefect_harness, hand_catalog, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.pipeline import pipeline

    state = pipeline(str(hand_catalog), str(tmp_path / "out"), return_state=True)
    assert state.is_completed()

    async def task_names():
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                )
            )
            return sorted(r.name for r in runs)

    import asyncio

    names = asyncio.run(task_names())
    for source in ("lieux-grand-est", "partenaire"):
        for stage in ("harvest", "parse", "load"):
            assert f"{stage}-{source}" in names
    # The broken source's harvest ran and failed; nothing downstream of it ran.
    assert "harvest-casse" in names
    assert "parse-casse" not in names and "load-casse" not in names
    assert sum(n.startswith("deduplicate") for n in names) == 1
    assert sum(n.startswith("publish") for n in names) == 1


def flow_artifacts(flow_run_id) -> dict:
    """The artifacts a flow run (and its tasks) left: key -> artifact."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )

    return {a.key: a for a in asyncio.run(read())}


def test_a_run_leaves_artifacts_per_source_changes_and_the_version(
    prefect_harness, hand_catalog, tmp_path
):
    from flows.pipeline import pipeline

    out = tmp_path / "out"
    state = pipeline(str(hand_catalog), str(out), return_state=True)
    assert state.is_completed()
    artifacts = flow_artifacts(state.state_details.flow_run_id)
    assert set(artifacts) == {
        "source-lieux-grand-est", "source-partenaire", "source-casse",
        "actor-changes", "published-version",
    }  # fmt: skip
    partner = artifacts["source-partenaire"].data
    assert partner.startswith("# partenaire: fetched")
    assert "- rows: 3" in partner and "- rejected: 1" in partner
    assert "| telephone: phone number not recognised: … (value …) | 1 |" in partner
    casse = artifacts["source-casse"].data
    assert casse.startswith("# casse: failed") and "introuvable.xlsx" in casse
    changes = json.loads(artifacts["actor-changes"].data)
    assert sorted(c["op"] for c in changes) == ["ADD", "ADD"]  # the first version: 2 actors
    version = json.loads((out / "versions.json").read_text())["latest"]
    uri = (out / version).resolve().as_uri()
    assert artifacts["published-version"].data == f"[version {version}]({uri})"
    # A second run changes nothing: no version, an empty table of changes.
    again = pipeline(str(hand_catalog), str(out), return_state=True)
    artifacts = flow_artifacts(again.state_details.flow_run_id)
    assert json.loads(artifacts["actor-changes"].data) == []
    assert "no new version" in artifacts["actor-changes"].description


def test_a_failed_run_posts_to_the_webhook(prefect_harness, tmp_path, httpserver, monkeypatch):
    from flows.pipeline import pipeline

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("PANA_WEBHOOK_URL", httpserver.url_for("/hook"))
    catalog = tmp_path / "catalog.yaml"
    source = {"id": "absent", "kind": "table", "url": "absent.csv", "licence": "x",
              "mapping": {"nom": "Nom"}}  # fmt: skip
    catalog.write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    state = pipeline(str(catalog), str(tmp_path / "out"), return_state=True)
    assert state.is_failed()
    (request, _), *_ = httpserver.log
    notice = request.get_json()
    assert notice["flow"] == "pana-pipeline" and notice["state"] == "Failed"
    assert notice["flow_run_id"] == str(state.state_details.flow_run_id)
    assert "absent" in notice["message"]
