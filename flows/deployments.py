"""Deployments, generated from the catalog: one ``harvest_source`` deployment per source on the
schedule its ``frequency`` declares (no flow written per source), a daily ``build`` after the
harvests, and the whole ``pipeline`` on demand. The same list feeds ``make serve`` and
``prefect.yaml``; a test checks every deployment's parameters against its flow's signature.

    python -m flows.deployments serve [--catalog FILE] [--out DIR]  # serve, with schedules
    python -m flows.deployments yaml [--catalog FILE] [--out DIR]   # print prefect.yaml
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from flows.pipeline import build, harvest_source, pipeline
from pana_data.catalog import load_catalog
from pana_data.pipeline import DEFAULT_OUT

# Declared frequency -> cron (Europe/Paris): harvests at night, the build once they are done.
CRON = {"daily": "0 3 * * *", "weekly": "0 3 * * 1", "monthly": "0 3 1 * *"}
BUILD_CRON = "0 6 * * *"
TIMEZONE = "Europe/Paris"
WORK_POOL = "pana-process"

WATCH_SECONDS = 30.0  # how often `make serve` reads the catalog again

log = logging.getLogger("pana.serve")


@dataclass(frozen=True)
class Deployment:
    name: str
    flow: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None  # None: run on demand

    @property
    def entrypoint(self) -> str:
        return f"flows/pipeline.py:{self.flow.fn.__name__}"


def deployments(
    catalog_path: str | None = None, out_dir: str = str(DEFAULT_OUT), build_cron: str = BUILD_CRON
) -> list:
    """Every deployment of a catalog, in a fixed order."""
    catalog = load_catalog(catalog_path)
    common = {"catalog_path": catalog_path, "out_dir": out_dir}
    found = [
        Deployment(
            f"harvest-{s.id}", harvest_source, {"source_id": s.id, **common}, CRON.get(s.frequency)
        )  # fmt: skip
        for s in catalog.sources
    ]
    found.append(Deployment("build", build, common, build_cron))
    found.append(Deployment("pipeline", pipeline, common))
    return found


def serve_all(
    catalog_path: str | None = None,
    out_dir: str = str(DEFAULT_OUT),
    build_cron: str = BUILD_CRON,
    watch: float = WATCH_SECONDS,
) -> None:
    """Serve every deployment in this process, each run in a subprocess (`make serve`).

    Every ``watch`` seconds the catalog is read again. When its deployments changed (a source
    added or removed, a frequency changed) and two reads in a row agree, the running Prefect
    runner is told: new and changed deployments are served, removed harvests have their schedule
    paused. Nothing restarts, so runs in progress go on; a catalog that does not validate is
    logged and the served deployments stay."""
    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    served = {d.name: d for d in deployments(catalog_path, out_dir, build_cron)}
    for d in served.values():
        runner.add_deployment(runner_deployment(d))
    pause_removed_harvests(set(served), out_dir)
    for d in served.values():  # what a maintainer wants to see first
        print(f"serving {d.name}: {d.cron + ' ' + TIMEZONE if d.cron else 'on demand'}", flush=True)
    if watch:
        threading.Thread(
            target=watch_catalog,
            args=(runner, served, catalog_path, out_dir, build_cron, watch),
            daemon=True,
            name="catalog-watch",
        ).start()
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as exc:
        log.info("received %s, shutting down", type(exc).__name__)


def watch_catalog(
    runner, served: dict, catalog_path: str | None, out_dir: str, build_cron: str, every: float
) -> None:
    """The watcher of ``serve_all``: never raises, so that watching never stops."""
    pending: dict | None = None
    error = None
    while True:
        time.sleep(every)
        try:
            wanted = {d.name: d for d in deployments(catalog_path, out_dir, build_cron)}
        except Exception as exc:  # noqa: BLE001 - a catalog being edited: keep serving
            if str(exc) != error:
                error = str(exc)
                log.error("catalog invalid, still serving the previous deployments: %s", exc)
            continue
        error = None
        if wanted == served:
            pending = None
        elif wanted != pending:
            pending = wanted  # act when the next read agrees: never on a file half written
        else:
            try:
                apply_catalog(runner, served, wanted, out_dir)
                pending = None
            except Exception:  # noqa: BLE001 - the API may be down: the next poll tries again
                log.exception("catalog changed, but its deployments could not be applied yet")


def apply_catalog(runner, served: dict, wanted: dict, out_dir: str) -> None:
    """Serve the new and changed deployments on the running ``runner``, pause removed harvests,
    and record ``wanted`` as served."""
    for name, d in wanted.items():
        if served.get(name) != d:
            future = runner.execute_in_background(runner.aadd_deployment, runner_deployment(d))
            future.result(timeout=120)
            log.warning("catalog changed: deployment %s served", name)
    pause_removed_harvests(set(wanted), out_dir)
    served.clear()
    served.update(wanted)


def pause_removed_harvests(names: set[str], out_dir: str) -> list[str]:
    """Pause the schedule of every harvest deployment of this workspace (``out_dir``) whose
    source left the catalog; their runs and history stay. Returns their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    paused = []
    flows = FlowFilter(name=FlowFilterName(any_=[harvest_source.name]))
    with get_client(sync_client=True) as client:
        offset, page = 0, 200
        while True:
            found = client.read_deployments(flow_filter=flows, limit=page, offset=offset)
            for deployment in found:
                ours = (deployment.parameters or {}).get("out_dir") == out_dir
                if ours and deployment.name not in names and not deployment.paused:
                    client.pause_deployment(deployment.id)
                    paused.append(deployment.name)
            if len(found) < page:
                break
            offset += page
    for name in paused:
        log.warning("source gone from the catalog: deployment %s paused", name)
    return paused


