"""Open schema v1 of a PANA actor: the single source of truth.

``ActorData`` holds what a source says about an actor; ``SourceRecord`` is one validated record of
one source; ``Actor`` is a deduplicated actor as published, with its stable id and sources.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from . import identifiers as ids
from .codelists import Label, NiveauService, Reseau, Statut, Thematique, Typologie
from .territories import REGION_OF_DEPARTEMENT, Region

SCHEMA_VERSION = "1.1.0"
MULTI_SEPARATOR = "|"
ACTOR_ID_PATTERN = r"^pana-[0-9a-z]{12}$"
SOURCE_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ZONE_PATTERN = r"^(commune|epci|departement|region|pays):[0-9A-Z]{2,9}$"


def _optional(cleaner: Callable[[object], str | None], **constraints: Any) -> Any:
    return Annotated[
        Annotated[str, Field(**constraints)] | None,
        BeforeValidator(cleaner),
    ]


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def split_multi(value: object) -> object:
    """Multi-values as a list: a list as it is, or a string split on ``|`` (or ``;``, which the
    LaMednum README uses), blanks dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[|;]", value) if v.strip()]
    return value


def _text(**constraints: Any) -> Any:
    return Annotated[
        Annotated[str, Field(**constraints)] | None,
        BeforeValidator(_blank_to_none),
    ]


def _multi(item: Any) -> Any:
    return Annotated[list[item], BeforeValidator(split_multi)]


Siret = _optional(ids.clean_siret, pattern=r"^\d{14}$")
Siren = _optional(ids.clean_siren, pattern=r"^\d{9}$")
Rna = _optional(ids.clean_rna, pattern=ids.RNA_RE.pattern)
CodePostal = _optional(ids.clean_postcode, pattern=ids.POSTCODE_RE.pattern)
CodeInsee = _optional(ids.clean_insee, pattern=ids.INSEE_RE.pattern)
Telephone = _optional(ids.clean_phone, pattern=ids.PHONE_RE.pattern)
Courriel = _optional(ids.clean_email, pattern=ids.EMAIL_RE.pattern)
SiteWeb = _optional(ids.clean_url, pattern=ids.URL_RE.pattern)
Departement = _optional(ids.clean_departement, pattern=ids.DEPARTEMENT_RE.pattern)


