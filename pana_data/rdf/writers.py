"""Writers of a release's RDF: sorted Turtle, gzipped N-Triples and compact JSON-LD with a
published ``@context``, rendered together from the same subject blocks. Rendering is plain string
work on IRIs made valid upstream (``mapping.safe_iri``, quoted ids), every IRI and predicate
rendered once per part. A large release is cut into parts (actors, records), rendered by worker
processes and joined in order, so the bytes never depend on the parts or the processes. The
tests parse every file with pyoxigraph and rdflib. rdflib graphs are built only for the
vocabulary, the shapes and the tests."""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from isal import igzip

from .mapping import Uris, release_blocks
from .terms import RDF_TYPE, XSD, Block, Lit, Triple

log = logging.getLogger("pana_data")
SAFE_LOCAL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?$")
FILES = ("actors.ttl", "actors.nt.gz", "actors.jsonld")


def context(prefixes: dict[str, str]) -> dict[str, Any]:
    """The JSON-LD ``@context`` of the releases: the prefixes, nothing else to learn."""
    return {"@context": dict(sorted(prefixes.items()))}


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
        value = value.replace("\n", "\\n").replace("\r", "\\r")
    return value


class _Names:
    """IRIs as Turtle terms and JSON-LD compact IRIs. Predicates, classes and concepts (a few
    hundred) are cached; actor IRIs and their nodes are compacted by construction."""

    def __init__(self, prefixes: dict[str, str]):
        # Every namespace ends with / or #: an IRI's namespace is what precedes its last one.
        self.by_namespace = {ns: name for name, ns in prefixes.items()}
        self.actors = prefixes.get("acteur")
        self.turtle: dict[str, str] = {}
        self.jsonld: dict[str, str] = {}

    def _split(self, iri: str) -> tuple[str, str] | None:
        cut = max(iri.rfind("/"), iri.rfind("#")) + 1
        name = self.by_namespace.get(iri[:cut]) if cut else None
        if name is not None and SAFE_LOCAL.match(iri[cut:]):
            return name, iri[cut:]
        return None

    def ttl(self, iri: str) -> str:
        found = self.turtle.get(iri)
        if found is None:
            if self.actors and iri.startswith(self.actors):  # acteur:pana-x, acteur:pana-x\#adresse
                return "acteur:" + iri[len(self.actors) :].replace("#", "\\#")
            split = self._split(iri)
            found = f"{split[0]}:{split[1]}" if split else f"<{iri}>"
            if split:
                self.turtle[iri] = found
        return found

    def compact(self, iri: str) -> str:
        found = self.jsonld.get(iri)
        if found is None:
            if self.actors and iri.startswith(self.actors):
                return "acteur:" + iri[len(self.actors) :]
            split = self._split(iri)
            found = f"{split[0]}:{split[1]}" if split else iri
            if split:
                self.jsonld[iri] = found
        return found


@dataclass
class Rendered:
    """Some blocks rendered in the three syntaxes (N-Triples uncompressed)."""

    ttl: str
    nt: bytes
    jsonld: str  # node objects, one a line, without the surrounding brackets
    count: int


