"""The pipeline's stages as plain functions over a workspace, one call per source per stage.

harvest -> parse and validate -> load (DuckDB) -> deduplicate -> publish. Each stage reads what the
previous one wrote. ``run_pipeline`` chains them without an orchestrator; the Prefect flows in
``flows/`` wrap the same functions as tasks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archive import Archive, ArchivedBody
from .catalog import Catalog, load_catalog
from .dedup import BUNDLED_MODEL, DedupResult, Matching, deduplicate
from .dedup.judgements import load_judgements
from .harvest import harvest
from .publish import publish
from .store import connect, fetch_dicts, harvest_summaries, load_source
from .validate import parse_source, write_staged

log = logging.getLogger("pana_data")
DEFAULT_OUT = Path("published")


@dataclass(frozen=True)
class Workspace:
    """Where a run keeps its working state: ``OUT/work/`` (raw archive, staged files, DuckDB)."""

    out_dir: Path

    @property
    def work(self) -> Path:
        return self.out_dir / "work"

    @property
    def archive(self) -> Archive:
        return Archive(self.work / "raw")

    @property
    def db(self) -> Path:
        return self.work / "pana.duckdb"

    @property
    def staged(self) -> Path:
        return self.work / "staged"

    @property
    def model(self) -> Path:
        """The matching model trained on this workspace's records by `pana dedup train`."""
        return self.work / "model" / "splink.json"


def harvest_stage(catalog: Catalog, source_id: str, ws: Workspace) -> ArchivedBody:
    return harvest(catalog.source(source_id), catalog, ws.archive)


class SourceAssertionError(RuntimeError):
    """A harvest that breaks its source's declared assertions; the last good one is kept."""


class NothingToPublish(RuntimeError):
    """Every source failed in this run: publishing would repeat or empty the last version."""


def check_publishable(catalog: Catalog, failures: dict[str, str]) -> None:
    if catalog.sources and len(failures) == len(catalog.sources):
        details = "; ".join(f"{sid}: {err}" for sid, err in failures.items())
        raise NothingToPublish(f"every source failed, nothing published: {details}")


def parse_stage(catalog: Catalog, source_id: str, body: ArchivedBody, ws: Workspace) -> dict:
    spec = catalog.source(source_id)
    result = parse_source(spec, body)
    if len(result.records) < spec.min_rows:
        raise SourceAssertionError(
            f"source {source_id}: {len(result.records)} valid records of {result.rows} rows, "
            f"fewer than min_rows={spec.min_rows} (archived body {body.sha256[:12]})"
        )
    # Reports name a local file by its path in the catalog, never by this machine's path.
    url = body.url if body.url.startswith(("http://", "https://")) else spec.url
    return {"staged": write_staged(result, ws.staged), "summary": result.summary(), "url": url}


def load_stage(source_id: str, parsed: dict, body: ArchivedBody, ws: Workspace) -> None:
    con = connect(ws.db)
    try:
        load_source(con, source_id, parsed["staged"], body, parsed["summary"], parsed["url"])
    finally:
        con.close()


def matching_for(catalog: Catalog, ws: Workspace) -> Matching:
    """The workspace's own trained model if there is one, else the bundled one."""
    return Matching(
        model=ws.model if ws.model.exists() else BUNDLED_MODEL,
        judgements=load_judgements(catalog.judgements_path()),
    )


def dedup_stage(catalog: Catalog, ws: Workspace) -> DedupResult:
    con = connect(ws.db)
    try:
        known = [s.id for s in catalog.sources]
        for table in ("records", "rejects", "warnings", "harvests"):
            con.execute(f"DELETE FROM {table} WHERE NOT list_contains(?, source_id)", [known])
        return deduplicate(con, catalog.priority, matching_for(catalog, ws))
    finally:
        con.close()


def publish_stage(
    catalog: Catalog, ws: Workspace, dedup: DedupResult, failures: dict[str, str]
) -> Path:
    con = connect(ws.db)
    try:
        order = "ORDER BY source_id, record_id, field, reason"
        rejects = fetch_dicts(
            con, f"SELECT source_id, record_id, field, reason FROM rejects {order}"
        )
        warnings = fetch_dicts(
            con, f"SELECT source_id, record_id, field, reason FROM warnings {order}"
        )
        harvested = {h["source_id"]: h for h in harvest_summaries(con)}
    finally:
        con.close()
    sources: list[dict[str, Any]] = []
    for spec in catalog.sources:
        info: dict[str, Any] = {"source_id": spec.id, "title": spec.title, "kind": spec.kind}
        info.update(harvested.get(spec.id, {}))
        info.setdefault("url", spec.url)  # never harvested: the declared url
        info["licence"] = spec.licence
        if spec.id in failures:
            info["status"] = "stale" if spec.id in harvested else "failed"
            info["error"] = failures[spec.id]
        else:
            info["status"] = "ok"
        sources.append(info)
    inputs = {
        "actors": dedup.actors,
        "members": dedup.members,
        "review": dedup.review,
        "redirects": dedup.redirects,
        "provenance": dedup.provenance,
        "dedup_stats": dedup.stats,
        "rejects": rejects,
        "warnings": warnings,
        "sources": sources,
        "catalog_title": catalog.title,
        "licence": catalog.licence,
    }
    return publish(inputs, ws.out_dir)


def run_pipeline(catalog_path: str | Path | None = None, out_dir: str | Path = DEFAULT_OUT) -> Path:
    """Run every stage in this process, without an orchestrator. A failing source is reported
    and its last good harvest is used; it never stops the others."""
    catalog = load_catalog(catalog_path)
    ws = Workspace(Path(out_dir))
    failures: dict[str, str] = {}
    for spec in catalog.sources:
        try:
            body = harvest_stage(catalog, spec.id, ws)
            parsed = parse_stage(catalog, spec.id, body, ws)
            load_stage(spec.id, parsed, body, ws)
        except Exception as exc:  # noqa: BLE001 - one source's failure is reported, not raised
            log.error("source %s failed: %s", spec.id, exc)
            failures[spec.id] = f"{type(exc).__name__}: {exc}"
    check_publishable(catalog, failures)
    return publish_stage(catalog, ws, dedup_stage(catalog, ws), failures)
