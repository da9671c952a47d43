"""Kind ``helloasso``: organisations of the HelloAsso API v5 directory.

OAuth2 client credentials (secrets ``client_id``, ``client_secret``) at ``{url}/oauth2/token``;
``POST {url}/v5/directory/organizations`` pages with ``pageSize`` and ``continuationToken`` and
answers slugs; each organisation's public page is ``GET {url}/v5/organizations/{slug}``. The token
answer is never archived; every other answer is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..archive import ArchivedBody
from ..catalog import SourceSpec
from .base import RawRecord, register
from .context import Context, SourceError, manifest_meta, manifest_parts
from .tabular import FormatError

PARAMS = {
    "filters": "Body of the directory search (ListOrganizationsRequest), e.g. "
    "{departments: ['87'], categories: [...]}.",
    "page_size": "Organisations per directory page (default 100).",
    "max_pages": "Stop after this many directory pages (default 1000).",
}
TYPES = {
    name: "ASSO"
    for name in (
        "Association1901",
        "Association1901Rig",
        "Association1901Rup",
        "Association1905",
        "Association1905Rup",
        "Association1908",
        "Association1908Rig",
        "Association1908Rup",
    )
}


def _token(ctx: Context) -> str:
    fetched = ctx.fetch(
        f"{ctx.url.rstrip('/')}/oauth2/token",
        method="POST",
        data={
            "grant_type": "client_credentials",
            "client_id": ctx.secret("client_id"),
            "client_secret": ctx.secret("client_secret"),
        },
        expect="json",
        secret=True,
    )
    token = fetched.json().get("access_token")
    if not token:
        raise SourceError(f"source {ctx.spec.id}: the token answer has no access_token")
    return token


def crawl(ctx: Context) -> ArchivedBody:
    base = ctx.url.rstrip("/")
    headers = {"Authorization": f"Bearer {_token(ctx)}", "Accept": "application/json"}
    params = ctx.spec.params
    page_size = int(params.get("page_size", 100))
    pages: list[ArchivedBody] = []
    slugs: dict[str, str] = {}  # slug -> last action, in directory order
    token: str | None = None
    seen_tokens: set[str] = set()
    for _ in range(int(params.get("max_pages", 1000))):
        query = {"pageSize": page_size, **({"continuationToken": token} if token else {})}
        body, doc = ctx.fetch_json(
            f"{base}/v5/directory/organizations",
            method="POST",
            params=query,
            json=params.get("filters", {}),
            headers=headers,
        )
        pages.append(body)
        data = doc.get("data") or []
        for item in data:
            record = item.get("record") or {}
            slug = record.get("organizationSlug")
            if slug:
                slugs.pop(slug, None)
                slugs[slug] = item.get("action") or "Insert"
        token = (doc.get("pagination") or {}).get("continuationToken")
        if not data or not token or token in seen_tokens:
            break
        seen_tokens.add(token)
    organisations = [
        ctx.fetch_json(f"{base}/v5/organizations/{slug}", headers=headers)[0]
        for slug, action in slugs.items()
        if action != "Delete"
    ]
    return ctx.manifest(
        organisations, directory_pages=[p.sha256 for p in pages], organisations=len(organisations)
    )


@register(
    "helloasso",
    crawl=crawl,
    default_url="https://api.helloasso.com",
    expect="json",
    params=PARAMS,
    secrets=("client_id", "client_secret"),
)
def parse_helloasso(spec: SourceSpec, body: ArchivedBody) -> Iterator[RawRecord]:
    """HelloAsso API v5 (OAuth2 client credentials; directory paged by continuationToken)."""
    manifest_meta(body)  # a manifest, or a clear error
    for number, (url, data) in enumerate(manifest_parts(body), start=1):
        try:
            org = json.loads(data)
        except ValueError as exc:
            raise FormatError(f"source {spec.id}: {url}: not JSON: {exc}") from exc
        geo = org.get("geolocation") or {}
        fields = {
            "nom": org.get("name"),
            "adresse": org.get("address"),
            "code_postal": org.get("zipCode"),
            "commune": org.get("city"),
            "latitude": geo.get("latitude"),
            "longitude": geo.get("longitude"),
            "site_web": org.get("webSite"),
            "description": org.get("description"),
            "rna": org.get("rnaNumber"),
            "date_maj": (org.get("updateDate") or "")[:10] or None,
            "typologie": TYPES.get(org.get("type") or ""),
        }
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        for name, value in spec.constants.items():
            fields.setdefault(name, value)
        yield RawRecord(
            record_id=org.get("organizationSlug"), fields=fields, raw=org, row_number=number
        )
