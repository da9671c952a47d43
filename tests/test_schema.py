import json

import jsonschema
import pytest
from pydantic import ValidationError

from pana_data import artifacts
from pana_data.schema import CODE_LISTS, Actor, NiveauService, SourceRecord, Thematique
from pana_data.schema.generate import json_schema, table_schema
from tests.helpers import ROOT

VALID_SIRET = "41852963200022"


def record(**fields):
    return SourceRecord.model_validate(
        {"source_id": "demo", "record_id": "1", "nom": "MDA", **fields}
    )


def test_committed_artifacts_are_fresh():
    assert artifacts.stale(ROOT) == [], "run `pana schema generate` and commit the result"


def test_stale_artifact_is_detected(tmp_path):
    artifacts.write(tmp_path)
    assert artifacts.stale(tmp_path) == []
    target = tmp_path / "schemas/v1/actor.tableschema.json"
    target.write_text(target.read_text().replace('"nom"', '"name"'))
    assert artifacts.stale(tmp_path) == ["schemas/v1/actor.tableschema.json"]


def test_every_code_list_has_labels_and_descriptions():
    for name, codes in CODE_LISTS.items():
        assert len(codes) >= 2, name
        for member in codes:
            assert member.value and member.label and member.description, (name, member)
    assert NiveauService.values() == ["informer", "orienter", "accompagner"]
    required_themes = {
        "communication",
        "collecte-de-fonds",
        "gouvernance",
        "benevolat",
        "outils-collaboratifs",
        "protection-des-donnees",
        "enjeux-societaux-du-numerique",
    }
    assert required_themes <= set(Thematique.values())


def test_json_schema_documents_enums_with_labels():
    schema = json_schema()
    niveau = schema["$defs"]["NiveauService"]
    assert {o["const"] for o in niveau["oneOf"]} == set(NiveauService.values())
    assert all(o["title"] and o["description"] for o in niveau["oneOf"])
    assert set(schema["required"]) == {"id", "nom", "sources"}


def test_table_schema_covers_every_published_column():
    schema = table_schema()
    assert [f["name"] for f in schema["fields"]] == Actor.columns()
    assert schema["primaryKey"] == "id"
    by_name = {f["name"]: f for f in schema["fields"]}
    assert by_name["code_postal"]["type"] == "string"  # leading zeros survive spreadsheets
    assert by_name["date_maj"]["type"] == "date"
    assert "accompagner" in by_name["niveaux_service"]["constraints"]["pattern"]


def test_model_derives_siren_departement_region():
    r = record(siret=VALID_SIRET, code_postal="1000")
    assert r.siren == VALID_SIRET[:9]
    assert r.code_postal == "01000"
    assert r.departement == "01" and r.region.value == "84"
    assert r.statut.value == "inconnu"


def test_model_rejects_inconsistent_identifiers():
    with pytest.raises(ValidationError, match="does not match"):
        record(siret=VALID_SIRET, siren="356000000")
    with pytest.raises(ValidationError, match="latitude and longitude"):
        record(latitude=45.8)


def test_multi_values_split_and_validated():
    r = record(niveaux_service="informer|orienter", thematiques=["communication"])
    assert [n.value for n in r.niveaux_service] == ["informer", "orienter"]
    with pytest.raises(ValidationError):
        record(niveaux_service="former")


def test_actor_json_validates_against_generated_schema():
    actor = Actor.model_validate(
        {"id": "pana-abcdefghijkl", "nom": "MDA", "sources": ["demo"], "siret": VALID_SIRET}
    )
    jsonschema.validate(json.loads(actor.model_dump_json()), json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "pana-abcdefghijkl", "sources": ["demo"]}, json_schema())


def test_every_published_field_has_a_title_description_and_example():
    for field in table_schema()["fields"]:
        assert field["title"] and field["description"] and "example" in field, field["name"]


def test_the_documented_examples_form_a_valid_actor():
    example = {name: info.examples[0] for name, info in Actor.model_fields.items()}
    actor = Actor.model_validate(example)
    assert actor.siren == actor.siret[:9]
    assert actor.departement == "87" and actor.region.value == "75"


def _patterns(obj) -> list[str]:
    found = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "pattern" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_patterns(value))
    elif isinstance(obj, list):
        for value in obj:
            found.extend(_patterns(value))
    return found


def test_published_patterns_are_portable_to_ecma_262():
    """JSON Schema validators use ECMA-262 regexes: no needless escapes, no Python-only syntax."""
    import re
    import shutil
    import subprocess

    patterns = _patterns(json_schema()) + _patterns(table_schema())
    assert len(patterns) > 10
    allowed = set("dDwWsSbBnrtfv0^$\\.*+?()[]{}|/")
    for pattern in patterns:
        for escaped in re.findall(r"\\(.)", pattern.replace("\\\\", "")):
            assert escaped in allowed, (pattern, escaped)
        assert "\\w" not in pattern, "\\w means ASCII only in ECMA-262 but Unicode in Python"
    node = shutil.which("node")
    if node:
        script = "for (const p of JSON.parse(process.argv[1])) new RegExp(p, 'u');"
        result = subprocess.run(
            [node, "-e", script, json.dumps(patterns)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
