"""Writers of a release's RDF: sorted Turtle, gzipped N-Triples and compact JSON-LD with a
published ``@context``, rendered together from the same subject blocks. Rendering is plain string
work on IRIs made valid upstream (``mapping.safe_iri``, quoted ids); actors are rendered by parts,
in worker processes for large releases, and the parts concatenated, so the bytes never depend on
the number of processes. The tests parse every file with pyoxigraph and rdflib. rdflib graphs
are built only for the vocabulary, the shapes and the tests."""

from __future__ import annotations

import gzip
import io
import json
import logging
import multiprocessing
import os
import re
import shutil
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
    names = _Names(prefixes)
    ttl = io.StringIO()
    nt_lines: list[str] = []
    nodes: list[dict[str, Any]] = []
    count = 0
    for subject, pairs in blocks:
        count += len(pairs)
        _turtle_block(ttl, names, subject, pairs)
        nodes.append(_jsonld_node(names, subject, pairs))
        s = f"<{subject}> "
        for p, o in pairs:
            obj = f"<{o}>" if o.__class__ is str else _nt_object(o)
            nt_lines.append(f"{s}<{p}> {obj} .\n")
    jsonld = ",\n".join(map(_ENCODE, nodes))  # one node a line, whatever the parts
    return Rendered(ttl.getvalue(), "".join(nt_lines).encode(), jsonld, count)


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
CHUNK = 5000  # actors per part
GZIP_LEVEL = 1  # fast: the N-Triples dump is large and read by machines; 6 costs 3x the time


def _write_part(job: tuple) -> int:
    """Render one part into its own three files (the N-Triples as one gzip member)."""
    from .mapping import release_blocks

    index, folder, actors, members, redirects, sources, base, prefixes, parts = job
    # Workers get actors as plain field dicts: unpickling models would cost more than rendering.
    actors = [SimpleNamespace(**a) if isinstance(a, dict) else a for a in actors]
    rendered = render(release_blocks(actors, members, redirects, sources, base, parts), prefixes)
    return _save_part(Path(folder), index, rendered)


