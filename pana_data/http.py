"""A polite, resumable HTTP layer over ``requests``: one session per client, timeouts on every
request, retries with exponential backoff and full jitter (honouring ``Retry-After``), a per-host
rate limit shared by the whole process, streaming to disk with a size cap and Content-Length
checks, conditional requests (ETag / Last-Modified) replayed from the archive, and every response
body (errors included) archived content-addressed before anyone reads it.

Never stored anywhere: request headers (``Authorization``…), response ``Set-Cookie``, and the
bodies of ``secret=True`` fetches (kept in memory only, no object and no index line).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import http.client
import io
import json as _json
import math
import os
import random as _random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3

from . import __version__
from .archive import Archive, ArchivedBody

DEFAULT_CONTACT = "https://github.com/pana-data/pana-data"
USER_AGENT = f"pana-data/{__version__} (+{os.environ.get('PANA_HTTP_CONTACT', DEFAULT_CONTACT)})"

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
ERROR_BODY_CAP = 1024**2  # error bodies are archived up to 1 MiB
CHUNK = 64 * 1024
SNIPPET = 200  # characters of an error body quoted in messages

# Requests per second, per host, shared by every client of the process.
HOST_RATES: dict[str, float] = {
    "recherche-entreprises.api.gouv.fr": 7.0,
    "data.geopf.fr": 40.0,
    "api.helloasso.com": 5.0,
    "www.data.gouv.fr": 10.0,
    "api.data.inclusion.beta.gouv.fr": 10.0,
}
DEFAULT_RATE = 10.0


class HttpError(RuntimeError):
    """A request that did not produce usable data. ``retryable`` says whether trying again later
    may help; ``archived`` is the archived error body, if any."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retryable: bool = False,
        archived: ArchivedBody | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.url = url
        self.status = status
        self.retryable = retryable
        self.archived = archived
        self.retry_after = retry_after  # seconds the server asked to wait, when beyond max_wait


@dataclass(frozen=True)
class Fetched:
    body: ArchivedBody | None  # None only when secret=True
    content: bytes | None  # only when secret=True: kept in memory, never archived
    status: int
    downloaded: int  # bytes received over the wire
    not_modified: bool
    final_url: str

    def read(self) -> bytes:
        if self.content is not None:
            return self.content
        assert self.body is not None
        return self.body.read()

    def json(self) -> Any:
        return _json.loads(self.read().decode("utf-8-sig"))


# --- request keys ---------------------------------------------------------------------------


def request_key(
    method: str,
    url: str,
    *,
    params: Any = None,
    json: Any = None,
    data: Any = None,
    files: Any = None,
) -> str:
    """A stable key for a request: method, URL (lower-case host, no credentials, no fragment,
    sorted query parameters) and the sha256 of any JSON/form/raw body. Never headers."""
    method = method.upper()
    prepared = requests.Request(method, url, params=params).prepare().url or url
    parts = urlsplit(prepared)
    netloc = (parts.hostname or "").lower()
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    normal = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))
    digest = _body_digest(json, data, files)
    return f"{method} {normal}" + (f" sha256={digest}" if digest else "")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    read = getattr(value, "read", None)
    if read is not None and getattr(value, "seekable", lambda: False)():
        pos = value.tell()
        try:
            return _as_bytes(read())
        finally:
            value.seek(pos)
    return repr(type(value)).encode()  # an unreadable stream: at least its kind


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, Mapping) else list(value)


