"""The catalog: sources declared as data (YAML), metadata first.

A source names its ``kind`` (a parser registered in ``pana_data.sources``), where its bytes come
from (``url``: http(s), or a path relative to the catalog file) and under what licence, plus the
options its kind understands.
"""

from __future__ import annotations

import re
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


class Assertions(BaseModel):
    """What a good harvest of a source looks like. Counts are valid records (register entries
    for a register)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_records: int = Field(1, ge=0, description="Fewer records fail the harvest.")
    max_records: int | None = Field(None, ge=0, description="More records fail the harvest.")
    filled: dict[str, float] = Field(
        default_factory=dict,
        description="Field -> smallest share of records (0 to 1) where it must be filled.",
    )

    @field_validator("filled")
    @classmethod
    def _ratios(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"ratios must be between 0 and 1: {bad}")
        return value


class Geocoding(BaseModel):
    """Batch geocoding of records without coordinates (Géoplateforme /geocodage/search/csv/)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        "https://data.geopf.fr/geocodage",
        description="Base URL of the Géoplateforme geocoding service (or a mirror).",
    )
    min_score: float = Field(0.6, ge=0, le=1, description="Answers scored below this are not used.")
    batch_size: int = Field(5000, ge=1, le=50000, description="Addresses per CSV request.")


ENV_NAME = r"^[A-Z][A-Z0-9_]*$"


class SourceSpec(BaseModel):
    """One source of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=SOURCE_ID_PATTERN,
        description="Source id, kebab-case; never reused for another source.",
    )
    kind: str = Field(description="Source kind: a parser registered in pana_data.sources.")
    url: str | None = Field(
        None,
        description="http(s) URL (an API's base URL), or a path relative to the catalog file; "
        "API kinds default to their public endpoint.",
    )
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
    assertions: Assertions = Field(
        default_factory=Assertions,
        description="Checks on every harvest; a harvest that fails them is not used.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the source's kind (API query parameters, dataset id…), "
        "listed with each kind below.",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Secret name -> name of the environment variable holding it "
        "(e.g. token: DATA_INCLUSION_TOKEN); secrets are never written in the catalog.",
    )
    parse_as: str | None = Field(
        None,
        description="Kind that parses the file a `datagouv` source resolves (e.g. rna, table).",
    )
    include: dict[str, list[str]] | None = Field(
        None,
        description="Registers only: entries whose column matches one of the values (a value "
        "ending in * is a prefix) enter the map as records; all columns must match. Without it, "
        "a register only enriches actors matched by identifier.",
    )
    rate_limit: float | None = Field(
        None, gt=0, description="Requests per second to this source's host (default per host)."
    )
    max_bytes: int | None = Field(
        None, gt=0, description="Largest response accepted, in bytes (default 4 GiB)."
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

    @field_validator("include")
    @classmethod
    def _explicit_filter(cls, value: dict[str, list[str]] | None) -> dict | None:
        if value is not None and (not value or not all(value.values())):
            raise ValueError(
                "an include filter names at least one column, each with at least one value "
                "(leave include out to keep a register out of the map)"
            )
        return value

    @field_validator("secrets")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, env in value.items():
            if not re.match(ENV_NAME, env):
                raise ValueError(
                    f"secrets.{name} must name an environment variable (like MY_TOKEN), "
                    "never hold the secret itself"
                )
        return value

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
    contact_email: str | None = Field(
        None,
        pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        description="Contact point of the published dataset (DCAT-AP catalog).",
    )
    base_uri: str = Field(
        "https://w3id.org/pana/",
        pattern=r"^https?://[^\s<>\"{}|\\^`#?%]+/$",
        description="Base of the published URIs (actors are {base_uri}id/acteur/{id}); ends with /.",
    )
    judgements: str | None = Field(
        None,
        description="Maintainers' judgements CSV (same/different pairs), relative to the catalog.",
    )
    geocoding: Geocoding | None = Field(
        None, description="Geocode records without coordinates; off when not given."
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

    def location(self, spec: SourceSpec, default: str | None = None) -> str:
        """An http(s) URL as is, or the absolute path of a local file; ``default`` (the kind's
        public endpoint) when the source names no url."""
        if spec.url is None:
            if default is None:
                raise CatalogError(f"{self.path}: source {spec.id}: url is required")
            return default
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
