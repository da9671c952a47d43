"""Versioned publication: build a release in a temporary folder, then move it into place.

``DIR/<version>/`` is never rewritten; ``DIR/versions.json`` and the ``DIR/latest`` symlink
change last, each by an atomic rename.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..schema import SCHEMA_VERSION
from .dcat import CatalogMeta, write_catalog
from .exporters import EXPORTERS, Release, sha256_of, write_datapackage

VERSIONS_FILE = "versions.json"
LATEST = "latest"


def next_version(out_dir: Path, today: dt.date | None = None) -> str:
    base = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    version, n = base, 1
    while (out_dir / version).exists():
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
    """Write every registered export of a new version; return the version folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(out_dir)
    build = out_dir / f".build-{version}-{os.getpid()}"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir()
    release = Release(version=version, folder=build, **release_inputs)
    try:
        for name, export in EXPORTERS.items():
            export.write(release)
            release.written.append(name)
        write_datapackage(release)  # last: it hashes every other file
        release.written.append("datapackage.json")
        for name in release.written:
            with (build / name).open("rb") as f:
                os.fsync(f.fileno())
        target = out_dir / version
        os.rename(build, target)
        _fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise

    versions = read_versions(out_dir)
    versions["versions"].append(
        {
            "id": version,
            "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "schema_version": SCHEMA_VERSION,
            "counts": {
                "actors": len(release.actors),
                "records": sum(len(m) for m in release.members.values()),
                "rejects": len(release.rejects),
                "warnings": len(release.warnings),
            },
            "files": {name: sha256_of(target / name) for name in sorted(release.written)},
            "sources": release.sources,
        }
    )
    versions["latest"] = version
    _atomic_write(out_dir / VERSIONS_FILE, json.dumps(versions, ensure_ascii=False, indent=2))
    _point_latest(out_dir, version)
    write_catalog(  # the DCAT-AP catalog of every version, rebuilt from what is on disk
        out_dir,
        CatalogMeta(
            title=release.catalog_title,
            publisher=release_inputs.get("catalog_publisher", "pana-data"),
            licence=release.licence,
            base_uri=release_inputs.get("base_uri", "https://w3id.org/pana/"),
            contact_email=release_inputs.get("catalog_contact_email"),
        ),
    )
    return target
