"""Where `pana run` runs: in-process without a server, the Prefect flow with one, its harvests
on Dask when asked; and runs of the same source side by side."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flows.runners import Runner, RunnerError, configured_api_url, use_prefect
from tests.helpers import ROOT, changed_demo


@pytest.fixture
def no_server(monkeypatch, tmp_path):
    """No PREFECT_API_URL anywhere: not in the environment, not in a profile."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    return tmp_path / "prefect-home"


def test_the_server_is_found_in_the_environment_or_the_active_profile(no_server, monkeypatch):
    assert configured_api_url() is None
    no_server.mkdir()
    (no_server / "profiles.toml").write_text(
        'active = "local"\n'
        '[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
        '[profiles.other]\nPREFECT_API_URL = "http://other:4200/api"\n'
    )
    assert configured_api_url() == "http://127.0.0.1:4200/api"
    monkeypatch.setenv("PREFECT_PROFILE", "other")
    assert configured_api_url() == "http://other:4200/api"
    monkeypatch.setenv("PREFECT_API_URL", "http://env:4200/api")
    assert configured_api_url() == "http://env:4200/api"
    monkeypatch.setenv("PREFECT_API_URL", "")  # empty: none, as for Prefect
    assert configured_api_url() is None
    monkeypatch.delenv("PREFECT_API_URL")
    (no_server / "profiles.toml").write_text("active = [broken")
    assert configured_api_url() is None


@pytest.mark.parametrize(
    "name, text",
    [
        (".env", "PREFECT_API_URL=http://dotenv:4200/api\n"),
        ("prefect.toml", '[api]\nurl = "http://dotenv:4200/api"\n'),
        ("pyproject.toml", '[tool.prefect.api]\nurl = "http://dotenv:4200/api"\n'),
    ],
)
def test_prefect_settings_files_of_the_folder_are_read_by_prefect_itself(
    no_server, tmp_path, monkeypatch, name, text
):
    folder = tmp_path / "project"
    folder.mkdir()
    assert configured_api_url(folder) is None
    (folder / name).write_text(text)
    monkeypatch.chdir(folder)  # Prefect reads them from the working directory
    from prefect.settings import Settings

    assert Settings().api.url == "http://dotenv:4200/api"  # what Prefect itself reads there
    monkeypatch.setattr("prefect.settings.get_current_settings", lambda: Settings())
    assert configured_api_url(folder) == "http://dotenv:4200/api"


def test_prefect_is_used_when_a_server_is_set_or_asked_for(no_server, monkeypatch):
    assert not use_prefect(None, Runner.thread)
    assert use_prefect(True, Runner.thread)
    assert use_prefect(None, Runner.dask)  # only Prefect sends tasks to Dask
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert use_prefect(None, Runner.thread)
    assert not use_prefect(False, Runner.thread)
    with pytest.raises(RunnerError, match="drop --local"):
        use_prefect(False, Runner.dask)


def test_pana_run_without_a_server_never_imports_prefect(no_server, tmp_path):
    """Deciding and running cost no Prefect import (2–3 s) when no server is set."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from flows.cli import app\n"
        f"r = CliRunner().invoke(app, ['run', '--out', {str(tmp_path / 'out')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(r.output)\n"
        "print('prefect imported:', 'prefect' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "prefect imported: False" in done.stdout
    assert "no Prefect server set" in done.stdout
    assert (tmp_path / "out" / "latest" / "actors.csv").exists()


@pytest.mark.parametrize(
    "args, error",
    [
        (["--local", "--task-runner", "dask"], "--task-runner dask runs Prefect tasks: drop --local"),
        (["--prefect", "--dask-address", "tcp://10.0.0.1:8786"], "--dask-address needs --task-runner dask"),
    ],
)  # fmt: skip
def test_options_that_do_not_go_together(prefect_harness, tmp_path, args, error):
    from flows.cli import app

    result = CliRunner().invoke(app, ["run", *args, "-o", tmp_path])
    assert result.exit_code == 1
    assert error in result.output
    assert not (tmp_path / "latest").exists()


def test_a_remote_dask_cluster_needs_a_real_api_url():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.runners import api_for_workers

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with pytest.raises(RunnerError, match="set PREFECT_API_URL"):
            with api_for_workers("tcp://10.0.0.1:8786"):
                pass


@pytest.mark.flow
def test_a_local_dask_cluster_without_a_server_shares_one_temporary_server(no_server, tmp_path):
    """The default `pana run --task-runner dask` with no server set, as on a fresh machine: one
    temporary server for the flow and both Dask workers (each would otherwise start its own and
    say so on the shared stderr), and the run publishes."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_LOGGING_LEVEL"] = "INFO"
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--task-runner", "dask",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.count("Starting temporary server") == 1, output
    assert "Creating a new Dask cluster" in output
    assert (tmp_path / "out" / "latest" / "actors.csv").exists()


