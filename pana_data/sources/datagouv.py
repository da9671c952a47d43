"""Kind ``datagouv``: a data.gouv.fr dataset, resolved to its current file.

``GET {url}/api/1/datasets/{dataset}/`` lists the resources; the one named by ``resource`` (id),
else the first whose format is ``format``, is downloaded through the stable
``{url}/api/1/datasets/r/{resource id}`` link (a redirect to the current file), never through a
hard-coded storage URL. The file is then read by the kind named in ``parse_as``.
"""

from __future__ import annotations

from ..archive import ArchivedBody
from .base import KINDS, Kind, get_kind
from .context import Context, SourceError

PARAMS = {
    "dataset": "Dataset id or slug (required).",
    "resource": "Resource id; else the first resource whose format is `format`.",
    "format": "Resource format to pick when no resource is given (default csv).",
}


def crawl(ctx: Context) -> ArchivedBody:
    spec = ctx.spec
    dataset = spec.params.get("dataset")
    if not dataset:
        raise SourceError(f"source {spec.id}: params.dataset (id or slug) is required")
    base = ctx.url.rstrip("/")
    _, doc = ctx.fetch_json(f"{base}/api/1/datasets/{dataset}/")
    resources = doc.get("resources") or [] if isinstance(doc, dict) else []
    wanted = spec.params.get("resource")
    fmt = str(spec.params.get("format", "csv")).lower()
    if wanted:
        chosen = next((r for r in resources if r.get("id") == wanted), None)
    else:
        chosen = next((r for r in resources if str(r.get("format", "")).lower() == fmt), None)
    if chosen is None:
        have = ", ".join(f"{r.get('id')} ({r.get('format')})" for r in resources) or "none"
        what = f"resource {wanted}" if wanted else f"a {fmt} resource"
        raise SourceError(f"source {spec.id}: dataset {dataset} has no {what}; resources: {have}")
    reader = get_kind(spec.parse_as) if spec.parse_as else None
    expect = (reader.expect if reader else None) or fmt
    return ctx.fetch(f"{base}/api/1/datasets/r/{chosen['id']}", expect=expect).body


KINDS["datagouv"] = Kind(
    "datagouv",
    crawl=crawl,
    default_url="https://www.data.gouv.fr",
    expect="json",
    params=PARAMS,
    doc="data.gouv.fr dataset id or slug resolved to its current resource, read by `parse_as`.",
)
