"""Harvest: fetch a source's bytes through its kind's crawler (or as one file / one HTTP
resource) and archive them before anything reads them. Parsing always reads from the archive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .archive import Archive, ArchivedBody
from .catalog import Catalog, SourceSpec
from .http import HttpClient, HttpError
from .sources import check_spec, get_kind
from .sources.context import Context, SourceError, fetch_location


class HarvestError(RuntimeError):
    """A source whose bytes could not be fetched; the message names the source and the URL.
    ``retryable``: a later try may succeed (a server error, a timeout, a refused connection),
    where a 404, a refused token or malformed data will not."""

    def __init__(self, message: str, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked to wait, if it said


@dataclass(frozen=True)
class Harvest:
    """What a harvest archived (the data body or a manifest of parts) and what it cost."""

    body: ArchivedBody
    downloaded: int = 0
    requests: int = 0
    not_modified: int = 0


def harvest(
    spec: SourceSpec,
    catalog: Catalog,
    archive: Archive,
    throttle: Callable[[str], Any] | None = None,
) -> Harvest:
    """Fetch a source into the archive. ``throttle(host)`` is called before each request: the
    flows use it for rate limits shared by every process."""
    problems = check_spec(spec)
    if problems:
        raise HarvestError("; ".join(problems))
    kind = get_kind(spec.kind)
    location = catalog.location(spec, kind.default_url)
    expect = kind.expect or (spec.format if spec.kind == "table" else None)
    with HttpClient(archive, rate=spec.rate_limit, throttle=throttle) as http:
        ctx = Context(spec, location, archive, http, expect=expect)
        try:
            body = kind.crawl(ctx) if kind.crawl else fetch_location(ctx, location)
        except (HttpError, SourceError) as exc:
            retryable = getattr(exc, "retryable", False)
            wait = getattr(exc, "retry_after", None)
            raise HarvestError(f"source {spec.id}: {exc}", retryable, wait) from exc
    return Harvest(body, ctx.downloaded, ctx.requests, ctx.not_modified)
