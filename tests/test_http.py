"""The polite HTTP layer, against loopback servers only (pytest-httpserver, raw sockets)."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug import Request, Response

from pana_data import __version__
from pana_data.archive import Archive
from pana_data.http import (
    DEFAULT_RATE,
    USER_AGENT,
    HttpClient,
    HttpError,
    RateLimiter,
    parse_retry_after,
    rate_for,
    request_key,
)


class FakeTime:
    """A clock that only moves when someone sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(tmp_path: Path, fake: FakeTime | None = None, **kw) -> tuple[HttpClient, FakeTime]:
    fake = fake or FakeTime()
    kw.setdefault("rate", math.inf)  # rate-limit waits would mix with retry waits
    kw.setdefault("timeout", (1.0, 2.0))
    return HttpClient(Archive(tmp_path / "archive"), sleep=fake.sleep, clock=fake.clock, **kw), fake


def archive_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]


def index_rows(tmp_path: Path) -> list[dict]:
    index = tmp_path / "archive" / "index.jsonl"
    if not index.exists():
        return []
    return [json.loads(line) for line in index.read_text().splitlines()]


def leftover_temps(tmp_path: Path) -> list[Path]:
    tmp = tmp_path / "archive" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


@contextmanager
def raw_server(handler):
    """A loopback HTTP server on plain sockets: ``handler(conn, n)`` answers the n-th request."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.05)
    stop = threading.Event()
    count = [0]

    def serve(conn: socket.socket, n: int) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            try:
                handler(conn, n)
            except OSError:
                pass

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            n = count[0]
            count[0] += 1
            threading.Thread(target=serve, args=(conn, n), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/data", count
    finally:
        stop.set()
        thread.join()
        srv.close()


# --- retries --------------------------------------------------------------------------------


def test_429_retry_after_then_200_waits_exactly_retry_after(tmp_path, httpserver):
    httpserver.expect_ordered_request("/x").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 1})
    client, fake = make_client(tmp_path)
    got = client.fetch("s", httpserver.url_for("/x"), expect="json")
    assert fake.sleeps == [7.0]
    assert got.status == 200 and got.json() == {"ok": 1}
    assert len(httpserver.log) == 2


def test_retry_after_beyond_max_wait_gives_up_at_once(tmp_path, httpserver):
    httpserver.expect_request("/x").respond_with_data(
        "later", status=503, headers={"Retry-After": "600"}
    )
    client, fake = make_client(tmp_path, max_wait=120.0)
    with pytest.raises(HttpError) as info:
        client.fetch("s", httpserver.url_for("/x"))
    assert fake.sleeps == []
    assert len(httpserver.log) == 1
    assert "600" in str(info.value) and "max_wait" in str(info.value)
    assert info.value.status == 503 and info.value.retryable
    assert info.value.retry_after == 600
    assert info.value.archived.status == 503


def test_retry_after_http_date():
    now = time.time()
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert 28 <= parse_retry_after(header) <= 31
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_server_errors_backoff_with_jitter_then_success(tmp_path, httpserver):
    for status in (500, 503, 500):
        httpserver.expect_ordered_request("/x").respond_with_data("oops", status=status)
    httpserver.expect_ordered_request("/x").respond_with_data(b"a,b\n1,2\n")
    client, fake = make_client(tmp_path, backoff=1.0)
    got = client.fetch("s", httpserver.url_for("/x"))
    assert got.body.read() == b"a,b\n1,2\n"
    assert len(fake.sleeps) == 3
    for attempt, delay in enumerate(fake.sleeps):
        assert 0 <= delay <= 1.0 * 2**attempt
    # The three error bodies are archived with their status too.
    assert [r["status"] for r in index_rows(tmp_path)] == [500, 503, 500, 200]


def test_backoff_is_full_jitter_capped_by_max_wait(tmp_path):
    client, _ = make_client(tmp_path, backoff=1.0, max_wait=5.0, random=lambda: 0.5)
    assert [client.backoff_delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 2.5, 2.5]


@pytest.mark.parametrize("status", [404, 403])
def test_client_errors_are_not_retried(tmp_path, httpserver, status):
    httpserver.expect_request("/missing").respond_with_data(
        "<p>no such dataset here</p>" + "x" * 500, status=status
    )
    client, fake = make_client(tmp_path)
    url = httpserver.url_for("/missing")
    with pytest.raises(HttpError) as info:
        client.fetch("s", url)
    assert len(httpserver.log) == 1 and fake.sleeps == []
    message = str(info.value)
    assert url in message and str(status) in message and "no such dataset here" in message
    assert len(message) < len(url) + 300  # only the start of the body
    assert info.value.status == status and not info.value.retryable
    archived = info.value.archived
    assert archived.status == status and archived.read().startswith(b"<p>no such dataset")
    assert Archive(tmp_path / "archive").history("s") == [archived]


def test_error_bodies_are_archived_up_to_one_mib(tmp_path, httpserver):
    httpserver.expect_request("/big-error").respond_with_data(b"e" * (3 * 1024**2), status=410)
    client, _ = make_client(tmp_path)
    with pytest.raises(HttpError) as info:
        client.fetch("s", httpserver.url_for("/big-error"))
    assert info.value.archived.size == 1024**2


def test_read_timeout_then_success(tmp_path):
    def handler(conn, n):
        if n == 0:
            time.sleep(0.8)  # longer than the 0.3 s read timeout
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    with raw_server(handler) as (url, count):
        client, fake = make_client(tmp_path, timeout=(1.0, 0.3))
        got = client.fetch("s", url)
    assert got.body.read() == b"ok" and got.downloaded == 2
    assert count[0] == 2 and len(fake.sleeps) == 1


def test_connection_refused_is_retried_then_fails(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more
    client, fake = make_client(tmp_path, retries=3)
    url = f"http://127.0.0.1:{port}/data"
    with pytest.raises(HttpError) as info:
        client.fetch("s", url)
    assert "4 attempts" in str(info.value) and url in str(info.value)
    assert "ConnectionError" in str(info.value)
    assert info.value.retryable and info.value.status is None
    assert len(fake.sleeps) == 3
    assert index_rows(tmp_path) == []


def test_truncated_body_is_an_error_never_data(tmp_path):
    def handler(conn, n):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\n\r\n"
        conn.sendall(head + b"a,b\n1,2\n12")  # 10 bytes of the announced 1000, then close

    with raw_server(handler) as (url, count):
        client, fake = make_client(tmp_path, retries=2)
        with pytest.raises(HttpError) as info:
            client.fetch("s", url)
    assert count[0] == 3 and len(fake.sleeps) == 2
    assert "3 attempts" in str(info.value)
    assert info.value.retryable
    assert not [r for r in index_rows(tmp_path) if r["status"] == 200]
    assert not (tmp_path / "archive" / "objects").exists()
    assert leftover_temps(tmp_path) == []


def test_truncated_then_complete(tmp_path):
    def handler(conn, n):
        body = b"x" * 1000 if n else b"x" * 10
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + body)

    with raw_server(handler) as (url, count):
        client, _ = make_client(tmp_path)
        got = client.fetch("s", url)
    assert got.body.size == 1000 and count[0] == 2


# --- what the body is -----------------------------------------------------------------------


def test_html_instead_of_json_fails_but_is_archived(tmp_path, httpserver):
    page = "<!DOCTYPE html><html><body>Maintenance</body></html>"
    httpserver.expect_request("/api").respond_with_data(page, content_type="text/html")
    client, fake = make_client(tmp_path)
    with pytest.raises(HttpError) as info:
        client.fetch("s", httpserver.url_for("/api"), expect="json")
    assert "HTML page instead of json" in str(info.value)
    assert not info.value.retryable and fake.sleeps == []
    assert info.value.archived.status == 200 and info.value.archived.read() == page.encode()
    # Asking for HTML is fine; no expectation is fine too.
    assert client.fetch("s", httpserver.url_for("/api"), expect="html").status == 200
    assert client.fetch("s", httpserver.url_for("/api")).status == 200


def test_html_sniffed_despite_content_type(tmp_path, httpserver):
    body = "\ufeff \n  <HTML lang=fr><body>Login</body></HTML>".encode()
    httpserver.expect_request("/api").respond_with_data(body, content_type="application/json")
    client, _ = make_client(tmp_path)
    with pytest.raises(HttpError, match="HTML page instead of json"):
        client.fetch("s", httpserver.url_for("/api"), expect="json")


def test_size_cap_announced(tmp_path, httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 10_000)
    client, fake = make_client(tmp_path)
    with pytest.raises(HttpError, match="max_bytes=1000") as info:
        client.fetch("s", httpserver.url_for("/big"), max_bytes=1000)
    assert not info.value.retryable and fake.sleeps == []
    assert leftover_temps(tmp_path) == []
    assert not (tmp_path / "archive" / "objects").exists()


def test_size_cap_while_streaming(tmp_path, httpserver):
    def handler(request: Request) -> Response:
        return Response(iter([b"y" * 600] * 5), content_type="text/csv")  # no Content-Length

    httpserver.expect_request("/stream").respond_with_handler(handler)
    client, _ = make_client(tmp_path, max_bytes=1000)
    with pytest.raises(HttpError, match="max_bytes=1000"):
        client.fetch("s", httpserver.url_for("/stream"))
    assert leftover_temps(tmp_path) == []
    assert not (tmp_path / "archive" / "objects").exists()
    assert client.fetch("s", httpserver.url_for("/stream"), max_bytes=3000).body.size == 3000


# --- conditional requests -------------------------------------------------------------------


def conditional_handler(body: bytes, validator: str, value: str, request_header: str):
    def handler(request: Request) -> Response:
        if request.headers.get(request_header) == value:
            return Response(status=304, headers={validator: value})
        return Response(body, headers={validator: value}, content_type="application/json")

    return handler


@pytest.mark.parametrize(
    ("validator", "value", "request_header"),
    [
        ("ETag", '"v1-abc"', "If-None-Match"),
        ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT", "If-Modified-Since"),
    ],
)
def test_conditional_round_trip(tmp_path, httpserver, validator, value, request_header):
    body = json.dumps({"rows": list(range(500))}).encode()
    httpserver.expect_request("/data").respond_with_handler(
        conditional_handler(body, validator, value, request_header)
    )
    client, _ = make_client(tmp_path)
    url = httpserver.url_for("/data")
    first = client.fetch("s", url, params={"b": "2", "a": "1"})
    assert first.status == 200 and first.downloaded == len(body) and not first.not_modified
    second = client.fetch("s", url, params={"a": "1", "b": "2"})  # same request, other order
    (req1, _), (req2, resp2) = httpserver.log
    assert request_header not in req1.headers
    assert req2.headers[request_header] == value
    assert resp2.status_code == 304 and len(resp2.get_data()) == 0  # no body sent the 2nd time
    assert second.not_modified and second.status == 304 and second.downloaded == 0
    assert second.body.sha256 == first.body.sha256 and second.body.path == first.body.path
    assert second.body.not_modified and second.body.status == 304
    assert second.json() == json.loads(body)
    # The replay is itself a valid base for the next conditional request.
    third = client.fetch("s", url, params={"a": "1", "b": "2"})
    assert third.not_modified and httpserver.log[2][0].headers[request_header] == value
    assert [r["downloaded"] for r in index_rows(tmp_path)] == [len(body), 0, 0]


def test_conditional_falls_back_when_object_missing_or_disabled(tmp_path, httpserver):
    body = b'{"a": 1}'
    httpserver.expect_request("/data").respond_with_handler(
        conditional_handler(body, "ETag", '"e"', "If-None-Match")
    )
    client, _ = make_client(tmp_path)
    url = httpserver.url_for("/data")
    first = client.fetch("s", url)
    assert client.fetch("s", url, conditional=False).status == 200
    Path(first.body.path).unlink()
    again = client.fetch("s", url)
    assert again.status == 200 and again.body.read() == body
    assert [("If-None-Match" in r.headers) for r, _ in httpserver.log] == [False, False, False]


def test_request_key_is_stable_and_ignores_headers():
    a = request_key("get", "HTTP://Example.org/p?b=2&a=1#frag")
    b = request_key("GET", "http://example.org/p", params={"a": "1", "b": "2"})
    assert a == b == "GET http://example.org/p?a=1&b=2"
    post1 = request_key("POST", "http://example.org/q", json={"x": 1, "y": [1, 2]})
    post2 = request_key("POST", "http://example.org/q", json={"y": [1, 2], "x": 1})
    assert post1 == post2 and post1.startswith("POST http://example.org/q sha256=")
    assert post1 != request_key("POST", "http://example.org/q", json={"x": 2, "y": [1, 2]})
    form = request_key("POST", "http://u:pw@example.org/t", data={"b": "2", "a": "1"})
    assert "pw" not in form and form == request_key(
        "POST", "http://example.org/t", data=[("a", "1"), ("b", "2")]
    )


# --- what is stored -------------------------------------------------------------------------


def test_no_cookie_nor_authorization_stored(tmp_path, httpserver):
    httpserver.expect_request("/private").respond_with_data(
        b"id;nom\n1;A\n", headers={"Set-Cookie": "sid=COOKIE-VALUE-42; HttpOnly"}
    )
    httpserver.expect_request("/denied").respond_with_data(
        "denied", status=401, headers={"Set-Cookie": "sid=COOKIE-VALUE-42"}
    )
    client, _ = make_client(tmp_path)
    auth = {"Authorization": "Bearer TOKEN-SECRET-42"}
    got = client.fetch("s", httpserver.url_for("/private"), headers=auth)
    with pytest.raises(HttpError):
        client.fetch("s", httpserver.url_for("/denied"), headers=auth)
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer TOKEN-SECRET-42"
    assert "set-cookie" not in {k.lower() for k in got.body.headers}
    stored = b"".join(p.read_bytes() for p in archive_files(tmp_path)).lower()
    for needle in (b"token-secret-42", b"cookie-value-42", b"set-cookie", b"authorization"):
        assert needle not in stored


def test_secret_body_stays_in_memory(tmp_path, httpserver):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "TOKEN-XYZ-999", "expires_in": 3600}
    )
    client, _ = make_client(tmp_path)
    got = client.fetch(
        "helloasso",
        httpserver.url_for("/token"),
        method="POST",
        data={"client_id": "id", "client_secret": "CLIENT-SECRET-7"},
        secret=True,
        expect="json",
    )
    assert got.body is None and got.json()["access_token"] == "TOKEN-XYZ-999"
    assert got.status == 200 and got.downloaded == len(got.content)
    assert index_rows(tmp_path) == []
    stored = b"".join(p.read_bytes() for p in archive_files(tmp_path))
    assert b"TOKEN-XYZ-999" not in stored and b"CLIENT-SECRET-7" not in stored


def test_archived_entry_metadata_and_redirect(tmp_path, httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(b"a;b\n", content_type="text/csv")
    client, _ = make_client(tmp_path)
    got = client.fetch("src", httpserver.url_for("/old"), params={"q": "1"})
    assert got.final_url == httpserver.url_for("/new")
    entry = got.body
    assert entry.url == httpserver.url_for("/old")
    assert entry.final_url == got.final_url
    assert entry.request == request_key("GET", httpserver.url_for("/old"), params={"q": "1"})
    assert entry.status == 200 and entry.downloaded == 4 and entry.size == 4
    assert entry.headers["content-type"].startswith("text/csv")
    assert Archive(tmp_path / "archive").last_ok(entry.request) == entry
    assert leftover_temps(tmp_path) == []


# --- politeness -----------------------------------------------------------------------------


def test_user_agent_sent(tmp_path, httpserver):
    httpserver.expect_request("/ua").respond_with_data("ok")
    client, _ = make_client(tmp_path)
    client.fetch("s", httpserver.url_for("/ua"))
    ua = httpserver.log[0][0].headers["User-Agent"]
    assert ua == USER_AGENT and ua.startswith(f"pana-data/{__version__} (+")


def test_user_agent_contact_from_environment():
    code = "from pana_data.http import USER_AGENT; print(USER_AGENT)"
    env = {**os.environ, "PANA_HTTP_CONTACT": "mailto:data@example.org"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == f"pana-data/{__version__} (+mailto:data@example.org)"


def test_rate_limit_spaces_requests_with_fake_clock(tmp_path, httpserver):
    httpserver.expect_request("/r").respond_with_data("ok")
    fake = FakeTime()
    a, _ = make_client(tmp_path, fake, rate=5.0)
    b, _ = make_client(tmp_path, fake, rate=5.0)  # another client, same host: same budget
    for client in (a, b, a):
        client.fetch("s", httpserver.url_for("/r"))
    assert fake.sleeps == pytest.approx([0.2, 0.2])
    fake.now += 10  # time passes: no wait
    a.fetch("s", httpserver.url_for("/r"))
    assert len(fake.sleeps) == 2


def test_retry_wait_counts_towards_rate_limit(tmp_path, httpserver):
    httpserver.expect_ordered_request("/r").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/r").respond_with_data("ok")
    client, fake = make_client(tmp_path, rate=2.0, random=lambda: 1.0, backoff=1.0)
    client.fetch("s", httpserver.url_for("/r"))
    assert fake.sleeps == [1.0]  # the 1 s backoff already exceeds the 0.5 s spacing


def test_rate_limiter_is_thread_safe():
    limiter = RateLimiter()
    delays: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            delays.append(seconds)

    threads = [
        threading.Thread(target=limiter.wait, args=(10.0, lambda: 50.0, sleep)) for _ in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delays) == pytest.approx([0.1 * i for i in range(1, 10)])


def test_default_host_rates():
    assert rate_for("recherche-entreprises.api.gouv.fr") == 7.0
    assert rate_for("DATA.GEOPF.FR") == 40.0
    assert rate_for("api.helloasso.com") == 5.0
    assert rate_for("example.org") == DEFAULT_RATE == 10.0
    assert rate_for("api.helloasso.com", 1.0) == 1.0


def test_downloaded_counts_wire_bytes_of_compressed_body(tmp_path, httpserver):
    import gzip

    raw = b"nom;commune\n" + b"Tiers-lieu;Tulle\n" * 2000
    packed = gzip.compress(raw)
    httpserver.expect_request("/gz").respond_with_data(
        packed, headers={"Content-Encoding": "gzip"}, content_type="text/csv"
    )
    client, _ = make_client(tmp_path)
    got = client.fetch("s", httpserver.url_for("/gz"))
    assert got.body.read() == raw and got.body.size == len(raw)
    assert got.downloaded == got.body.downloaded == len(packed)


def test_an_html_page_is_never_replayed_by_a_304(tmp_path, httpserver):
    """A maintenance page with an ETag fails; the next run asks again unconditionally instead of
    accepting the archived page on a 304."""
    from werkzeug import Response

    page = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
    seen = []

    def handler(request):
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"maint"':
            return Response(status=304, headers={"ETag": '"maint"'})
        return Response(page, content_type="text/html", headers={"ETag": '"maint"'})

    httpserver.expect_request("/data.csv").respond_with_handler(handler)
    archive = Archive(tmp_path / "raw")
    url = httpserver.url_for("/data.csv")
    for _ in range(2):
        with HttpClient(archive, sleep=lambda s: None) as client, pytest.raises(HttpError):
            client.fetch("s", url, expect="csv")
    assert seen == [None, None]
    assert Archive(tmp_path / "raw").last_ok(next(iter(_keys(archive)))) is None


def _keys(archive):
    return {e.request for e in archive.history("s") if e.request}


def test_last_ok_reads_the_index_once(tmp_path, monkeypatch):
    archive = Archive(tmp_path / "raw")
    for i in range(50):
        archive.put("s", f"http://x/{i}", f"body {i}".encode(), 200, request=f"GET http://x/{i}")
    reads = []
    original = Archive._entries

    def counting(self):
        reads.append(1)
        return original(self)

    monkeypatch.setattr(Archive, "_entries", counting)
    fresh = Archive(tmp_path / "raw")
    for i in range(50):
        assert fresh.last_ok(f"GET http://x/{i}").url == f"http://x/{i}"
    fresh.put("s", "http://x/new", b"new", 200, request="GET http://x/new")
    assert fresh.last_ok("GET http://x/new").url == "http://x/new"
    assert len(reads) == 1


def test_throttle_is_called_before_every_request_retries_included(tmp_path, httpserver):
    httpserver.expect_ordered_request("/x").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/x").respond_with_data("ok", content_type="text/plain")
    calls = []
    client, _ = make_client(tmp_path, throttle=calls.append)
    got = client.fetch("s", httpserver.url_for("/x"))
    assert got.status == 200 and len(httpserver.log) == 2
    host = httpserver.url_for("/x").split("//")[1].split(":")[0]
    assert calls == [host, host]
