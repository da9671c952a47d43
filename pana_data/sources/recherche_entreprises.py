"""Kind ``recherche-entreprises``: SIRENE through the API Recherche d'entreprises, a register.

``GET {url}/search`` with the catalog's query ``params``, 25 results a page. The API refuses
``page * per_page > 10 000``: a larger query is split by département (each must then stay under
the cap). 7 requests/s per IP; a 429 comes with Retry-After (the HTTP layer honours both). Each
page is archived; the harvest is a manifest of the pages.

Entries are établissements (the siège and the matching ones): ``ferme`` when the établissement
is closed (F) or the unité légale has ceased (C). ``dirigeants`` (people) are never read.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import duckdb
import pyarrow as pa

from ..archive import ArchivedBody
from ..catalog import SourceSpec
from ..schema.identifiers import PLACEHOLDER_RNA, RNA_RE
from ..schema.territories import REGION_OF_DEPARTEMENT
from .base import Loaded, Register, register_register
from .context import Context, SourceError, manifest_parts

PER_PAGE = 25
MAX_RESULTS = 10_000
FILTERS = (
    "q",
    "activite_principale",
    "categorie_entreprise",
    "code_collectivite_territoriale",
    "code_commune",
    "code_postal",
    "departement",
    "epci",
    "est_association",
    "est_ess",
    "est_service_public",
    "limite_matching_etablissements",
    "etat_administratif",
    "nature_juridique",
    "region",
    "section_activite_principale",
    "tranche_effectif_salarie",
)
PARAMS = {name: "API Recherche d'entreprises query parameter." for name in FILTERS}

COLUMNS = {
    "entry_id": pa.string(),
    "siren": pa.string(),
    "siret": pa.string(),
    "rna": pa.string(),
    "nom_legal": pa.string(),
    "sigle": pa.string(),
    "adresse": pa.string(),
    "complement_adresse": pa.string(),
    "code_postal": pa.string(),
    "commune": pa.string(),
    "code_insee": pa.string(),
    "latitude": pa.float64(),
    "longitude": pa.float64(),
    "nature_juridique": pa.string(),
    "activite_principale": pa.string(),
    "est_association": pa.bool_(),
    "est_siege": pa.bool_(),
    "position": pa.string(),
    "date_creation": pa.date32(),
    "date_dissolution": pa.date32(),
    "date_maj": pa.date32(),
    "ferme": pa.bool_(),
}


def _query(params: dict[str, Any]) -> dict[str, str]:
    out = {"limite_matching_etablissements": "100"}  # the API's default, 10, hides some
    for name, value in params.items():
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        out[name] = str(value)
    return out


def _pages(ctx: Context, url: str, query: dict[str, str]) -> tuple[list[ArchivedBody], int]:
    body, doc = ctx.fetch_json(url, params={**query, "page": 1, "per_page": PER_PAGE})
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise SourceError(f"source {ctx.spec.id}: {url} answered no results list")
    total = int(doc.get("total_results") or 0)
    if total > MAX_RESULTS:
        return [body], total
    parts = [body]
    for page in range(2, math.ceil(total / PER_PAGE) + 1):
        parts.append(ctx.fetch_json(url, params={**query, "page": page, "per_page": PER_PAGE})[0])
    return parts, total


def crawl(ctx: Context) -> ArchivedBody:
    url = f"{ctx.url.rstrip('/')}/search"
    query = _query(ctx.spec.params)
    parts, total = _pages(ctx, url, query)
    queries, covered = [query], total
    if total > MAX_RESULTS:
        if "departement" in query or "code_postal" in query or "code_commune" in query:
            raise SourceError(
                f"source {ctx.spec.id}: {total} results for {query}: more than the API's "
                f"{MAX_RESULTS}, even within one département; narrow the query"
            )
        parts, queries, covered = [], [], 0
        for dep in sorted(REGION_OF_DEPARTEMENT):
            sub = {**query, "departement": dep}
            sub_parts, sub_total = _pages(ctx, url, sub)
            if sub_total > MAX_RESULTS:
                raise SourceError(
                    f"source {ctx.spec.id}: {sub_total} results in département {dep} for "
                    f"{query}: more than the API's {MAX_RESULTS}; narrow the query"
                )
            parts.extend(sub_parts)
            queries.append(sub)
            covered += sub_total
    # Établissements outside the départements (abroad, some overseas collectivités) are not
    # reached by the split: the manifest says how many.
    return ctx.manifest(
        parts, endpoint=url, queries=queries, total_results=total, not_reached=total - covered
    )


def _date(value: Any) -> Any:
    import datetime as dt

    if not value or str(value).startswith("0001"):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _street(etab: dict) -> str | None:
    parts = [
        etab.get(k)
        for k in ("numero_voie", "indice_repetition", "type_voie", "libelle_voie")
        if etab.get(k)
    ]
    return " ".join(str(p) for p in parts) or None


def _rna(value: Any) -> str | None:
    value = str(value or "").strip().upper()
    return value if RNA_RE.match(value) and value != PLACEHOLDER_RNA else None


def _siret(value: Any) -> str | None:
    value = re.sub(r"\s", "", str(value or ""))
    return value if re.fullmatch(r"\d{14}", value) and value != "0" * 14 else None


def entries(result: dict) -> list[dict[str, Any]]:
    """One entry per établissement of a /search result. People are never read: not the
    dirigeants, and not an entrepreneur individuel (nature juridique 1000, whose name is a
    person's and whose siège is often a home) nor a unit whose diffusion is restricted (P)."""
    if not isinstance(result, dict):
        return []
    if str(result.get("nature_juridique")) == "1000" or result.get("statut_diffusion") == "P":
        return []
    complements = result.get("complements") or {}
    unite_cessee = result.get("etat_administratif") == "C"
    etabs = [result.get("siege"), *(result.get("matching_etablissements") or [])]
    out, seen = [], set()
    for etab in etabs:
        if not isinstance(etab, dict) or etab.get("statut_diffusion_etablissement") == "P":
            continue
        siret = _siret(etab.get("siret"))
        if not siret or siret in seen:
            continue
        seen.add(siret)
        ferme = unite_cessee or etab.get("etat_administratif") == "F"
        out.append(
            {
                "entry_id": siret,
                "siren": siret[:9],
                "siret": siret,
                "rna": _rna(complements.get("identifiant_association")),
                "nom_legal": result.get("nom_raison_sociale") or result.get("nom_complet"),
                "sigle": result.get("sigle"),
                "adresse": _street(etab),
                "complement_adresse": etab.get("complement_adresse"),
                "code_postal": etab.get("code_postal"),
                "commune": etab.get("libelle_commune"),
                "code_insee": etab.get("commune"),
                "latitude": _float(etab.get("latitude")),
                "longitude": _float(etab.get("longitude")),
                "nature_juridique": result.get("nature_juridique"),
                "activite_principale": etab.get("activite_principale")
                or result.get("activite_principale"),
                "est_association": complements.get("est_association"),
                "est_siege": bool(etab.get("est_siege")),
                "position": etab.get("etat_administratif"),
                "date_creation": _date(etab.get("date_creation") or result.get("date_creation")),
                "date_dissolution": _date(
                    etab.get("date_fermeture") or result.get("date_fermeture")
                ),
                "date_maj": _date(result.get("date_mise_a_jour")),
                "ferme": ferme,
            }
        )
    return out


def load(
    spec: SourceSpec, body: ArchivedBody, con: duckdb.DuckDBPyConnection, table: str
) -> Loaded:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for url, data in manifest_parts(body):
        try:
            results = json.loads(data)["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"source {spec.id}: {url}: not a /search answer: {exc}") from exc
        for result in results:
            for entry in entries(result):
                if entry["entry_id"] not in seen:  # splits and pages may overlap
                    seen.add(entry["entry_id"])
                    rows.append(entry)
    schema = pa.schema(list(COLUMNS.items()))
    arrow = pa.Table.from_pylist(rows, schema=schema)  # noqa: F841 - read by DuckDB below
    con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM arrow')
    return Loaded(len(rows))


TO_RECORD = {
    "nom": "nom_legal",
    "siret": "siret",
    "rna": "rna",
    "adresse": "adresse",
    "complement_adresse": "complement_adresse",
    "code_postal": "code_postal",
    "commune": "commune",
    "code_insee": "code_insee",
    "latitude": "latitude",
    "longitude": "longitude",
    "statut": "CASE WHEN ferme THEN 'ferme' ELSE 'actif' END",
    "date_maj": "date_maj",
}

register_register(
    "recherche-entreprises",
    Register(load=load, to_record=TO_RECORD),
    doc="SIRENE through the API Recherche d'entreprises `/search` (a register: établissements "
    "enrich actors by SIRET/SIREN; 25 a page, split by département past 10 000 results).",
    crawl=crawl,
    default_url="https://recherche-entreprises.api.gouv.fr",
    expect="json",
    params=PARAMS,
)
