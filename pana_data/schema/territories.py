"""Regions (INSEE COG 2016+) and the département -> région table."""

from __future__ import annotations

from .codelists import CodeList


class Region(CodeList):
    """Région administrative (code officiel géographique de l'INSEE)."""

    GUADELOUPE = ("01", "Guadeloupe", "Région d'outre-mer.")
    MARTINIQUE = ("02", "Martinique", "Collectivité territoriale unique.")
    GUYANE = ("03", "Guyane", "Collectivité territoriale unique.")
    LA_REUNION = ("04", "La Réunion", "Région d'outre-mer.")
    MAYOTTE = ("06", "Mayotte", "Département de Mayotte.")
    ILE_DE_FRANCE = ("11", "Île-de-France", "Région métropolitaine.")
    CENTRE_VAL_DE_LOIRE = ("24", "Centre-Val de Loire", "Région métropolitaine.")
    BOURGOGNE_FRANCHE_COMTE = ("27", "Bourgogne-Franche-Comté", "Région métropolitaine.")
    NORMANDIE = ("28", "Normandie", "Région métropolitaine.")
    HAUTS_DE_FRANCE = ("32", "Hauts-de-France", "Région métropolitaine.")
    GRAND_EST = ("44", "Grand Est", "Région métropolitaine.")
    PAYS_DE_LA_LOIRE = ("52", "Pays de la Loire", "Région métropolitaine.")
    BRETAGNE = ("53", "Bretagne", "Région métropolitaine.")
    NOUVELLE_AQUITAINE = ("75", "Nouvelle-Aquitaine", "Région métropolitaine.")
    OCCITANIE = ("76", "Occitanie", "Région métropolitaine.")
    AUVERGNE_RHONE_ALPES = ("84", "Auvergne-Rhône-Alpes", "Région métropolitaine.")
    PACA = ("93", "Provence-Alpes-Côte d'Azur", "Région métropolitaine.")
    CORSE = ("94", "Corse", "Collectivité de Corse.")


_REGION_DEPARTEMENTS = {
    "84": "01 03 07 15 26 38 42 43 63 69 73 74",
    "27": "21 25 39 58 70 71 89 90",
    "53": "22 29 35 56",
    "24": "18 28 36 37 41 45",
    "94": "2A 2B",
    "44": "08 10 51 52 54 55 57 67 68 88",
    "32": "02 59 60 62 80",
    "11": "75 77 78 91 92 93 94 95",
    "28": "14 27 50 61 76",
    "75": "16 17 19 23 24 33 40 47 64 79 86 87",
    "76": "09 11 12 30 31 32 34 46 48 65 66 81 82",
    "52": "44 49 53 72 85",
    "93": "04 05 06 13 83 84",
    "01": "971",
    "02": "972",
    "03": "973",
    "04": "974",
    "06": "976",
}

REGION_OF_DEPARTEMENT: dict[str, Region] = {
    dep: Region(code) for code, deps in _REGION_DEPARTEMENTS.items() for dep in deps.split()
}
