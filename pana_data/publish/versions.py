"""Versioned publication: build a release in a temporary folder, check it, then move it into
place.

``DIR/<version>/`` is never rewritten; ``DIR/versions.json`` and the ``DIR/latest`` symlink
change last, each by an atomic rename, so a publisher killed at any moment leaves the previous
latest intact. One publisher at a time (a lock on ``DIR/.lock``); a release whose content equals
the latest version's makes no new version.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..schema import SCHEMA_VERSION, Actor
from .changes import read_actors
from .dcat import CatalogMeta, write_catalog
from .exporters import EXPORTERS, Release, actor_rows, sha256_of, write_datapackage
from .files import atomic_write

log = logging.getLogger("pana_data")
VERSIONS_FILE = "versions.json"
LATEST = "latest"
LOCK = ".lock"


class PublishError(RuntimeError):
    """A release that cannot be published: another publisher at work, or a failed check."""


@contextmanager
def publishing_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` or fail at once: two publishers would race for the version id."""
    with (out_dir / LOCK).open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishError(f"another publisher holds {out_dir / LOCK}") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# Inputs that describe a run rather than the content: a new harvest of the same data, a source
# falling back on its last good harvest, or geocoding answered from the cache make no version.
NOT_CONTENT = ("actors", "sources", "geocoding", "dedup_stats")


def content_sha256(inputs: dict, rows: list[dict[str, Any]]) -> str:
    """The canonical content of a release: its actors (``rows``, as ``actors.json`` holds
    them) and every other input that reaches a file (records, absorbed ids, rejects, warnings,
    review, provenance, base URI, licence, catalog metadata), with the schema version and the
    list of exporters."""
    canonical = {k: v for k, v in inputs.items() if k not in NOT_CONTENT}
    canonical.update(schema=SCHEMA_VERSION, exporters=sorted(EXPORTERS), actors=rows)
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def next_version(out_dir: Path, today: dt.date | None = None) -> str:
    """Today's date, with a suffix (-2, -3…) after the first version of a day."""
    base = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    taken = {v["id"] for v in read_versions(out_dir)["versions"]}
    version, n = base, 1
    while (
        (out_dir / version).exists()
        or (out_dir / f".orphan-{version}").exists()
        or (version in taken)
    ):
        n += 1
        version = f"{base}-{n}"
    return version


