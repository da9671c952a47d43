"""Writers of a release's RDF, in one streaming pass over its subject blocks: sorted Turtle,
gzipped N-Triples and compact JSON-LD with a published ``@context``. Rendering is plain string
work on IRIs known to be well formed (they come from validated fields and quoted ids); the
N-Triples are compressed in a second thread (zlib releases the GIL), and pyoxigraph checks every
file in the tests. rdflib graphs are built only for the vocabulary, the shapes and the tests."""

from __future__ import annotations

import gzip
import json
import queue
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .terms import RDF_TYPE, XSD, Block, Lit, Triple

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


class _GzipWriter(threading.Thread):
    """N-Triples compressed in a thread: zlib releases the GIL, so it runs beside rendering."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path = path
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:  # mtime=0: the same triples give the same bytes (and checksum) on every run
            with self.path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                while (chunk := self.chunks.get()) is not None:
                    f.write(chunk)
        except BaseException as exc:  # noqa: BLE001 - re-raised by close()
            self.error = exc
            while self.chunks.get() is not None:  # drain, so the producer never blocks
                pass

    def close(self) -> None:
        self.chunks.put(None)
        self.join()
        if self.error:
            raise self.error


def write_rdf(blocks: Iterable[Block], folder: Path, prefixes: dict[str, str]) -> int:
    """Write actors.ttl, actors.nt.gz and actors.jsonld from the blocks; return the triples."""
    names = _Names(prefixes)
    used = dict(sorted(prefixes.items()))
    count = 0
    nt = _GzipWriter(folder / "actors.nt.gz")
    nt.start()
    try:
        with (
            (folder / "actors.ttl").open("w", encoding="utf-8") as ttl,
            (folder / "actors.jsonld").open("w", encoding="utf-8") as jsonld,
        ):
            ttl.writelines(f"@prefix {k}: <{v}> .\n" for k, v in used.items())
            jsonld.write('{\n"@context": ' + json.dumps(used, ensure_ascii=False, indent=1))
            jsonld.write(',\n"@graph": [\n')
            first = True
            nt_lines: list[str] = []
            nodes: list[dict[str, Any]] = []
            encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
            for subject, pairs in blocks:
                count += len(pairs)
                _turtle_block(ttl, names, subject, pairs)
                nodes.append(_jsonld_node(names, subject, pairs))
                s = f"<{subject}> "
                for p, o in pairs:
                    nt_lines.append(f"{s}<{p}> {_nt_object(o)} .\n")
                if len(nt_lines) > 20000:
                    nt.chunks.put("".join(nt_lines).encode())
                    nt_lines = []
                    # One encoder call per batch of nodes, one node per line.
                    jsonld.write(("" if first else ",\n") + encode(nodes)[1:-1])
                    first, nodes = False, []
            nt.chunks.put("".join(nt_lines).encode())
            if nodes:
                jsonld.write(("" if first else ",\n") + encode(nodes)[1:-1])
            jsonld.write("\n]\n}\n")
    finally:
        nt.close()
    return count


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
    parts = [names.ttl(subject)]
    last = None
    for p, o in pairs:
        if isinstance(o, str):
            obj = names.ttl(o)
        else:
            value, datatype, lang = o
            if lang:
                obj = f'"{_escape(value)}"@{lang}'
            elif datatype:
                obj = f'"{_escape(value)}"^^{names.ttl(datatype)}'
            else:
                obj = f'"{_escape(value)}"'
        if p == last:
            parts.append(f" , {obj}")
        else:
            verb = "a" if p == RDF_TYPE else names.ttl(p)
            parts.append(f" {verb} {obj}" if last is None else f" ;\n\t{verb} {obj}")
            last = p
    parts.append(" .\n")
    out.write("".join(parts))


def _jsonld_node(names: _Names, subject: str, pairs: list) -> dict[str, Any]:
    node: dict[str, Any] = {"@id": names.compact(subject)}
    for p, o in pairs:
        if p == RDF_TYPE and isinstance(o, str):
            key, value = "@type", names.compact(o)
        else:
            key = names.compact(p)
            if isinstance(o, str):
                value = {"@id": names.compact(o)}
            else:
                v, datatype, lang = o
                if lang:
                    value = {"@value": v, "@language": lang}
                elif datatype and datatype != XSD + "string":
                    value = {"@value": v, "@type": names.compact(datatype)}
                else:
                    value = v
        current = node.get(key)
        if current is None:
            node[key] = value
        elif isinstance(current, list):
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


__all__ = ["FILES", "Lit", "context", "to_rdflib", "write_rdf"]
