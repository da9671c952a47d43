"""Harvest: fetch a source's bytes (local file or http(s)) and archive them before anything reads
them. Parsing always reads from the archive."""

from __future__ import annotations

from pathlib import Path

import requests

from . import __version__
from .archive import Archive, ArchivedBody
from .catalog import Catalog, SourceSpec

USER_AGENT = f"pana-data/{__version__} (+https://w3id.org/pana/; open data pipeline)"
TIMEOUT = (10, 60)  # connect, read (seconds): enforced here, not by the orchestrator


class HarvestError(RuntimeError):
    """A source whose bytes could not be fetched; the message names the source and the URL."""


def harvest(spec: SourceSpec, catalog: Catalog, archive: Archive) -> ArchivedBody:
    location = catalog.location(spec)
    if location.startswith(("http://", "https://")):
        try:
            response = requests.get(location, timeout=TIMEOUT, headers={"User-Agent": USER_AGENT})
            response.raise_for_status()
        except requests.RequestException as exc:
            raise HarvestError(f"source {spec.id}: cannot fetch {location}: {exc}") from exc
        return archive.put(
            spec.id, location, response.content, response.status_code, dict(response.headers)
        )
    try:
        body = Path(location).read_bytes()
    except OSError as exc:
        raise HarvestError(f"source {spec.id}: cannot read {location}: {exc}") from exc
    return archive.put(spec.id, Path(location).as_uri(), body)
