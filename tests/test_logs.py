"""No phone number reaches a log line, a traceback or an error page."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings
from django.urls import include, path

from phonebank.lib.logredact import REDACTED, RedactNumbers, redact


@pytest.mark.parametrize(
    "text",
    ["+8613812345678", "13812345678", "+86 138 1234 5678", "138-1234-5678", "(010) 1234-5678"],
)
def test_numbers_in_any_usual_form_are_removed(text):
    assert redact(f"bad row: {text}, try again") == f"bad row: {REDACTED}, try again"


@pytest.mark.parametrize(
    "text", ["import 12 stopped", "2026-11-25 10:00:00", "v1.2.3", "id=123456"]
)
def test_ordinary_figures_stay(text):
    assert redact(text) == text


def _record(msg, *args, exc=None):
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, msg, args, None)
    if exc is not None:
        try:
            raise exc
        except type(exc):
            import sys

            record.exc_info = sys.exc_info()
    return record


def test_the_filter_cleans_messages_arguments_and_tracebacks():
    record = _record("row %s: %s", 7, "+8613812345678", exc=ValueError("cannot parse 13812345678"))
    RedactNumbers().filter(record)
    text = logging.Formatter("%(message)s").format(record)
    assert "13812345678" not in text and REDACTED in text and "row 7" in text
    assert "ValueError: [message removed]" in text and "cannot parse" not in text


def _boom(request):
    raise ValueError("bad number +8613812345678 for 王秘密")


urlpatterns = [path("boom/", _boom, name="boom")]  # the whole site follows, below


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_logs_no_number_and_the_page_shows_none(client, monkeypatch):
    import io

    from phonebank.accounts import policy

    monkeypatch.setitem(policy.POLICY, "boom", policy.PUBLIC)
    handler = logging.getLogger("django.request").handlers[0]  # settings.LOGGING's console
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"8613812345678" not in response.content and "王秘密".encode() not in response.content
    err = stream.getvalue()
    assert "Internal Server Error: /boom/" in err and "ValueError: [message removed]" in err
    assert "8613812345678" not in err


def test_an_exception_keeps_its_frames_and_type_but_not_its_message():
    from phonebank.lib.logredact import exception_text

    name, other = PEOPLE[1][1], PEOPLE[2][1]  # not in the source lines the traceback shows
    try:
        try:
            raise KeyError(name)
        except KeyError as inner:
            raise ValueError("cannot use " + other) from inner
    except ValueError as exc:
        text = exception_text(exc)
    assert name not in text and other not in text
    assert "KeyError: [message removed]" in text and "ValueError: [message removed]" in text
    assert "direct cause" in text and __file__ in text and "raise KeyError" in text


def test_connection_and_lock_errors_keep_their_message():
    from django.db import OperationalError

    from phonebank.lib.logredact import exception_text

    try:
        raise OperationalError("database is locked")
    except OperationalError as exc:
        assert exception_text(exc).endswith("django.db.utils.OperationalError: database is locked")


def test_every_configured_handler_carries_the_filter():
    """Django's own handlers ("django": console and error e-mails; "django.server") are
    replaced, so no record reaches a handler that does not redact."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    unfiltered = [
        (getattr(logger, "name", "?"), handler)
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if not type(handler).__module__.startswith("_pytest")  # pytest's own capture
        and not isinstance(handler, logging.NullHandler)  # writes nothing
        and not any(isinstance(f, RedactNumbers) for f in handler.filters)
    ]
    assert unfiltered == []


# -- a whole flow, every logger at DEBUG ---------------------------------------------------

PEOPLE = [  # (number as written in the file, name, organisation, title)
    ("+86 139 1234 0001", "王秘密", "第九机械厂", "秘书长"),
    ("13912340002", "李机密", "", ""),
    ("139-1234-0003", "Zhang Hidden", "Hidden Works", "Director"),
    ("(139) 1234 0004", "赵隐名", "", ""),
    ("+8613912340005", "孙无名", "", ""),
    ("0086 139 1234 0006", "周不详", "", ""),
]
ON_DNC = ("13912340009", "钱勿扰")
BAD_ROW = ("12345", "吴坏行")
NOTES = "王秘密 says call back on 139 1234 0001, ask for 李机密"


def _boom_with_data(request):
    """A bug whose exception quotes a contact, as a library's error might."""
    from phonebank.contacts.models import Contact

    contact = Contact.objects.order_by("pk").first()
    try:
        raise KeyError(contact.name)
    except KeyError as exc:
        raise ValueError(f"cannot format {contact.phone} for {contact.name}") from exc


urlpatterns += [
    path("boom-data/", _boom_with_data, name="boom"),
    path("", include("phonebank.urls")),
]


