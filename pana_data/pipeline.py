"""The pipeline's stages as plain functions over a workspace, one call per source per stage.

harvest -> parse and validate -> load (DuckDB) -> geocode -> deduplicate -> enrich from the
registers -> publish. Each stage reads what the previous one wrote. ``run_pipeline`` chains them without an orchestrator; the Prefect flows in
``flows/`` wrap the same functions as tasks.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import glob
import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archive import Archive, ArchivedBody
from .catalog import Catalog, SourceSpec, load_catalog
from .dedup import BUNDLED_MODEL, DedupResult, Matching, deduplicate
from .dedup.judgements import load_judgements
from .geocode import geocode_records
from .harvest import Harvest, harvest
from .http import HttpClient
from .publish import publish
from .publish.files import atomic_write
from .publish.versions import read_versions
from .registers import drop_register, enrich, load_register, register_tables, stage_register
from .runs import rejects_by_reason
from .schema import SourceRecord
from .sources import code_matches, parse_kind
from .store import connect, fetch_dicts, harvest_summaries, load_source
from .validate import Issue, parse_source, write_staged

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
    def last_run(self) -> Path:
        """The last run's sources (status, rows, bytes downloaded) and the version it left
        latest, written even when no new version was needed."""
        return self.work / "last_run.json"

    @property
    def outcomes(self) -> Path:
        """Each source's last harvest outcome (``<id>.json``), which a separate build reads."""
        return self.work / "outcomes"

    @contextmanager
    def store_lock(self) -> Iterator[None]:
        """One writer of the DuckDB store at a time, across processes: harvests deployed apart
        may load at the same moment as a build."""
        self.work.mkdir(parents=True, exist_ok=True)
        with (self.work / ".store.lock").open("a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @property
    def model(self) -> Path:
        """The matching model trained on this workspace's records by `pana dedup train`."""
        return self.work / "model" / "splink.json"


def record_outcome(ws: Workspace, source_id: str, error: str | None) -> None:
    """What the last harvest of a source gave: ok, or failed with its error."""
    ws.outcomes.mkdir(parents=True, exist_ok=True)
    outcome = {
        "source_id": source_id,
        "status": "failed" if error else "ok",
        "error": error,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    atomic_write(ws.outcomes / f"{source_id}.json", json.dumps(outcome, ensure_ascii=False))


def recorded_failures(catalog: Catalog, ws: Workspace) -> dict[str, str]:
    """The sources that cannot count as harvested, with the reason: their last harvest failed,
    or the store holds no harvest of theirs (whatever an outcome file says). A source harvested
    before outcomes were kept counts as harvested. Read under the store lock."""
    con = connect(ws.db)
    try:
        stored = {h["source_id"] for h in harvest_summaries(con)}
    finally:
        con.close()
    failures = {}
    for spec in catalog.sources:
        path = ws.outcomes / f"{spec.id}.json"
        outcome = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        if outcome and outcome["status"] != "ok":
            failures[spec.id] = outcome["error"]
        elif spec.id not in stored:
            failures[spec.id] = "no harvest of this source in the workspace's store"
    return failures


def harvest_stage(
    catalog: Catalog, source_id: str, ws: Workspace, throttle: Callable[[str], Any] | None = None
) -> Harvest:
    return harvest(catalog.source(source_id), catalog, ws.archive, throttle)


class SourceAssertionError(RuntimeError):
    """A harvest that breaks its source's declared assertions; the last good one is kept."""


class NothingToPublish(RuntimeError):
    """Every source failed in this run: publishing would repeat or empty the last version."""


def check_publishable(catalog: Catalog, failures: dict[str, str]) -> None:
    if catalog.sources and len(failures) == len(catalog.sources):
        details = "; ".join(f"{sid}: {err}" for sid, err in failures.items())
        raise NothingToPublish(f"every source failed, nothing published: {details}")


def check_assertions(
    spec: SourceSpec,
    count: int,
    filled: dict[str, float],
    body: ArchivedBody,
    what: str,
    rows: int | None = None,
) -> None:
    """Raise when a harvest breaks the source's declared assertions (all of them are named)."""
    rules = spec.assertions
    broken = []
    counted = f"{count} {what}" + (f" of {rows} rows" if rows is not None else "")
    if count < rules.min_records:
        broken.append(f"{counted}, fewer than min_records={rules.min_records}")
    if rules.max_records is not None and count > rules.max_records:
        broken.append(f"{counted}, more than max_records={rules.max_records}")
    for name, ratio in sorted(rules.filled.items()):
        if filled.get(name, 0.0) < ratio:
            broken.append(
                f"{name} filled in {filled.get(name, 0.0):.0%} of {what}, under {ratio:.0%}"
            )
    if broken:
        raise SourceAssertionError(
            f"source {spec.id}: " + "; ".join(broken) + f" (archived body {body.sha256[:12]})"
        )


def _filled(records: list, names: dict[str, float], source_id: str) -> dict[str, float]:
    unknown = sorted(set(names) - set(SourceRecord.model_fields))
    if unknown:
        raise SourceAssertionError(
            f"source {source_id}: assertions.filled names no schema field: {', '.join(unknown)}"
        )
    total = max(len(records), 1)
    return {
        name: sum(1 for r in records if getattr(r, name) not in (None, "", [])) / total
        for name in names
    }


def parse_stage(catalog: Catalog, source_id: str, harvested: Harvest, ws: Workspace) -> dict:
    """Validate a harvest into staged files for the load. Their names carry a token of this
    parse, so that two runs of one source never mix; a failed parse leaves none behind."""
    token = uuid.uuid4().hex[:12]
    try:
        return {**_parse(catalog, source_id, harvested, ws, token), "token": token}
    except BaseException:
        _discard_staged(ws, source_id, token)
        raise


def _discard_staged(ws: Workspace, source_id: str, token: str) -> None:
    """Remove the staged files of one parse (records, rejects, warnings, register Parquet)."""
    for path in ws.staged.glob(f"{glob.escape(source_id)}.{token}.*"):
        path.unlink(missing_ok=True)


STAGED_MAX_AGE = 86400  # seconds: older staged files were left by a killed run


def sweep_staged(ws: Workspace, max_age: float = STAGED_MAX_AGE) -> list[Path]:
    """Remove what killed runs left in the staging folder (files and temporary folders older
    than ``max_age``); returns what was removed. A build calls it under the store lock."""
    if not ws.staged.is_dir():
        return []
    limit = time.time() - max_age
    removed = []
    for path in ws.staged.iterdir():
        try:
            old = path.lstat().st_mtime < limit
        except FileNotFoundError:  # a load removing its own files meanwhile
            continue
        if old:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _parse(catalog: Catalog, source_id: str, harvested: Harvest, ws: Workspace, token: str) -> dict:
    spec = catalog.source(source_id)
    body = harvested.body
    reader = parse_kind(spec)
    register = None
    if reader.register is not None:
        staged = stage_register(spec, reader.register, body, ws.staged, token)
        result = staged.result
        if staged.rejected:
            result.warnings.append(
                Issue(
                    spec.id,
                    "*",
                    "row",
                    f"{staged.rejected} malformed rows skipped; the "
                    f"archived file {body.sha256[:12]} keeps them",
                )
            )
        check_assertions(spec, staged.entries, staged.filled, body, "register entries")
        register = str(staged.parquet)
        counts = {"entries": staged.entries}
    else:
        result = parse_source(spec, body)
        filled = _filled(result.records, spec.assertions.filled, spec.id)
        check_assertions(spec, len(result.records), filled, body, "valid records", result.rows)
        counts = {}
    summary = {
        **result.summary(),
        **counts,
        "downloaded": harvested.downloaded,
        "requests": harvested.requests,
        "not_modified": harvested.not_modified,
    }
    # Reports name a local file by its path in the catalog, never by this machine's path.
    if body.url.startswith(("http://", "https://")):
        url = body.url.removesuffix("#manifest")
    else:
        url = spec.url
    return {
        "staged": write_staged(result, ws.staged, token),
        "summary": summary,
        "url": url,
        "register": register,
    }


def load_stage(source_id: str, parsed: dict, harvested: Harvest, ws: Workspace) -> None:
    try:
        with ws.store_lock():
            _load(source_id, parsed, harvested, ws)
            record_outcome(ws, source_id, None)  # under the lock: a build sees both or neither
    finally:  # staged files serve one load; the archive keeps the raw bytes to parse again
        _discard_staged(ws, source_id, parsed["token"])


def _load(source_id: str, parsed: dict, harvested: Harvest, ws: Workspace) -> None:
    con = connect(ws.db)
    try:
        parquet = parsed.get("register")
        load_source(
            con,
            source_id,
            parsed["staged"],
            harvested.body,
            parsed["summary"],
            parsed["url"],
            register=(lambda c: load_register(c, source_id, parquet)) if parquet else None,
        )
    finally:
        con.close()


def geocode_stage(catalog: Catalog, ws: Workspace) -> dict[str, Any]:
    """Geocode records without coordinates, when the catalog asks for it. A failure is reported,
    never raised: records keep what they had and the run goes on."""
    if catalog.geocoding is None:
        return {"status": "off"}
    con = connect(ws.db)
    try:
        with HttpClient(ws.archive) as http:
            return {"status": "ok", **geocode_records(con, http, catalog.geocoding)}
    except Exception as exc:  # noqa: BLE001 - geocoding never blocks a publication
        log.error("geocoding failed: %s", exc)
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
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
        registers = {s.id for s in catalog.sources if _is_register(s)}
        for source_id in register_tables(con):
            if source_id not in registers:  # gone from the catalog, or no longer a register
                drop_register(con, source_id)
        return deduplicate(con, catalog.priority, matching_for(catalog, ws))
    finally:
        con.close()


def _is_register(spec: SourceSpec) -> bool:
    try:
        return parse_kind(spec).register is not None
    except KeyError:  # an unknown kind: its source failed and is reported
        return False


def enrich_stage(catalog: Catalog, ws: Workspace, dedup: DedupResult) -> DedupResult:
    """Registers fill crosswalks, legal names and closures of the deduplicated actors."""
    con = connect(ws.db)
    try:
        result = enrich(con, dedup.actors, [s.id for s in catalog.sources])
    finally:
        con.close()
    return DedupResult(
        result.actors,
        dedup.members,
        dedup.review,
        {**dedup.stats, "registers": result.stats},
        dedup.redirects,
        sorted(
            dedup.provenance + result.provenance,
            key=lambda p: (p["actor_id"], p["field"], p["source_id"], p["record_id"]),
        ),
    )


def publish_stage(
    catalog: Catalog,
    ws: Workspace,
    dedup: DedupResult,
    failures: dict[str, str],
    geocoding: dict[str, Any] | None = None,
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
    latest_before = read_versions(ws.out_dir).get("latest")
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
        "geocoding": geocoding or {"status": "off"},
        "base_uri": catalog.base_uri,
        "catalog_publisher": catalog.publisher,
        "catalog_contact_email": catalog.contact_email,
        "code_matches": code_matches(),
    }
    version = publish(inputs, ws.out_dir)
    reasons = rejects_by_reason(rejects)
    for info in sources:
        info["rejects_by_reason"] = reasons.get(info["source_id"], {})
    run = {
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": version.name,
        "new_version": version.name != latest_before,
        "sources": sources,
    }
    atomic_write(ws.last_run, json.dumps(run, ensure_ascii=False, indent=2, default=str))
    return version


def run_pipeline(catalog_path: str | Path | None = None, out_dir: str | Path = DEFAULT_OUT) -> Path:
    """Run every stage in this process, without an orchestrator. A failing source is reported
    and its last good harvest is used; it never stops the others."""
    catalog = load_catalog(catalog_path)
    ws = Workspace(Path(out_dir))
    for spec in catalog.sources:
        try:
            harvest_one(catalog, spec.id, ws)
        except Exception as exc:  # noqa: BLE001 - one source's failure is reported, not raised
            log.error("source %s failed: %s", spec.id, exc)
    return build_stage(catalog, ws)


def harvest_one(catalog: Catalog, source_id: str, ws: Workspace) -> None:
    """Harvest, validate and load one source, and keep its outcome; raise when it fails."""
    try:
        harvested = harvest_stage(catalog, source_id, ws)
        load_stage(source_id, parse_stage(catalog, source_id, harvested, ws), harvested, ws)
    except Exception as exc:
        record_outcome(ws, source_id, f"{type(exc).__name__}: {exc}")
        raise


def build_stage(catalog: Catalog, ws: Workspace) -> Path:
    """Geocode, deduplicate, enrich and publish from what the sources' last harvests left."""
    with ws.store_lock():
        sweep_staged(ws)
        failures = recorded_failures(catalog, ws)
        check_publishable(catalog, failures)
        geocoding = geocode_stage(catalog, ws)
        dedup = enrich_stage(catalog, ws, dedup_stage(catalog, ws))
        return publish_stage(catalog, ws, dedup, failures, geocoding)
