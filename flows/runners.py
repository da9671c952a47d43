"""Where ``pana run`` runs: in this process, or as the Prefect ``pipeline`` flow, its harvests on
Prefect's thread pool or on a Dask cluster.

Prefect costs a run a few seconds against a running server, and about twenty when it has to
start a temporary one (``make bench-prefect``); ``pana run`` therefore uses Prefect when a server
is configured and runs the same stages in-process otherwise (``--prefect``/``--local`` decide
instead)."""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

STARTUP_TIMEOUT = 90  # seconds a temporary Prefect server may take to answer


class Runner(StrEnum):
    thread = "thread"
    dask = "dask"


class RunnerError(RuntimeError):
    """A run that cannot start as asked (said before anything is harvested)."""


def configured_api_url(cwd: Path | None = None) -> str | None:
    """The Prefect API URL this process would use, decided cheaply when possible.

    ``PREFECT_API_URL`` in the environment decides (an empty value means none, as for
    Prefect). When this folder holds another source of Prefect settings (``.env``,
    ``prefect.toml``, or ``[tool.prefect]`` in ``pyproject.toml``), Prefect itself is asked,
    since those can set the URL or move the profiles. Otherwise the active profile of
    ``profiles.toml`` is read without importing Prefect (2–3 s), so that deciding costs nothing
    when no server is set."""
    if "PREFECT_API_URL" in os.environ:
        return os.environ["PREFECT_API_URL"] or None
    cwd = cwd or Path.cwd()
    if _other_settings(cwd):
        from prefect.settings import get_current_settings

        return get_current_settings().api.url or None
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    data = _toml(path)
    name = os.environ.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = (data.get("profiles") or {}).get(name) or {}
    return profile.get("PREFECT_API_URL") or None


def _other_settings(cwd: Path) -> bool:
    """Whether ``cwd`` holds Prefect settings besides the environment and the profiles."""
    if (cwd / ".env").is_file() or (cwd / "prefect.toml").is_file():
        return True
    return "prefect" in (_toml(cwd / "pyproject.toml").get("tool") or {})


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def use_prefect(prefect: bool | None, runner: Runner) -> bool:
    """``--prefect``/``--local`` when given; else Prefect when a server is configured, or when
    the harvests go to Dask (only Prefect can send them there)."""
    if prefect is False and runner is not Runner.thread:
        raise RunnerError(f"--task-runner {runner.value} runs Prefect tasks: drop --local")
    if prefect is not None:
        return prefect
    return runner is not Runner.thread or configured_api_url() is not None


def run_flow(
    catalog: str | None,
    out: str,
    runner: Runner = Runner.thread,
    dask_address: str | None = None,
    dask_workers: int = 2,
) -> str:
    """Run the ``pipeline`` flow, its harvests and parses on the chosen task runner."""
    # Offline by default: no telemetry from a temporary Prefect server.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Prefect waits 20 s for a temporary server; a fresh database on a busy machine needs more.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(STARTUP_TIMEOUT))
    from flows.pipeline import pipeline

    if runner is Runner.thread:
        if dask_address:
            raise RunnerError("--dask-address needs --task-runner dask")
        return pipeline(catalog, out)
    task_runner = dask_runner(dask_address, dask_workers)  # a missing extra fails at once
    with api_for_workers(dask_address):
        return pipeline.with_options(task_runner=task_runner)(catalog, out)


def dask_runner(address: str | None, workers: int):
    """A ``DaskTaskRunner`` on the cluster at ``address``, else on a local cluster of
    ``workers`` processes (one thread each: parsing is CPU-bound Python)."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # pragma: no cover - installed with the dev and dask extras
        raise RunnerError(
            "--task-runner dask needs prefect-dask: pip install 'pana-data[dask]'"
        ) from exc
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",  # a free port: runs side by side never clash
        }
    )


def free_port() -> int:
    """A TCP port free on the loopback interface, for a server started next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def api_for_workers(address: str | None) -> Iterator[None]:
    """Make the Dask workers report to the flow's own Prefect server.

    Without an API URL, every Dask worker would start a temporary server of its own (each run
    of a task then costs seconds and its history is lost). With ``PREFECT_API_URL`` set the
    workers use it; a local cluster without one shares a temporary server started here, whose
    URL the worker processes inherit. A remote cluster needs a real URL."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if get_current_settings().api.url:
        yield
        return
    if address:
        raise RunnerError(
            "--dask-address needs a Prefect server its workers can reach: set PREFECT_API_URL "
            "(for instance `make server`, then export PREFECT_API_URL=http://HOST:4200/api)"
        )
    from prefect.server.api.server import SubprocessASGIServer

    # A port of its own: without one, Prefect hands back the process's shared temporary server,
    # which this context would then stop under its other users.
    server = SubprocessASGIServer(port=free_port())
    server.start(timeout=STARTUP_TIMEOUT)
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url  # inherited by the worker processes
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield
    finally:
        _drain()  # the run's last logs and events, before their server goes
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
        server.stop()


def _drain() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=5)
