"""The catalog: sources declared as data (YAML), metadata first.

A source names its ``kind`` (a parser registered in ``pana_data.sources``), where its bytes come
from (``url``: http(s), or a path relative to the catalog file) and under what licence, plus the
options its kind understands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .schema.codelists import CODE_LISTS
from .schema.models import SOURCE_ID_PATTERN, ActorData

# Share-alike licences (SPDX ids, with common spellings): a dataset built from such a source must
# be published under the same licence.
SHARE_ALIKE = {"odbl-1.0": "ODbL-1.0", "odbl": "ODbL-1.0", "cc-by-sa-4.0": "CC-BY-SA-4.0"}


def share_alike(licence: str) -> str | None:
    return SHARE_ALIKE.get(licence.strip().lower())


DEMO_CATALOG = Path(__file__).parent / "demo" / "catalog.yaml"


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the file and the source."""


class SourceSpec(BaseModel):
    """One source of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=SOURCE_ID_PATTERN,
        description="Source id, kebab-case; never reused for another source.",
    )
    kind: str = Field(description="Source kind: a parser registered in pana_data.sources.")
    url: str = Field(description="http(s) URL, or a path relative to the catalog file.")
    licence: str = Field(description="Licence of the source's data (SPDX id or etalab-2.0).")
    title: str | None = Field(None, description="Human title of the source.")
    publisher: str | None = Field(None, description="Organisation publishing the source.")
    frequency: Literal["daily", "weekly", "monthly", "manual"] = Field(
        "manual", description="How often the source is harvested."
    )
    format: Literal["csv", "xlsx", "json"] | None = Field(
        None, description="File format; from the URL's extension when not given."
    )
    encoding: str | None = Field(
        None, description="Text encoding; detected (UTF-8, UTF-8 with BOM, cp1252) when not given."
    )
    delimiter: str | None = Field(
        None, description="CSV delimiter; detected (, ; tab) when not given."
    )
    sheet: str | None = Field(None, description="XLSX sheet name; the first sheet when not given.")
    records_path: str | None = Field(
        None, description="Dotted path to the list of records in a JSON document, e.g. data.items."
    )
    record_id: str | None = Field(
        None, description="Column holding the record id; the row number when not given."
    )
    mapping: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Schema field -> source column (several columns are joined with a space; nested JSON keys are dotted).",
    )
    lookups: dict[str, dict[str, str | None]] = Field(
        default_factory=dict,
        description="Code-list field -> {source value: code, or codes joined by |, or null to ignore}.",
    )
    min_rows: int = Field(
        1, ge=0, description="Fewer valid records fail the harvest; the last good harvest is kept."
    )
    constants: dict[str, Any] = Field(
        default_factory=dict,
        description="Schema field -> value set on every record (e.g. the network of a partner list).",
    )

    @field_validator("mapping", "lookups", "constants")
    @classmethod
    def _schema_fields(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(ActorData.model_fields))
        if unknown:
            raise ValueError(f"not schema fields: {', '.join(unknown)}")
        return value

    @field_validator("lookups")
    @classmethod
    def _lookup_targets(cls, lookups: dict[str, dict[str, str | None]]) -> dict:
        for name, table in lookups.items():
            if name not in CODE_LISTS:
                raise ValueError(f"{name} is not a code-list field")
            for source_value, target in table.items():
                for code in (target or "").split("|") if target else []:
                    if CODE_LISTS[name].match(code) is None:
                        raise ValueError(
                            f"{name}: {source_value!r} maps to {code!r}, not a code of "
                            f"{CODE_LISTS[name].__name__} ({', '.join(CODE_LISTS[name].values())})"
                        )
        return lookups

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and value not in (",", ";", "\t", "|"):
            raise ValueError("delimiter must be one of , ; | or a tab")
        return value


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("Catalogue PANA", description="Title of the published dataset.")
    publisher: str = Field("pana-data", description="Who publishes the dataset.")
    licence: str = Field(
        "etalab-2.0",
        description="Licence of the published dataset; ODbL-1.0 when a source is under ODbL.",
    )
    judgements: str | None = Field(
        None,
        description="Maintainers' judgements CSV (same/different pairs), relative to the catalog.",
    )
    sources: list[SourceSpec] = Field(description="The sources, in priority order.")
    path: Path | None = Field(None, exclude=True)

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, sources: list[SourceSpec]) -> list[SourceSpec]:
        seen: set[str] = set()
        for spec in sources:
            if spec.id in seen:
                raise ValueError(f"source id {spec.id!r} appears twice")
            seen.add(spec.id)
        return sources

    @model_validator(mode="after")
    def _licence_compatible(self) -> Catalog:
        for spec in self.sources:
            required = share_alike(spec.licence)
            if required and share_alike(self.licence) != required:
                raise ValueError(
                    f"source {spec.id} is under {spec.licence} (share-alike): the catalog's "
                    f"licence must be {required}, not {self.licence}"
                )
        return self

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def source(self, source_id: str) -> SourceSpec:
        for spec in self.sources:
            if spec.id == source_id:
                return spec
        raise KeyError(f"no source {source_id!r} in {self.path}")

    def location(self, spec: SourceSpec) -> str:
        """An http(s) URL as is, or the absolute path of a local file."""
        if spec.url.startswith(("http://", "https://")):
            return spec.url
        if "://" in spec.url:
            raise CatalogError(f"{self.path}: source {spec.id}: unsupported URL {spec.url!r}")
        path = Path(spec.url)
        return str(path if path.is_absolute() else (self.base_dir / path).resolve())

    def judgements_path(self) -> Path | None:
        if not self.judgements:
            return None
        path = Path(self.judgements)
        return path if path.is_absolute() else self.base_dir / path

    def priority(self, source_id: str) -> int:
        """Catalog order is source priority when values conflict (first wins)."""
        return [s.id for s in self.sources].index(source_id)


def load_catalog(path: str | Path | None = None) -> Catalog:
    path = Path(path) if path else DEMO_CATALOG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: a catalog is a mapping with a 'sources' list")
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ""
            if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
                raw = data.get("sources", [])[loc[1]]
                sid = raw.get("id", f"#{loc[1] + 1}") if isinstance(raw, dict) else loc[1]
                where = f"source {sid}: "
                loc = loc[2:]
            field = ".".join(str(p) for p in loc)
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}{field}: {message}" if field else f"{where}{message}")
        raise CatalogError(f"{path}: invalid catalog:\n  " + "\n  ".join(problems)) from exc
    catalog.path = path.resolve()
    return catalog