class ActorData(BaseModel):
    """What a source says about an actor. Field names follow data·inclusion and LaMednum."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, use_enum_values=False, validate_default=True
    )

    nom: Annotated[
        str,
        Field(
            min_length=1,
            title="Nom",
            description="Nom usuel de l'acteur.",
            examples=["Maison des associations de Limoges"],
        ),
    ]
    nom_legal: _text() = Field(
        None,
        title="Nom légal",
        description="Dénomination au registre (RNA ou SIRENE), gardée à côté du nom usuel.",
        examples=["MAISON DES ASSOCIATIONS DE LIMOGES"],
    )
    typologie: _multi(Typologie) = Field(
        default_factory=list,
        title="Typologie",
        description="Type(s) de structure (codes data·inclusion et LaMednum quand ils existent).",
        examples=[["MAISON_ASSOS"]],
    )
    siret: Siret = Field(
        None,
        title="SIRET",
        description="SIRET de l'établissement (14 chiffres, clé de Luhn).",
        examples=["41852963200022"],
    )
    siren: Siren = Field(
        None,
        title="SIREN",
        description="SIREN de l'unité légale (9 chiffres, clé de Luhn), déduit du SIRET.",
        examples=["418529632"],
    )
    rna: Rna = Field(
        None,
        title="Numéro RNA",
        description="Numéro au répertoire national des associations (W + 9 caractères).",
        examples=["W872004567"],
    )
    adresse: _text() = Field(
        None, title="Adresse", description="Numéro et voie.", examples=["8 rue de la Font Pinot"]
    )
    complement_adresse: _text() = Field(
        None,
        title="Complément d'adresse",
        description="Bâtiment, étage, lieu-dit…",
        examples=["Bâtiment B, 2e étage"],
    )
    code_postal: CodePostal = Field(
        None, title="Code postal", description="Code postal, 5 chiffres.", examples=["87000"]
    )
    commune: _text() = Field(
        None, title="Commune", description="Nom de la commune.", examples=["Limoges"]
    )
    code_insee: CodeInsee = Field(
        None,
        title="Code INSEE",
        description="Code officiel géographique de la commune.",
        examples=["87085"],
    )
    departement: Departement = Field(
        None,
        title="Département",
        description="Code du département, déduit du code INSEE ou du code postal.",
        examples=["87"],
    )
    region: Region | None = Field(
        None, title="Région", description="Code INSEE de la région, déduit.", examples=["75"]
    )
    latitude: float | None = Field(
        None, ge=-90, le=90, title="Latitude", description="Latitude WGS84.", examples=[45.8336]
    )
    longitude: float | None = Field(
        None, ge=-180, le=180, title="Longitude", description="Longitude WGS84.", examples=[1.2611]
    )
    telephone: Telephone = Field(
        None,
        title="Téléphone",
        description="Téléphone au format international E.164.",
        examples=["+33555456100"],
    )
    courriel: Courriel = Field(
        None,
        title="Courriel",
        description="Courriel de contact de la structure (jamais celui d'une personne).",
        examples=["contact@mda-limoges.fr"],
    )
    site_web: SiteWeb = Field(
        None,
        title="Site web",
        description="Site web (http ou https).",
        examples=["https://www.mda-limoges.fr"],
    )
    description: _text() = Field(
        None,
        title="Description",
        description="Présentation de l'acteur.",
        examples=["Accueil, conseil et formation des associations, dont le numérique."],
    )
    horaires: _text() = Field(
        None,
        title="Horaires",
        description="Horaires d'ouverture au format OpenStreetMap opening_hours.",
        examples=["Mo-Fr 09:00-12:30,13:30-18:00"],
    )
    niveaux_service: _multi(NiveauService) = Field(
        default_factory=list,
        title="Niveaux de service",
        description="Ce que l'acteur fait pour les associations : informer, orienter, accompagner.",
        examples=[["informer", "orienter"]],
    )
    thematiques: _multi(Thematique) = Field(
        default_factory=list,
        title="Thématiques",
        description="Thématiques numériques sur lesquelles l'acteur aide les associations.",
        examples=[["communication", "collecte-de-fonds"]],
    )
    labels: _multi(Label) = Field(
        default_factory=list,
        title="Labels",
        description="Labels et dispositifs (PANA, Guid'Asso…).",
        examples=[["pana", "guidasso-accompagnement"]],
    )
    reseaux: _multi(Reseau) = Field(
        default_factory=list,
        title="Réseaux",
        description="Réseaux d'appartenance.",
        examples=[["rnma"]],
    )
    zone_intervention: _multi(Annotated[str, Field(pattern=ZONE_PATTERN)]) = Field(
        default_factory=list,
        title="Zone d'intervention",
        description="Territoires couverts, préfixés par leur niveau (commune, epci, departement, region, pays).",
        examples=[["departement:87"]],
    )
    statut: Statut = Field(
        Statut.INCONNU, title="Statut", description="Actif, fermé ou inconnu.", examples=["actif"]
    )
    date_maj: Annotated[dt.date | None, BeforeValidator(ids.clean_date)] = Field(
        None,
        title="Date de mise à jour",
        description="Date de la dernière mise à jour par la source.",
        examples=["2026-10-01"],
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_statut(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("statut") in (None, ""):
            data = {k: v for k, v in data.items() if k != "statut"}
        return data

    @model_validator(mode="after")
    def _derive(self) -> ActorData:
        if self.siret:
            if self.siren and self.siren != self.siret[:9]:
                raise ValueError(f"siren {self.siren} does not match siret {self.siret}")
            self.siren = self.siret[:9]
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        if not self.departement:
            self.departement = ids.departement_of(self.code_insee, self.code_postal)
        if self.departement and self.region is None:
            self.region = REGION_OF_DEPARTEMENT.get(self.departement)
        return self


class SourceRecord(ActorData):
    """One validated record of one source. ``record_id`` is the source's own id, unchanged."""

    source_id: Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]
    record_id: Annotated[str, Field(min_length=1)]


class Actor(ActorData):
    """A deduplicated PANA actor, as published."""

    id: Annotated[
        str,
        Field(
            pattern=ACTOR_ID_PATTERN,
            title="Identifiant PANA",
            description="Identifiant opaque et stable de l'acteur, jamais réattribué.",
            examples=["pana-v7ozztjjkofm"],
        ),
    ]
    sources: Annotated[
        list[Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]],
        Field(
            min_length=1,
            title="Sources",
            description="Identifiants des sources qui décrivent l'acteur.",
            examples=[["lamednum-nouvelle-aquitaine", "rnma-maisons-associations"]],
        ),
    ]

    @classmethod
    def columns(cls) -> list[str]:
        """Published column order: id first, then the data fields, then sources."""
        data = list(ActorData.model_fields)
        return ["id", *data, "sources"]
