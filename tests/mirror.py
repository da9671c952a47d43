"""A loopback mirror of the public registers and partner APIs, replaying real recorded answers
(tests/fixtures) in their exact formats, with ETag support on every GET so that conditional
requests can be checked, and a log of what it sent."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug import Request, Response

from tests.helpers import FIXTURES

TOKEN = "di-test-token"
HA_ID, HA_SECRET, HA_TOKEN = "ha-client", "ha-secret", "ha-access-token-123"
DATASET = "rna-waldec-87"
RESOURCE = "5f1c3a2e-0000-4000-8000-000000000087"
SEARCH = sorted((FIXTURES / "recherche-entreprises").glob("search-q-*.json"))

# A dirigeant (a person) added to a real answer, in the OpenAPI spec's shape: it must never leak.
DIRIGEANT = {
    "nom": "DIRIGEANTE-PRIVEE",
    "prenoms": "Jeanne Marie",
    "annee_de_naissance": "1961",
    "date_de_naissance": "1961-04",
    "qualite": "Présidente",
    "nationalite": "Française",
    "type_dirigeant": "personne physique",
}

# Géoplateforme answers by address line: (longitude, latitude, score, citycode) or None.
GEOCODES = {
    "8 rue de la font pinot": (1.2611, 45.8336, 0.93, "87085"),
    "1 place de l'église": (1.05, 45.9, 0.31, "87187"),  # too uncertain: not used
}
GEO_HEADER = (
    (FIXTURES / "geoplateforme" / "search-csv-response-geopf-recorded.csv")
    .read_text()
    .splitlines()[0]
)


def search_results() -> list[dict]:
    results = [json.loads(p.read_text())["results"][0] for p in SEARCH]
    for result in results:
        if result["siren"] == "400461356":
            result["dirigeants"] = [DIRIGEANT]
    return results


def helloasso_org(slug: str) -> dict:
    """An OrganizationPublicModel (HelloAsso v5 OpenAPI) for a test slug."""
    orgs = {
        "atelier-velo-limoges": {
            "name": "Atelier vélo solidaire",
            "address": "12 rue des Tanneries",
            "zipCode": "87000",
            "city": "Limoges",
            "rnaNumber": "W872000107",
            "type": "Association1901",
            "webSite": "https://atelier-velo.example.org",
            "geolocation": {"latitude": 45.83, "longitude": 1.26},
        },
        "chorale-plein-chant": {
            "name": "Chorale À plein chant",
            "zipCode": "87000",
            "city": "Limoges",
            "rnaNumber": "W872000114",
            "type": "Association1901",
        },
        "club-fermes": {"name": "Ancienne asso supprimée", "type": "Association1901"},
    }
    return {
        **orgs[slug],
        "organizationSlug": slug,
        "url": f"https://www.helloasso.com/associations/{slug}",
        "description": "Association du réseau HelloAsso.",
        "updateDate": "2026-10-02T10:00:00+02:00",
        "fiscalReceiptEligibility": False,
        "fiscalReceiptIssuanceEnabled": False,
    }


@dataclass
class Mirror:
    root: str = ""
    rna_file: Path = FIXTURES / "rna" / "rna_waldec_extract_latin1.csv"
    log: list[tuple[str, str, int, int]] = field(
        default_factory=list
    )  # method, path, status, bytes
    geocoded: list[str] = field(default_factory=list)  # addresses asked

    def sent(self, path_prefix: str = "/") -> int:
        return sum(n for _, path, _, n in self.log if path.startswith(path_prefix))

    def _respond(self, request: Request, body: bytes, content_type: str) -> Response:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.method == "GET" and request.headers.get("If-None-Match") == etag:
            response = Response(status=304, headers={"ETag": etag})
        else:
            response = Response(body, content_type=content_type, headers={"ETag": etag})
        return response

    def __call__(self, request: Request) -> Response:
        response = self.route(request)
        size = 0 if response.status_code == 304 else len(response.get_data())
        self.log.append((request.method, request.path, response.status_code, size))
        return response

    def route(self, request: Request) -> Response:
        path = request.path
        if path == f"/api/1/datasets/{DATASET}/":
            doc = {
                "id": "5f1c3a2e-dataset",
                "slug": DATASET,
                "title": "RNA waldec, Haute-Vienne",
                "resources": [
                    {"id": "other", "format": "pdf", "title": "Notice"},
                    {"id": RESOURCE, "format": "csv", "title": "rna_waldec_87.csv"},
                ],
            }
            return self._respond(request, json.dumps(doc).encode(), "application/json")
        if path == f"/api/1/datasets/r/{RESOURCE}":
            return Response(status=302, headers={"Location": f"{self.root}/storage/rna_87.csv"})
        if path == "/storage/rna_87.csv":
            return self._respond(request, self.rna_file.read_bytes(), "text/csv")
        if path == "/search":
            return self.search(request)
        if path == "/api/v1/structures":
            return self.structures(request)
        if path == "/oauth2/token":
            form = request.form
            if (form.get("client_id"), form.get("client_secret")) != (HA_ID, HA_SECRET):
                return Response('{"error":"invalid_client"}', status=401)
            doc = {"access_token": HA_TOKEN, "token_type": "bearer", "expires_in": 1800}
            return Response(json.dumps(doc), content_type="application/json")
        if path.startswith("/v5/"):
            if request.headers.get("Authorization") != f"Bearer {HA_TOKEN}":
                return Response("", status=401)
            return self.helloasso(request)
        if path == "/geocodage/search/csv/":
            return self.geocode(request)
        return Response("<html><body>Not found</body></html>", status=404, content_type="text/html")

    def search(self, request: Request) -> Response:
        page, per_page = int(request.args["page"]), int(request.args["per_page"])
        if page * per_page > 10_000 or per_page > 25:
            return Response('{"erreur": "page * per_page > 10000"}', status=400)
        results = search_results()
        if request.args.get("departement") not in (None, "75"):
            results = []
        chunk = results[(page - 1) * per_page : page * per_page]
        doc = {
            "results": chunk,
            "total_results": len(results),
            "page": page,
            "per_page": per_page,
            "total_pages": -(-len(results) // per_page),
        }
        return self._respond(
            request, json.dumps(doc, ensure_ascii=False).encode(), "application/json"
        )

    def structures(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(
                '{"detail":"Not authenticated"}', status=401, content_type="application/json"
            )
        item = json.loads(
            (FIXTURES / "data-inclusion" / "api-test_list_structures_all.json").read_text()
        )["items"][0]
        items = [
            {
                **item,
                "id": "dora--cyber-base-limoges",
                "nom": "Cyber-base de Limoges",
                "code_postal": "87000",
                "code_insee": "87085",
                "commune": "Limoges",
                "latitude": 45.83,
                "longitude": 1.26,
                "siret": None,
            },
            {**item, "id": "dora--lot-kitchen-amount", "siret": None},
            {
                **item,
                "id": "soliguide--99",
                "source": "soliguide",
                "nom": "Point numérique CAF",
                "code_postal": "87100",
                "code_insee": "87085",
                "commune": "Limoges",
                "siret": None,
                "latitude": 45.84,
                "longitude": 1.27,
            },
        ]
        page, size = int(request.args["page"]), int(request.args["size"])
        chunk = items[(page - 1) * size : page * size]
        doc = {
            "items": chunk,
            "page": page,
            "pages": -(-len(items) // size),
            "size": size,
            "total": len(items),
        }
        return self._respond(
            request, json.dumps(doc, ensure_ascii=False).encode(), "application/json"
        )

    def helloasso(self, request: Request) -> Response:
        if request.path == "/v5/directory/organizations" and request.method == "POST":
            token = request.args.get("continuationToken")
            if token is None:
                data = [
                    {
                        "action": "Insert",
                        "record": {"organizationSlug": "atelier-velo-limoges", "url": "u"},
                    },
                    {"action": "Insert", "record": {"organizationSlug": "club-fermes", "url": "u"}},
                ]
                pagination = {
                    "pageSize": 2,
                    "totalCount": -1,
                    "pageIndex": 1,
                    "totalPages": -1,
                    "continuationToken": "tok-2",
                }
            elif token == "tok-2":
                data = [
                    {
                        "action": "Insert",
                        "record": {"organizationSlug": "chorale-plein-chant", "url": "u"},
                    },
                    {"action": "Delete", "record": {"organizationSlug": "club-fermes", "url": "u"}},
                ]
                pagination = {
                    "pageSize": 2,
                    "totalCount": -1,
                    "pageIndex": 2,
                    "totalPages": -1,
                    "continuationToken": "tok-3",
                }
            else:
                data, pagination = (
                    [],
                    {"pageSize": 2, "totalCount": -1, "continuationToken": "tok-3"},
                )
            return Response(
                json.dumps({"data": data, "pagination": pagination}),
                content_type="application/json",
            )
        match = re.fullmatch(r"/v5/organizations/([a-z0-9-]+)", request.path)
        if match:
            body = json.dumps(helloasso_org(match.group(1)), ensure_ascii=False).encode()
            return self._respond(request, body, "application/json")
        return Response("", status=404)

    def geocode(self, request: Request) -> Response:
        upload = request.files["data"].read().decode("utf-8")
        columns = request.form.getlist("columns")
        assert columns == ["adresse", "commune"] and request.form.get("postcode") == "code_postal"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        header = GEO_HEADER.split(",")
        writer.writerow(["id", "adresse", "code_postal", "commune", *header[2:]])
        for row in csv.DictReader(io.StringIO(upload)):
            self.geocoded.append(row["adresse"])
            found = GEOCODES.get(row["adresse"].strip().lower())
            values = dict.fromkeys(header[2:], "")
            if found:
                lon, lat, score, citycode = found
                values.update(
                    longitude=lon,
                    latitude=lat,
                    result_score=score,
                    result_citycode=citycode,
                    result_status="ok",
                    result_label=f"{row['adresse']} {row['code_postal']}",
                )
            else:
                values["result_status"] = "not-found"
            writer.writerow(
                [
                    row["id"],
                    row["adresse"],
                    row["code_postal"],
                    row["commune"],
                    *[values[h] for h in header[2:]],
                ]
            )
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8")
