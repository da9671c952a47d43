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

SCHEMA_VERSION = "1.0.0"
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


def _split_multi(value: object) -> object:
    """Accept a list, or a string with ``|`` (or ``;``) separated values."""
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
    return Annotated[list[item], BeforeValidator(_split_multi)]


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

    nom: Annotated[str, Field(min_length=1, description="Nom usuel de l'acteur.")]
    typologie: _multi(Typologie) = Field(
        default_factory=list, description="Type(s) de structure (codes data·inclusion/LaMednum)."
    )
    siret: Siret = Field(None, description="SIRET de l'établissement (14 chiffres, Luhn).")
    siren: Siren = Field(None, description="SIREN de l'unité légale (9 chiffres, Luhn).")
    rna: Rna = Field(None, description="Numéro RNA de l'association (W + 9 caractères).")
    adresse: _text() = Field(None, description="Numéro et voie.")
    complement_adresse: _text() = Field(None, description="Bâtiment, étage, lieu-dit…")
    code_postal: CodePostal = Field(None, description="Code postal, 5 chiffres.")
    commune: _text() = Field(None, description="Nom de la commune.")
    code_insee: CodeInsee = Field(None, description="Code officiel géographique de la commune.")
    departement: Departement = Field(
        None, description="Code du département, déduit du code INSEE ou du code postal."
    )
    region: Region | None = Field(None, description="Code INSEE de la région, déduit.")
    latitude: float | None = Field(None, ge=-90, le=90, description="Latitude WGS84.")
    longitude: float | None = Field(None, ge=-180, le=180, description="Longitude WGS84.")
    telephone: Telephone = Field(None, description="Téléphone au format E.164.")
    courriel: Courriel = Field(None, description="Courriel de contact de la structure.")
    site_web: SiteWeb = Field(None, description="Site web (http ou https).")
    description: _text() = Field(None, description="Présentation de l'acteur.")
    horaires: _text() = Field(None, description="Horaires au format OSM opening_hours.")
    niveaux_service: _multi(NiveauService) = Field(
        default_factory=list, description="Informer, orienter et/ou accompagner."
    )
    thematiques: _multi(Thematique) = Field(
        default_factory=list, description="Thématiques numériques traitées."
    )
    labels: _multi(Label) = Field(default_factory=list, description="Labels et dispositifs.")
    reseaux: _multi(Reseau) = Field(default_factory=list, description="Réseaux d'appartenance.")
    zone_intervention: _multi(Annotated[str, Field(pattern=ZONE_PATTERN)]) = Field(
        default_factory=list,
        description="Territoires couverts, préfixés par leur niveau (ex. departement:87).",
    )
    statut: Statut = Field(Statut.INCONNU, description="Actif, fermé ou inconnu.")
    date_maj: Annotated[dt.date | None, BeforeValidator(ids.clean_date)] = Field(
        None, description="Date de mise à jour par la source."
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

    id: Annotated[str, Field(pattern=ACTOR_ID_PATTERN, description="Identifiant PANA stable.")]
    sources: Annotated[
        list[Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]],
        Field(min_length=1, description="Identifiants des sources qui décrivent l'acteur."),
    ]

    @classmethod
    def columns(cls) -> list[str]:
        """Published column order: id first, then the data fields, then sources."""
        data = list(ActorData.model_fields)
        return ["id", *data, "sources"]
