"""Validation: rejects name source, record and field; warnings never reject; nothing is lost."""

import pytest

from pana_data.catalog import SourceSpec
from pana_data.sources import RawRecord
from pana_data.validate import validate_rows


def spec() -> SourceSpec:
    return SourceSpec(id="partner", kind="table", url="x.csv", licence="etalab-2.0")


def raw(record_id, n=1, **fields):
    return RawRecord(record_id=record_id, fields=fields, raw={"row": n, **fields}, row_number=n)


def test_invalid_fields_quarantine_the_record_with_reasons():
    result = validate_rows(
        spec(),
        [
            raw("1", nom="OK", telephone="05 55 45 61 00"),
            raw("2", 2, nom="Bad", telephone="NC", siret="12345678901234"),
        ],
    )
    assert [r.record_id for r in result.records] == ["1"]
    rejects = {(r.record_id, r.field): r.reason for r in result.rejects}
    assert set(rejects) == {("2", "telephone"), ("2", "siret")}
    assert "NC" in rejects[("2", "telephone")]
    assert "Luhn" in rejects[("2", "siret")]
    assert all(
        r.raw == {"row": 2, "nom": "Bad", "telephone": "NC", "siret": "12345678901234"}
        for r in result.rejects
    )
    assert result.summary() == {"rows": 2, "accepted": 1, "rejected": 1, "warnings": 0}


def test_unknown_code_is_a_warning_not_a_rejection():
    result = validate_rows(spec(), [raw("1", nom="X", thematiques="Communication;Vote en ligne")])
    (record,) = result.records
    assert [t.value for t in record.thematiques] == ["communication"]
    assert [(w.record_id, w.field) for w in result.warnings] == [("1", "thematiques")]
    assert result.rejects == []


def test_labels_match_codes_without_accents_or_case():
    result = validate_rows(
        spec(), [raw("1", nom="X", thematiques="PROTECTION DES DONNEES|Bénévolat")]
    )
    assert [t.value for t in result.records[0].thematiques] == [
        "protection-des-donnees",
        "benevolat",
    ]


def test_missing_and_duplicate_record_ids_are_rejected():
    result = validate_rows(
        spec(), [raw(None, 1, nom="A"), raw("7", 2, nom="B"), raw("7", 3, nom="C")]
    )
    assert [r.record_id for r in result.records] == ["7"]
    assert [(r.record_id, r.field, r.reason) for r in result.rejects] == [
        ("row-1", "record_id", "record id is empty"),
        ("7", "record_id", "record id appears twice"),
    ]
    assert result.rows == 3


def test_missing_name_is_rejected():
    result = validate_rows(spec(), [raw("1", code_postal="87000")])
    assert [(r.field, r.reason) for r in result.rejects] == [("nom", "Field required")]


def test_lookup_keys_may_contain_separators():
    spec_ = SourceSpec(
        id="p",
        kind="table",
        url="x",
        licence="x",
        lookups={"niveaux_service": {"Informer; Orienter": "informer|orienter"}},
    )
    result = validate_rows(spec_, [raw("1", nom="X", niveaux_service="Informer; Orienter")])
    assert result.warnings == []
    assert [n.value for n in result.records[0].niveaux_service] == ["informer", "orienter"]


def test_urls_and_emails_that_would_break_rdf_are_rejected():
    result = validate_rows(
        spec(),
        [
            raw("1", nom="A", site_web="https:\\\\www.mda-limoges.fr"),
            raw("2", 2, nom="B", courriel='a"b@c.fr'),
            raw("3", 3, nom="C", site_web="www.mda-limoges.fr", courriel="Contact@MDA.fr"),
        ],
    )
    assert {(r.record_id, r.field) for r in result.rejects} == {
        ("1", "site_web"),
        ("2", "courriel"),
    }
    assert result.records[0].site_web == "https://www.mda-limoges.fr"


def test_numeric_dates_are_not_timestamps():
    result = validate_rows(
        spec(), [raw("1", nom="A", date_maj="46000"), raw("2", 2, nom="B", date_maj="01/02/2026")]
    )
    assert [(r.record_id, r.field) for r in result.rejects] == [("1", "date_maj")]
    assert str(result.records[0].date_maj) == "2026-02-01"


def test_overseas_collectivities_keep_a_valid_departement():
    result = validate_rows(spec(), [raw("1", nom="A", code_postal="98800", telephone="+687123456")])
    (record,) = result.records
    assert record.departement == "988" and record.region is None


@pytest.mark.parametrize(
    "raw_url,expected",
    [
        ("www.exemple.fr:8080/agenda", "https://www.exemple.fr:8080/agenda"),
        ("HTTPS://Exemple.fr/A", "https://Exemple.fr/A"),
        ("https://www.exemple.fr./contact", "https://www.exemple.fr./contact"),
        ("https://f.fr/css?family=Roboto|Open+Sans", "https://f.fr/css?family=Roboto%7COpen+Sans"),
        ("https://exemple.fr/mon site/{id}", "https://exemple.fr/mon%20site/%7Bid%7D"),
        ("https://mairie-évry.fr/(x)%20y", "https://mairie-évry.fr/(x)%20y"),
    ],
)
def test_common_urls_are_accepted_and_made_iri_safe(raw_url, expected):
    result = validate_rows(spec(), [raw("1", nom="A", site_web=raw_url)])
    assert result.rejects == []
    assert result.records[0].site_web == expected


@pytest.mark.parametrize(
    "email", ["contact@mairie-évry.fr", "a&b@asso.fr", "o'brien+asso@exemple.fr", "a/b=c@asso.fr"]
)
def test_organisational_emails_are_accepted(email):
    assert validate_rows(spec(), [raw("1", nom="A", courriel=email)]).rejects == []
