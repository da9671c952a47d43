"""Deployments generated from the catalog, checked against the flows' signatures; separate
harvest and build flows."""

import csv
import inspect
import json

import pytest
import yaml

from flows.deployments import BUILD_CRON, CRON, deployments, prefect_yaml
from flows.runners import free_port
from pana_data.catalog import load_catalog
from tests.helpers import ROOT


def test_every_deployment_matches_its_flow_signature():
    found = deployments()
    assert len({d.name for d in found}) == len(found)
    for d in found:
        signature = inspect.signature(d.flow.fn)
        assert set(d.parameters) <= set(signature.parameters), d.name
        required = {n for n, p in signature.parameters.items() if p.default is p.empty}
        assert required <= set(d.parameters), d.name
        d.flow.validate_parameters(d.parameters)  # Prefect's own check of types
        assert d.entrypoint.split(":")[1] == d.flow.fn.__name__


def test_one_harvest_deployment_per_source_on_its_declared_frequency():
    catalog = load_catalog(None)
    by_name = {d.name: d for d in deployments()}
    for spec in catalog.sources:
        d = by_name[f"harvest-{spec.id}"]
        assert d.parameters["source_id"] == spec.id
        assert d.cron == CRON.get(spec.frequency)
    assert by_name["build"].cron == BUILD_CRON and by_name["pipeline"].cron is None
    assert len(by_name) == len(catalog.sources) + 2


def test_committed_prefect_yaml_is_generated_from_the_catalog():
    committed = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert committed == prefect_yaml(), "prefect.yaml is stale: run `make schemas`"
    entries = yaml.safe_load(committed)["deployments"]
    for entry in entries:
        path, name = entry["entrypoint"].split(":")
        assert (ROOT / path).exists() and f"def {name}(" in (ROOT / path).read_text()


@pytest.mark.flow
def test_harvests_and_build_as_separate_flows(prefect_harness, tmp_path):
    from flows.deployments import runner_deployments
    from flows.pipeline import build, harvest_source
    from tests.helpers import changed_demo

    built = {d.name: d for d in runner_deployments()}  # what `make serve` serves
    assert built["build"].schedules[0].schedule.cron == BUILD_CRON
    assert built["harvest-ligue-guidasso"].parameters["source_id"] == "ligue-guidasso"

    catalog = str(changed_demo(tmp_path / "demo"))
    out = str(tmp_path / "out")
    for d in deployments(catalog, out):
        if d.name.startswith("harvest-"):
            state = harvest_source(**d.parameters, return_state=True)
            assert state.is_completed(), d.name
    version = build(catalog, out)
    report = json.loads((tmp_path / "out" / "latest" / "report.json").read_text())
    assert {s["status"] for s in report["sources"]} == {"ok"}
    assert str(tmp_path / "out") in version
    # A source that now fails: its run fails, the build publishes from its last good harvest.
    data = tmp_path / "demo" / "data" / "rnma_annuaire_maisons_associations.csv"
    data.write_bytes(b"\x00not a table")
    failed = harvest_source("rnma-maisons-associations", catalog, out, return_state=True)
    assert failed.is_failed()
    build(catalog, out)
    run = json.loads((tmp_path / "out" / "work" / "last_run.json").read_text())
    status = {s["source_id"]: s["status"] for s in run["sources"]}
    assert status["rnma-maisons-associations"] == "stale"
    assert {v for k, v in status.items() if k != "rnma-maisons-associations"} == {"ok"}


def wait_for(check, seconds: float, what: str):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not within {seconds} s")