def read_versions(out_dir: Path) -> dict[str, Any]:
    path = out_dir / VERSIONS_FILE
    if not path.exists():
        return {"latest": None, "versions": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_latest(out_dir: Path, version: str) -> None:
    tmp = out_dir / f".{LATEST}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(version, target_is_directory=True)
    os.replace(tmp, out_dir / LATEST)
    _fsync_dir(out_dir)


def publish(release_inputs: dict[str, Any], out_dir: str | Path) -> Path:
    """Write every registered export of a new version and return its folder; when the content
    equals the latest version's, write nothing and return the latest version's folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with publishing_lock(out_dir):
        _remove_leftovers(out_dir)
        if not (out_dir / VERSIONS_FILE).exists():  # a first publication: listed from the start
            atomic_write(out_dir / VERSIONS_FILE, json.dumps({"latest": None, "versions": []}))
        versions = read_versions(out_dir)
        rows = actor_rows(release_inputs["actors"])
        digest = content_sha256(release_inputs, rows)
        latest = versions.get("latest")
        entry = next((v for v in versions["versions"] if v["id"] == latest), None)
        if entry and entry.get("content_sha256") == digest:
            log.info("content unchanged since %s: no new version", latest)
            _finish(out_dir, latest, release_inputs, repair=True)
            return out_dir / latest
        return _publish(release_inputs, out_dir, versions, digest, rows)


VERSION_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:-(\d+))?$")


def _order(version: str) -> tuple[str, int]:
    """A version id as (date, number): ``2026-11-27-10`` comes after ``2026-11-27-9``."""
    date, n = VERSION_ID.match(version).groups()
    return date, int(n or 1)


def _remove_leftovers(out_dir: Path) -> None:
    """What a killed publisher left (under the lock, no publisher is at work): build folders
    and temporary files are removed; a version folder moved into place but never listed in
    versions.json (a version exists once listed) is set aside as ``.orphan-<id>``, its id kept
    from reuse. Only folders newer than the latest listed version can be such leftovers."""
    versions = read_versions(out_dir)
    folders = [p for p in out_dir.iterdir() if VERSION_ID.match(p.name) and p.is_dir()]
    if folders and not (out_dir / VERSIONS_FILE).exists():
        raise PublishError(
            f"{out_dir} holds version folders but no {VERSIONS_FILE}: restore it before publishing"
        )
    listed = {v["id"] for v in versions["versions"]}
    newest = max((_order(v) for v in listed), default=("", 0))
    for path in out_dir.iterdir():
        if path.name.startswith(".build-"):
            shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                log.warning("%s could not be removed: is a process still writing in it?", path)
        elif path in folders and path.name not in listed and _order(path.name) > newest:
            log.warning("setting %s aside: an interrupted publication never listed it", path)
            os.replace(path, out_dir / f".orphan-{path.name}")
        elif path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)


def _finish(out_dir: Path, version: str, inputs: dict[str, Any], repair: bool = False) -> None:
    """After versions.json names ``version`` latest: the ``latest`` symlink, then the DCAT
    catalog. With ``repair``, only what a publisher killed after versions.json left behind."""
    link = out_dir / LATEST
    if not repair or not link.is_symlink() or os.readlink(link) != version:
        _point_latest(out_dir, version)
    catalog = out_dir / "catalog.ttl"
    stale = not catalog.exists() or (
        catalog.stat().st_mtime < (out_dir / VERSIONS_FILE).stat().st_mtime
    )
    if not repair or stale:
        write_catalog(  # the DCAT-AP catalog of every version, rebuilt from what is on disk
            out_dir,
            CatalogMeta(
                title=inputs.get("catalog_title", "Catalogue PANA"),
                publisher=inputs.get("catalog_publisher", "pana-data"),
                licence=inputs.get("licence", "etalab-2.0"),
                base_uri=inputs.get("base_uri", "https://w3id.org/pana/"),
                contact_email=inputs.get("catalog_contact_email"),
            ),
        )


def _publish(
    inputs: dict[str, Any], out_dir: Path, versions: dict, digest: str, rows: list[dict]
) -> Path:
    version = next_version(out_dir)
    build = out_dir / f".build-{version}-{os.getpid()}"
    build.mkdir()
    previous = versions.get("latest")
    release = Release(
        version=version,
        folder=build,
        previous_version=previous,
        previous_actors=read_actors(out_dir / previous) if previous else {},
        _rows=rows,
        **inputs,
    )
    try:
        for name, export in EXPORTERS.items():
            export.write(release)
            release.written.append(name)
        package = write_datapackage(release)  # last: it hashes every other file
        release.written.append("datapackage.json")
        _check(release, package)
        for name in release.written:
            with (build / name).open("rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(build)
        target = out_dir / version
        os.rename(build, target)
        _fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise

    hashes = {r["path"]: r["hash"].removeprefix("sha256:") for r in package["resources"]}
    hashes["datapackage.json"] = sha256_of(target / "datapackage.json")
    versions["versions"].append(
        {
            "id": version,
            "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "schema_version": SCHEMA_VERSION,
            "content_sha256": digest,
            "previous": previous,
            "counts": {
                "actors": len(release.actors),
                "records": sum(len(m) for m in release.members.values()),
                "rejects": len(release.rejects),
                "warnings": len(release.warnings),
                "changes": {op: sum(c["op"] == op for c in release.changes())
                            for op in ("ADD", "MOD", "DEL")},
            },
            "files": dict(sorted(hashes.items())),
            "sources": release.sources,
        }
    )  # fmt: skip
    versions["latest"] = version
    atomic_write(out_dir / VERSIONS_FILE, json.dumps(versions, ensure_ascii=False, indent=2))
    _finish(out_dir, version, inputs)
    return target


def _check(release: Release, package: dict[str, Any]) -> None:
    """Before a version is moved into place: every export written and described with its size,
    the actors file following the schema's columns with one row per actor."""
    folder = release.folder
    described = {r["path"]: r for r in package["resources"]}
    for name in release.written[:-1]:
        resource = described.get(name)
        if resource is None or (folder / name).stat().st_size != resource["bytes"]:
            raise PublishError(f"{release.version}: {name} does not match datapackage.json")
    with (folder / "actors.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = sum(1 for _ in reader)
    if header != Actor.columns():
        raise PublishError(f"{release.version}: actors.csv columns are not the schema's")
    if rows != len(release.actors):
        raise PublishError(
            f"{release.version}: actors.csv has {rows} rows for {len(release.actors)} actors"
        )