def render(blocks: Iterable[Block], prefixes: dict[str, str]) -> Rendered:
    """The three syntaxes in one pass over the pairs. Every IRI is rendered once per part and
    cached (a node's IRI serves as an object, then as its block's subject); every predicate too,
    with the Turtle separators around it; literals are escaped once."""
    names = _Names(prefixes)
    predicates: dict[str, tuple[str, str, str, str, int]] = {}
    iris: dict[str, tuple[str, str, str, str]] = {}
    datatypes: dict[str, tuple[str, str, str | None]] = {}
    ttl: list[str] = []
    nt: list[str] = []
    nodes: list[str] = []
    count = 0
    for subject, pairs in blocks:
        count += len(pairs)
        si = iris.pop(subject, None) or _iri(iris, names, subject, keep=False)
        s_nt = si[0] + " "
        out = [si[1]]
        values: dict[str, list[str]] = {}
        last = None
        for p, o in pairs:
            pi = predicates.get(p) or _predicate(predicates, names, p)
            if o.__class__ is str:
                oi = iris.get(o) or _iri(iris, names, o)
                o_nt, o_ttl, o_js = oi[0], oi[1], oi[pi[4]]
            else:
                value, datatype, lang = o
                text = _escape(value)
                if lang:
                    o_nt = o_ttl = f'"{text}"@{lang}'
                    o_js = f'{{"@value": {_JSON_STRING(value)}, "@language": "{lang}"}}'
                elif datatype:
                    di = datatypes.get(datatype) or _datatype(datatypes, names, datatype)
                    o_nt = f'"{text}"^^{di[0]}'
                    o_ttl = f'"{text}"^^{di[1]}'
                    o_js = (
                        _JSON_STRING(value)
                        if di[2] is None
                        else f'{{"@value": {_JSON_STRING(value)}, "@type": {di[2]}}}'
                    )
                else:
                    o_nt = o_ttl = f'"{text}"'
                    o_js = _JSON_STRING(value)
            nt.append(f"{s_nt}{pi[0]}{o_nt} .\n")
            if p == last:
                out.append(" , " + o_ttl)
            else:
                out.append((pi[1] if last is None else pi[2]) + o_ttl)
                last = p
            found = values.get(pi[3])
            if found is None:
                values[pi[3]] = [o_js]
            else:
                found.append(o_js)
        out.append(" .\n")
        ttl.append("".join(out))
        fields = ['{"@id": ', si[3]]
        for key, found in values.items():
            fields.append(
                f", {key}: {found[0]}" if len(found) == 1 else f", {key}: [{', '.join(found)}]"
            )
        fields.append("}")
        nodes.append("".join(fields))
    # one node a line, whatever the parts
    return Rendered("".join(ttl), "".join(nt).encode(), ",\n".join(nodes), count)


def _predicate(cache: dict, names: _Names, p: str) -> tuple[str, str, str, str, int]:
    """A predicate as N-Triples, as the Turtle verb after a subject and after another predicate,
    as a JSON-LD key (encoded), and which JSON-LD form its IRI objects take (see ``_iri``)."""
    if p == RDF_TYPE:
        found = (f"<{p}> ", " a ", " ;\n\ta ", '"@type"', 3)
    else:
        verb = names.ttl(p)
        found = (f"<{p}> ", f" {verb} ", f" ;\n\t{verb} ", _JSON_STRING(names.compact(p)), 2)
    cache[p] = found
    return found


def _iri(cache: dict, names: _Names, iri: str, keep: bool = True) -> tuple[str, str, str, str]:
    """An IRI as N-Triples, Turtle, a JSON-LD node reference and a JSON-LD string (an ``@id``
    or ``@type`` value)."""
    compact = _JSON_STRING(names.compact(iri))
    found = (f"<{iri}>", names.ttl(iri), f'{{"@id": {compact}}}', compact)
    if keep:
        cache[iri] = found
    return found


def _datatype(cache: dict, names: _Names, datatype: str) -> tuple[str, str, str | None]:
    found = (
        f"<{datatype}>",
        names.ttl(datatype),
        None if datatype == XSD + "string" else _JSON_STRING(names.compact(datatype)),
    )
    cache[datatype] = found
    return found


_JSON_STRING = json.encoder.encode_basestring  # type: ignore[attr-defined]  # ensure_ascii=False

CHUNK = 5000  # actors per part
GZIP_LEVEL = 1  # ISA-L level 1: fast, and smaller than zlib at level 1