def _body_digest(json: Any, data: Any, files: Any) -> str | None:
    h = hashlib.sha256()
    used = False
    if json is not None:
        canonical = _json.dumps(
            json, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        h.update(b"json\0" + canonical.encode("utf-8"))
        used = True
    if data is not None:
        if isinstance(data, Mapping | list | tuple):
            pairs = sorted(_pairs(data), key=lambda kv: (str(kv[0]), str(kv[1])))
            h.update(b"form\0" + urlencode(pairs, doseq=True).encode("utf-8"))
        else:
            h.update(b"data\0" + _as_bytes(data))
        used = True
    if files:
        for name, value in sorted(_pairs(files), key=lambda kv: str(kv[0])):
            h.update(b"file\0" + str(name).encode("utf-8") + b"\0")
            if isinstance(value, tuple):
                h.update(str(value[0]).encode("utf-8") + b"\0" + _as_bytes(value[1]))
            else:
                h.update(_as_bytes(value))
        used = True
    return h.hexdigest() if used else None


# --- rate limiting --------------------------------------------------------------------------


class RateLimiter:
    """Spaces the starts of requests to one host at least ``1 / rate`` apart. Thread-safe: a
    caller reserves its slot under the lock, then sleeps outside it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None

    def wait(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], Any]) -> float:
        interval = 0.0 if math.isinf(rate) else 1.0 / rate
        with self._lock:
            now = clock()
            start = now if self._last is None else max(now, self._last + interval)
            self._last = start
        delay = start - now
        if delay > 0:
            sleep(delay)
        return delay


_LIMITERS: dict[tuple[str, Any], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(host: str, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
    """The process-wide limiter of a host. Limiters are per (host, clock): every client on the
    default clock shares one budget per host; a test's fake clock gets its own."""
    key = (host.lower(), clock)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter()
        return limiter


def rate_for(host: str, override: float | None = None) -> float:
    return override if override is not None else HOST_RATES.get(host.lower(), DEFAULT_RATE)


# --- helpers --------------------------------------------------------------------------------


class _Retry(Exception):
    """One failed attempt that may succeed if tried again."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        archived: ArchivedBody | None = None,
        wait: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.archived = archived
        self.wait = wait  # from Retry-After: wait exactly this long; None: jittered backoff


class _TooLarge(Exception):
    def __init__(self, received: int):
        super().__init__(received)
        self.received = received


class _BodyCut(Exception):
    def __init__(self, message: str, size: int):
        super().__init__(message)
        self.message = message
        self.size = size


# Raised while reading a body when the transfer breaks (urllib3 2 enforces Content-Length).
_BODY_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_transport(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return False  # a bad certificate does not heal by retrying
    return isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k.lower(): v for k, v in headers.items() if k.lower() not in ("set-cookie", "set-cookie2")
    }


def _snippet(body: bytes) -> str:
    text = body[: SNIPPET * 4].decode("utf-8", errors="replace")
    return " ".join(text.split())[:SNIPPET]


def _looks_like_html(content_type: str, head: bytes) -> bool:
    if content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    start = head.lstrip()
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:].lstrip()
    start = start.lower()
    return start.startswith(b"<!doctype html") or start.startswith(b"<html")


def _rewind(files: Any) -> None:
    """Seek uploaded file objects back to their start so a retry sends them whole."""
    if not files:
        return
    for _, value in _pairs(files):
        obj = value[1] if isinstance(value, tuple) else value
        if hasattr(obj, "seek") and getattr(obj, "seekable", lambda: False)():
            obj.seek(0)


def _pump(response: requests.Response, sink: Any, hasher: Any, limit: int, cap: bool) -> bool:
    """Copy the body to ``sink`` while hashing. More than ``limit`` bytes: raise _TooLarge, or
    with ``cap`` keep the first ``limit`` and return True. A broken transfer raises _BodyCut."""
    size = 0
    chunks = response.iter_content(CHUNK)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return False
        except _BODY_ERRORS as exc:  # reading only: a failing disk write is not a network error
            raise _BodyCut(f"body cut short ({_describe(exc)})", size) from exc
        if not chunk:
            continue
        if len(chunk) > limit - size:
            if not cap:
                raise _TooLarge(size + len(chunk))
            chunk = chunk[: limit - size]
            hasher.update(chunk)
            sink.write(chunk)
            return True
        hasher.update(chunk)
        sink.write(chunk)
        size += len(chunk)


def _wire_bytes(response: requests.Response, fallback: int) -> int:
    """Bytes pulled over the wire (urllib3 counts them, except for chunked bodies)."""
    tell = getattr(response.raw, "tell", None)
    try:
        n = tell() if tell is not None else 0
    except (OSError, ValueError):
        n = 0
    return n if isinstance(n, int) and n > 0 else fallback


# --- the client -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    source_id: str
    url: str
    method: str
    key: str
    kwargs: dict
    headers: dict
    expect: str | None
    limit: int
    secret: bool
    previous: ArchivedBody | None


class HttpClient:
    """Polite fetching into an :class:`Archive`. One ``requests.Session`` per client; use one
    client per thread (the per-host rate limits are shared by all clients anyway)."""

    def __init__(
        self,
        archive: Archive,
        *,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        max_bytes: int = 4 * 1024**3,
        rate: float | None = None,
        throttle: Callable[[str], Any] | None = None,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ):
        if rate is not None and not rate > 0:
            raise ValueError("rate must be > 0 requests per second (math.inf: no limit)")
        self.archive = archive
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_bytes = max_bytes
        self.rate = rate
        self.throttle = throttle  # called with the host before each request (shared limits)
        self.user_agent = user_agent
        self.sleep = sleep
        self.clock = clock
        self.random = random
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def backoff_delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_wait, backoff * 2**attempt)]."""
        return self.random() * min(self.max_wait, self.backoff * 2**attempt)

    def fetch(
        self,
        source_id: str,
        url: str,
        *,
        method: str = "GET",
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        expect: str | None = None,
        conditional: bool = True,
        max_bytes: int | None = None,
        secret: bool = False,
    ) -> Fetched:
        method = method.upper()
        try:
            key = request_key(method, url, params=params, json=json, data=data, files=files)
        except requests.RequestException as exc:  # MissingSchema, InvalidURL…
            raise HttpError(f"{method} {url}: invalid request: {exc}", url=url) from exc
        send = dict(headers or {})
        if not any(k.lower() == "user-agent" for k in send):
            send["User-Agent"] = self.user_agent
        previous = None
        if conditional and method == "GET" and not secret:
            previous = self.archive.last_ok(key)
            stored = {
                k.lower(): v for k, v in ((previous.headers if previous else None) or {}).items()
            }
            if stored.get("etag"):
                send["If-None-Match"] = stored["etag"]
            if stored.get("last-modified"):
                send["If-Modified-Since"] = stored["last-modified"]
            if "If-None-Match" not in send and "If-Modified-Since" not in send:
                previous = None
        call = _Call(
            source_id=source_id,
            url=url,
            method=method,
            key=key,
            kwargs={"params": params, "json": json, "data": data, "files": files},
            headers=send,
            expect=expect,
            limit=self.max_bytes if max_bytes is None else max_bytes,
            secret=secret,
            previous=previous,
        )
        host = (urlsplit(url).hostname or "").lower()
        limiter = limiter_for(host, self.clock)
        rate = rate_for(host, self.rate)
        attempts = self.retries + 1
        last: _Retry | None = None
        for attempt in range(attempts):
            limiter.wait(rate, self.clock, self.sleep)
            if self.throttle is not None:  # e.g. a limit shared by every process (Prefect's)
                self.throttle(host)
            _rewind(files)
            try:
                return self._attempt(call)
            except _Retry as retry:
                last = retry
            if attempt + 1 < attempts:
                self.sleep(last.wait if last.wait is not None else self.backoff_delay(attempt))
        assert last is not None
        raise HttpError(
            f"{method} {url}: giving up after {attempts} attempts; last error: {last.message}",
            url=url,
            status=last.status,
            retryable=True,
            archived=last.archived,
        )

    # One attempt: returns, raises HttpError (final) or _Retry.
    def _attempt(self, call: _Call) -> Fetched:
        try:
            response = self.session.request(
                call.method,
                call.url,
                headers=call.headers,
                timeout=self.timeout,
                stream=True,
                **call.kwargs,
            )
        except requests.RequestException as exc:
            if _is_transport(exc):
                raise _Retry(_describe(exc)) from exc
            raise HttpError(f"{call.method} {call.url}: {_describe(exc)}", url=call.url) from exc
        with response:
            status = response.status_code
            if status == 304:
                return self._not_modified(call, response)
            if 200 <= status < 300:
                return self._success(call, response)
            return self._failure(call, response)

    def _meta(self, call: _Call, response: requests.Response, downloaded: int) -> dict:
        return {"request": call.key, "final_url": response.url, "downloaded": downloaded}

    def _not_modified(self, call: _Call, response: requests.Response) -> Fetched:
        previous = call.previous
        if previous is None:
            raise HttpError(
                f"{call.method} {call.url}: HTTP 304 to a request that was not conditional",
                url=call.url,
                status=304,
            )
        headers = {k.lower(): v for k, v in (previous.headers or {}).items()}
        headers.update(_storable_headers(response.headers))
        entry = self.archive.replay(
            call.source_id,
            call.url,
            previous,
            status=304,
            headers=headers,
            request=call.key,
            final_url=response.url,
            downloaded=0,
            not_modified=True,
        )
        with open(entry.path, "rb") as f:
            self._check_html(call, response, f.read(1024), entry)
        return Fetched(entry, None, 304, 0, True, response.url)

    def _too_large(self, call: _Call, status: int, received: int) -> HttpError:
        return HttpError(
            f"{call.method} {call.url}: body larger than max_bytes={call.limit} "
            f"({received} bytes received or announced); aborted",
            url=call.url,
            status=status,
        )

    def _success(self, call: _Call, response: requests.Response) -> Fetched:
        status = response.status_code
        announced = None
        if not response.headers.get("Content-Encoding"):
            try:
                announced = int(response.headers.get("Content-Length", ""))
            except ValueError:
                announced = None
        if call.method == "HEAD" or status in (204, 205):
            announced = None  # no body follows whatever the header says
        if announced is not None and announced > call.limit:
            raise self._too_large(call, status, announced)
        hasher = hashlib.sha256()
        if call.secret:
            sink = io.BytesIO()
            self._drain(call, response, sink, hasher, status)
            content = sink.getvalue()
            self._check_length(call, announced, len(content))
            self._check_html(call, response, content[:1024], None)
            return Fetched(
                None, content, status, _wire_bytes(response, len(content)), False, response.url
            )
        fd, tmp = tempfile.mkstemp(dir=self.archive.tmp_dir, prefix="dl-")
        try:
            with os.fdopen(fd, "wb") as f:
                self._drain(call, response, f, hasher, status)
                size = f.tell()
                f.flush()
                os.fsync(f.fileno())
            self._check_length(call, announced, size)
            downloaded = _wire_bytes(response, size)
            entry = self.archive.put_file(
                call.source_id,
                call.url,
                tmp,
                hasher.hexdigest(),
                size,
                status=status,
                headers=_storable_headers(response.headers),
                **self._meta(call, response, downloaded),
            )
        finally:
            Path(tmp).unlink(missing_ok=True)  # already moved unless something failed
        with open(entry.path, "rb") as f:
            head = f.read(1024)
        self._check_html(call, response, head, entry)
        return Fetched(entry, None, status, downloaded, False, response.url)

    def _drain(self, call: _Call, response: requests.Response, sink, hasher, status: int) -> None:
        """Stream the body into ``sink``: over the cap is final, a cut body is retried."""
        try:
            _pump(response, sink, hasher, call.limit, cap=False)
        except _TooLarge as exc:
            raise self._too_large(call, status, exc.received) from None
        except _BodyCut as exc:
            raise _Retry(exc.message) from exc

    def _check_length(self, call: _Call, announced: int | None, size: int) -> None:
        if announced is not None and size != announced:
            raise _Retry(f"body truncated: received {size} of {announced} announced bytes")

    def _check_html(
        self, call: _Call, response: requests.Response, head: bytes, entry: ArchivedBody | None
    ) -> None:
        if not call.expect or call.expect.lower() == "html":
            return
        if _looks_like_html(response.headers.get("Content-Type", ""), head):
            if entry is not None:  # archived as evidence, never replayed as data by a 304
                self.archive.reject(entry)
            raise HttpError(
                f"{call.method} {call.url}: got an HTML page instead of {call.expect} "
                f"(HTTP {response.status_code}, final URL {response.url})",
                url=call.url,
                status=response.status_code,
                archived=entry,
            )

    def _failure(self, call: _Call, response: requests.Response) -> Fetched:
        status = response.status_code
        sink = io.BytesIO()
        hasher = hashlib.sha256()
        try:
            _pump(response, sink, hasher, min(call.limit, ERROR_BODY_CAP), cap=True)
        except _BodyCut:
            pass  # an error body is evidence, not data: keep what arrived
        body = sink.getvalue()
        archived = None
        if not call.secret:
            archived = self.archive.put(
                call.source_id,
                call.url,
                body,
                status,
                _storable_headers(response.headers),
                **self._meta(call, response, _wire_bytes(response, len(body))),
            )
        described = f"HTTP {status}" + (f": {_snippet(body)}" if body else "")
        if status in RETRY_STATUSES:
            wait = None
            if status in RETRY_AFTER_STATUSES:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if wait is not None and wait > self.max_wait:
                    raise HttpError(
                        f"{call.method} {call.url}: {described}; the server asks to retry after "
                        f"{wait:.0f} s, more than max_wait={self.max_wait:g} s: giving up",
                        url=call.url,
                        status=status,
                        retryable=True,
                        archived=archived,
                        retry_after=wait,
                    )
            raise _Retry(described, status, archived, wait)
        raise HttpError(
            f"{call.method} {call.url}: {described}",
            url=call.url,
            status=status,
            archived=archived,
        )
