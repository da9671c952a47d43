"""Deployments, generated from the catalog: one ``harvest_source`` deployment per source on the
schedule its ``frequency`` declares (no flow written per source), a daily ``build`` after the
harvests, and the whole ``pipeline`` on demand. The same list feeds ``make serve`` and
``prefect.yaml``; a test checks every deployment's parameters against its flow's signature.

    python -m flows.deployments serve [--catalog FILE] [--out DIR]  # serve, with schedules
    python -m flows.deployments yaml [--catalog FILE] [--out DIR]   # print prefect.yaml
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flows.pipeline import build, harvest_source, pipeline
from pana_data.catalog import DEMO_CATALOG, CatalogError, load_catalog
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

    Every ``watch`` seconds the catalog is read again; when it changed and is valid, the process
    restarts itself to serve the new list (a source added gets its harvest deployment, a source
    removed has its schedule paused). Runs in progress go on: each is its own subprocess."""
    from prefect import serve

    found = runner_deployments(catalog_path, out_dir, build_cron)
    pause_removed_harvests({d.name for d in found})
    if watch:
        threading.Thread(
            target=restart_on_change, args=(catalog_path, watch), daemon=True, name="catalog-watch"
        ).start()
    serve(*found)


def restart_on_change(catalog_path: str | None, every: float) -> None:
    """Poll the catalog's bytes; on a valid change, replace this process with a fresh
    ``serve`` of the same arguments. An invalid catalog is logged and the current deployments
    stay served, so a typo never stops the schedules."""
    path = Path(catalog_path) if catalog_path else DEMO_CATALOG
    seen = _fingerprint(path)
    while True:
        time.sleep(every)
        now = _fingerprint(path)
        if now == seen:
            continue
        seen = now
        try:
            load_catalog(catalog_path)
        except CatalogError as exc:
            log.error(
                "catalog %s changed but is invalid, still serving the previous one: %s", path, exc
            )
            continue
        log.warning("catalog %s changed: restarting to serve its deployments", path)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.execv(sys.executable, [sys.executable, "-m", "flows.deployments", *sys.argv[1:]])


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def pause_removed_harvests(names: set[str]) -> list[str]:
    """Pause the schedule of every harvest deployment whose source left the catalog (its runs
    and history stay); returns their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    paused = []
    with get_client(sync_client=True) as client:
        flows = FlowFilter(name=FlowFilterName(any_=[harvest_source.name]))
        for deployment in client.read_deployments(flow_filter=flows):
            if deployment.name not in names and not deployment.paused:
                client.pause_deployment(deployment.id)
                paused.append(deployment.name)
    for name in paused:
        log.warning("source gone from the catalog: deployment %s paused", name)
    return paused


def runner_deployments(
    catalog_path: str | None = None, out_dir: str = str(DEFAULT_OUT), build_cron: str = BUILD_CRON
) -> list:
    """The deployments as Prefect builds them for ``serve``."""
    from prefect.schedules import Cron

    return [
        d.flow.to_deployment(
            name=d.name,
            parameters=d.parameters,
            schedules=[Cron(d.cron, timezone=TIMEZONE)] if d.cron else None,
        )
        for d in deployments(catalog_path, out_dir, build_cron)
    ]


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
