"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live_server.

Playwright must never download a browser: it launches the system's Chromium (or $CHROMIUM),
and every test here is skipped, with the reason, when that executable is missing.

Playwright's sync API keeps an event loop in the main thread, which makes Django refuse ORM
calls there ("You cannot call this from an async context"); the tests call the ORM from
plain synchronous code, so that check is switched off for the test process.

That loop also moves the main thread's database connections: while it runs, asgiref keeps
Django's connections in a context variable instead of the thread, so the main thread gets a
second connection that pytest-django does not know of. pytest-playwright starts Playwright
once per session, which would leave the loop running under every later test in the xdist
worker; a plain test's connection then stays open at the end, and PostgreSQL refuses to drop
the test database ("is being accessed by other users"). So Playwright, and the browser, are
started per browser module here, and the loop stops where the browser tests stop.

The database: tests that use ``live_server`` run transactional (pytest-django does that by
itself), so what a test commits is what the server reads, and the other way round. On SQLite
every module here runs on a database *file* (see ``django_db_setup`` below), as production
does: the server's request threads and any worker thread a test starts open their own
connections to it. pytest-django's in-memory test database would not do: its connection is
shared with the server thread only, and a second connection to it (a worker thread's) hits
shared-cache table locks that fail at once ("database table is locked"). On PostgreSQL the
ordinary test database serves every thread as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import sqlite_file_database

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
HERE = Path(__file__).resolve().parent


def _missing() -> str | None:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return None
    return (
        f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium "
        "fonts-wqy-microhei, or set CHROMIUM=/path/to/chromium); Playwright must not "
        "download one"
    )


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        # .ci/run installs Chromium: in CI a missing browser is a failure, not a skip.
        raise pytest.UsageError(reason)
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser_context_args(base_url):
    """pytest-playwright's, less --device and --video, which need Playwright per session."""
    return {"base_url": base_url} if base_url else {}


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **kwargs: browser_type.launch(**{**browser_type_launch_args, **kwargs})


@pytest.fixture(scope="module")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def base_url(pytestconfig):
    """pytest-playwright's fallback base_url is a plugin-class method, which pytest 9 warns
    about (and warnings are errors here); the same fixture, as a plain function."""
    return pytestconfig.getoption("--base-url") or pytestconfig.getini("base_url") or None


@pytest.fixture(scope="module")
def django_db_setup(django_db_setup, django_db_blocker, tmp_path_factory):
    """On SQLite, each browser module runs on a database file (tests/conftest.py).

    ``live_server`` is started once per session; started on a file it gets no shared
    connection, so its request threads follow ``connections.settings`` to whichever module's
    file is current.
    """
    with sqlite_file_database(django_db_blocker, tmp_path_factory.mktemp("browser-db")):
        yield


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live_server, minus the shared in-memory connection.

    pytest-django hands the server the main thread's in-memory SQLite connection when it
    starts. It starts once per session, before the module-scoped ``django_db_setup`` above
    switches to a file; after other tests have already set up the in-memory test database
    (a full run, or xdist handing this worker other files first) it would keep serving that
    database, where nobody a browser test creates exists. Without the override its request
    threads open connections from ``connections.settings``: each module's file.
    """
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr, start=False)
    server.thread.connections_override.clear()
    server.start()
    yield server
    server.stop()
