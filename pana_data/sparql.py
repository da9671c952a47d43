"""A read-only SPARQL 1.1 endpoint over a published version (pyoxigraph, no Prefect).

* :func:`load_version` loads a version folder's RDF (``actors.nt.gz``, else ``actors.ttl``, and
  ``codelists.ttl``) into the default graph, and optionally earlier versions into named graphs
  ``<{base}version/{id}>``; with ``store_dir`` an on-disk store is built once, keyed by the files'
  sha256, and reopened read-only afterwards.
* :func:`run_query` evaluates one query with a hard deadline and a result-size limit, and
  serialises the answer with pyoxigraph's own writers, chosen by an ``Accept`` header.
* :func:`make_server` / :func:`serve`: the SPARQL 1.1 Protocol query operation over
  ``http.server``.

Timeout: pyoxigraph's Python API cannot cancel a query, and a thread cannot be killed, so each
query is evaluated in a forked child process that inherits the (copy-on-write) store and sends
its serialised answer back through a pipe; the parent kills the child at the deadline. Where
``os.fork`` does not exist, the query runs in a thread and only the wait is bounded.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import pickle
import re
import select
import shutil
import signal
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyoxigraph as ox

from .rdf.terms import DEFAULT_BASE, PREFIXES

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESULTS = 10_000
MAX_BODY_BYTES = 1 << 20  # a POSTed query larger than 1 MiB is refused (413)
STORE_LAYOUT = "pana-sparql-store/1"  # bump when the on-disk store's content changes
TRUNCATED_HEADER = "X-Pana-Truncated"

# The RDF mapping's own prefixes, minus owl (never in the data): one table for both.
STANDARD_PREFIXES = {k: v for k, v in PREFIXES.items() if k != "owl"}


def prefixes(base: str = DEFAULT_BASE) -> dict[str, str]:
    """Prefixes every query may use without declaring them (a ``PREFIX`` line overrides)."""
    return {
        **STANDARD_PREFIXES,
        "pana": f"{base}vocab#",
        "code": f"{base}code/",
        "acteur": f"{base}id/acteur/",
        "version": f"{base}version/",
    }


# --- errors ---------------------------------------------------------------------------------


class SparqlError(Exception):
    """A query that cannot be answered; ``status`` is the HTTP status to answer with."""

    status = HTTPStatus.BAD_REQUEST


class QuerySyntaxError(SparqlError):
    status = HTTPStatus.BAD_REQUEST


class UpdateRefused(SparqlError):
    status = HTTPStatus.FORBIDDEN


class ServiceRefused(SparqlError):
    status = HTTPStatus.FORBIDDEN


class NotAcceptable(SparqlError):
    status = HTTPStatus.NOT_ACCEPTABLE


class QueryTimeout(SparqlError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class QueryFailed(SparqlError):
    status = HTTPStatus.INTERNAL_SERVER_ERROR


_ERRORS = {
    cls.__name__: cls
    for cls in (
        SparqlError,
        QuerySyntaxError,
        UpdateRefused,
        ServiceRefused,
        NotAcceptable,
        QueryTimeout,
        QueryFailed,
    )
}


# --- loading --------------------------------------------------------------------------------


def version_dir(out: Path, version: str | None = None) -> Path:
    """The folder of ``version`` (default: the latest) in a publication folder ``out``."""
    out = Path(out)
    if version is None:
        versions_file = out / "versions.json"
        if versions_file.exists():
            version = json.loads(versions_file.read_text(encoding="utf-8")).get("latest")
        if version is None and (out / "latest").is_dir():
            version = (out / "latest").resolve().name
    if version is None:
        raise FileNotFoundError(f"no published version in {out}")
    folder = out / version
    if not folder.is_dir():
        raise FileNotFoundError(f"no version {version} in {out}")
    return folder


def _actor_file(folder: Path) -> Path:
    for name in ("actors.nt.gz", "actors.ttl"):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"no actors.nt.gz nor actors.ttl in {folder}")


def _files(folder: Path) -> list[Path]:
    files = [_actor_file(folder)]
    if (folder / "codelists.ttl").exists():
        files.append(folder / "codelists.ttl")
    return files


def previous_versions(folder: Path, history: int) -> list[Path]:
    """Up to ``history`` versions published before ``folder`` (most recent first), read from
    the parent's ``versions.json``; versions whose folder is gone are skipped."""
    if history <= 0:
        return []
    folder = folder.resolve()
    versions_file = folder.parent / "versions.json"
    if not versions_file.exists():
        return []
    ids = [v["id"] for v in json.loads(versions_file.read_text(encoding="utf-8"))["versions"]]
    if folder.name not in ids:
        return []
    earlier = ids[: ids.index(folder.name)][::-1]
    return [folder.parent / v for v in earlier if (folder.parent / v).is_dir()][:history]