def _save_part(folder: Path, index: int, rendered: Rendered) -> int:
    """A part's three files; ``_concatenate`` joins them in index order."""
    stem = folder / f".part-{index:06d}"
    Path(f"{stem}.ttl").write_text(rendered.ttl, encoding="utf-8")
    Path(f"{stem}.jsonld").write_text(rendered.jsonld, encoding="utf-8")
    with (
        open(f"{stem}.nt.gz", "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=GZIP_LEVEL) as f,
    ):
        f.write(rendered.nt)
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
    ordered = sorted(actors, key=lambda a: a.id)
    jobs = [
        (i, str(folder), [dict(a.__dict__) for a in ordered[start : start + CHUNK]],
         {a.id: members.get(a.id, []) for a in ordered[start : start + CHUNK]},
         (), sources, base, prefixes, ("actors",))
        for i, start in enumerate(range(0, len(ordered), CHUNK))
    ]  # fmt: skip
    jobs.append((len(jobs), str(folder), [], members, list(redirects), sources, base,
                 prefixes, ("rest",)))  # fmt: skip
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    counts: list[int] | None = None
    if workers >= 2 and len(jobs) >= 4:
        try:
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                counts = list(pool.map(_write_part, jobs))
        except (BrokenProcessPool, OSError) as exc:
            # E.g. a calling script without a ``__main__`` guard, which workers re-import:
            # the same parts, rendered here instead.
            log.warning("RDF rendering falls back to one process: %s", exc)
    if counts is None:
        counts = [_write_part(job) for job in jobs]
    _concatenate(folder, len(jobs), prefixes)
    return sum(counts)


def write_rdf(blocks: Iterable[Block], folder: Path, prefixes: dict[str, str]) -> int:
    """Write the three files from blocks in one part (small graphs, tests)."""
    count = _save_part(folder, 0, render(blocks, prefixes))
    _concatenate(folder, 1, prefixes)
    return count


def _concatenate(folder: Path, parts: int, prefixes: dict[str, str]) -> None:
    used = dict(sorted(prefixes.items()))
    stems = [folder / f".part-{i:06d}" for i in range(parts)]
    with (folder / "actors.ttl").open("wb") as ttl:
        ttl.write("".join(f"@prefix {k}: <{v}> .\n" for k, v in used.items()).encode())
        for stem in stems:
            with open(f"{stem}.ttl", "rb") as part:
                shutil.copyfileobj(part, ttl, 1 << 20)
    with (folder / "actors.jsonld").open("wb") as jsonld:
        head = (
            '{\n"@context": ' + json.dumps(used, ensure_ascii=False, indent=1) + ',\n"@graph": [\n'
        )
        jsonld.write(head.encode())
        first = True
        for stem in stems:
            path = Path(f"{stem}.jsonld")
            if path.stat().st_size:
                if not first:
                    jsonld.write(b",\n")
                with path.open("rb") as part:
                    shutil.copyfileobj(part, jsonld, 1 << 20)
                first = False
        jsonld.write(b"\n]\n}\n")
    with (folder / "actors.nt.gz").open("wb") as nt:  # gzip members concatenate into one stream
        for stem in stems:
            with open(f"{stem}.nt.gz", "rb") as part:
                shutil.copyfileobj(part, nt, 1 << 20)
    for stem in stems:
        for suffix in (".ttl", ".jsonld", ".nt.gz"):
            Path(f"{stem}{suffix}").unlink()


def _nt_object(o: Any) -> str:
    if isinstance(o, str):
        return f"<{o}>"
    value, datatype, lang = o
    if lang:
        return f'"{_escape(value)}"@{lang}'
    if datatype:
        return f'"{_escape(value)}"^^<{datatype}>'
    return f'"{_escape(value)}"'


def _turtle_block(out: Any, names: _Names, subject: str, pairs: list) -> None:
    cache = names.turtle  # inlined lookups: this loop runs once per triple
    parts = [names.ttl(subject)]
    last = None
    for p, o in pairs:
        if o.__class__ is str:
            obj = cache.get(o) or names.ttl(o)
        else:
            value, datatype, lang = o
            if lang:
                obj = f'"{_escape(value)}"@{lang}'
            elif datatype:
                obj = f'"{_escape(value)}"^^{cache.get(datatype) or names.ttl(datatype)}'
            else:
                obj = f'"{_escape(value)}"'
        if p == last:
            parts.append(" , " + obj)
        else:
            verb = "a" if p == RDF_TYPE else (cache.get(p) or names.ttl(p))
            parts.append(f" {verb} {obj}" if last is None else f" ;\n\t{verb} {obj}")
            last = p
    parts.append(" .\n")
    out.write("".join(parts))


def _jsonld_node(names: _Names, subject: str, pairs: list) -> dict[str, Any]:
    cache = names.jsonld  # inlined lookups: this loop runs once per triple
    node: dict[str, Any] = {"@id": names.compact(subject)}
    xsd_string = XSD + "string"
    for p, o in pairs:
        if o.__class__ is str:
            target = cache.get(o) or names.compact(o)
            if p == RDF_TYPE:
                key, value = "@type", target
            else:
                key, value = cache.get(p) or names.compact(p), {"@id": target}
        else:
            key = cache.get(p) or names.compact(p)
            v, datatype, lang = o
            if lang:
                value = {"@value": v, "@language": lang}
            elif datatype and datatype != xsd_string:
                value = {"@value": v, "@type": cache.get(datatype) or names.compact(datatype)}
            else:
                value = v
        current = node.get(key)
        if current is None:
            node[key] = value
        elif current.__class__ is list:
            current.append(value)
        else:
            node[key] = [current, value]
    return node


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
