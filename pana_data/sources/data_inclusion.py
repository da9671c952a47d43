"""Kind ``data-inclusion``: structures of the data·inclusion API v1.

``GET {url}/api/v1/structures?page=&size=`` with a bearer token (secret ``token``), paged until
``pages``; each page is archived and the harvest is a manifest of the pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..archive import ArchivedBody
from ..catalog import SourceSpec
from .base import RawRecord, register
from .context import Context, SourceError, manifest_parts
from .tabular import FormatError

# data·inclusion structure field -> schema field (the names mostly agree already).
FIELDS = {
    "nom": "nom",
    "siret": "siret",
    "telephone": "telephone",
    "courriel": "courriel",
    "site_web": "site_web",
    "adresse": "adresse",
    "complement_adresse": "complement_adresse",
    "commune": "commune",
    "code_postal": "code_postal",
    "code_insee": "code_insee",
    "latitude": "latitude",
    "longitude": "longitude",
    "description": "description",
    "horaires_accueil": "horaires",
    "date_maj": "date_maj",
    "reseaux_porteurs": "reseaux",
}
LOOKUPS: dict[str, dict[str, str | None]] = {
    "reseaux": {"france-services": None, "conseiller-numerique": None},
}
# data·inclusion values that are exactly one of our codes: the typologies v0 we share (same
# code), and the reseaux porteurs that are our labels.
MATCHES = {
    "typologie": {
        code: code
        for code in (
            "ASSO",
            "TIERS_LIEUX",
            "EPN",
            "BIB",
            "CS",
            "MJC",
            "FABLAB",
            "RFS",
            "MUNI",
            "EPCI",
            "Autre",
        )
    },
    "labels": {
        "aidants-connect": "aidants-connect",
        "conseillers-numeriques": "conseiller-numerique",
        "fabrique-de-territoire": "fabrique-de-territoire",
        "france-service": "france-services",
    },
}
PARAMS = {
    "sources": "Source slugs to keep (list), e.g. [dora, mediation-numerique].",
    "size": "Page size (at most 10000; default 1000).",
    "score_qualite_minimum": "Smallest quality score (0 to 1).",
    "exclure_doublons": "true: leave out the structures data·inclusion marks as duplicates.",
}


def crawl(ctx: Context) -> ArchivedBody:
    params = dict(ctx.spec.params)
    size = int(params.pop("size", 1000))
    if not 1 <= size <= 10000:
        raise SourceError(f"source {ctx.spec.id}: params.size must be 1 to 10000, not {size}")
    headers = {"Authorization": f"Bearer {ctx.secret('token')}", "Accept": "application/json"}
    url = f"{ctx.url.rstrip('/')}/api/v1/structures"
    parts, page, pages = [], 1, 1
    while page <= pages:
        body, doc = ctx.fetch_json(
            url, params={**params, "page": page, "size": size}, headers=headers
        )
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise SourceError(f"source {ctx.spec.id}: page {page} of {url} has no items list")
        parts.append(body)
        pages = int(doc.get("pages") or 0)
        page += 1
    return ctx.manifest(parts, endpoint=url, size=size)


@register(
    "data-inclusion",
    lookups=LOOKUPS,
    crawl=crawl,
    default_url="https://api.data.inclusion.beta.gouv.fr",
    expect="json",
    params=PARAMS,
    secrets=("token",),
    matches=MATCHES,
)
def parse_data_inclusion(spec: SourceSpec, body: ArchivedBody) -> Iterator[RawRecord]:
    """data·inclusion API v1 structures (token from the environment; page size; source filter)."""
    number = 0
    for url, data in manifest_parts(body):
        try:
            items = json.loads(data)["items"]
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"source {spec.id}: {url}: not a structures page: {exc}") from exc
        for item in items:
            number += 1
            if not isinstance(item, dict):  # quarantined: no id, the raw item kept
                yield RawRecord(None, {}, {"item": json.dumps(item)}, number)
                continue
            fields = {FIELDS[k]: v for k, v in item.items() if k in FIELDS and v not in (None, "")}
            for name, value in spec.constants.items():
                fields.setdefault(name, value)
            record_id = str(item["id"]) if item.get("id") not in (None, "") else None
            source = str(item.get("source") or "")
            if record_id and source and not record_id.startswith(source):
                record_id = f"{source}--{record_id}"
            yield RawRecord(record_id=record_id, fields=fields, raw=item, row_number=number)