def runner_deployment(d: Deployment):
    """One deployment as Prefect builds it for a runner."""
    from prefect.schedules import Cron

    return d.flow.to_deployment(
        name=d.name,
        parameters=d.parameters,
        schedules=[Cron(d.cron, timezone=TIMEZONE)] if d.cron else None,
    )


def runner_deployments(
    catalog_path: str | None = None, out_dir: str = str(DEFAULT_OUT), build_cron: str = BUILD_CRON
) -> list:
    """The deployments as Prefect builds them for ``serve``."""
    return [runner_deployment(d) for d in deployments(catalog_path, out_dir, build_cron)]


def prefect_yaml(catalog_path: str | None = None, out_dir: str = str(DEFAULT_OUT)) -> str:
    """``prefect.yaml`` for a process work pool and its workers (`prefect deploy --all`)."""
    items = []
    for d in deployments(catalog_path, out_dir):
        item: dict[str, Any] = {
            "name": d.name,
            "entrypoint": d.entrypoint,
            "parameters": d.parameters,
            "work_pool": {"name": WORK_POOL},
        }
        if d.cron:
            item["schedules"] = [{"cron": d.cron, "timezone": TIMEZONE}]
        items.append(item)
    head = (
        "# Generated by `python -m flows.deployments yaml` from the catalog; do not edit.\n"
        "# export PANA_DATA_DIR=/path/to/this/repository  (for `prefect deploy` and the worker:\n"
        "# runs start there, where flows/ is and where relative catalog and out paths point)\n"
        "# prefect work-pool create pana-process --type process\n"
        "# prefect deploy --all && prefect worker start --pool pana-process\n"
    )
    body = {
        "name": "pana-data",
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $PANA_DATA_DIR }}"
                }
            }
        ],
        "deployments": items,
    }
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flows.deployments", description=__doc__)
    parser.add_argument("command", choices=("serve", "yaml"))
    parser.add_argument("--catalog", default=None, help="catalog YAML (default: the demo)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="publication folder")
    parser.add_argument("--build-cron", default=BUILD_CRON, help="when the build runs (cron)")
    parser.add_argument(
        "--watch",
        type=float,
        default=WATCH_SECONDS,
        help="seconds between checks of the catalog for changes (0: never)",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve_all(args.catalog, args.out, args.build_cron, args.watch)
    else:
        sys.stdout.write(prefect_yaml(args.catalog, args.out))


if __name__ == "__main__":
    main(sys.argv[1:])
