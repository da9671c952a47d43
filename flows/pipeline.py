"""The flows: ``harvest_source`` (one source: harvest, parse, load), ``build`` (geocode,
deduplicate, enrich from the registers, publish, report) and ``pipeline`` (every source
concurrently, then the build). Tasks are thin wrappers over ``pana_data.pipeline``; records are
processed inside tasks, never one task per record. Each source's outcome is kept in the
workspace, so a build deployed apart knows which sources failed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import rate_limit

from pana_data import pipeline as lib
from pana_data import runs
from pana_data.catalog import Catalog, load_catalog
from pana_data.harvest import Harvest

RETRY_DELAYS = [60, 120]  # seconds before the two later tries (jittered)


def _transient(task, task_run, state) -> bool:
    """Retry a harvest only when trying again may help (``HarvestError.retryable``), and not
    when the server asked to wait longer than the retries would (the next schedule will do)."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the failure being judged
        wait = getattr(exc, "retry_after", None)
        if wait is not None and wait > RETRY_DELAYS[-1]:
            return False
        return bool(getattr(exc, "retryable", False))
    return False


@task(
    task_run_name="harvest-{source_id}",
    # On top of the HTTP client's own retries (seconds apart), two later tries, minutes apart.
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=0.5,
    retry_condition_fn=_transient,
)
def fetch(catalog: Catalog, source_id: str, ws: lib.Workspace) -> Harvest:
    return lib.harvest_stage(catalog, source_id, ws, throttle=api_rate_limit)


def api_rate_limit(host: str) -> None:
    """Every request takes a slot of the Prefect rate limit ``api-<host>`` when maintainers have
    created one (``prefect gcl create api-recherche-entreprises-api-gouv-fr --limit 7
    --slot-decay-per-second 7``), so that harvests in separate processes share it. Whether the
    limit exists is asked once per host and process; an API in trouble never fails a harvest."""
    name = f"api-{_key(host)}"
    if name not in _LIMITS:
        _LIMITS[name] = _limit_exists(name)
    if _LIMITS[name]:
        try:
            rate_limit(name, strict=True)
        except Exception as exc:  # noqa: BLE001 - the HTTP layer's own rates still hold
            get_run_logger().warning("rate limit %s unavailable: %s", name, exc)
            _LIMITS[name] = False


_LIMITS: dict[str, bool] = {}


def _limit_exists(name: str) -> bool:
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(name)
        return True
    except Exception:  # noqa: BLE001 - absent, or no API: the HTTP layer's rates apply
        return False


# Staged files serve one load and are removed by it: never a cached parse, never a second load.
@task(task_run_name="parse-{source_id}", cache_policy=NO_CACHE)
def parse(catalog: Catalog, source_id: str, body: Harvest, ws: lib.Workspace) -> dict:
    return lib.parse_stage(catalog, source_id, body, ws)


@task(task_run_name="load-{source_id}", retries=0)
def load(source_id: str, parsed: dict, body: Harvest, ws: lib.Workspace) -> None:
    lib.load_stage(source_id, parsed, body, ws)


@task
def geocode(catalog: Catalog, ws: lib.Workspace) -> dict:
    return lib.geocode_stage(catalog, ws)


@task
def deduplicate(catalog: Catalog, ws: lib.Workspace) -> lib.DedupResult:
    return lib.dedup_stage(catalog, ws)


@task
def enrich(catalog: Catalog, ws: lib.Workspace, dedup: lib.DedupResult) -> lib.DedupResult:
    return lib.enrich_stage(catalog, ws, dedup)


@task
def publish(
    catalog: Catalog, ws: lib.Workspace, dedup: lib.DedupResult, failures: dict, geocoding: dict
) -> str:
    return str(lib.publish_stage(catalog, ws, dedup, failures, geocoding))


@task
def report(ws: lib.Workspace, version: str) -> None:
    """The run's artifacts: one report per source, the actors changed, the version's link."""
    run = json.loads(ws.last_run.read_text(encoding="utf-8"))
    for source in run["sources"]:
        create_markdown_artifact(
            runs.source_markdown(source),
            key=f"source-{_key(source['source_id'])}",
            description=f"{source['source_id']}: {runs.outcome(source)}",
        )
    create_table_artifact(
        runs.change_rows(Path(version), run["new_version"]),
        key="actor-changes",
        description="Actors added, modified or deleted by this run"
        + ("" if run["new_version"] else " (none: no new version)"),
    )
    create_link_artifact(
        Path(version).resolve().as_uri(),
        link_text=f"version {run['version']}",
        key="published-version",
        description="The latest published version",
    )


