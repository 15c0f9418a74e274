"""No phone number reaches a log line, a traceback or an error page."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings
from django.urls import path

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
    assert "ValueError: cannot parse [number removed]" in text


def _boom(request):
    raise ValueError("bad number +8613812345678 for 王秘密")


urlpatterns = [path("boom/", _boom, name="boom")]


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
    assert "Internal Server Error: /boom/" in err and "ValueError: bad number" in err
    assert "8613812345678" not in err
