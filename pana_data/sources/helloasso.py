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
from ..http import HttpError
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
    max_pages = int(params.get("max_pages", 1000))
    data: list = []
    for _ in range(max_pages):
        query = {"pageSize": page_size, **({"continuationToken": token} if token else {})}
        body, doc = ctx.fetch_json(
            f"{base}/v5/directory/organizations",
            method="POST",
            params=query,
            json=params.get("filters", {}),
            headers=headers,
        )
        pages.append(body)
        data = (doc.get("data") if isinstance(doc, dict) else None) or []
        for item in data:
            record = (item.get("record") if isinstance(item, dict) else None) or {}
            slug = record.get("organizationSlug")
            if slug:
                slugs.pop(slug, None)
                slugs[slug] = item.get("action") or "Insert"
        token = ((doc.get("pagination") if isinstance(doc, dict) else None) or {}).get(
            "continuationToken"
        )
        if not data or not token or token in seen_tokens:
            break
        seen_tokens.add(token)
    organisations, missing = [], []
    for slug, action in slugs.items():
        if action == "Delete":
            continue
        url = f"{base}/v5/organizations/{slug}"
        try:
            organisations.append(ctx.fetch_json(url, headers=headers)[0])
        except HttpError as exc:
            if exc.status == 401:  # the token expired during a long crawl: one new token
                headers["Authorization"] = f"Bearer {_token(ctx)}"
                organisations.append(ctx.fetch_json(url, headers=headers)[0])
            elif exc.status in (403, 404, 410):  # gone private or deleted since the listing
                missing.append(slug)
            else:
                raise
    return ctx.manifest(
        organisations,
        directory_pages=[p.sha256 for p in pages],
        organisations=len(organisations),
        missing=missing,
        truncated=bool(token and data and len(pages) >= max_pages),
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
        if not isinstance(org, dict):
            yield RawRecord(None, {}, {"url": url, "body": json.dumps(org)}, number)
            continue
        geo = org.get("geolocation") if isinstance(org.get("geolocation"), dict) else {}
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
            "date_maj": str(org.get("updateDate") or "")[:10] or None,
            "typologie": TYPES.get(org.get("type") or ""),
        }
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        for name, value in spec.constants.items():
            fields.setdefault(name, value)
        yield RawRecord(
            record_id=org.get("organizationSlug"), fields=fields, raw=org, row_number=number
        )