def _sha256(folder: Path, path: Path) -> str:
    """The file's sha256 as the version's datapackage.json states it (computed if absent)."""
    package = folder / "datapackage.json"
    if package.exists():
        for resource in json.loads(package.read_text(encoding="utf-8")).get("resources", []):
            if resource.get("path") == path.name and str(resource.get("hash", "")).startswith(
                "sha256:"
            ):
                return resource["hash"].removeprefix("sha256:")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _format(path: Path) -> ox.RdfFormat:
    name = path.name.removesuffix(".gz")
    return ox.RdfFormat.N_TRIPLES if name.endswith(".nt") else ox.RdfFormat.TURTLE


def _bulk_load(store: ox.Store, path: Path, graph: ox.NamedNode | None = None) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        store.bulk_load(f, _format(path), to_graph=graph)


def base_of(store: ox.Store) -> str:
    """The base URI the actors were published under (``…/id/acteur/{id}`` minus the tail)."""
    found = store.query(
        "SELECT ?s ?id WHERE { ?s a org:Organization ; dct:identifier ?id } LIMIT 1",
        prefixes=STANDARD_PREFIXES,
    )
    for solution in found:
        subject, identifier = solution["s"].value, solution["id"].value
        tail = f"id/acteur/{identifier}"
        if subject.endswith(tail):
            return subject.removesuffix(tail)
    return DEFAULT_BASE


def version_graph(base: str, version: str) -> ox.NamedNode:
    return ox.NamedNode(f"{base}version/{version}")


def _fill(store: ox.Store, folder: Path, earlier: list[Path], base: str | None) -> None:
    for path in _files(folder):
        _bulk_load(store, path)
    base = base or base_of(store)
    for previous in earlier:
        _bulk_load(store, _actor_file(previous), version_graph(base, previous.name))