def _key(text: str) -> str:
    """An artifact key: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "source"


def notify_failure(flow, flow_run, state) -> None:
    """``on_failure`` hook: POST the failure to ``PANA_WEBHOOK_URL`` when it is set."""
    url = os.environ.get("PANA_WEBHOOK_URL")
    if not url:
        return
    payload = {"flow": flow.name, "flow_run": flow_run.name, "flow_run_id": str(flow_run.id),
               "state": state.name, "message": state.message}  # fmt: skip
    try:
        runs.post_webhook(url, payload)
    except Exception as exc:  # noqa: BLE001 - a broken webhook must not hide the failure
        # Webhook URLs often carry their secret: name the host only.
        host = urlsplit(url).hostname
        get_run_logger().error("webhook to %s failed: %s", host, type(exc).__name__)


def record_crash(flow, flow_run, state) -> None:
    """``on_crashed`` hook of ``harvest_source``: a harvest whose process died (killed, out of
    memory) never reached its own ``record_outcome``; without this the next build would count
    the source's previous outcome, and call it ok rather than stale."""
    params = flow_run.parameters or {}
    ws = lib.Workspace(Path(params.get("out_dir") or lib.DEFAULT_OUT))
    with ws.store_lock():
        lib.record_outcome(ws, params["source_id"], f"crashed: {state.message}")


@flow(
    name="pana-harvest-source",
    on_failure=[notify_failure],
    on_crashed=[record_crash, notify_failure],
)
def harvest_source(
    source_id: str, catalog_path: str | None = None, out_dir: str = str(lib.DEFAULT_OUT)
) -> str:
    """Harvest, validate and load one source; its outcome is kept for the next build. The run
    fails when the source does, which the build then reports (its last good harvest is used)."""
    catalog = load_catalog(catalog_path)
    ws = lib.Workspace(Path(out_dir))
    try:
        body = fetch(catalog, source_id, ws)
        load(source_id, parse(catalog, source_id, body, ws), body, ws)
    except Exception as exc:
        lib.record_outcome(ws, source_id, f"{type(exc).__name__}: {exc}")
        raise
    return "ok"  # the load recorded the outcome, under the store lock


@flow(name="pana-build", on_failure=[notify_failure], on_crashed=[notify_failure])
def build(catalog_path: str | None = None, out_dir: str = str(lib.DEFAULT_OUT)) -> str:
    """Geocode, deduplicate, enrich and publish from the sources' last harvests, then report."""
    return _build(load_catalog(catalog_path), lib.Workspace(Path(out_dir)))


def _build(catalog: Catalog, ws: lib.Workspace) -> str:
    with ws.store_lock():  # harvests deployed apart wait while the store is read and updated
        lib.sweep_staged(ws)
        failures = lib.recorded_failures(catalog, ws)
        lib.check_publishable(catalog, failures)
        geocoding = geocode(catalog, ws)
        dedup = enrich(catalog, ws, deduplicate(catalog, ws))
        version = publish(catalog, ws, dedup, failures, geocoding)
        report(ws, version)  # this build's last_run.json, before another build replaces it
    get_run_logger().info("latest version: %s", version)
    return version


@flow(name="pana-pipeline", on_failure=[notify_failure], on_crashed=[notify_failure])
def pipeline(catalog_path: str | None = None, out_dir: str = str(lib.DEFAULT_OUT)) -> str:
    """Harvest every source concurrently, load what succeeded, deduplicate, publish a version.

    A failing source is logged and reported; its last good harvest is used and it never stops
    the others."""
    logger = get_run_logger()
    catalog = load_catalog(catalog_path)
    ws = lib.Workspace(Path(out_dir))
    fetched = {s.id: fetch.submit(catalog, s.id, ws) for s in catalog.sources}
    parsed = {sid: parse.submit(catalog, sid, future, ws) for sid, future in fetched.items()}
    for sid, future in parsed.items():
        try:
            body = fetched[sid].result()  # first: a failed harvest's own error
            load(sid, future.result(), body, ws)
        except Exception as exc:  # noqa: BLE001 - reported per source, never raised
            logger.error("source %s failed: %s", sid, exc)
            lib.record_outcome(ws, sid, f"{type(exc).__name__}: {exc}")
    return _build(catalog, ws)