def _write_part(job: tuple) -> int:
    """Render one part into its own three files (the N-Triples as one gzip member)."""
    index, folder, actors, members, redirects, sources, base, prefixes, parts = job
    # Workers get actors as plain field dicts: unpickling models would cost more than rendering.
    actors = [SimpleNamespace(**a) if isinstance(a, dict) else a for a in actors]
    with _paused_gc():
        rendered = render(
            release_blocks(actors, members, redirects, sources, base, parts), prefixes
        )
    return _save_part(Path(folder), index, rendered)


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Rendering allocates millions of tuples and makes no reference cycles: the cyclic garbage
    collector would only rescan them (it tripled the mapping's time when it ran)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _save_part(folder: Path, index: int, rendered: Rendered) -> int:
    """A part's three files; ``_concatenate`` joins them in index order."""
    stem = folder / f".part-{index:06d}"
    Path(f"{stem}.ttl").write_text(rendered.ttl, encoding="utf-8")
    Path(f"{stem}.jsonld").write_text(rendered.jsonld, encoding="utf-8")
    # ISA-L's gzip: standard gzip members, several times faster than zlib at its fastest level.
    Path(f"{stem}.nt.gz").write_bytes(igzip.compress(rendered.nt, GZIP_LEVEL, mtime=0))
    return rendered.count


def write_release_rdf(
    actors: list[Any],
    members: dict[str, list[tuple[str, str]]],
    redirects: Iterable[dict[str, Any]],
    sources: list[dict[str, Any]],
    base: str,
    folder: Path,
    prefixes: dict[str, str],
    workers: int | None = None,
) -> int:
    """Write actors.ttl, actors.nt.gz and actors.jsonld; return the number of triples.

    Actors are rendered by parts of ``CHUNK`` (sorted by id), each part into its own files, which
    are then concatenated (the N-Triples as a multi-member gzip stream): the bytes do not depend
    on how many processes did the work. Large releases use worker processes from a fresh
    forkserver, never a fork of this (threaded) process."""
    jobs = _jobs(actors, members, list(redirects), sources, base, str(folder), prefixes)
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if workers >= 2 and len(actors) > CHUNK:
        try:
            return _write_parallel(jobs, workers, folder, prefixes)
        except (BrokenProcessPool, OSError) as exc:
            # E.g. a calling script without a ``__main__`` guard, which workers re-import:
            # the same parts, rendered here instead.
            log.warning("RDF rendering falls back to one process: %s", exc)
            jobs = _jobs(actors, members, list(redirects), sources, base, str(folder), prefixes)
    with _Joined(folder, prefixes) as joined:
        count = 0
        for job in sorted(jobs, key=lambda job: job[0]):
            count += _write_part(job)
            joined.append(job[0])
    return count


def _jobs(actors, members, redirects, sources, base, folder, prefixes) -> Iterator[tuple]:
    """The parts to render, numbered in the files' order, yielded the longest first so that no
    worker is left alone with a long one at the end: actors by ``CHUNK`` of their sorted ids,
    records by chunks of their sorted IRIs, then the absorbed ids and the sources."""
    ordered = sorted(actors, key=lambda a: a.id)
    starts = range(0, len(ordered), CHUNK)
    for index, start in enumerate(starts):
        part = ordered[start : start + CHUNK]
        yield (index, folder, [dict(a.__dict__) for a in part],
               {a.id: members.get(a.id, []) for a in part}, (), sources, base, prefixes,
               ("actors",))  # fmt: skip
    redirects_at = len(starts)
    uris = Uris(base)
    keys = sorted({k for ks in members.values() for k in ks}, key=lambda k: uris.record(*k))
    starts = range(0, len(keys), CHUNK * 2)
    for index, start in enumerate(starts, redirects_at + 1):
        yield (index, folder, [], {"": keys[start : start + CHUNK * 2]}, (), sources, base,
               prefixes, ("records",))  # fmt: skip
    yield (redirects_at, folder, [], {}, redirects, (), base, prefixes, ("redirects",))
    # The sources part needs one record of each source to know them.
    one_each = {source_id: [(source_id, record_id)] for source_id, record_id in reversed(keys)}
    yield (redirects_at + len(starts) + 1, folder, [], one_each, (), sources, base, prefixes,
           ("sources",))  # fmt: skip


def _write_parallel(jobs: Iterator[tuple], workers: int, folder: Path, prefixes: dict) -> int:
    """Parts rendered by workers as soon as they are cut, each appended to the files here once
    the parts before it are done."""
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),)
    )
    with pool, _Joined(folder, prefixes) as out:
        futures = {job[0]: pool.submit(_write_part, job) for job in jobs}
        count = 0
        for index in range(len(futures)):
            count += futures[index].result()
            out.append(index)
    return count


