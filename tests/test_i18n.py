"""Every page in English, 简体中文 and 繁體中文: the catalogues are complete, compiled and used."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from phonebank.contacts import services

LOCALE = Path(settings.LOCALE_PATHS[0])
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%")


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """LocaleMiddleware leaves a request's language active in the thread; later tests in
    this worker expect English, so end each test on the default language."""
    yield
    translation.deactivate()


def _po_entries(path: Path) -> list[dict]:
    """A small PO reader: each entry's flags, msgid, msgid_plural and msgstr(s)."""
    entries: list[dict] = []
    entry: dict = {}
    key = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if "msgid" in entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def _msgstrs(entry: dict) -> list[str]:
    return [v for k, v in entry.items() if k.startswith("msgstr")]


def test_both_chinese_catalogues_exist():
    assert {p.parent.parent.name for p in CATALOGUES} == {"zh_Hans", "zh_Hant"}


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_every_message_is_translated_and_none_is_fuzzy(po):
    entries = _po_entries(po)
    header = entries[0]
    assert header["msgid"] == ""
    assert "charset=UTF-8" in header["msgstr"]
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"]
    assert f"Language: {po.parent.parent.name}" in header["msgstr"]
    problems = []
    for entry in entries:
        if entry.get("obsolete"):
            problems.append(f"obsolete: {entry['msgid']!r}")
        if "fuzzy" in entry.get("flags", ()):
            problems.append(f"fuzzy: {entry['msgid']!r}")
        if entry["msgid"] == "":
            continue
        strs = _msgstrs(entry)
        if not all(strs):
            problems.append(f"untranslated: {entry['msgid']!r}")
        if "msgid_plural" in entry and list(k for k in entry if k.startswith("msgstr")) != [
            "msgstr[0]"
        ]:
            problems.append(f"Chinese has one plural form, msgstr[0]: {entry['msgid']!r}")
        source = entry.get("msgid_plural", entry["msgid"])
        for text in strs:
            if text and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                problems.append(f"placeholders differ: {entry['msgid']!r} → {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_compiled_catalogue_matches_the_po_file(po):
    """The .mo files are committed: a .po edited without compilemessages fails here."""
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `phonebank manage compilemessages`"
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = []
    for entry in _po_entries(po):
        if entry["msgid"] == "" or entry.get("obsolete"):
            continue
        if "msgid_plural" in entry:
            got = compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1)
            want = entry["msgstr[0]"]
        else:
            got, want = compiled.gettext(entry["msgid"]), entry["msgstr"]
        if got != want:
            stale.append(entry["msgid"])
    assert not stale, "stale .mo (run compilemessages): " + ", ".join(map(repr, stale))


MSGFMT = shutil.which("msgfmt")


@pytest.mark.skipif(not MSGFMT, reason="GNU gettext's msgfmt is not installed")
@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_msgfmt_accepts_the_catalogue(po):
    result = subprocess.run(  # noqa: S603 - a fixed tool on our own file
        [MSGFMT, "--check", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},  # English statistics, whatever the machine's locale
    )
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr and "untranslated" not in result.stderr, result.stderr


SIGN_IN = {
    "en": ("Sign in", "Username", "Password"),
    "zh-hans": ("登录", "用户名", "密码"),
    "zh-hant": ("登入", "使用者名稱", "密碼"),
}


@pytest.mark.parametrize(
    ("accept", "language"),
    [
        ("en", "en"),
        ("zh-hans", "zh-hans"),
        ("zh-hant", "zh-hant"),
        ("zh-CN,zh;q=0.9,en;q=0.5", "zh-hans"),
        ("zh-TW,zh;q=0.9", "zh-hant"),
        ("zh-HK", "zh-hant"),
    ],
)
def test_sign_in_page_follows_the_browser_language(client, db, accept, language):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    for text in SIGN_IN[language]:
        assert text in html
    for other, texts in SIGN_IN.items():
        if other != language and other != "en":
            assert texts[0] not in html, f"{other} text on the {language} page"


@pytest.mark.parametrize("language", ["zh-hans", "zh-hant"])
def test_language_cookie_wins_over_the_browser(client, db, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<html lang="{language}">' in html
    assert f"<h1>{SIGN_IN[language][0]}</h1>" in html


def test_a_callers_page_and_role_in_traditional_chinese(signed_in, caller):
    client = signed_in(caller)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    html = client.get("/call/when/").content.decode()
    assert "什麼時候可以打電話？" in html
    assert "您的時區" in html
    assert "志願者" in html  # the role, a lazily translated model choice
    assert "登出" in html


def test_import_failure_and_reject_reasons_are_shown_in_the_readers_language(campaign, coordinator):
    empty = services.import_upload(
        campaign=campaign, actor=coordinator, upload=SimpleUploadedFile("e.csv", b" \n")
    )
    services.import_job_run(services.import_job_claim())
    empty.refresh_from_db()
    with translation.override("zh-hans"):
        assert empty.error_message == "文件为空：应包含标题行和联系人。"
    with translation.override("zh-hant"):
        assert empty.error_message == "檔案是空的：應包含標題列和聯絡人。"
    with translation.override("en"):
        assert empty.error_message == "The file is empty: expected a header row and contacts."
    with translation.override("zh-hans"):
        assert translation.gettext("too short") == "号码太短"
    with translation.override("zh-hant"):
        assert translation.gettext("too short") == "號碼太短"


@pytest.mark.parametrize("language", ["en", "zh-hans", "zh-hant"])
def test_counts_group_thousands_alike_in_every_language(language):
    """Public counts and dashboards read 3,373,617 in every language, as the charts do
    (Django's own Chinese formats would print 3373617: phonebank/formats)."""
    from django.contrib.humanize.templatetags.humanize import intcomma
    from django.template import Context, Template

    with translation.override(language):
        assert intcomma(3373617) == "3,373,617"
        page = Template("{% load humanize %}{{ n|intcomma }}").render(Context({"n": 5000000}))
        assert page == "5,000,000"


def test_chinese_formats_keep_djangos_dates():
    """phonebank/formats only changes the digit grouping: dates still come from Django's."""
    from django.utils.formats import get_format

    with translation.override("zh-hans"):
        assert get_format("DATE_FORMAT") == "Y年n月j日"
        assert get_format("THOUSAND_SEPARATOR") == ","
    with translation.override("zh-hant"):
        assert get_format("NUMBER_GROUPING") == 3
