"""Kind ``mediation-numerique``: the LaMednum "lieux de médiation numérique" Table Schema v1.0.2.

Traps handled (see notes/sources.md): ``pivot`` holds a SIRET, or an RNA number when the
association has none, or a RIDET overseas; ``00000000000000`` means unknown; multi-values are
separated by ``|`` (the README says ``;``: both are accepted); optional columns may be missing.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..archive import ArchivedBody
from ..catalog import SourceSpec
from ..schema.models import split_multi
from .base import RawRecord, register
from .tabular import FormatError, read_csv

# LaMednum column -> schema field, for columns taken as they are.
DIRECT = {
    "nom": "nom",
    "commune": "commune",
    "code_postal": "code_postal",
    "code_insee": "code_insee",
    "adresse": "adresse",
    "complement_adresse": "complement_adresse",
    "latitude": "latitude",
    "longitude": "longitude",
    "telephone": "telephone",
    "horaires": "horaires",
    "date_maj": "date_maj",
}

# The national programmes and labels of the standard that are PANA labels.
LOOKUPS: dict[str, dict[str, str | None]] = {
    "labels": {
        "Aidants Connect": "aidants-connect",
        "Conseillers numériques": "conseiller-numerique",
        "France Services": "france-services",
        "Fabriques de Territoire": "fabrique-de-territoire",
    },
}
# Other values of the standard's closed lists: known, but not PANA labels (ignored silently).
for _value in (
    "Bibliothèques numérique de référence|Certification PIX|Emmaüs Connect|"
    "Grande école du numérique|La Croix Rouge|Point d'accès numérique CAF|Promeneurs du net|"
    "Relais numérique (Emmaüs Connect)|Formé à « Mon Espace Santé »|"
    "Formé à « DUPLEX » (illettrisme)|Arnia/MedNum BFC (Bourgogne-Franche-Comté)|"
    "Collectif ressources et acteurs réemploi (Normandie)|Étapes numériques(La Poste)|"
    "Les Éclaireurs du numérique (Drôme)|Mes Papiers (Métropole de Lyon)|ORDI 3.0|"
    "SUD LABS (PACA)"
).split("|"):
    LOOKUPS["labels"][_value] = None

PLACEHOLDER_PIVOTS = {"00000000000000", "000000000", "W000000000"}
# Columns without which a row cannot be a place; the standard's other required columns
# (pivot, commune, code_postal, adresse, date_maj) are validated row by row instead.
REQUIRED_COLUMNS = ("id", "nom")


# The standard's national programmes that are exactly one of our labels.
MATCHES = {
    "labels": {value: code for value, code in LOOKUPS["labels"].items() if code and "|" not in code}
}


@register("mediation-numerique", lookups=LOOKUPS, matches=MATCHES)
def parse_mediation_numerique(spec: SourceSpec, body: ArchivedBody) -> Iterator[RawRecord]:
    rows = read_csv(body.read(), spec.encoding, spec.delimiter)
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise FormatError(
            f"source {spec.id}: not a LaMednum file, column(s) {', '.join(missing)} missing; "
            f"columns are: {', '.join(rows.columns)}"
        )
    for number, row in rows:
        notes: list[tuple[str, str]] = []
        fields: dict = dict(spec.constants)
        for column, target in DIRECT.items():
            if row.get(column) not in (None, ""):
                fields[target] = row[column]

        pivot = (row.get("pivot") or "").replace(" ", "").upper()
        if pivot and pivot not in PLACEHOLDER_PIVOTS:
            if pivot.startswith("W"):
                fields["rna"] = pivot
            elif len(pivot) == 14:
                fields["siret"] = pivot
            elif len(pivot) == 9 and pivot.isdigit():
                fields["siren"] = pivot
            else:
                notes.append(("pivot", f"pivot {pivot!r} is neither SIRET nor RNA (RIDET?)"))

        courriels = split_multi(row.get("courriels"))
        if courriels:
            fields["courriel"] = courriels[0]
            if len(courriels) > 1:
                notes.append(("courriel", f"kept the first of {len(courriels)} emails"))
        sites = split_multi(row.get("site_web"))
        if sites:
            fields["site_web"] = sites[0]
        description = row.get("presentation_resume") or row.get("presentation_detail")
        if description:
            fields["description"] = description
        for column, target in (
            ("typologie", "typologie"),
            ("dispositif_programmes_nationaux", "labels"),
            ("formations_labels", "labels"),
        ):
            values = split_multi(row.get(column))
            if values:
                fields[target] = [*split_multi(fields.get(target)), *values]

        yield RawRecord(
            record_id=row.get("id"), fields=fields, raw=row, row_number=number, notes=notes
        )
