"""Who may reach which page. Every staff page refuses callers; every campaign page refuses
the coordinators of other campaigns with a 404, as if the campaign did not exist."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from phonebank.contacts import services
from phonebank.contacts.models import ImportJob

CAMPAIGN_PAGES = [
    "/campaigns/spring/",
    "/campaigns/spring/contacts/",
    "/campaigns/spring/imports/",
]
STAFF_PAGES = ["/campaigns/", "/campaigns/new/", "/do-not-call/"]


@pytest.fixture
def job(campaign, coordinator):
    upload = SimpleUploadedFile("list.csv", "手机,姓名\n13800138000,测试\n=1+2,坏\n".encode())
    job = services.import_upload(campaign=campaign, actor=coordinator, upload=upload)
    services.import_job_run(services.import_job_claim())
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("url", CAMPAIGN_PAGES + STAFF_PAGES)
def test_anonymous_is_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", CAMPAIGN_PAGES + STAFF_PAGES)
def test_a_caller_reaches_no_list_or_import_page(signed_in, caller, url):
    assert signed_in(caller).get(url).status_code == 403


def test_a_caller_cannot_see_an_import_or_its_rejects(signed_in, caller, job):
    client = signed_in(caller)
    assert client.get(f"/imports/{job.pk}/").status_code == 403
    assert client.get(f"/imports/{job.pk}/rejects.csv").status_code == 403


@pytest.mark.parametrize("url", CAMPAIGN_PAGES)
def test_another_campaigns_coordinator_gets_404(
    signed_in, campaign, other_campaign_coordinator, url
):
    assert signed_in(other_campaign_coordinator).get(url).status_code == 404


def test_another_campaigns_coordinator_cannot_see_its_imports(
    signed_in, job, other_campaign_coordinator
):
    client = signed_in(other_campaign_coordinator)
    assert client.get(f"/imports/{job.pk}/").status_code == 404
    assert client.get(f"/imports/{job.pk}/rejects.csv").status_code == 404


def test_another_campaigns_coordinator_cannot_upload_into_it(
    signed_in, campaign, other_campaign_coordinator
):
    upload = SimpleUploadedFile("x.csv", b"phone\n13800138000\n")
    response = signed_in(other_campaign_coordinator).post(
        "/campaigns/spring/imports/", {"file": upload, "default_region": "CN"}
    )
    assert response.status_code == 404
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("url", CAMPAIGN_PAGES + STAFF_PAGES)
def test_the_campaigns_coordinator_and_admins_reach_every_page(signed_in, coordinator, admin, url):
    assert signed_in(coordinator).get(url).status_code == 200
    assert signed_in(admin).get(url).status_code == 200


def test_campaign_list_shows_a_coordinator_only_their_campaigns(
    signed_in, coordinator, other_campaign
):
    body = signed_in(coordinator).get("/campaigns/").content.decode()
    assert "Spring calls" in body
    assert "Autumn calls" not in body


def test_admins_see_every_campaign(signed_in, admin, campaign, other_campaign):
    body = signed_in(admin).get("/campaigns/").content.decode()
    assert "Spring calls" in body and "Autumn calls" in body


def test_only_admins_may_take_a_number_off_the_do_not_call_list(signed_in, coordinator, admin):
    entry, _ = services.dnc_add(phone="13800138000", actor=admin)
    assert signed_in(coordinator).post(f"/do-not-call/{entry.pk}/remove").status_code == 403
    response = signed_in(admin).post(f"/do-not-call/{entry.pk}/remove", {"reason": "typo"})
    assert response.status_code == 302


def test_the_django_admin_is_for_admins_only(signed_in, coordinator, admin):
    assert signed_in(coordinator).get("/admin/").status_code == 403
    assert signed_in(admin).get("/admin/").status_code == 200


def test_a_caller_lands_on_the_workspace_of_their_only_campaign(signed_in, caller, other_campaign):
    client = signed_in(caller)
    assert client.get("/")["Location"] == "/call/"
    assert client.get("/call/")["Location"] == "/call/spring/"
    assert client.get("/call/autumn/").status_code == 404


def test_staff_land_on_the_campaign_list(signed_in, coordinator):
    assert signed_in(coordinator).get("/")["Location"] == "/campaigns/"


def test_refusals_use_the_application_layout(signed_in, caller, other_campaign):
    client = signed_in(caller)
    forbidden = client.get("/campaigns/")
    assert forbidden.status_code == 403
    assert "Not allowed" in forbidden.content.decode()
    assert 'action="/i18n/setlang/"' in forbidden.content.decode()
    missing = client.get("/call/autumn/")
    assert missing.status_code == 404
    assert "Not found" in missing.content.decode()
