"""Seeded generator of labelled multi-source actor data, in the real formats.

Writes a LaMednum CSV (UTF-8, ``,``), a partner table (cp1252, ``;``) and a JSON list, a catalog
that maps them, and ``truth.csv`` (source_id, record_id, entity_id). The noise is the field's:
typos, abbreviations (MDA, EPN, C.S., St), case and accents, missing or placeholder SIRET, phone
formats, coordinate jitter, street-type abbreviations. Hard negatives: a town's libraries sharing
the town's SIREN (and sometimes its SIRET), the same name in another town, two organisations at
one address.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import yaml
from stdnum import luhn

LAMEDNUM_HEADER = [
    "id", "pivot", "nom", "commune", "code_postal", "code_insee", "adresse", "complement_adresse",
    "latitude", "longitude", "typologie", "telephone", "courriels", "site_web", "horaires",
    "presentation_resume", "presentation_detail", "source", "itinerance", "structure_parente",
    "date_maj", "services", "publics_specifiquement_adresses", "prise_en_charge_specifique",
    "frais_a_charge", "dispositif_programmes_nationaux", "formations_labels",
    "autres_formations_labels", "modalites_acces", "modalites_accompagnement",
    "fiche_acces_libre", "prise_rdv",
]  # fmt: skip
PARTNER_HEADER = [
    "Code",
    "Nom de la structure",
    "Adresse",
    "CP",
    "Ville",
    "Téléphone",
    "Courriel",
    "Site",
    "SIRET",
]
KINDS = [
    ("Maison des associations", "MDA", "MAISON_ASSOS"),
    ("Espace public numérique", "EPN", "EPN"),
    ("Centre social", "C.S.", "CS"),
    ("Médiathèque", "Médiathèque", "BIB"),
    ("Point d'information vie associative", "PIVA", "PIVA"),
    ("Tiers-lieu", "Tiers-lieu", "TIERS_LIEUX"),
    ("Association", "Asso.", "ASSO"),
]
PATRONS = ["Jean Moulin", "Victor Hugo", "Louise Michel", "Saint-Exupéry", "Jules Ferry", "Simone Veil",
           "Aimé Césaire", "Marie Curie", "Jean Jaurès", "George Sand", "Émile Zola", "Olympe de Gouges"]  # fmt: skip
THEMES = [
    "numérique",
    "solidaire",
    "citoyen",
    "des possibles",
    "du lien",
    "connecté",
    "ouvert",
    "partagé",
]
STREETS = [
    ("rue", "r."),
    ("avenue", "av."),
    ("boulevard", "bd"),
    ("place", "pl."),
    ("allée", "all."),
]
STREET_NAMES = ["de la République", "du Général Leclerc", "Victor Hugo", "des Écoles", "Pasteur",
                "de la Gare", "Jean Jaurès", "des Tilleuls", "du Marché", "Gambetta"]  # fmt: skip
SYLLABLES = ["mon", "val", "ber", "lan", "cour", "ville", "sur", "mar", "bel", "roche", "fon", "gny",
             "lac", "pré", "saint", "mont", "bois", "nay", "ac", "eux"]  # fmt: skip


def make_siren(rng: random.Random) -> str:
    head = f"{rng.randrange(10**7, 10**8)}"
    return head + luhn.calc_check_digit(head)


def make_siret(siren: str, nic: int) -> str:
    head = f"{siren}{nic:04d}"
    return head + luhn.calc_check_digit(head)


@dataclass
class Town:
    name: str
    postcode: str
    insee: str
    lat: float
    lon: float


@dataclass
class Entity:
    id: str
    name: str
    short: str  # a common abbreviated spelling
    typologie: str
    town: Town
    address: str
    address_short: str
    lat: float
    lon: float
    phone: str
    email: str | None
    site: str | None
    siret: str | None


def make_towns(rng: random.Random, count: int) -> list[Town]:
    towns, seen = [], set()
    while len(towns) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        if rng.random() < 0.2:
            name = f"{name}-sur-{rng.choice(SYLLABLES).capitalize()}{rng.choice(SYLLABLES)}"
        if name in seen:
            continue
        seen.add(name)
        dep = rng.choice([d for d in range(1, 96) if d != 20])
        towns.append(
            Town(
                name=name,
                postcode=f"{dep:02d}{rng.randrange(0, 1000):03d}",
                insee=f"{dep:02d}{rng.randrange(1, 1000):03d}",
                lat=round(rng.uniform(42.5, 50.9), 5),
                lon=round(rng.uniform(-4.5, 7.8), 5),
            )
        )
    return towns


def make_entities(rng: random.Random, count: int) -> list[Entity]:
    towns = make_towns(rng, max(20, count // 8))
    town_siren = {t.insee: make_siren(rng) for t in towns}
    entities: list[Entity] = []
    while len(entities) < count:
        town = rng.choice(towns)
        kind, short, typ = rng.choice(KINDS)
        qualifier = rng.choice([rng.choice(PATRONS), rng.choice(THEMES), ""])
        name = f"{kind} {qualifier} de {town.name}".replace("  ", " ")
        short_name = f"{short} {qualifier} {town.name}".replace("  ", " ")
        number = rng.randint(1, 120)
        street, street_short = rng.choice(STREETS)
        street_name = rng.choice(STREET_NAMES)
        suffix = rng.choice(["", "", "", " bis", " ter"])
        lat = round(town.lat + rng.uniform(-0.03, 0.03), 5)
        lon = round(town.lon + rng.uniform(-0.03, 0.03), 5)
        if typ == "BIB":  # a town's libraries carry the town's SIREN (hard negatives)
            siren = town_siren[town.insee]
            siret = make_siret(siren, rng.randint(1, 40)) if rng.random() < 0.8 else None
        else:
            siret = make_siret(make_siren(rng), rng.randint(1, 30)) if rng.random() < 0.7 else None
        slug = "".join(c for c in strip_accents(short_name).lower() if c.isalnum())[:20] or "asso"
        slug = (
            f"{slug}{rng.randrange(100)}"  # organisations with one name still have their own site
        )
        site = f"https://www.{slug}.fr" if rng.random() < 0.5 else None
        if typ == "BIB" and rng.random() < 0.5:  # a town's libraries share the network's site
            site = f"https://bibliotheques.{strip_accents(town.name).lower()}.fr"
        entity = Entity(
            id=f"e{len(entities):07d}",
            name=name,
            short=short_name,
            typologie=typ,
            town=town,
            address=f"{number}{suffix} {street} {street_name}",
            address_short=f"{number}{suffix} {street_short} {street_name}",
            lat=lat,
            lon=lon,
            phone=f"0{rng.choice('12345')}{rng.randrange(10**8):08d}",
            email=f"contact@{slug}.fr" if rng.random() < 0.7 else None,
            site=site,
            siret=siret,
        )
        entities.append(entity)
        if rng.random() < 0.03:  # two organisations at one address
            other_kind, other_short, other_typ = rng.choice(KINDS)
            entities.append(
                Entity(
                    **{
                        **entity.__dict__,
                        "id": f"e{len(entities):07d}",
                        "name": f"{other_kind} {rng.choice(THEMES)} de {town.name}",
                        "short": f"{other_short} {town.name}",
                        "typologie": other_typ,
                        "phone": f"0{rng.choice('12345')}{rng.randrange(10**8):08d}",
                        "email": None,
                        "site": None,
                        "siret": None,
                    }
                )
            )
    return entities[:count]


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 5:
        return text
    i = rng.randrange(1, len(text) - 2)
    op = rng.random()
    if op < 0.33:
        return text[:i] + text[i + 1 :]
    if op < 0.66:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiourstln") + text[i + 1 :]


def strip_accents(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def noisy_name(rng: random.Random, e: Entity) -> str:
    name = e.short if rng.random() < 0.35 else e.name
    if rng.random() < 0.3:
        name = name.upper()
    if rng.random() < 0.2:
        name = strip_accents(name)
    if rng.random() < 0.15:
        name = typo(rng, name)
    if rng.random() < 0.1:
        name = name.replace("Saint-", "St ").replace("Saint ", "St ")
    return name


def noisy_phone(rng: random.Random, phone: str) -> str:
    style = rng.random()
    if style < 0.3:
        return " ".join(phone[i : i + 2] for i in range(0, 10, 2))
    if style < 0.5:
        return ".".join(phone[i : i + 2] for i in range(0, 10, 2))
    if style < 0.7:
        return "+33 " + phone[1:]
    if style < 0.8:
        return phone[1:]  # a spreadsheet ate the leading zero
    return phone


def appearance(rng: random.Random, e: Entity) -> dict:
    siret = e.siret
    r = rng.random()
    if siret and r < 0.25:
        siret = None
    elif siret and r < 0.35:
        siret = "00000000000000"
    jitter = 0.002 if rng.random() < 0.5 else 0.0
    return {
        "name": noisy_name(rng, e),
        "address": e.address_short if rng.random() < 0.4 else e.address,
        "postcode": e.town.postcode,
        "town": e.town.name.upper() if rng.random() < 0.3 else e.town.name,
        "insee": e.town.insee,
        "lat": round(e.lat + rng.uniform(-jitter, jitter), 5),
        "lon": round(e.lon + rng.uniform(-jitter, jitter), 5),
        "phone": noisy_phone(rng, e.phone) if rng.random() < 0.85 else "",
        "email": e.email if e.email and rng.random() < 0.8 else "",
        "site": e.site if e.site and rng.random() < 0.8 else "",
        "siret": siret or "",
    }


SOURCES = ("lieux-synth", "partenaire-synth", "reseau-synth")


def generate(out: Path, records: int, seed: int = 7) -> dict:
    """Write about ``records`` records over three sources into ``out``; return counts."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    # About 1.6 appearances per entity on average.
    entities = make_entities(rng, max(1, int(records / 1.6)))
    files = {
        "lieux-synth": (out / "lieux.csv").open("w", encoding="utf-8", newline=""),
        "partenaire-synth": (out / "partenaire.csv").open(
            "w", encoding="cp1252", newline="", errors="replace"
        ),
    }
    lamednum = csv.writer(files["lieux-synth"], lineterminator="\n")
    lamednum.writerow(LAMEDNUM_HEADER)
    partner = csv.writer(files["partenaire-synth"], delimiter=";", lineterminator="\r\n")
    partner.writerow(PARTNER_HEADER)
    network: list[dict] = []
    truth = (out / "truth.csv").open("w", encoding="utf-8", newline="")
    truth_writer = csv.writer(truth, lineterminator="\n")
    truth_writer.writerow(["source_id", "record_id", "entity_id"])
    written = 0
    for e in entities:
        if written >= records:
            break
        present = [s for s, p in zip(SOURCES, (0.75, 0.6, 0.25), strict=True) if rng.random() < p]
        for source in present or [rng.choice(SOURCES)]:
            a = appearance(rng, e)
            record_id = f"{source[:3]}-{written:08d}"
            if source == "lieux-synth":
                row = {h: "" for h in LAMEDNUM_HEADER}
                row.update(
                    id=record_id, pivot=a["siret"] or "00000000000000", nom=a["name"],
                    commune=a["town"], code_postal=a["postcode"], code_insee=a["insee"],
                    adresse=a["address"], latitude=a["lat"], longitude=a["lon"],
                    typologie=e.typologie if e.typologie in ("BIB", "TIERS_LIEUX", "EPN", "CS", "ASSO") else "",
                    telephone="+33" + e.phone[1:] if rng.random() < 0.7 else "", courriels=a["email"], site_web=a["site"], date_maj="2026-10-01",
                )  # fmt: skip
                lamednum.writerow([row[h] for h in LAMEDNUM_HEADER])
            elif source == "partenaire-synth":
                partner.writerow([record_id, a["name"], a["address"], a["postcode"], a["town"],
                                  a["phone"], a["email"], a["site"], a["siret"]])  # fmt: skip
            else:
                network.append({"code": record_id, "structure": a["name"], "adresse": {"voie": a["address"], "cp": a["postcode"], "ville": a["town"]},
                                "tel": a["phone"], "mel": a["email"], "siret": a["siret"]})  # fmt: skip
            truth_writer.writerow([source, record_id, e.id])
            written += 1
    for f in files.values():
        f.close()
    truth.close()
    (out / "reseau.json").write_text(
        json.dumps({"data": network}, ensure_ascii=False), encoding="utf-8"
    )
    catalog = {
        "title": "Données synthétiques étiquetées",
        "sources": [
            {"id": "lieux-synth", "kind": "mediation-numerique", "url": "lieux.csv", "licence": "etalab-2.0"},
            {"id": "partenaire-synth", "kind": "table", "url": "partenaire.csv", "licence": "etalab-2.0",
             "record_id": "Code", "mapping": {"nom": "Nom de la structure", "adresse": "Adresse", "code_postal": "CP",
                                              "commune": "Ville", "telephone": "Téléphone", "courriel": "Courriel",
                                              "site_web": "Site", "siret": "SIRET"}},
            {"id": "reseau-synth", "kind": "table", "url": "reseau.json", "licence": "etalab-2.0", "records_path": "data",
             "record_id": "code", "assertions": {"min_records": 0}, "mapping": {"nom": "structure", "adresse": "adresse.voie", "code_postal": "adresse.cp",
                                                             "commune": "adresse.ville", "telephone": "tel", "courriel": "mel", "siret": "siret"}},
        ],
    }  # fmt: skip
    (out / "catalog.yaml").write_text(
        yaml.safe_dump(catalog, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return {"entities": len(entities), "records": written}


def true_pairs(truth_rows: list[tuple[str, str, str]]) -> int:
    sizes: dict[str, int] = {}
    for _, _, entity in truth_rows:
        sizes[entity] = sizes.get(entity, 0) + 1
    return sum(math.comb(n, 2) for n in sizes.values())


if __name__ == "__main__":
    import sys

    print(generate(Path(sys.argv[1]), int(sys.argv[2])))
