"""Code lists of the open schema.

Every code list is an ``Enum`` whose members carry a value, a French label and a description.
JSON Schema, Table Schema and SKOS are generated from these classes; nothing keeps a copy.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from functools import cache
from typing import Any


def match_key(text: str) -> str:
    """Case, accents, ``-``/``_`` and spacing do not matter when matching a code or a label."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


class CodeList(StrEnum):
    """A code: ``value`` (published), ``label`` (French) and ``description``."""

    label: str
    description: str

    def __new__(cls, value: str, label: str, description: str = ""):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        obj.description = description
        return obj

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict:
        schema = handler(core_schema)
        schema = handler.resolve_ref_schema(schema)
        schema.pop("enum", None)
        schema["type"] = "string"
        schema["oneOf"] = [
            {"const": m.value, "title": m.label, "description": m.description} for m in cls
        ]
        return schema

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def match(cls, text: str) -> CodeList | None:
        """The member whose value or French label is ``text`` (case and accents ignored)."""
        return _index(cls).get(match_key(text))


@cache
def _index(codes: type[CodeList]) -> dict[str, CodeList]:
    index: dict[str, CodeList] = {}
    for member in codes:
        index[match_key(member.label)] = member
        index[match_key(member.value)] = member
    return index


class Typologie(CodeList):
    """Type de structure. Les codes reprennent ceux de data·inclusion (typologies v0) et du
    standard LaMednum quand ils existent ; les types propres au PANA sont ajoutés."""

    ASSO = ("ASSO", "Association", "Association loi 1901 ou de droit local.")
    MAISON_ASSOS = (
        "MAISON_ASSOS",
        "Maison des associations",
        "Lieu ressource ouvert aux associations d'un territoire (locaux, conseil, formation).",
    )
    PIVA = (
        "PIVA",
        "Point d'information vie associative",
        "Point d'information vie associative (PIVA), labellisé par l'État.",
    )
    CRIB = (
        "CRIB",
        "Centre de ressources et d'information des bénévoles",
        "Centre de ressources et d'information des bénévoles (CRIB).",
    )
    DLA = (
        "DLA",
        "Dispositif local d'accompagnement",
        "Structure portant le dispositif local d'accompagnement (DLA) des employeurs de l'ESS.",
    )
    FEDERATION = (
        "FEDERATION",
        "Fédération ou tête de réseau associatif",
        "Fédération, union ou tête de réseau (Ligue de l'enseignement, mouvement associatif…).",
    )
    TIERS_LIEUX = ("TIERS_LIEUX", "Tiers-lieu & coworking", "Tiers-lieu, coworking, fabrique.")
    EPN = ("EPN", "Espace public numérique", "Espace public numérique (EPN).")
    BIB = ("BIB", "Bibliothèque / Médiathèque", "Bibliothèque ou médiathèque.")
    CS = ("CS", "Centre social", "Centre social ou socio-culturel.")
    MJC = ("MJC", "Maison des jeunes et de la culture", "Maison des jeunes et de la culture.")
    FABLAB = ("FABLAB", "Fablab / Atelier partagé", "Fablab ou atelier partagé.")
    RFS = ("RFS", "France Services", "Espace du réseau France Services.")
    MUNI = ("MUNI", "Municipalité", "Commune ou service municipal.")
    EPCI = ("EPCI", "Intercommunalité", "Établissement public de coopération intercommunale.")
    AUTRE = ("Autre", "Autre", "Autre type de structure.")


class NiveauService(CodeList):
    """Ce que l'acteur fait pour les associations : informer, orienter ou accompagner."""

    INFORMER = (
        "informer",
        "Informer",
        "Donne une information de premier niveau sur le numérique associatif.",
    )
    ORIENTER = (
        "orienter",
        "Orienter",
        "Oriente l'association vers la ressource ou l'acteur adapté à son besoin.",
    )
    ACCOMPAGNER = (
        "accompagner",
        "Accompagner",
        "Accompagne l'association dans la durée (diagnostic, formation, mise en oeuvre).",
    )


