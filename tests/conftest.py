"""Personas, as healthchecks has Alice, Bob and Charlie: each name says what it may do."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
import time_machine
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.campaigns.services import campaign_create

PASSWORD = "correct horse battery staple"
CALLING_HOURS = "2026-11-25T02:00:00Z"  # 10:00 in Shanghai on a Wednesday


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: the database is rolled back after a test, but
    the process's cache is not, and ids are reused, so a campaign's cached time zones (or a
    rate limit) from an earlier test would otherwise apply to another campaign."""
    cache.clear()


@pytest.fixture
def inside_calling_hours():
    """Time frozen inside the default calling hours of contacts in Shanghai. Used by
    ``pytestmark`` in the calling tests."""
    with time_machine.travel(CALLING_HOURS, tick=False):
        yield


def make_targets(campaign, prefix: str, n: int = 3, **contact) -> list:
    """n contacts in Shanghai's zone (numbers +86{prefix}{i:08d}), each a target of
    campaign; ``contact`` overrides their fields (name, province, …)."""
    from phonebank.calling.models import Target
    from phonebank.contacts.models import Contact
    from phonebank.lib.fields import keyring

    made = []
    for i in range(n):
        e164 = f"+86{prefix}{i:08d}"
        fields = {"name": f"联系人{prefix}{i}", "country": "CN", "province": "BJ"} | contact
        made_contact = Contact.objects.create(
            blind_index=keyring().blind_index(e164),
            phone=e164,
            timezone="Asia/Shanghai",
            **fields,
        )
        made.append(Target.objects.create(campaign=campaign, contact=made_contact))
    return made


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


@contextlib.contextmanager
def sqlite_file_database(django_db_blocker, folder):
    """Run a module's tests on a database file, a copy of the migrated in-memory one.

    For tests whose threads (a live server, concurrent callers) need the same database: the
    in-memory test database cannot be shared across threads. Its connection is set aside
    untouched and put back afterwards, so module order and xdist workers do not matter.
    Threads open connections from ``connections.settings``, so that entry is swapped as
    well as this thread's connection. On PostgreSQL the ordinary test database serves.
    """
    if connections[DEFAULT_DB_ALIAS].vendor != "sqlite":
        yield
        return
    in_memory = connections[DEFAULT_DB_ALIAS]
    in_memory_settings = connections.settings[DEFAULT_DB_ALIAS]
    path = folder / "test.sqlite3"
    with django_db_blocker.unblock():
        in_memory.ensure_connection()
        with contextlib.closing(sqlite3.connect(path)) as copy:
            in_memory.connection.backup(copy)  # as Django clones test databases
    file_settings = {**in_memory_settings, "NAME": str(path)}  # WAL is set on connecting
    on_file = type(in_memory)(file_settings, DEFAULT_DB_ALIAS)
    connections.settings[DEFAULT_DB_ALIAS] = file_settings
    connections[DEFAULT_DB_ALIAS] = on_file
    try:
        with django_db_blocker.unblock(), on_file.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone() == ("wal",)
        yield
    finally:
        with django_db_blocker.unblock():
            on_file.close()
        connections[DEFAULT_DB_ALIAS] = in_memory
        connections.settings[DEFAULT_DB_ALIAS] = in_memory_settings