@pytest.fixture
def every_log(monkeypatch):
    """Everything every logger writes, at DEBUG (SQL with its parameters included), as the
    configured console handler writes it."""
    import io

    from django.db import DEFAULT_DB_ALIAS, connections

    stream = io.StringIO()
    console = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactNumbers) for f in h.filters)
    )
    monkeypatch.setattr(console, "stream", stream)
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    before = [(lg, lg.level, lg.disabled) for lg in loggers if isinstance(lg, logging.Logger)]
    for logger, _level, _disabled in before:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    # SQL to django.db.backends. On the wrapper, not django.db.connection: monkeypatch would
    # find no such attribute on that proxy and delete it from the wrapper afterwards.
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "force_debug_cursor", True)
    yield stream
    for logger, level, disabled in before:
        logger.setLevel(level)
        logger.disabled = disabled


def _digits_runs(text: str) -> set[str]:
    import re

    return {re.sub(r"\D", "", run) for run in re.findall(r"\+?\d(?:[\s\-().]{0,3}\d){6,}", text)}


@override_settings(ROOT_URLCONF=__name__)
def test_a_whole_flow_logs_no_number_and_no_name(
    every_log, monkeypatch, signed_in, coordinator, caller, campaign
):
    """Import a file, keep a number off the list, claim, record outcomes (a callback and a
    declaration among them) over the API and in the workspace, publish the registry, hit a
    server error whose exception quotes a contact: no logger wrote a number or a name."""
    import io
    import json
    import signal

    import time_machine
    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from phonebank.accounts import policy
    from phonebank.accounts.services import token_create
    from phonebank.calling.models import CallAttempt
    from phonebank.contacts.models import Contact
    from phonebank.registry import services as registry

    monkeypatch.setitem(policy.POLICY, "boom", policy.PUBLIC)
    cache.clear()
    rows = [*PEOPLE, (ON_DNC[0], ON_DNC[1], "", ""), (BAD_ROW[0], BAD_ROW[1], "", "")]
    csv = "手机,姓名,单位,职务\n" + "".join(f"{p},{n},{o},{t}\n" for p, n, o, t in rows)

    staff = signed_in(coordinator)
    staff.post("/do-not-call/", {"add-phone": ON_DNC[0], "add-reason": ""})
    staff.post("/do-not-call/", {"check-phone": PEOPLE[0][0]})
    upload = SimpleUploadedFile("list.csv", csv.encode())
    assert staff.post("/campaigns/spring/imports/", {"file": upload, "default_region": "CN"})[
        "Location"
    ].startswith("/imports/")
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        call_command("worker", "--once", stdout=io.StringIO())
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    assert Contact.objects.count() == len(PEOPLE)
    staff.get("/campaigns/spring/contacts/")
    staff.get("/imports/1/rejects.csv")

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=caller, actor=None)[1]}"}
    hx = {"HTTP_HX_REQUEST": "true"}
    with time_machine.travel("2026-11-25T02:00:00Z", tick=False):  # 10:00 in Shanghai
        for body in (
            {"outcome": "no_answer", "notes": NOTES},
            {"outcome": "callback", "callback_at": "2026-11-26T15:00", "notes": NOTES},
            {
                "outcome": "declared",
                "notes": NOTES,
                "declaration": {"alias": "春风", "organisations": ["party"], "consent": True},
            },
        ):
            target = staff.post("/api/campaigns/spring/claim", **bearer).json()["target"]
            answer = staff.post(
                f"/api/targets/{target}/outcome",
                json.dumps(body),
                content_type="application/json",
                **bearer,
            )
            assert answer.status_code == 200, answer.content
        workspace = signed_in(caller)
        for data in (
            {"outcome": "callback", "callback_local": "2026-11-26T15:00", "notes": NOTES},
            {
                "outcome": "declared",
                "alias": "明月",
                "organisations": ["party"],
                "consent": "on",
                "notes": NOTES,
            },
            {"outcome": "do_not_call", "notes": NOTES},
        ):
            fragment = workspace.post("/call/spring/next", **hx).content.decode()
            pk = fragment.split("/targets/", 1)[1].split("/", 1)[0]
            done = workspace.post(f"/call/spring/targets/{pk}/outcome", data, **hx)
            assert done.status_code == 200, done.content
        workspace.post(f"/call/spring/targets/{pk}/outcome", {"outcome": "busy"}, **hx)  # 404
    assert CallAttempt.objects.count() == 6
    registry.registry_publish()
    workspace.raise_request_exception = False
    assert workspace.get("/boom-data/").status_code == 500

    written = every_log.getvalue()
    assert "django.db.backends" in written and "INSERT INTO" in written  # SQL was logged
    assert "Internal Server Error: /boom-data/" in written and "ValueError" in written
    for _number, name, organisation, title in [*PEOPLE, (*ON_DNC, "", ""), (*BAD_ROW, "", "")]:
        for text in (name, organisation, title):
            assert not text or text not in written, text
    assert "call back on" not in written  # the notes
    runs = _digits_runs(written)
    for number, *_rest in [*PEOPLE, ON_DNC]:
        national = _digits_runs(number).pop()[-11:]
        assert not any(national in run for run in runs), number