class Thematique(CodeList):
    """Thématiques numériques sur lesquelles l'acteur aide les associations."""

    COMMUNICATION = (
        "communication",
        "Communication",
        "Site web, réseaux sociaux, lettres d'information, visibilité en ligne.",
    )
    COLLECTE_DE_FONDS = (
        "collecte-de-fonds",
        "Collecte de fonds",
        "Dons en ligne, adhésions, billetterie, financement participatif.",
    )
    GOUVERNANCE = (
        "gouvernance",
        "Gouvernance",
        "Assemblées et réunions à distance, vote en ligne, vie démocratique.",
    )
    BENEVOLAT = (
        "benevolat",
        "Bénévolat",
        "Recrutement, animation et gestion des bénévoles avec le numérique.",
    )
    OUTILS_COLLABORATIFS = (
        "outils-collaboratifs",
        "Outils collaboratifs",
        "Partage de documents, messagerie, agendas, travail à distance.",
    )
    PROTECTION_DES_DONNEES = (
        "protection-des-donnees",
        "Protection des données",
        "RGPD, sécurité informatique, gestion des données personnelles.",
    )
    ENJEUX_SOCIETAUX = (
        "enjeux-societaux-du-numerique",
        "Enjeux sociétaux du numérique",
        "Sobriété, inclusion, logiciels libres, éthique du numérique.",
    )
    GESTION = (
        "gestion-administrative",
        "Gestion administrative et financière",
        "Comptabilité, paie, démarches en ligne (Compte Asso, subventions).",
    )
    COMPETENCES = (
        "competences-numeriques",
        "Compétences numériques",
        "Formation des bénévoles et salariés aux outils numériques.",
    )
    EQUIPEMENT = (
        "equipement",
        "Équipement et matériel",
        "Choix, acquisition et maintenance du matériel et des logiciels.",
    )
    STRATEGIE = (
        "strategie-numerique",
        "Stratégie numérique",
        "Diagnostic et projet numérique de l'association.",
    )


class Label(CodeList):
    """Labels et dispositifs qui qualifient l'acteur."""

    PANA = (
        "pana",
        "Point d'appui au numérique associatif",
        "Acteur référencé par le programme PANA (HelloAsso, Le Mouvement associatif, La Fonda).",
    )
    GUIDASSO_INFORMATION = (
        "guidasso-information",
        "Guid'Asso — information",
        "Structure labellisée Guid'Asso au niveau information.",
    )
    GUIDASSO_ORIENTATION = (
        "guidasso-orientation",
        "Guid'Asso — orientation",
        "Structure labellisée Guid'Asso au niveau orientation.",
    )
    GUIDASSO_ACCOMPAGNEMENT = (
        "guidasso-accompagnement",
        "Guid'Asso — accompagnement",
        "Structure labellisée Guid'Asso au niveau accompagnement.",
    )
    FRANCE_SERVICES = ("france-services", "France Services", "Espace labellisé France Services.")
    CONSEILLER_NUMERIQUE = (
        "conseiller-numerique",
        "Conseiller numérique",
        "Structure accueillant un conseiller numérique.",
    )
    AIDANTS_CONNECT = ("aidants-connect", "Aidants Connect", "Structure habilitée Aidants Connect.")
    FABRIQUE_DE_TERRITOIRE = (
        "fabrique-de-territoire",
        "Fabrique de territoire",
        "Tiers-lieu labellisé Fabrique de territoire.",
    )


class Reseau(CodeList):
    """Réseaux auxquels l'acteur appartient."""

    MOUVEMENT_ASSOCIATIF = (
        "mouvement-associatif",
        "Le Mouvement associatif",
        "Membre du Mouvement associatif ou d'une de ses coordinations régionales.",
    )
    LIGUE_ENSEIGNEMENT = (
        "ligue-enseignement",
        "Ligue de l'enseignement",
        "Fédération départementale ou union régionale de la Ligue de l'enseignement.",
    )
    RNMA = (
        "rnma",
        "Réseau national des maisons des associations",
        "Membre du Réseau national des maisons des associations (RNMA).",
    )
    FRANCE_ACTIVE = ("france-active", "France Active", "Réseau France Active.")
    AVISE_DLA = ("dla", "Réseau DLA", "Réseau des dispositifs locaux d'accompagnement (Avise).")
    HELLOASSO = ("helloasso", "HelloAsso", "Partenaire du réseau HelloAsso.")
    LA_FONDA = ("la-fonda", "La Fonda", "Réseau de La Fonda.")
    LAMEDNUM = ("la-mednum", "La MedNum", "Sociétaire ou partenaire de La MedNum.")
    FRANCE_TIERS_LIEUX = ("france-tiers-lieux", "France Tiers-Lieux", "Réseau France Tiers-Lieux.")
    FCSF = ("fcsf", "Fédération des centres sociaux", "Fédération des centres sociaux de France.")


class Statut(CodeList):
    """État de l'acteur."""

    ACTIF = ("actif", "Actif", "L'acteur est en activité.")
    FERME = ("ferme", "Fermé", "L'acteur a cessé son activité (dissolution, fermeture).")
    INCONNU = ("inconnu", "Inconnu", "Aucune source ne renseigne l'état de l'acteur.")


# Fields that hold a list of codes (the others hold one).
MULTI_CODE_FIELDS = {"typologie", "niveaux_service", "thematiques", "labels", "reseaux"}

CODE_LISTS: dict[str, type[CodeList]] = {
    "typologie": Typologie,
    "niveaux_service": NiveauService,
    "thematiques": Thematique,
    "labels": Label,
    "reseaux": Reseau,
    "statut": Statut,
}
