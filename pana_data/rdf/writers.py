"""Writers of a release's triples: Turtle and N-Triples through pyoxigraph (fast, streaming,
sorted input gives sorted output), compact JSON-LD with a published ``@context``, and rdflib
graphs for the vocabulary, the shapes and the tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .terms import RDF_TYPE, XSD, Iri, Lit, Triple


def to_oxigraph(triples: Iterable[Triple]) -> list[ox.Triple]:
    nodes: dict[str, ox.NamedNode] = {}

    def node(value: str) -> ox.NamedNode:
        found = nodes.get(value)
        if found is None:
            found = nodes[value] = ox.NamedNode(value)
        return found

    out = []
    for s, p, o in triples:
        if isinstance(o, Iri):
            obj = node(o)
        elif o.lang:
            obj = ox.Literal(o.value, language=o.lang)
        elif o.datatype:
            obj = ox.Literal(o.value, datatype=node(o.datatype))
        else:
            obj = ox.Literal(o.value)
        out.append(ox.Triple(node(s), node(p), obj))
    return out


def write_turtle(triples: list[Triple], path: Path, prefixes: dict[str, str]) -> None:
    used = _used_prefixes(triples, prefixes)
    with path.open("wb") as f:
        ox.serialize(to_oxigraph(triples), f, format=ox.RdfFormat.TURTLE, prefixes=used)
    # The header's order is the serializer's: sort it in place (same bytes, same length).
    with path.open("r+b") as f:
        header = []
        while (line := f.readline()).startswith(b"@prefix"):
            header.append(line)
        f.seek(0)
        f.writelines(sorted(header))


def write_ntriples_gz(triples: list[Triple], path: Path) -> None:
    # mtime=0: the same triples give the same bytes (and the same checksum) on every run.
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        ox.serialize(to_oxigraph(triples), f, format=ox.RdfFormat.N_TRIPLES)


def _used_prefixes(triples: list[Triple], prefixes: dict[str, str]) -> dict[str, str]:
    """Only the prefixes the triples use (a stable, minimal header)."""
    seen: set[str] = set()
    iris = (t for triple in triples for t in _iris(triple))
    longest_first = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))
    checked: set[str] = set()
    for value in iris:
        head = value[: value.rfind("/") + 1] if "#" not in value else value[: value.find("#") + 1]
        if head in checked:
            continue
        checked.add(head)
        for name, ns in longest_first:
            if value.startswith(ns):
                seen.add(name)
                break
    return {k: v for k, v in sorted(prefixes.items()) if k in seen}


def _iris(triple: Triple) -> Iterable[str]:
    s, p, o = triple
    yield s
    yield p
    if isinstance(o, Iri):
        yield o
    elif o.datatype:
        yield o.datatype


def context(prefixes: dict[str, str]) -> dict[str, Any]:
    """The JSON-LD ``@context`` of the releases: the prefixes, nothing else to learn."""
    return {"@context": dict(sorted(prefixes.items()))}


class _Compactor:
    def __init__(self, prefixes: dict[str, str]):
        self.prefixes = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))
        self.cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        found = self.cache.get(value)
        if found is None:
            found = value
            for name, ns in self.prefixes:
                if value.startswith(ns) and len(value) > len(ns):
                    found = f"{name}:{value[len(ns) :]}"
                    break
            self.cache[value] = found
        return found


def jsonld_document(triples: list[Triple], prefixes: dict[str, str]) -> dict[str, Any]:
    """Compact JSON-LD (flattened: one node object per subject, in triple order)."""
    compact = _Compactor(prefixes)
    graph: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for s, p, o in triples:
        if current is None or current["@id"] != compact(s):
            current = {"@id": compact(s)}
            graph.append(current)
        if p == RDF_TYPE and isinstance(o, Iri):
            current.setdefault("@type", []).append(compact(o))
            continue
        if isinstance(o, Iri):
            value: Any = {"@id": compact(o)}
        elif o.lang:
            value = {"@value": o.value, "@language": o.lang}
        elif o.datatype and o.datatype != XSD + "string":
            value = {"@value": o.value, "@type": compact(o.datatype)}
        else:
            value = o.value
        current.setdefault(compact(p), []).append(value)
    for node in graph:  # single values without a list, as people write them
        for key, values in node.items():
            if isinstance(values, list) and len(values) == 1:
                node[key] = values[0]
    return {"@context": dict(sorted(prefixes.items())), "@graph": graph}


def write_jsonld(triples: list[Triple], path: Path, prefixes: dict[str, str]) -> None:
    doc = jsonld_document(triples, _used_prefixes(triples, prefixes))
    with path.open("w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def to_rdflib(triples: Iterable[Triple]):
    from rdflib import Graph, Literal, URIRef

    g = Graph()
    for s, p, o in triples:
        if isinstance(o, Iri):
            obj = URIRef(o)
        else:
            obj = Literal(o.value, lang=o.lang, datatype=URIRef(o.datatype) if o.datatype else None)
        g.add((URIRef(s), URIRef(p), obj))
    return g


__all__ = [
    "Lit",
    "context",
    "jsonld_document",
    "to_oxigraph",
    "to_rdflib",
    "write_jsonld",
    "write_ntriples_gz",
    "write_turtle",
]
