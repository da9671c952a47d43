"""The context every crawler receives: it fetches (politely, through the HTTP layer), archives,
reads secrets from the environment and records what the harvest downloaded.

A crawler that fetches several bodies (pages of an API) archives each one, then archives a small
JSON *manifest* naming them by hash, in order. The manifest is what the harvest returns: parsing
reads it and every part from the archive, so any version can be rebuilt from raw bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..archive import Archive, ArchivedBody
from ..catalog import SourceSpec
from ..http import Fetched, HttpClient

MANIFEST = "pana-data/manifest"


class SourceError(RuntimeError):
    """A source that cannot be harvested as declared; the message names the source."""


@dataclass
class Context:
    spec: SourceSpec
    url: str  # the source's location: its catalog url, or the kind's public endpoint
    archive: Archive
    http: HttpClient
    expect: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    downloaded: int = 0
    requests: int = 0
    not_modified: int = 0

    def secret(self, name: str) -> str:
        variable = self.spec.secrets.get(name)
        if variable is None:
            raise SourceError(f"source {self.spec.id}: no secret {name!r} declared in the catalog")
        value = self.env.get(variable, "")
        if not value:
            raise SourceError(
                f"source {self.spec.id}: environment variable {variable} (secret {name}) is not set"
            )
        return value

    def fetch(self, url: str, **options: Any) -> Fetched:
        options.setdefault("max_bytes", self.spec.max_bytes)
        fetched = self.http.fetch(self.spec.id, url, **options)
        self.requests += 1
        self.downloaded += fetched.downloaded
        self.not_modified += int(fetched.not_modified)
        return fetched

    def fetch_json(self, url: str, **options: Any) -> tuple[ArchivedBody, Any]:
        fetched = self.fetch(url, expect="json", **options)
        try:
            return fetched.body, fetched.json()
        except ValueError as exc:
            raise SourceError(f"source {self.spec.id}: {url} did not return JSON: {exc}") from exc

    def manifest(self, parts: list[ArchivedBody], **meta: Any) -> ArchivedBody:
        """Archive the ordered list of parts a harvest is made of (no times: unchanged pages
        give the same manifest)."""
        document = {
            "type": MANIFEST,
            "source_id": self.spec.id,
            "meta": meta,
            "parts": [{"url": p.url, "sha256": p.sha256, "size": p.size} for p in parts],
        }
        body = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1).encode()
        return self.archive.put(self.spec.id, f"{self.url}#manifest", body)


def object_path(body: ArchivedBody, sha256: str) -> Path:
    """Where the archive keeps object ``sha256``, next to ``body``'s own object."""
    objects = Path(body.path).parent.parent
    return objects / sha256[:2] / sha256


def manifest_parts(body: ArchivedBody) -> Iterator[tuple[str, bytes]]:
    """(url, bytes) of each part of a manifest, in order, read from the archive."""
    document = json.loads(body.read())
    if not isinstance(document, dict) or document.get("type") != MANIFEST:
        raise SourceError(
            f"source {body.source_id}: archived body {body.sha256[:12]} is not a manifest"
        )
    for part in document["parts"]:
        path = object_path(body, part["sha256"])
        if not path.exists():
            raise SourceError(
                f"source {body.source_id}: part {part['sha256'][:12]} ({part['url']}) is missing "
                "from the archive"
            )
        yield part["url"], path.read_bytes()


def manifest_meta(body: ArchivedBody) -> dict[str, Any]:
    return json.loads(body.read()).get("meta", {})


def fetch_location(ctx: Context, location: str) -> ArchivedBody:
    """The default crawl: one file (local path) or one HTTP resource, archived as it is."""
    if location.startswith(("http://", "https://")):
        return ctx.fetch(location, expect=ctx.expect).body
    path = Path(location)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=ctx.archive.tmp_dir, prefix=f".{ctx.spec.id}-")
    size = 0
    try:
        with path.open("rb") as src, os.fdopen(fd, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):  # streamed: national files are GBs
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SourceError(f"source {ctx.spec.id}: cannot read {location}: {exc}") from exc
    return ctx.archive.put_file(ctx.spec.id, path.as_uri(), Path(tmp), digest.hexdigest(), size)