def load_version(
    version_dir: Path,
    store_dir: Path | None = None,
    *,
    history: int = 0,
    base: str | None = None,
) -> ox.Store:
    """Load a published version into a pyoxigraph store.

    The version's ``actors.nt.gz`` (or ``actors.ttl``) and ``codelists.ttl`` go into the default
    graph; the ``history`` versions published just before it (per ``versions.json``) go into
    named graphs ``<{base}version/{id}>`` (actors only). ``base`` defaults to the one the actors'
    IRIs were minted under.

    Without ``store_dir`` the store lives in memory. With it, an on-disk store is built once in
    ``store_dir/{version}-{key}`` (``key``: the sha256 of every loaded file, from
    datapackage.json) and opened read-only; a store whose key no longer matches is rebuilt
    and the stale one removed.
    """
    folder = Path(version_dir).resolve()
    earlier = previous_versions(folder, history)
    if store_dir is None:
        store = ox.Store()
        _fill(store, folder, earlier, base)
        return store

    parts = [STORE_LAYOUT, base or ""]
    for f in (folder, *earlier):
        files = _files(f) if f == folder else [_actor_file(f)]
        parts.extend(f"{f.name}/{p.name}:{_sha256(f, p)}" for p in files)
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    store_dir = Path(store_dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    target = store_dir / f"{folder.name}-{key}"
    if not (target / "COMPLETE").exists():
        build = store_dir / f".build-{folder.name}-{key}-{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        writable = ox.Store(str(build))
        _fill(writable, folder, earlier, base)
        writable.flush()
        del writable  # closes the database before it is moved
        (build / "COMPLETE").write_text(key + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(build, target)
        log.info("built SPARQL store %s", target)
    for stale in store_dir.glob(f"{folder.name}-*"):
        if stale != target and re.fullmatch(
            rf"{re.escape(folder.name)}-[0-9a-f]{{16}}", stale.name
        ):
            shutil.rmtree(stale, ignore_errors=True)
    return ox.Store.read_only(str(target))


# --- queries --------------------------------------------------------------------------------

RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
    "text/xml": ox.QueryResultsFormat.XML,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/xml": ox.RdfFormat.RDF_XML,
}
# --format names of the CLI (and the ?format= parameter) -> an Accept header
FORMATS = {
    "json": "application/sparql-results+json, application/ld+json",
    "xml": "application/sparql-results+xml, application/rdf+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "jsonld": "application/ld+json",
}


def negotiate(accept: str | None, offers: dict[str, object], default: object) -> object:
    """The offered format the ``Accept`` header prefers; ``default`` for none or a wildcard."""
    if not accept or not accept.strip():
        return default
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media and q > 0:
            ranges.append((-q, position, media.lower()))
    for _, _, media in sorted(ranges):
        if media in offers:
            return offers[media]
        if media == "*/*":
            return default
        if media.endswith("/*"):
            for offered, fmt in offers.items():
                if offered.startswith(media[:-1]):
                    return fmt
    raise NotAcceptable(
        f"cannot answer in {accept!r} for this query form; available: {', '.join(offers)}"
    )


_TOKENS = re.compile(
    r"""(?P<skip>'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''|\"\"\"(?:(?:\"|\"\")?(?:[^\"\\]|\\.))*\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"
        |<[^<>"{}|^`\\\x00-\x20]*>|\#[^\n]*|[?$]\w+|[A-Za-z_][\w.-]*:[\w.-]*)
      |(?P<word>[A-Za-z]+)""",
    re.VERBOSE | re.DOTALL,
)
_UPDATE_WORDS = {
    "insert",
    "delete",
    "load",
    "clear",
    "create",
    "drop",
    "copy",
    "move",
    "add",
    "with",
}
_QUERY_WORDS = {"select", "ask", "construct", "describe"}


def _keywords(query: str) -> list[str]:
    """The bare keywords of a query, outside strings, IRIs, comments, variables and names."""
    return [m["word"].lower() for m in _TOKENS.finditer(query) if m["word"]]


def check_query(query: str) -> None:
    """Refuse what a read-only public endpoint must not run: updates, and ``SERVICE`` (a
    federated query would make the server fetch any URL it is given)."""
    words = _keywords(query)
    if "service" in words:
        raise ServiceRefused("SERVICE (federated query) is not allowed on this endpoint")
    first = next((w for w in words if w not in {"prefix", "base"}), "")
    if first in _UPDATE_WORDS or (first not in _QUERY_WORDS and _UPDATE_WORDS & set(words)):
        raise UpdateRefused("this endpoint is read-only: SPARQL Update is not accepted")


class Answer(tuple):
    """``(body, content_type)``; ``truncated`` tells whether ``max_results`` cut the results."""

    truncated: bool

    def __new__(cls, body: bytes, content_type: str, truncated: bool = False) -> Answer:
        self = super().__new__(cls, (body, content_type))
        self.truncated = truncated
        return self

    @property
    def body(self) -> bytes:
        return self[0]

    @property
    def content_type(self) -> str:
        return self[1]


class _Enough(Exception):
    pass


class _LineBudget(io.RawIOBase):
    """A sink that stops the writer once it has ``lines`` complete lines."""

    def __init__(self, lines: int) -> None:
        self.data = bytearray()
        self.lines = lines

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        self.data += b
        if self.data.count(b"\n") > self.lines:
            raise _Enough
        return len(b)


def _charset(media_type: str) -> str:
    if "charset" in media_type:
        return media_type
    if media_type.startswith("text/") or media_type.endswith(("json", "xml")):
        return f"{media_type}; charset=utf-8"
    return media_type


def _limited_solutions(
    solutions: ox.QuerySolutions, fmt: ox.QueryResultsFormat, max_results: int
) -> tuple[bytes, bool]:
    """Serialise at most ``max_results`` solutions: stream them as TSV (one solution a line,
    newlines escaped) until the budget is spent, then re-serialise that TSV with pyoxigraph."""
    sink = _LineBudget(max_results + 1)  # the header line, then one line per solution
    truncated = False
    try:
        solutions.serialize(sink, ox.QueryResultsFormat.TSV)
    except _Enough:
        truncated = True
    lines = bytes(sink.data).split(b"\n")
    if truncated:
        lines = lines[: max_results + 1]
        lines.append(b"")
    tsv = b"\n".join(lines)
    if fmt == ox.QueryResultsFormat.TSV:
        return tsv, truncated
    parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
    return parsed.serialize(format=fmt), truncated


def _evaluate(
    store: ox.Store,
    query: str,
    accept: str | None,
    max_results: int,
    query_prefixes: dict[str, str],
    default_graph: list[str] | None,
    named_graphs: list[str] | None,
) -> tuple[bytes, str, bool]:
    options: dict = {"prefixes": query_prefixes}
    if default_graph:
        options["default_graph"] = [ox.NamedNode(g) for g in default_graph]
    if named_graphs:
        options["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
    try:
        result = store.query(query, **options)
    except SyntaxError as exc:
        raise QuerySyntaxError(f"SPARQL syntax error: {exc}") from exc
    except ValueError as exc:
        raise QuerySyntaxError(str(exc)) from exc
    if isinstance(result, ox.QueryBoolean):
        fmt = negotiate(accept, RESULT_FORMATS, ox.QueryResultsFormat.JSON)
        return result.serialize(format=fmt), fmt.media_type, False
    if isinstance(result, ox.QuerySolutions):
        fmt = negotiate(accept, RESULT_FORMATS, ox.QueryResultsFormat.JSON)
        body, truncated = _limited_solutions(result, fmt, max_results)
        return body, fmt.media_type, truncated
    fmt = negotiate(accept, GRAPH_FORMATS, ox.RdfFormat.TURTLE)
    triples = list(islice(result, max_results + 1))
    truncated = len(triples) > max_results
    body = ox.serialize(triples[:max_results], format=fmt, prefixes=query_prefixes)
    return body, fmt.media_type, truncated


def _in_child(call, timeout_s: float) -> tuple[bytes, str, bool]:
    """Run ``call()`` in a forked child; kill it at the deadline."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into the caller's code
        status = 0
        try:
            os.close(read_end)
            try:
                payload = ("ok", call())
            except SparqlError as exc:
                payload = ("error", (type(exc).__name__, str(exc)))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                payload = ("error", ("QueryFailed", f"{type(exc).__name__}: {exc}"))
            data = pickle.dumps(payload)
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise QueryTimeout(f"query timed out after {timeout_s:g} s")
            ready, _, _ = select.select([read_end], [], [], left)
            if ready:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not chunks:
        raise QueryFailed("the query process ended without an answer")
    kind, value = pickle.loads(b"".join(chunks))  # our own child's answer
    if kind == "error":
        name, message = value
        raise _ERRORS.get(name, QueryFailed)(message)
    return value


def _in_thread(call, timeout_s: float) -> tuple[bytes, str, bool]:
    """Fallback without fork: the wait is bounded, the evaluation is not (it finishes alone)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise QueryTimeout(f"query timed out after {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_query(
    store: ox.Store,
    query: str,
    accept: str | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_results: int = DEFAULT_MAX_RESULTS,
    query_prefixes: dict[str, str] | None = None,
    default_graph: list[str] | None = None,
    named_graphs: list[str] | None = None,
) -> Answer:
    """Answer a SPARQL query: ``(body, content_type)``, with ``.truncated``.

    SELECT/ASK: SPARQL results JSON (default), XML, CSV or TSV; CONSTRUCT/DESCRIBE: Turtle
    (default), N-Triples, JSON-LD or RDF/XML, chosen by ``accept``. At most ``max_results``
    solutions or triples are returned (``truncated`` says whether some were cut). Raises a
    :class:`SparqlError`: :class:`QuerySyntaxError`, :class:`UpdateRefused`,
    :class:`ServiceRefused`, :class:`NotAcceptable`, :class:`QueryTimeout` after ``timeout_s``.
    ``query_prefixes`` are usable without declaration (default: :func:`prefixes`).
    """
    check_query(query)
    query_prefixes = prefixes() if query_prefixes is None else query_prefixes

    def call() -> tuple[bytes, str, bool]:
        return _evaluate(
            store, query, accept, max_results, query_prefixes, default_graph, named_graphs
        )

    runner = _in_child if hasattr(os, "fork") else _in_thread
    body, media_type, truncated = runner(call, timeout_s)
    return Answer(body, _charset(media_type), truncated)


# --- the HTTP endpoint ----------------------------------------------------------------------

HOME_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PANA SPARQL endpoint</title></head>
<body>
<h1>PANA: read-only SPARQL endpoint</h1>
<p>Version served: <code>{version}</code>. Query <code>/sparql</code> with the SPARQL 1.1
Protocol (GET <code>?query=</code>, or POST form-encoded or <code>application/sparql-query</code>):</p>
<pre>curl -G {url}sparql --data-urlencode 'query=SELECT (COUNT(*) AS ?n) WHERE {{ ?a a org:Organization }}'
curl {url}sparql -H 'Content-Type: application/sparql-query' -H 'Accept: text/csv' --data-binary @question.rq</pre>
<p>SELECT/ASK answers: JSON (default), XML, CSV, TSV; CONSTRUCT/DESCRIBE: Turtle (default),
N-Triples, JSON-LD, RDF/XML, by the <code>Accept</code> header. Queries stop after {timeout:g} s;
at most {max_results} solutions are returned (header <code>{truncated}: true</code> when cut).
Prefixes available without declaration: {prefixes}. Examples: docs/sparql.md of pana-data.</p>
</body></html>
"""


class SparqlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        store: ox.Store,
        *,
        timeout_s: float,
        max_results: int,
        concurrency: int,
        version: str = "",
    ) -> None:
        super().__init__(address, SparqlHandler)
        self.store = store
        self.timeout_s = timeout_s
        self.max_results = max_results
        self.version = version
        self.query_prefixes = prefixes(base_of(store))
        self.slots = threading.BoundedSemaphore(concurrency)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class SparqlHandler(BaseHTTPRequestHandler):
    server: SparqlServer
    server_version = "pana-sparql"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", TRUNCATED_HEADER)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        self._send(status, (message + "\n").encode(), "text/plain; charset=utf-8", headers)

    def _not_allowed(self) -> None:
        self._error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"method {self.command} not allowed: use GET or POST",
            {"Allow": "GET, POST, OPTIONS"},
        )

    do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed

    def do_OPTIONS(self) -> None:  # CORS preflight
        self._send(
            HTTPStatus.NO_CONTENT,
            b"",
            "text/plain",
            {
                "Allow": "GET, POST, OPTIONS",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, Accept",
            },
        )

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            page = HOME_PAGE.format(
                version=self.server.version or "?",
                url=f"http://{self.headers.get('Host')}/"
                if self.headers.get("Host")
                else self.server.url,
                timeout=self.server.timeout_s,
                max_results=self.server.max_results,
                truncated=TRUNCATED_HEADER,
                prefixes=", ".join(sorted(self.server.query_prefixes)),
            )
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        elif url.path == "/sparql":
            self._answer(parse_qs(url.query, keep_blank_values=True))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"not found: {url.path}; query /sparql")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/sparql":
            self._error(HTTPStatus.NOT_FOUND, f"not found: {url.path}; query /sparql")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        params = parse_qs(url.query, keep_blank_values=True)
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            for name, values in parse_qs(body, keep_blank_values=True).items():
                params.setdefault(name, []).extend(values)
        elif media == "application/sparql-query":
            params["query"] = [body]
        elif media == "application/sparql-update":
            params["update"] = [body]
        else:
            self._error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "POST application/sparql-query or application/x-www-form-urlencoded (query=…)",
            )
            return
        self._answer(params)

    def _answer(self, params: dict[str, list[str]]) -> None:
        if "update" in params:
            self._error(HTTPStatus.FORBIDDEN, "this endpoint is read-only: no SPARQL Update")
            return
        queries = params.get("query", [])
        if len(queries) != 1 or not queries[0].strip():
            self._error(HTTPStatus.BAD_REQUEST, "give exactly one non-empty 'query' parameter")
            return
        accept = self.headers.get("Accept")
        fmt = (params.get("format") or [None])[0]
        if fmt:
            if fmt not in FORMATS:
                self._error(HTTPStatus.BAD_REQUEST, f"format: one of {', '.join(FORMATS)}")
                return
            accept = FORMATS[fmt]
        if not self.server.slots.acquire(timeout=self.server.timeout_s):
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "too many queries running; retry later")
            return
        try:
            answer = run_query(
                self.server.store,
                queries[0],
                accept,
                timeout_s=self.server.timeout_s,
                max_results=self.server.max_results,
                query_prefixes=self.server.query_prefixes,
                default_graph=params.get("default-graph-uri"),
                named_graphs=params.get("named-graph-uri"),
            )
        except SparqlError as exc:
            self._error(exc.status, str(exc))
            return
        finally:
            self.server.slots.release()
        headers = {TRUNCATED_HEADER: "true" if answer.truncated else "false", "Vary": "Accept"}
        self._send(HTTPStatus.OK, answer.body, answer.content_type, headers)


def make_server(
    store: ox.Store,
    host: str = "127.0.0.1",
    port: int = 7878,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_results: int = DEFAULT_MAX_RESULTS,
    concurrency: int | None = None,
    version: str = "",
) -> SparqlServer:
    """A bound, not yet serving, endpoint (``port=0`` picks a free port)."""
    return SparqlServer(
        (host, port),
        store,
        timeout_s=timeout_s,
        max_results=max_results,
        concurrency=concurrency or min(4, os.cpu_count() or 1),
        version=version,
    )


def serve(
    store: ox.Store,
    host: str = "127.0.0.1",
    port: int = 7878,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_results: int = DEFAULT_MAX_RESULTS,
    *,
    concurrency: int | None = None,
    version: str = "",
    on_ready=None,
) -> None:
    """Serve the SPARQL 1.1 Protocol query operation at ``http://host:port/sparql`` until
    interrupted. At most ``concurrency`` queries are evaluated at once."""
    server = make_server(
        store,
        host,
        port,
        timeout_s=timeout_s,
        max_results=max_results,
        concurrency=concurrency,
        version=version,
    )
    if on_ready:
        on_ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