@pytest.mark.flow
def test_make_serve_fires_the_build_on_its_cron_and_publishes(tmp_path, httpserver):
    """`make server`, then `make serve` with the build every minute: the run it fires publishes a
    version and leaves its artifacts, listed by `prefect artifact ls`. One source's served
    harvest fails: the webhook is told, and the next build publishes the others with that source
    stale and its last good harvest kept."""
    import os
    import signal
    import subprocess
    import time

    import requests

    from pana_data import pipeline as lib
    from tests.helpers import changed_demo, tool

    catalog_path = changed_demo(tmp_path / "demo")
    out = tmp_path / "out"
    catalog = load_catalog(catalog_path)
    for spec in catalog.sources:  # the harvests, as their own deployments would have run them
        lib.harvest_one(catalog, spec.id, lib.Workspace(out))
    broken = "lamednum-nouvelle-aquitaine"  # its partner's file is gone from now on
    (catalog_path.parent / catalog.source(broken).url).unlink()
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_RUNNER_POLL_FREQUENCY": "2", "PANA_WEBHOOK_URL": httpserver.url_for("/hook"),
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"}  # fmt: skip
    env.pop("PREFECT_API_URL", None)
    logs = (tmp_path / "server.log").open("w"), (tmp_path / "serve.log").open("w")
    make = ["make", "-s", f"PREFECT_PORT={port}"]
    processes = [subprocess.Popen(make + ["server"], cwd=ROOT, env=env, stdout=logs[0],
                                  stderr=subprocess.STDOUT, start_new_session=True)]  # fmt: skip
    api = f"http://127.0.0.1:{port}/api"
    try:

        def healthy():
            try:
                return requests.get(f"{api}/health", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_for(healthy, 90, "the Prefect server")

        def run_deployment(name):  # as its schedule would, now
            subprocess.run([tool("prefect"), "deployment", "run", name], timeout=60, check=True,
                           env={**env, "PREFECT_API_URL": api}, capture_output=True)  # fmt: skip

        serve = make + ["serve", f"CATALOG={catalog_path}", f"OUT={out}", "BUILD_CRON=* * * * *",
                        "WATCH=2"]  # fmt: skip
        processes.append(subprocess.Popen(serve, cwd=ROOT, env=env, stdout=logs[1],
                                          stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip

        def published():
            path = out / "versions.json"
            return path.exists() and json.loads(path.read_text())["latest"]

        version = wait_for(published, 180, "a version published by the cron's build run")
        assert (out / version / "actors.csv").exists()

        def listed():  # the report task runs after the publication: wait for it
            shown = subprocess.run(
                [tool("prefect"), "artifact", "ls"], capture_output=True, text=True, timeout=60,
                env={**env, "PREFECT_API_URL": api, "COLUMNS": "200"},
            ).stdout  # fmt: skip
            return "published-version" in shown and "actor-changes" in shown

        wait_for(listed, 60, "the run's artifacts in `prefect artifact ls`")

        # The broken source's own deployment runs (as its schedule would) and fails.
        run_deployment(f"pana-harvest-source/harvest-{broken}")

        def notices():
            found = [r.get_json() for r, _ in httpserver.log]
            return [n for n in found if n["flow"] == "pana-harvest-source"]

        notice = wait_for(notices, 120, "the failed harvest's webhook notice")
        assert [n["state"] for n in notice] == ["Failed"]

        run_deployment("pana-build/build")  # now, not at the next minute's cron

        def stale():  # the next build: the others fresh, the broken one on its last harvest
            run = json.loads((out / "work" / "last_run.json").read_text())
            status = {s["source_id"]: s["status"] for s in run["sources"]}
            return status[broken] == "stale" and status

        status = wait_for(stale, 150, "a build that marks the failed source stale")
        assert {k: v for k, v in status.items() if k != broken} == {
            s.id: "ok" for s in catalog.sources if s.id != broken
        }
        latest = json.loads((out / "work" / "last_run.json").read_text())["version"]
        sources = {s for a in csv.DictReader((out / latest / "actors.csv").open()) for s in
                   a["sources"].split("|")}  # fmt: skip
        assert broken in sources  # its last good harvest is still published

        # A maintainer edits the catalog: one source added, one removed. `make serve` notices,
        # serves the new source's harvest and pauses the schedule of the one removed.
        def harvests():
            found = requests.post(f"{api}/deployments/filter", json={}, timeout=10).json()
            return {d["name"]: d["paused"] for d in found if d["name"].startswith("harvest-")}

        assert harvests() == {f"harvest-{s.id}": False for s in catalog.sources}
        data = yaml.safe_load(catalog_path.read_text(encoding="utf-8"))
        data["sources"] = [s for s in data["sources"] if s["id"] != "ligue-guidasso"]
        rnma = next(s for s in data["sources"] if s["id"] == "rnma-maisons-associations")
        data["sources"].append({**rnma, "id": "lieux-copie"})
        catalog_path.write_text("sources: [{id: broken", encoding="utf-8")  # a typo first
        time.sleep(5)
        catalog_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        wait_for(
            lambda: (
                harvests().get("harvest-lieux-copie") is False
                and harvests().get("harvest-ligue-guidasso") is True
            ),
            120,
            "the catalog's new deployment served and the removed one paused",
        )
        log = (tmp_path / "serve.log").read_text()
        assert "catalog invalid, still serving the previous deployments" in log
        assert "catalog changed: deployment harvest-lieux-copie served" in log
        # The running runner serves the new deployment: a run of it completes.
        run_deployment("pana-harvest-source/harvest-lieux-copie")

        def copy_harvested():
            path = out / "work" / "outcomes" / "lieux-copie.json"
            return path.exists() and json.loads(path.read_text())

        outcome = wait_for(copy_harvested, 120, "a run of the new source's deployment")
        assert outcome.get("error") is None, outcome
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.flow
def test_harvests_are_retried_only_when_a_later_try_may_help(
    prefect_harness, tmp_path, httpserver, monkeypatch
):
    from werkzeug import Response

    import flows.pipeline as fp
    from tests.helpers import lamednum_csv

    monkeypatch.setattr(fp, "fetch", fp.fetch.with_options(retry_delay_seconds=[0, 0]))
    body = lamednum_csv([{"id": "l1", "nom": "Lieu numérique", "code_postal": "87000"}])
    served = []

    def flaky(request):  # 503 for the HTTP client's six attempts, then the file
        served.append(request.path)
        if len(served) <= 6:
            return Response("busy", status=503, headers={"Retry-After": "0"})
        return Response(body, content_type="text/csv")

    httpserver.expect_request("/lieux.csv").respond_with_handler(flaky)
    httpserver.expect_request("/absent.csv").respond_with_data("no", status=404)
    catalog = tmp_path / "catalog.yaml"
    sources = [
        {"id": "lieux", "kind": "mediation-numerique", "licence": "x",
         "url": httpserver.url_for("/lieux.csv")},
        {"id": "absent", "kind": "mediation-numerique", "licence": "x",
         "url": httpserver.url_for("/absent.csv")},
    ]  # fmt: skip
    catalog.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    out = str(tmp_path / "out")
    state = fp.harvest_source("lieux", str(catalog), out, return_state=True)
    assert state.is_completed() and len(served) == 7  # one task retry after six 503s
    state = fp.harvest_source("absent", str(catalog), out, return_state=True)
    assert state.is_failed()
    assert [e[0].path for e in httpserver.log].count("/absent.csv") == 1  # a 404: never again


def test_a_build_trusts_the_store_not_only_the_outcome_files(tmp_path):
    from pana_data import pipeline as lib

    out = tmp_path / "out"
    lib.run_pipeline(None, out)
    (out / "work" / "pana.duckdb").unlink()  # outcome files say ok; the store has nothing
    with pytest.raises(lib.NothingToPublish, match="no harvest of this source"):
        lib.build_stage(load_catalog(None), lib.Workspace(out))
    assert json.loads((out / "versions.json").read_text())["versions"][0]["counts"]["actors"] > 0
    assert len(json.loads((out / "versions.json").read_text())["versions"]) == 1


def test_no_task_retry_when_the_server_asks_to_wait_longer_than_the_retries():
    from prefect.states import Failed

    from flows.pipeline import RETRY_DELAYS, _transient
    from pana_data.harvest import HarvestError

    def judged(exc):
        return _transient(None, None, Failed(data=exc))

    assert judged(HarvestError("503", retryable=True))
    assert judged(HarvestError("503", retryable=True, retry_after=RETRY_DELAYS[-1]))
    assert not judged(HarvestError("503", retryable=True, retry_after=3600))
    assert not judged(HarvestError("404"))


@pytest.mark.flow
def test_a_prefect_rate_limit_spaces_the_harvests_requests(
    prefect_harness, tmp_path, httpserver, monkeypatch
):
    """The flows' throttle takes a slot of the server's `api-<host>` limit before each request:
    with a limit of one slot decaying at 2 per second, four requests need at least 1.5 s. The
    limit lives on the Prefect server, so every process harvesting that API shares it."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    import flows.pipeline as fp
    from pana_data import pipeline as lib

    httpserver.expect_request("/x.csv").respond_with_data("Nom\nMaison\n", content_type="text/csv")
    host = httpserver.host
    monkeypatch.setattr(fp, "_LIMITS", {})
    path = tmp_path / "catalog.yaml"
    source = {"id": "api", "kind": "table", "url": httpserver.url_for("/x.csv"), "licence": "x",
              "mapping": {"nom": "Nom"}, "rate_limit": 1000}  # fmt: skip
    path.write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    catalog, ws = load_catalog(path), lib.Workspace(tmp_path / "out")

    def four_requests() -> float:  # four harvests, as the flows' fetch task makes them
        start = time.monotonic()
        for _ in range(4):
            fp.fetch.fn(catalog, "api", ws)
        return time.monotonic() - start

    name = f"api-{fp._key(host)}"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=1, slot_decay_per_second=2.0)
        )
    try:
        assert four_requests() >= 1.4  # 3 waits of 0.5 s, less the clock's slack
        assert fp._LIMITS == {name: True}
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)
    assert len(httpserver.log) == 4


def test_a_crashed_harvest_is_recorded_so_the_build_marks_its_source_stale(tmp_path):
    """The runner calls ``on_crashed`` hooks when a harvest's process dies; the hook records the
    crash, and the next build uses the source's last good harvest and says it is stale."""
    from types import SimpleNamespace

    from flows.pipeline import harvest_source, record_crash
    from pana_data import pipeline as lib

    assert record_crash in harvest_source.on_crashed_hooks
    out = tmp_path / "out"
    lib.run_pipeline(None, out)
    source = "ligue-guidasso"
    run = SimpleNamespace(
        parameters={"source_id": source, "catalog_path": None, "out_dir": str(out)}
    )
    record_crash(harvest_source, run, SimpleNamespace(message="Flow run process exited with -9"))
    ws = lib.Workspace(out)
    catalog = load_catalog(None)
    assert lib.recorded_failures(catalog, ws) == {
        source: "crashed: Flow run process exited with -9"
    }
    lib.build_stage(catalog, ws)
    status = {s["source_id"]: s["status"] for s in json.loads(ws.last_run.read_text())["sources"]}
    assert status[source] == "stale"
    assert {v for k, v in status.items() if k != source} == {"ok"}
