"""The open schema: pydantic models, code lists and the generators of derived artifacts."""

from .codelists import (
    CODE_LISTS,
    CodeList,
    Label,
    NiveauService,
    Reseau,
    Statut,
    Thematique,
    Typologie,
)
from .models import (
    MULTI_SEPARATOR,
    SCHEMA_VERSION,
    Actor,
    ActorData,
    SourceRecord,
)
from .territories import Region

__all__ = [
    "CODE_LISTS",
    "MULTI_SEPARATOR",
    "SCHEMA_VERSION",
    "Actor",
    "ActorData",
    "CodeList",
    "Label",
    "NiveauService",
    "Region",
    "Reseau",
    "SourceRecord",
    "Statut",
    "Thematique",
    "Typologie",
]
