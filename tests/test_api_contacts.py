"""GET /api/campaigns/{slug}/contacts: masked numbers, coordinators and admins only."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from phonebank.accounts.services import token_create
from phonebank.contacts import services


@pytest.fixture
def imported(campaign, coordinator):
    csv = "手机,姓名\n13800138000,甲乙\n0755 8888 1234,丙丁\n"
    services.import_upload(
        campaign=campaign, actor=coordinator, upload=SimpleUploadedFile("l.csv", csv.encode())
    )
    services.import_job_run(services.import_job_claim())


def _get(client, user, url):
    _token, raw = token_create(user=user, actor=None)
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_coordinators_get_masked_numbers_and_no_names(client, coordinator, imported):
    response = _get(client, coordinator, "/api/campaigns/spring/contacts")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    phones = {c["phone"] for c in data["contacts"]}
    assert phones == {"+86 138****8000", "+86 755****1234"}
    assert "甲乙" not in response.content.decode()
    assert "13800138000" not in response.content.decode()


def test_filters_and_paging(client, admin, imported):
    data = _get(client, admin, "/api/campaigns/spring/contacts?province=GD&limit=1").json()
    assert data["count"] == 1 and data["contacts"][0]["city"] == "Shenzhen"


def test_callers_get_403_with_a_json_error(client, caller, imported):
    response = _get(client, caller, "/api/campaigns/spring/contacts")
    assert response.status_code == 403
    assert "detail" in response.json()


def test_other_campaigns_coordinators_get_404(client, other_campaign_coordinator, imported):
    response = _get(client, other_campaign_coordinator, "/api/campaigns/spring/contacts")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_no_or_bad_token_gets_401(client, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/api/campaigns/spring/contacts", **extra)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("query", ["limit=0", "limit=5000", "offset=-1", "limit=abc"])
def test_bad_parameters_get_422_with_a_json_error(client, coordinator, imported, query):
    response = _get(client, coordinator, f"/api/campaigns/spring/contacts?{query}")
    assert response.status_code == 422
    assert response.json()["detail"]


def test_the_openapi_document_describes_the_endpoint(client, db):
    doc = client.get("/api/openapi.json").json()
    assert "/api/campaigns/{slug}/contacts" in doc["paths"]
