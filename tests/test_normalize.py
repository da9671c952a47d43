"""Normalisation keys: properties checked with hypothesis, plus the field's known spellings."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from pana_data.dedup import normalize as n
from pana_data.schema.identifiers import _OVERSEAS_PREFIXES as OVERSEAS_PREFIXES

WORDS = st.text(alphabet=string.ascii_letters + "éèêàçôîûÉÈÀÇ'’-.,()& 0123456789", max_size=60)


@given(WORDS)
def test_name_key_is_idempotent_and_plain(text):
    key = n.name_key(text)
    if key is not None:
        assert n.name_key(key) == key
        assert set(key) <= set(string.ascii_lowercase + string.digits + " ")
        assert "  " not in key and key == key.strip()


@given(WORDS)
def test_name_key_ignores_case_and_accents(text):
    assert n.name_key(text.upper()) == n.name_key(text.lower())
    assert n.name_key(text) == n.name_key(n.fold(text))


@given(
    st.lists(
        st.sampled_from(["maison", "des", "associations", "limoges", "MDA", "C.S."]), min_size=1
    )
)
def test_name_key_ignores_punctuation_between_words(words):
    assert (
        n.name_key(" ".join(words)) == n.name_key(" - ".join(words)) == n.name_key(",".join(words))
    )


@pytest.mark.parametrize(
    "a,b",
    [
        ("Maison des Associations de Limoges", "MDA LIMOGES"),
        ("M.D.A. de Limoges", "Maison des associations - Limoges"),
        ("C.S. Saint-Exupéry", "Centre social St Exupery"),
        ("Association Ordi Solidaire 87 (loi 1901)", "ORDI SOLIDAIRE 87"),
        ("PIVA de Guéret", "Point d'information vie associative Guéret"),
        ("Fédération des Œuvres Laïques", "FOL"),
    ],
)
def test_known_spellings_share_a_name_key(a, b):
    assert n.name_key(a) == n.name_key(b)


def test_different_towns_keep_different_keys():
    assert n.name_key("MDA Limoges") != n.name_key("MDA Poitiers")


@pytest.mark.parametrize(
    "a,b",
    [
        ("12 bis, r. du Gal Leclerc", "12BIS rue du Général Leclerc"),
        ("8 bd Joliot-Curie", "8 boulevard Joliot Curie"),
        ("3 pl. de la Bourse", "3 Place de la Bourse"),
        ("14 av. Henri Barbusse", "14 avenue Henri-Barbusse"),
        ("2 ter all. des Tilleuls", "2 TER allée des tilleuls"),
    ],
)
def test_known_address_spellings_share_a_key(a, b):
    assert n.address_key(a) == n.address_key(b)


@given(WORDS)
def test_address_key_is_idempotent(text):
    key = n.address_key(text)
    if key is not None:
        assert n.address_key(key) == key


@given(
    st.integers(min_value=1, max_value=9), st.text(alphabet=string.digits, min_size=8, max_size=8)
)
def test_phone_key_ignores_formatting(first, rest):
    national = f"0{first}{rest}"
    if national[:4] in OVERSEAS_PREFIXES:
        return  # 0639… is Mayotte (+262 639…): "+33 6 39…" is another number by design
    spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    dotted = ".".join(national[i : i + 2] for i in range(0, 10, 2))
    international = "+33 " + national[1:]
    keys = {
        n.phone_key(v) for v in (national, spaced, dotted, international, "0033" + national[1:])
    }
    assert len(keys) == 1 and None not in keys


@given(st.integers(min_value=1000, max_value=99999))
def test_postcode_key_pads_a_lost_zero(number):
    key = n.postcode_key(number)
    assert len(key) == 5 and int(key) == number


@given(
    st.text(alphabet=string.digits, min_size=13, max_size=13), st.integers(0, 13), st.integers(1, 9)
)
def test_siret_key_accepts_luhn_and_rejects_any_single_digit_error(head, position, delta):
    siret = head + luhn.calc_check_digit(head)
    if not luhn.is_valid(siret[:9]) or siret.startswith("356000000") or set(siret) == {"0"}:
        return  # the SIREN part must be valid too; La Poste has its own rule
    assert n.siret_key(siret) == siret
    wrong = siret[:position] + str((int(siret[position]) + delta) % 10) + siret[position + 1 :]
    assert n.siret_key(wrong) is None


def test_placeholders_are_not_keys():
    assert n.siret_key("00000000000000") is None
    assert n.rna_key("W000000000") is None
    assert n.siren_key("000000000") is None
    assert n.email_key("pas un courriel") is None


@pytest.mark.parametrize(
    "url,key",
    [
        ("https://www.mda-limoges.fr/contact", "mda-limoges.fr"),
        ("mda-limoges.fr", "mda-limoges.fr"),
        ("https://m.facebook.com/mdalimoges/", "facebook.com/mdalimoges"),
        ("https://www.facebook.com/MDALimoges", "facebook.com/mdalimoges"),
        ("https://www.facebook.com/", None),
        ("https://fr-fr.facebook.com/MDALimoges/", "facebook.com/mdalimoges"),
        ("https://www.facebook.com/profile.php?id=123", "facebook.com/profile.php?id=123"),
        (
            "https://www.helloasso.com/associations/club-informatique-brive",
            "helloasso.com/associations/club-informatique-brive",
        ),
        ("https://fr.linkedin.com/company/fol87", "linkedin.com/company/fol87"),
        (
            "https://sites.google.com/view/mda-tulle/accueil",
            "sites.google.com/view/mda-tulle/accueil",
        ),
        ("pas une url", None),
    ],
)
def test_website_key(url, key):
    assert n.website_key(url) == key
