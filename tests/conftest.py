"""Personas, as healthchecks has Alice, Bob and Charlie: each name says what it may do."""

from __future__ import annotations

import pytest

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.campaigns.services import campaign_create

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _home(settings, tmp_path):
    """Each test gets its own PHONEBANK_HOME (uploads live there)."""
    settings.PHONEBANK_HOME = tmp_path / "home"
    settings.PHONEBANK_HOME.mkdir()


def _user(name: str, role: str, campaign=None):
    return user_create(username=name, password=PASSWORD, role=role, campaign=campaign)


@pytest.fixture
def campaign(db):
    return campaign_create(slug="spring", name="Spring calls", actor=None)


@pytest.fixture
def other_campaign(db):
    return campaign_create(slug="autumn", name="Autumn calls", actor=None)


@pytest.fixture
def admin(db):
    return _user("ada", Role.ADMIN)


@pytest.fixture
def coordinator(campaign):
    return _user("cora", Role.COORDINATOR, campaign)


@pytest.fixture
def other_campaign_coordinator(other_campaign):
    return _user("otto", Role.COORDINATOR, other_campaign)


@pytest.fixture
def caller(campaign):
    return _user("cal", Role.CALLER, campaign)


@pytest.fixture
def other_campaign_caller(other_campaign):
    return _user("olga", Role.CALLER, other_campaign)


@pytest.fixture
def signed_in(client):
    """signed_in(user) → the test client, signed in as that user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request in Chinese leaves the thread's language set; start each test in English."""
    from django.utils import translation

    yield
    translation.activate("en")
