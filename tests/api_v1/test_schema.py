"""The OpenAPI schema is generated from the code and committed; they must agree, and the docs page loads."""

import json
from pathlib import Path

from sentiment.api_v1.site import api

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = ".venv/bin/python manage.py export_openapi_schema --api sentiment.api_v1.site.api --indent 2 " \
    "--sorted --output docs/openapi.json"  # fmt: skip


def test_the_committed_schema_is_the_one_the_code_generates():
    generated = json.loads(json.dumps(api.get_openapi_schema(), sort_keys=True))
    assert generated == json.loads(COMMITTED.read_text()), f"the API changed: run {REGENERATE}"


def test_every_operation_documents_its_errors_in_one_shape():
    schema = api.get_openapi_schema()
    assert "ErrorOut" in schema["components"]["schemas"]
    assert schema["info"]["version"] == "1"
    paths = set(schema["paths"])
    assert {"/api/v1/classify", "/api/v1/classify/batch", "/api/v1/predictions", "/api/v1/me"} <= paths


def test_the_docs_page_is_served_from_the_site(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.content.lower()
    assert b"cdn.jsdelivr" not in page.content  # the bundled Swagger UI: works offline
