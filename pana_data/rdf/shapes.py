"""SHACL shapes of the published actors, generated from the mapping tables (``mapping.py``) and the
schema's models (patterns, code lists): the shapes, the RDF and the JSON Schema cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection

from ..schema import ActorData, Region
from ..schema.models import ACTOR_ID_PATTERN
from .mapping import ADDRESS, CONCEPTS, IDENTIFIERS, LITERALS, MEMBERSHIPS, Uris
from .terms import DEFAULT_BASE, PREFIXES
from .vocab import SCHEMES

SH = Namespace("http://www.w3.org/ns/shacl#")


def _x(curie: str, uris: Uris) -> URIRef:
    return URIRef(uris.resolve(curie))


def _pattern(field: str) -> str | None:
    prop = ActorData.model_json_schema()["properties"][field]
    for option in [prop, *prop.get("anyOf", [])]:
        if "pattern" in option:
            return option["pattern"]
    return None


class _Builder:
    def __init__(self, base: str):
        self.uris = Uris(base)
        self.base = base
        self.g = Graph()
        self.g.bind("sh", SH)
        for name, ns in PREFIXES.items():
            self.g.bind(name, Namespace(ns))
        self.g.bind("pana", Namespace(base + "vocab#"))
        self.g.bind("shape", Namespace(base + "shapes#"))

    def shape(self, name: str, target: str | None = None) -> URIRef:
        node = URIRef(f"{self.base}shapes#{name}")
        self.g.add((node, RDF.type, SH.NodeShape))
        if target:
            self.g.add((node, SH.targetClass, _x(target, self.uris)))
        return node

    def prop(self, shape: URIRef, path: str, **rules: Any) -> BNode:
        node = BNode(f"{shape.split('#')[1]}-{path.replace(':', '-')}")
        self.g.add((shape, SH.property, node))
        self.g.add((node, SH.path, _x(path, self.uris)))
        for key, value in rules.items():
            if key == "in_":
                items = BNode(f"{node}-in")
                Collection(self.g, items, [URIRef(v) for v in value])
                self.g.add((node, SH["in"], items))
            elif key == "or_":
                items = BNode(f"{node}-or")
                Collection(self.g, items, value)
                self.g.add((node, SH["or"], items))
            elif isinstance(value, URIRef | BNode):
                self.g.add((node, SH[key], value))
            else:
                self.g.add((node, SH[key], Literal(value)))
        return node

    def concepts(self, name: str) -> list[str]:
        return [self.uris.concept(name, m.value) for m in SCHEMES[name]]


def shapes_graph(base: str = DEFAULT_BASE) -> Graph:
    b = _Builder(base)
    g, uris = b.g, b.uris
    actor = b.shape("Acteur", "org:Organization")
    b.prop(actor, "dct:identifier", minCount=1, maxCount=1, datatype=XSD.string,
           pattern=ACTOR_ID_PATTERN)  # fmt: skip
    for name, (curie, spec) in LITERALS.items():
        rules: dict[str, Any] = {"maxCount": 1}
        if name == "nom":
            rules["minCount"] = 1
        if spec == "@fr":
            rules["datatype"] = RDF.langString
        elif spec:
            rules["datatype"] = _x(spec, uris)
        else:
            rules["datatype"] = XSD.string
        b.prop(actor, curie, **rules)
    identifier = b.shape("Identifiant")
    b.prop(actor, "adms:identifier", maxCount=len(IDENTIFIERS), node=identifier)
    alternatives = []
    for name, (scheme, _agency) in IDENTIFIERS.items():
        option = b.shape(f"Identifiant-{name}")
        b.prop(option, "dct:conformsTo", hasValue=URIRef(scheme))
        b.prop(option, "skos:notation", pattern=_pattern(name))
        alternatives.append(option)
    b.g.add((identifier, SH.targetClass, _x("adms:Identifier", uris)))
    b.prop(identifier, "skos:notation", minCount=1, maxCount=1, datatype=XSD.string)
    b.prop(identifier, "dct:conformsTo", minCount=1, maxCount=1)
    xone = BNode("Identifiant-xone")
    Collection(g, xone, alternatives)
    g.add((identifier, SH.xone, xone))

    address = b.shape("Adresse", "locn:Address")
    b.prop(actor, "locn:address", maxCount=1, node=address)
    b.prop(address, "locn:fullAddress", maxCount=1, datatype=XSD.string)
    for name, curie in ADDRESS.items():
        rules = {"maxCount": 1, "datatype": XSD.string}
        if name == "region":  # a literal code of the Region code list
            rules["pattern"] = "^(" + "|".join(m.value for m in Region) + ")$"
        elif _pattern(name):
            rules["pattern"] = _pattern(name)
        b.prop(address, curie, **rules)

    geometry = b.shape("Geometrie", "locn:Geometry")
    b.prop(actor, "locn:geometry", maxCount=1, node=geometry)
    b.prop(geometry, "geo:asWKT", minCount=1, maxCount=1, datatype=_x("geo:wktLiteral", uris),
           pattern=r"^POINT\(-?\d+(\.\d+)?([eE]-?\d+)? -?\d+(\.\d+)?([eE]-?\d+)?\)$")  # fmt: skip
    b.prop(geometry, "wgs:lat", minCount=1, maxCount=1, datatype=XSD.decimal,
           minInclusive=-90, maxInclusive=90)  # fmt: skip
    b.prop(geometry, "wgs:long", minCount=1, maxCount=1, datatype=XSD.decimal,
           minInclusive=-180, maxInclusive=180)  # fmt: skip

    contact = b.shape("Contact", "cv:ContactPoint")
    b.prop(actor, "cv:contactPoint", maxCount=1, node=contact)
    b.prop(contact, "cv:telephone", maxCount=1, datatype=XSD.string,
           pattern=_pattern("telephone"))  # fmt: skip
    b.prop(contact, "cv:email", maxCount=1, nodeKind=SH.IRI, pattern="^mailto:")
    b.prop(actor, "foaf:homepage", maxCount=1, nodeKind=SH.IRI, pattern="^https?://")

    for name, curie in CONCEPTS.items():
        rules = {"in_": b.concepts(name)}
        if name == "statut":
            rules.update(minCount=1, maxCount=1)
        b.prop(actor, curie, **rules)
    membership = b.shape("Adhesion", "org:Membership")
    b.prop(actor, "org:hasMembership", node=membership)
    b.prop(membership, "org:member", minCount=1, maxCount=1, nodeKind=SH.IRI)
    b.prop(membership, "dct:date", maxCount=1, datatype=XSD.date)
    options = []
    for name, curie in MEMBERSHIPS.items():
        option = b.shape(f"Adhesion-{name}")
        b.prop(option, curie, minCount=1, maxCount=1, in_=b.concepts(name))
        options.append(option)
    alt = BNode("Adhesion-or")
    Collection(g, alt, options)
    g.add((membership, SH["or"], alt))

    b.prop(actor, "schema:areaServed", nodeKind=SH.IRI)
    b.prop(actor, "prov:wasDerivedFrom", minCount=1, nodeKind=SH.IRI)
    b.prop(actor, "prov:wasGeneratedBy", nodeKind=SH.IRI)
    return g
