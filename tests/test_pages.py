"""The coordinator pages: campaigns, contacts with masked numbers, imports, do-not-call."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from phonebank.audit.models import LogEntry
from phonebank.calling.models import Target, TargetStatus
from phonebank.campaigns.models import Campaign
from phonebank.contacts import services
from phonebank.contacts.models import DoNotCall, ImportJob, ImportStatus

CSV = "手机,姓名,单位,职务\n13800138000,甲乙,第三机械厂,科员\n0755 8888 1234,丙丁,,\n12345,坏行,,\n"


def _import(campaign, actor, text=CSV, name="list.csv"):
    job = services.import_upload(
        campaign=campaign, actor=actor, upload=SimpleUploadedFile(name, text.encode())
    )
    services.import_job_run(services.import_job_claim())
    job.refresh_from_db()
    return job


def test_creating_a_campaign_makes_its_coordinator_a_member(signed_in, coordinator):
    client = signed_in(coordinator)
    response = client.post(
        "/campaigns/new/",
        {
            "name": "Winter",
            "slug": "winter",
            "calling_hours": "10:00-12:00",
            "default_region": "cn",
            "default_timezone": "Asia/Shanghai",
            "lease_minutes": 20,
            "callback_grace_minutes": 30,
            "description": "",
            "script": "## Hello",
        },
    )
    assert response.status_code == 302
    winter = Campaign.objects.get(slug="winter")
    assert winter.default_region == "CN"
    assert client.get("/campaigns/winter/").status_code == 200
    assert LogEntry.objects.filter(action="campaigns.campaign.created").exists()


@pytest.mark.parametrize("hours", ["9-12", "12:00-09:00", "09:00-12:00,11:00-13:00", "25:00-26:00"])
def test_bad_calling_hours_re_render_with_a_message(signed_in, coordinator, hours):
    response = signed_in(coordinator).post(
        "/campaigns/new/",
        {
            "name": "Winter",
            "slug": "winter",
            "calling_hours": hours,
            "default_region": "CN",
        },
    )
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not Campaign.objects.filter(slug="winter").exists()


def test_editing_a_campaign_is_audited_with_the_fields_changed(signed_in, coordinator, campaign):
    response = signed_in(coordinator).post(
        "/campaigns/spring/",
        {
            "name": "Spring calls",
            "slug": "ignored",
            "calling_hours": "08:00-20:00",
            "default_region": "CN",
            "default_timezone": "Asia/Shanghai",
            "lease_minutes": 20,
            "callback_grace_minutes": 30,
            "description": "new",
            "script": "",
        },
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.slug == "spring"
    assert campaign.calling_hours == "08:00-20:00"
    entry = LogEntry.objects.get(action="campaigns.campaign.updated")
    assert sorted(entry.data["fields"]) == ["calling_hours", "description"]


def test_contacts_page_masks_numbers_and_filters(
    signed_in, coordinator, campaign, django_assert_max_num_queries
):
    _import(campaign, coordinator)
    client = signed_in(coordinator)
    with django_assert_max_num_queries(12):
        body = client.get("/campaigns/spring/contacts/").content.decode()
    assert "+86 138****8000" in body
    assert "13800138000" not in body and "8613800138000" not in body
    assert "甲乙" in body
    shenzhen = client.get("/campaigns/spring/contacts/?province=GD").content.decode()
    assert "甲乙" not in shenzhen and "丙丁" in shenzhen
    Target.objects.filter(contact__province="GD").update(status=TargetStatus.DNC)
    dnc = client.get("/campaigns/spring/contacts/?status=dnc").content.decode()
    assert "丙丁" in dnc and "甲乙" not in dnc


def test_contacts_page_query_count_does_not_grow_with_rows(
    signed_in, coordinator, campaign, django_assert_num_queries
):
    rows = "\n".join(f"1380013{i:04d},名{i}" for i in range(60))
    _import(campaign, coordinator, "手机,姓名\n" + rows + "\n")
    client = signed_in(coordinator)
    client.get("/campaigns/spring/contacts/")  # warm the session
    with django_assert_num_queries(7):
        client.get("/campaigns/spring/contacts/")


def test_upload_queues_a_job_and_the_page_shows_progress(signed_in, coordinator, campaign):
    client = signed_in(coordinator)
    response = client.post(
        "/campaigns/spring/imports/",
        {
            "file": SimpleUploadedFile("list.csv", CSV.encode()),
            "default_region": "CN",
            "mapping": "",
        },
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/"
    assert job.status == ImportStatus.QUEUED
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page and "<progress" in page
    services.import_job_run(services.import_job_claim())
    fragment = client.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment
    assert "hx-trigger" not in fragment  # finished: the fragment stops polling
    assert re.search(r'id="count-imported">2<', fragment)
    assert re.search(r'id="count-rejected">1<', fragment)


def test_the_upload_is_stored_sealed_and_deleted_after_the_import(
    signed_in, coordinator, campaign, settings
):
    client = signed_in(coordinator)
    client.post(
        "/campaigns/spring/imports/",
        {"file": SimpleUploadedFile("list.csv", CSV.encode()), "default_region": "CN"},
    )
    (sealed,) = (settings.PHONEBANK_HOME / "uploads").iterdir()
    raw = sealed.read_bytes()
    assert b"13800138000" not in raw and "甲乙".encode() not in raw
    services.import_job_run(services.import_job_claim())
    assert list((settings.PHONEBANK_HOME / "uploads").iterdir()) == []


def test_a_bad_mapping_re_renders_the_form(signed_in, coordinator, campaign):
    response = signed_in(coordinator).post(
        "/campaigns/spring/imports/",
        {
            "file": SimpleUploadedFile("list.csv", CSV.encode()),
            "default_region": "CN",
            "mapping": "telephone=1",
        },
    )
    assert response.status_code == 200
    assert "FIELD=COLUMN" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_unknown_region_re_renders_the_form(signed_in, coordinator, campaign):
    response = signed_in(coordinator).post(
        "/campaigns/spring/imports/",
        {"file": SimpleUploadedFile("list.csv", CSV.encode()), "default_region": "XX"},
    )
    assert response.status_code == 200
    assert not ImportJob.objects.exists()


def test_an_oversized_upload_is_refused_with_a_message(signed_in, coordinator, campaign, settings):
    settings.PHONEBANK_UPLOAD_MAX_BYTES = 10
    response = signed_in(coordinator).post(
        "/campaigns/spring/imports/",
        {"file": SimpleUploadedFile("list.csv", CSV.encode()), "default_region": "CN"},
    )
    assert response.status_code == 200
    assert "larger than the limit" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_without_a_phone_column_fails_with_one_clear_message(
    signed_in, coordinator, campaign
):
    job = _import(campaign, coordinator, "name,city\nA,B\n")
    assert job.status == ImportStatus.FAILED
    assert "No phone column" in job.error and "'name'" in job.error
    body = signed_in(coordinator).get(f"/imports/{job.pk}/").content.decode()
    assert "No phone column" in body
    assert not Target.objects.exists()


def test_rejects_download_is_audited_and_defused(signed_in, coordinator, campaign):
    job = _import(campaign, coordinator, "手机,姓名\n=HYPERLINK(1),x\n13800138000,y\n")
    response = signed_in(coordinator).get(f"/imports/{job.pk}/rejects.csv")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "line,reason,row"
    assert body.splitlines()[1].startswith("2,")
    assert "'=HYPERLINK(1)" in body
    assert LogEntry.objects.filter(action="contacts.import.rejects_downloaded").exists()


def test_dnc_page_adds_checks_and_closes_targets(signed_in, coordinator, campaign):
    _import(campaign, coordinator)
    client = signed_in(coordinator)
    response = client.post(
        "/do-not-call/", {"add-phone": "+86 138 0013 8000", "add-reason": "asked"}
    )
    assert response.status_code == 302
    assert DoNotCall.objects.count() == 1
    assert Target.objects.get(contact__province="BJ").status == TargetStatus.DNC
    found = client.post("/do-not-call/", {"check-phone": "13800138000"}).content.decode()
    assert "On the list since" in found
    absent = client.post("/do-not-call/", {"check-phone": "13900139000"}).content.decode()
    assert "Not on the list" in absent


def test_dnc_page_re_renders_a_bad_number_with_a_message(signed_in, coordinator):
    response = signed_in(coordinator).post("/do-not-call/", {"add-phone": "hello"})
    assert response.status_code == 200
    assert "not a valid phone number" in response.content.decode()
    assert not DoNotCall.objects.exists()


def test_a_dnc_file_upload_adds_every_number(signed_in, coordinator):
    client = signed_in(coordinator)
    response = client.post(
        "/do-not-call/",
        {"file-file": SimpleUploadedFile("dnc.csv", b"phone\n13800138000\n13900139000\nbad\n")},
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/"
    services.import_job_run(services.import_job_claim())
    job.refresh_from_db()
    assert (job.imported, job.rejected) == (2, 1)
    assert DoNotCall.objects.count() == 2
    assert client.get(f"/imports/{job.pk}/").status_code == 200


def test_authenticated_pages_are_not_cached(signed_in, coordinator):
    response = signed_in(coordinator).get("/campaigns/")
    assert "no-store" in response["Cache-Control"]


def test_pages_carry_a_strict_content_security_policy(client, db):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
