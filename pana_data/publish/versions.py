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


def content_sha256(inputs: dict, rows: list[dict[str, Any]]) -> str:
    """The canonical content of a release: its actors (``rows``, as ``actors.json`` holds
    them), their records, absorbed ids and rejects. Harvest dates and other metadata are not
    content."""
    canonical = {
        "schema": SCHEMA_VERSION,
        "actors": rows,
        "members": {k: sorted(map(list, v)) for k, v in sorted(inputs["members"].items())},
        "redirects": sorted((r["old_id"], r["new_id"]) for r in inputs.get("redirects", [])),
        "rejects": sorted(
            json.dumps(r, sort_keys=True, default=str) for r in inputs.get("rejects", [])
        ),
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def next_version(out_dir: Path, today: dt.date | None = None) -> str:
    """Today's date, with a suffix (-2, -3…) after the first version of a day."""
    base = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    taken = {v["id"] for v in read_versions(out_dir)["versions"]}
    version, n = base, 1
    while (out_dir / version).exists() or version in taken:
        n += 1
        version = f"{base}-{n}"
    return version


def read_versions(out_dir: Path) -> dict[str, Any]:
    path = out_dir / VERSIONS_FILE
    if not path.exists():
        return {"latest": None, "versions": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        versions = read_versions(out_dir)
        rows = actor_rows(release_inputs["actors"])
        digest = content_sha256(release_inputs, rows)
        latest = versions.get("latest")
        entry = next((v for v in versions["versions"] if v["id"] == latest), None)
        if entry and entry.get("content_sha256") == digest:
            log.info("content unchanged since %s: no new version", latest)
            return out_dir / latest
        return _publish(release_inputs, out_dir, versions, digest, rows)


VERSION_ID = re.compile(r"^\d{4}-\d{2}-\d{2}(-\d+)?$")


def _remove_leftovers(out_dir: Path) -> None:
    """What a killed publisher left: a build folder, temporary files, or a version folder moved
    into place but never listed in versions.json (a version exists once listed). Under the
    lock, no publisher is at work."""
    listed = {v["id"] for v in read_versions(out_dir)["versions"]}
    for path in out_dir.iterdir():
        if path.name.startswith(".build-") or (
            VERSION_ID.match(path.name) and path.is_dir() and path.name not in listed
        ):
            log.warning("removing %s, left by an interrupted publication", path)
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)


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
    _atomic_write(out_dir / VERSIONS_FILE, json.dumps(versions, ensure_ascii=False, indent=2))
    _point_latest(out_dir, version)
    write_catalog(  # the DCAT-AP catalog of every version, rebuilt from what is on disk
        out_dir,
        CatalogMeta(
            title=release.catalog_title,
            publisher=inputs.get("catalog_publisher", "pana-data"),
            licence=release.licence,
            base_uri=inputs.get("base_uri", "https://w3id.org/pana/"),
            contact_email=inputs.get("catalog_contact_email"),
        ),
    )
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