def test_a_temporary_server_for_workers_is_its_own(prefect_harness):
    """Starting and stopping the workers' temporary server leaves any other server alone (here
    the test harness's, which Prefect would otherwise hand back as the process's shared one)."""
    import requests
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.runners import api_for_workers

    harness = get_current_settings().api.url
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with api_for_workers(None):
            url = get_current_settings().api.url
            assert url != harness
            assert requests.get(f"{url}/health", timeout=10).json() is True
    assert get_current_settings().api.url == harness
    assert requests.get(f"{harness}/health", timeout=10).json() is True
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=10)


@pytest.mark.flow
def test_pana_run_sends_harvests_to_a_dask_cluster(prefect_harness, tmp_path):
    """A real Dask cluster of two worker processes: harvests and parses run there, report to
    the flow's own Prefect server (no worker starts a server of its own) and the run publishes."""
    from distributed import Client, LocalCluster
    from prefect.client.orchestration import get_client

    from flows.cli import app

    out = tmp_path / "out"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        result = CliRunner().invoke(
            app,
            ["run", "--task-runner", "dask", "--dask-address", cluster.scheduler_address,
             "--out", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        # Tasks the cluster computed, by name (counts of transitions, cumulative).
        ran = {
            name: p.state_counts["memory"] for name, p in cluster.scheduler.task_prefixes.items()
        }
        servers = client.run(_servers_started_here)
    sources = [s["source_id"] for s in json.loads((out / "work" / "last_run.json").read_text())[
        "sources"]]  # fmt: skip
    assert len(sources) == 4
    assert ran == {"fetch": 4, "parse": 4}  # every harvest and parse, nothing else
    assert set(servers.values()) == {0}, servers
    assert (out / "latest" / "actors.csv").exists()

    with get_client(sync_client=True) as prefect:
        tasks = prefect.read_task_runs()
    names = {t.name: t.state.type.value for t in tasks}
    for source in sources:
        assert names[f"harvest-{source}"] == "COMPLETED"
        assert names[f"parse-{source}"] == "COMPLETED"


def _servers_started_here() -> int:
    """On a Dask worker: how many temporary Prefect servers this process started."""
    module = sys.modules.get("prefect.server.api.server")
    return len(module.SubprocessASGIServer._instances) if module else 0


def test_two_runs_of_one_source_never_share_staged_files(tmp_path):
    """A scheduled harvest and a pipeline run parse the same source at once: each load reads
    what its own parse wrote, and the staged files are gone afterwards."""
    from pana_data import pipeline as lib
    from pana_data.catalog import load_catalog
    from pana_data.store import connect

    catalog_path = changed_demo(tmp_path / "demo")
    catalog = load_catalog(catalog_path)
    data = tmp_path / "demo" / "data" / "rnma_annuaire_maisons_associations.csv"
    ws = lib.Workspace(tmp_path / "out")
    source = "rnma-maisons-associations"

    first = lib.harvest_stage(catalog, source, ws)
    parsed_first = lib.parse_stage(catalog, source, first, ws)
    data.write_bytes(data.read_bytes().replace(b";04.74.45.12.99;", b";04.74.45.12.77;"))
    second = lib.harvest_stage(catalog, source, ws)
    parsed_second = lib.parse_stage(catalog, source, second, ws)

    def phones():
        con = connect(ws.db)
        try:
            rows = con.execute(
                "SELECT telephone FROM records WHERE source_id = ? AND telephone LIKE '+3347445%'",
                [source],
            ).fetchall()
        finally:
            con.close()
        return {r[0] for r in rows}

    lib.load_stage(source, parsed_first, first, ws)
    assert phones() == {"+33474451299"}  # the first parse's data, not the second's
    lib.load_stage(source, parsed_second, second, ws)
    assert phones() == {"+33474451277"}
    assert not [p for p in ws.staged.iterdir() if not p.name.startswith(".")]


def test_a_failed_parse_leaves_no_staged_file_and_builds_sweep_old_ones(tmp_path):
    import os
    import time

    import yaml

    from pana_data import pipeline as lib
    from pana_data.catalog import load_catalog

    catalog_path = changed_demo(tmp_path / "demo")
    data = yaml.safe_load(catalog_path.read_text(encoding="utf-8"))
    register = next(s for s in data["sources"] if s["kind"] == "rna")
    register["assertions"] = {"min_records": 1000}  # the register stages, then fails
    catalog_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    catalog = load_catalog(catalog_path)
    ws = lib.Workspace(tmp_path / "out")
    harvested = lib.harvest_stage(catalog, register["id"], ws)
    with pytest.raises(lib.SourceAssertionError, match="min_records=1000"):
        lib.parse_stage(catalog, register["id"], harvested, ws)
    assert list(ws.staged.iterdir()) == []

    old, new = ws.staged / "x.abc.records.jsonl", ws.staged / "y.def.records.jsonl"
    left = ws.staged / ".x-tmp"
    for path in (old, new):
        path.write_text("{}\n")
    left.mkdir()
    day_ago = time.time() - lib.STAGED_MAX_AGE - 60
    os.utime(old, (day_ago, day_ago))
    os.utime(left, (day_ago, day_ago))
    assert sorted(lib.sweep_staged(ws)) == sorted([old, left])
    assert list(ws.staged.iterdir()) == [new]
