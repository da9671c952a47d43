import pytest
from stdnum import luhn

from pana_data.schema import identifiers as ids


def make_siret(base8: str, nic4: str) -> str:
    siren = base8 + luhn.calc_check_digit(base8)
    head = siren + nic4
    return head + luhn.calc_check_digit(head)


def test_siret_luhn_and_length():
    good = make_siret("41852963", "0002")
    assert ids.clean_siret(good) == good
    assert ids.clean_siret(f" {good[:3]} {good[3:6]} {good[6:9]} {good[9:]} ") == good
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValueError, match="Luhn"):
        ids.clean_siret(bad)
    with pytest.raises(ValueError, match="14 digits"):
        ids.clean_siret("1234")


def test_siret_la_poste_exception():
    # La Poste establishments (SIREN 356000000) fail Luhn but have a digit sum multiple of 5.
    assert ids.clean_siret("35600000049837") == "35600000049837"
    assert luhn.is_valid("35600000049837") is False


def test_siret_from_spreadsheet_number_and_placeholder():
    good = make_siret("50217734", "0003")
    assert ids.clean_siret(float(good)) == good
    assert ids.clean_siret("00000000000000") is None
    assert ids.clean_siret("") is None


def test_siren():
    assert ids.clean_siren("356000000") == "356000000"
    with pytest.raises(ValueError):
        ids.clean_siren("356000001")


@pytest.mark.parametrize("value", ["W9T1002867", "W632007046", "w012000002", "W2A1000123"])
def test_rna_accepts_real_numbers(value):
    assert ids.clean_rna(value) == value.upper()


def test_rna_rejects_and_placeholder():
    assert ids.clean_rna("W000000000") is None
    for bad in ("W12345", "X123456789", "W1234567890"):
        with pytest.raises(ValueError):
            ids.clean_rna(bad)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("87000", "87000"),
        ("1000", "01000"),
        (1000, "01000"),
        (1000.0, "01000"),
        ("23 200", "23200"),
    ],
)
def test_postcode_keeps_leading_zero(raw, expected):
    assert ids.clean_postcode(raw) == expected


def test_postcode_rejects_garbage():
    with pytest.raises(ValueError):
        ids.clean_postcode("870")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("05 55 45 61 00", "+33555456100"),
        ("05.55.45.61.00", "+33555456100"),
        ("+33 (0)5 49 41 24 24", "+33549412424"),
        ("+33 5 55 03 36 00", "+33555033600"),
        ("0033555456100", "+33555456100"),
        ("555411200", "+33555411200"),
        ("0262 12 34 56", "+262262123456"),
        ("0692 12 34 56", "+262692123456"),
        ("0590 12 34 56", "+590590123456"),
        ("0639 12 34 56", "+262639123456"),
        ("05 55 45", None),
        ("+1 212 555 0100", None),
    ],
)
def test_phone_e164(raw, expected):
    if expected is None:
        with pytest.raises(ValueError):
            ids.clean_phone(raw)
    else:
        assert ids.clean_phone(raw) == expected


def test_phone_rejects_placeholder_text():
    with pytest.raises(ValueError, match="not recognised"):
        ids.clean_phone("NC")


def test_email_and_url():
    assert ids.clean_email("Contact@MDA-Limoges.fr") == "contact@mda-limoges.fr"
    assert ids.clean_email("mailto:a@b.fr") == "a@b.fr"
    with pytest.raises(ValueError):
        ids.clean_email("pas un courriel")
    assert ids.clean_url("www.mda-limoges.fr") == "https://www.mda-limoges.fr"
    assert ids.clean_url("http://exemple.fr/a") == "http://exemple.fr/a"


def test_french_dates():
    assert ids.clean_date("12/06/2026") == "2026-06-12"
    assert ids.clean_date("0001-01-01") is None
    assert ids.clean_date("2026-06-12T10:00:00") == "2026-06-12"


@pytest.mark.parametrize(
    "insee,postcode,dep",
    [
        ("87085", None, "87"),
        ("97411", None, "974"),
        (None, "20000", "2A"),
        (None, "20200", "2B"),
        (None, "01000", "01"),
        ("2A004", "20000", "2A"),
        (None, None, None),
    ],
)
def test_departement_of(insee, postcode, dep):
    assert ids.departement_of(insee, postcode) == dep
