"""Derived artifacts of the open schema: JSON Schema and Frictionless Table Schema.

Both are generated from the pydantic models; the committed copies under ``schemas/v1`` are checked
against a fresh generation by the tests.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .models import MULTI_SEPARATOR, SCHEMA_VERSION, Actor

SCHEMA_BASE_URL = "https://w3id.org/pana/schemas/v1/"
MAJOR = SCHEMA_VERSION.split(".")[0]


def json_schema() -> dict[str, Any]:
    schema = Actor.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URL + "actor.schema.json",
        "version": SCHEMA_VERSION,
        **schema,
        "title": "Acteur PANA",
        "description": (
            "Un point d'appui au numérique associatif : une structure qui informe, oriente ou "
            "accompagne les associations sur le numérique."
        ),
    }


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Strip ``anyOf [X, null]`` and ``$ref``; return the effective schema and nullability."""
    nullable = False
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(prop["anyOf"])
        prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}
    if "$ref" in prop:
        ref = defs[prop["$ref"].rsplit("/", 1)[-1]]
        prop = {**ref, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop, nullable


def _alternatives(item: dict[str, Any]) -> list[str] | None:
    if "oneOf" in item:
        return [o["const"] for o in item["oneOf"]]
    if "enum" in item:
        return list(item["enum"])
    return None


def _escape(text: str) -> str:
    """Escape only regex syntax characters, so patterns read the same in Python and ECMA-262
    (which rejects needless escapes such as ``\\-`` in unicode mode)."""
    return re.sub(r"([.^$*+?()[\]{}|\\/])", r"\\\1", text)


def _multi_pattern(item_pattern: str) -> str:
    inner = item_pattern.removeprefix("^").removesuffix("$")
    sep = _escape(MULTI_SEPARATOR)
    return f"^(?:{inner})(?:{sep}(?:{inner}))*$"


def table_field(name: str, prop: dict[str, Any], defs: dict[str, Any], required: bool) -> dict:
    prop, _ = _resolve(prop, defs)
    field: dict[str, Any] = {"name": name, "title": prop.get("title", name)}
    if prop.get("description"):
        field["description"] = prop["description"]
    if prop.get("examples"):
        example = prop["examples"][0]
        field["example"] = MULTI_SEPARATOR.join(example) if isinstance(example, list) else example
    constraints: dict[str, Any] = {"required": required}
    kind = prop.get("type")
    if kind == "array":
        item, _ = _resolve(prop["items"], defs)
        field["type"] = "string"
        alternatives = _alternatives(item)
        if alternatives:
            item_pattern = "^(?:" + "|".join(_escape(a) for a in alternatives) + ")$"
        else:
            item_pattern = item.get("pattern", r"^[^|]+$")
        constraints["pattern"] = _multi_pattern(item_pattern)
        field["description"] = (
            field.get("description", "") + f" Valeurs multiples séparées par « {MULTI_SEPARATOR} »."
        ).strip()
    elif kind == "number":
        field["type"] = "number"
        for key, target in (("minimum", "minimum"), ("maximum", "maximum")):
            if key in prop:
                constraints[target] = prop[key]
    elif kind == "string" and prop.get("format") == "date":
        field["type"] = "date"
    else:
        field["type"] = "string"
        alternatives = _alternatives(prop)
        if alternatives:
            constraints["enum"] = alternatives
        if "pattern" in prop:
            constraints["pattern"] = prop["pattern"]
        if "minLength" in prop:
            constraints["minLength"] = prop["minLength"]
    field["constraints"] = constraints
    return field


def table_schema() -> dict[str, Any]:
    schema = Actor.model_json_schema(mode="serialization")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields = [
        table_field(name, schema["properties"][name], defs, name in required)
        for name in Actor.columns()
    ]
    fields[0]["constraints"]["unique"] = True
    return {
        "$schema": "https://frictionlessdata.io/schemas/table-schema.json",
        "name": "pana-acteurs",
        "title": "Acteurs PANA — points d'appui au numérique associatif",
        "description": (
            "Structures qui informent, orientent ou accompagnent les associations sur le "
            "numérique, dédupliquées et identifiées de façon stable."
        ),
        "version": SCHEMA_VERSION,
        "homepage": "https://w3id.org/pana/",
        "path": SCHEMA_BASE_URL + "actor.tableschema.json",
        "licenses": [
            {
                "name": "etalab-2.0",
                "title": "Licence Ouverte / Open Licence version 2.0",
                "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
            }
        ],
        "missingValues": [""],
        "primaryKey": "id",
        "fields": fields,
    }


def artifacts() -> dict[str, str]:
    """Relative path -> text of every schema artifact generated from the models."""

    def dump(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n"

    return {
        f"schemas/v{MAJOR}/actor.schema.json": dump(json_schema()),
        f"schemas/v{MAJOR}/actor.tableschema.json": dump(table_schema()),
    }