def _worker_start(publisher: int) -> None:
    """A worker only renders (see ``_paused_gc``), from the moment it unpickles its part, and
    exits when the process that asked for the parts is gone (killed: nobody would join them)."""
    gc.disable()
    threading.Thread(target=_exit_with, args=(publisher,), daemon=True).start()


def _exit_with(publisher: int) -> None:
    while _alive(publisher):
        time.sleep(0.5)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped by its parent is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def write_rdf(blocks: Iterable[Block], folder: Path, prefixes: dict[str, str]) -> int:
    """Write the three files from blocks in one part (small graphs, tests)."""
    count = _save_part(folder, 0, render(blocks, prefixes))
    with _Joined(folder, prefixes) as joined:
        joined.append(0)
    return count


class _Joined:
    """The three files, to which rendered parts are appended in order (then deleted). Gzip
    members concatenate into one stream. The copies stay in the kernel where it can."""

    def __init__(self, folder: Path, prefixes: dict[str, str]):
        used = dict(sorted(prefixes.items()))
        self.folder = folder
        self.files: dict[str, Any] = {}
        try:
            for suffix in (".ttl", ".jsonld", ".nt.gz"):
                self.files[suffix] = (folder / f"actors{suffix}").open("wb", buffering=0)
        except BaseException:
            for out in self.files.values():
                out.close()
            raise
        self.files[".ttl"].write(
            "".join(f"@prefix {k}: <{v}> .\n" for k, v in used.items()).encode()
        )
        context = json.dumps(used, ensure_ascii=False, indent=1)
        self.files[".jsonld"].write(f'{{\n"@context": {context},\n"@graph": [\n'.encode())
        self.nodes = False  # whether a JSON-LD node was written (they are separated by commas)

    def append(self, index: int) -> None:
        stem = self.folder / f".part-{index:06d}"
        for suffix, out in self.files.items():
            part = Path(f"{stem}{suffix}")
            if suffix == ".jsonld" and part.stat().st_size:
                if self.nodes:
                    out.write(b",\n")
                self.nodes = True
            _copy(part, out)
            part.unlink()

    def __enter__(self) -> _Joined:
        return self

    def __exit__(self, *exc: object) -> None:
        self.files[".jsonld"].write(b"\n]\n}\n")
        for out in self.files.values():
            out.close()


def _copy(path: Path, out: Any) -> None:
    with path.open("rb") as src:
        size = os.fstat(src.fileno()).st_size
        try:
            while size > 0 and hasattr(os, "copy_file_range"):  # Linux
                copied = os.copy_file_range(src.fileno(), out.fileno(), size)
                if copied == 0:
                    break
                size -= copied
        except OSError:  # a file system without it
            pass
        shutil.copyfileobj(src, out, 1 << 20)  # whatever is left


def to_rdflib(triples: Iterable[Triple]):
    from rdflib import Graph, Literal, URIRef

    g = Graph()
    for s, p, o in triples:
        if isinstance(o, str):
            obj = URIRef(o)
        else:
            obj = Literal(o.value, lang=o.lang, datatype=URIRef(o.datatype) if o.datatype else None)
        g.add((URIRef(s), URIRef(p), obj))
    return g


__all__ = ["FILES", "Lit", "context", "render", "to_rdflib", "write_rdf", "write_release_rdf"]
