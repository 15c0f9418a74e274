"""The large demo (`phonebank demo --size large`), run tiny: consistent calls, targets, rollups
and registry, sealed like an import, loaded once; the demo calls at any hour; `phonebank
serve` stops its children on SIGTERM and SIGHUP."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from phonebank.lib import hours

SCALE = "0.002"  # 2,000 contacts, 10,000 calls, 200 declarations
ORDER = ("open", "callback", "done", "exhausted", "closed", "dnc")


def _env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    for variable in ("PHONEBANK_DATA_KEY", "PHONEBANK_SECRET_KEY", "DATABASE_URL"):
        env.pop(variable, None)  # SQLite in that folder, with its own keys
    return env


def _cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own console script
        [sys.executable, "-m", "phonebank.cli", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=check,
    )


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A home with the small demo and the large one at SCALE, loaded by the CLI."""
    home = tmp_path_factory.mktemp("large") / "home"
    began = int(time.time())
    run = _cli(home, "demo", "--size", "large", "--no-serve", "--scale", SCALE)
    return home, run.stdout, began


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'phonebank.sqlite3'}?mode=ro", uri=True)


def _epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp())


def test_it_loads_the_history_and_prints_the_sign_ins(large):
    _home, out, _began = large
    assert "large demo loaded" in out
    assert "10,000 calls" in out
    for name in ("admin", "coordinator", "caller1", "caller2", "caller3"):
        assert f"sign in as {name}" in out


def test_every_target_is_in_the_state_its_calls_left_it(large):
    home, _out, began = large
    with _db(home) as db:
        (campaign,) = db.execute("SELECT id FROM campaigns_campaign WHERE slug = 'demo'").fetchone()
        rules = {
            o: (d, m)
            for o, d, m in db.execute(
                "SELECT outcome, delay_minutes, max_attempts FROM campaigns_retryrule "
                "WHERE campaign_id = ?",
                [campaign],
            )
        }
        calls = defaultdict(list)
        for target, caller, started, ended, outcome in db.execute(
            "SELECT target_id, caller_id, started_at, ended_at, outcome FROM calling_callattempt "
            "ORDER BY id"
        ):
            calls[target].append((caller, _epoch(started), _epoch(ended), outcome))
        targets = db.execute(
            "SELECT id, status, attempts, next_call_at, last_outcome, callback_caller_id "
            "FROM calling_target WHERE campaign_id = ?",
            [campaign],
        ).fetchall()
    assert sum(len(c) for c in calls.values()) == 10_000
    assert len(targets) >= 3_990  # the small demo's 2,000 and the large one's (a clash or so)
    statuses = Counter()
    for pk, status, attempts, next_at, last, cb_caller in targets:
        made = calls.get(pk, [])
        assert attempts == len(made)
        statuses[status] += 1
        if not made:
            assert (status, next_at, last) == ("open", None, "")
            continue
        caller, _started, ended, outcome = made[-1]
        assert last == outcome
        times = sum(1 for c in made if c[3] == outcome)
        if outcome == "callback":
            assert status == "callback"
            assert cb_caller == caller
            assert _epoch(next_at) > ended
            continue
        assert cb_caller is None
        if outcome in ("declared", "refused"):
            expected = ("done", None)
        elif outcome == "do_not_call":
            expected = ("dnc", None)
        elif outcome in ("wrong_number", "invalid_number"):
            expected = ("closed", None)
        elif outcome not in rules:
            expected = ("done", None)
        elif times >= rules[outcome][1]:
            expected = ("exhausted", None)
        else:
            due = dt.datetime.fromtimestamp(ended + 60 * rules[outcome][0], dt.UTC)
            expected = ("open", due.strftime("%Y-%m-%d %H:%M:%S"))
        assert (status, next_at) == expected, (pk, made)
        # the calls came one after another, each after the retry time of the one before
        for before, after in itertools.pairwise(made):
            assert after[1] >= before[2]
    assert {"open", "done", "exhausted", "closed", "dnc"} <= set(statuses)
    now = time.time()
    assert all(began - 200 * 86400 < s <= e < now for c in calls.values() for _w, s, e, _o in c)


def test_every_campaign_has_its_contacts_zones_noted(large):
    """The claim reads a campaign's zones from CampaignZone: the small demo's import and the
    large demo's own writer both note them."""
    home, _out, _began = large
    with _db(home) as db:
        found = set(
            db.execute(
                "SELECT DISTINCT t.campaign_id, k.timezone FROM calling_target t "
                "INNER JOIN contacts_contact k ON k.id = t.contact_id"
            )
        )
        noted = set(db.execute("SELECT campaign_id, timezone FROM calling_campaignzone"))
    assert found and noted == found


def test_calls_look_like_a_campaign(large):
    home, _out, _began = large
    week = hours.parse_schedule(hours.DEFAULT)
    with _db(home) as db:
        rows = db.execute(
            "SELECT caller_id, started_at, ended_at, outcome FROM calling_callattempt"
        ).fetchall()
        ticked = db.execute("SELECT COUNT(*) FROM calling_callattempt_objections").fetchone()[0]
        notes = db.execute("SELECT COUNT(*) FROM calling_callattempt WHERE notes <> ''").fetchone()
        provinces = db.execute(
            "SELECT COUNT(DISTINCT province) FROM contacts_contact WHERE province <> ''"
        ).fetchone()[0]
        dnc = db.execute("SELECT COUNT(*) FROM contacts_donotcall").fetchone()[0]
        asked = db.execute(
            "SELECT COUNT(DISTINCT target_id) FROM calling_callattempt WHERE outcome = 'do_not_call'"
        ).fetchone()[0]
    shanghai = dt.timezone(dt.timedelta(hours=8))
    for _caller, started, ended, _outcome in rows:
        for moment in (started, ended):
            local = dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC).astimezone(shanghai)
            assert hours.is_open(week[local.weekday()], local.time()), moment
    first = min(dt.datetime.fromisoformat(r[1]) for r in rows)
    last = max(dt.datetime.fromisoformat(r[2]) for r in rows)
    assert (last - first).days >= 110  # about 120 days
    mix = Counter(r[3] for r in rows)
    assert set(mix) == {
        "no_answer",
        "busy",
        "hung_up",
        "wrong_number",
        "invalid_number",
        "refused",
        "do_not_call",
        "callback",
        "listened",
        "declared",
    }
    assert mix.most_common(1)[0][0] == "no_answer"
    assert len({r[0] for r in rows}) >= 36  # several dozen callers
    assert 0 < ticked < len(rows)
    assert 0 < notes[0] < len(rows)
    assert provinces >= 20
    assert dnc == asked  # everyone who asked is on the do-not-call list


def test_the_rollups_match_a_rebuild(large):
    home, _out, _began = large
    check = _cli(home, "dashboards", "rebuild", "--check")
    assert "demo: matches" in check.stdout


def test_the_declarations_are_sealed_and_the_log_verifies(large):
    home, _out, _began = large
    verify = _cli(home, "registry", "verify")
    with _db(home) as db:
        sources = dict(db.execute("SELECT source, COUNT(*) FROM registry_declaration GROUP BY 1"))
        withdrawals = db.execute("SELECT COUNT(*) FROM registry_withdrawal").fetchone()[0]
        pending = db.execute(
            "SELECT COUNT(*) FROM registry_declaration WHERE log_index IS NULL"
        ).fetchone()[0]
        days = db.execute(
            "SELECT julianday(MAX(declared_on)) - julianday(MIN(declared_on)) "
            "FROM registry_declaration"
        ).fetchone()[0]
        provinces = db.execute(
            "SELECT COUNT(DISTINCT province) FROM registry_declaration WHERE province <> ''"
        ).fetchone()[0]
        checkpoints = db.execute("SELECT COUNT(*) FROM tlog_checkpoint").fetchone()[0]
    assert sum(sources.values()) == 200
    assert sources["phone"] > 0 and sources["web"] > 0
    assert pending == 0
    assert days >= 100
    assert provinces >= 5
    assert checkpoints >= 50  # sealed day by day (days without a declaration seal nothing)
    entries = sum(sources.values()) + withdrawals
    assert f"verified the local log: {entries:,} entries" in verify.stdout
    assert f"{sum(sources.values()):,} declarations" in verify.stdout


def test_the_database_holds_no_number_or_name_in_plaintext(large):
    from phonebank.campaigns import demo
    from phonebank.campaigns.demo_large import NOTE_TEXTS, SEED, synthetic_people

    home, _out, _began = large
    people = list(synthetic_people(2000, SEED))
    with _db(home) as db:
        public = [row[0] for row in db.execute("SELECT alias FROM registry_declaration")]
        public += [row[0] for row in db.execute("SELECT script FROM campaigns_campaign")]
        public += [
            row[0]
            for row in db.execute("SELECT objection || response FROM campaigns_playbookentry")
        ]
    raw = b"".join(p.read_bytes() for p in home.glob("phonebank.sqlite3*"))
    secrets = [p.e164 for p in people[:300]] + [p.e164[3:] for p in people[:300]]
    secrets += [p.name for p in people if len(p.name) == 3][:300]
    secrets += [*demo.ORGS, *(t for texts in NOTE_TEXTS.values() for t in texts)]
    checked = 0
    for secret in secrets:
        if any(secret in text for text in public):
            continue  # also a word of an alias or of the script: public by design
        assert secret.encode() not in raw, secret
        checked += 1
    assert checked > 800


def test_a_second_run_loads_nothing_twice(large):
    home, _out, _began = large
    tables = (
        "contacts_contact",
        "calling_target",
        "calling_callattempt",
        "calling_callattempt_objections",
        "registry_declaration",
        "tlog_checkpoint",
        "dashboards_daystat",
    )
    with _db(home) as db:
        before = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 - fixed names
        sums = db.execute("SELECT SUM(calls) FROM dashboards_daystat").fetchone()
    again = _cli(home, "demo", "--size", "large", "--no-serve", "--scale", SCALE)
    assert "large demo already loaded" in again.stdout
    assert "sign in as caller1" in again.stdout
    with _db(home) as db:
        after = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 - fixed names
        assert db.execute("SELECT SUM(calls) FROM dashboards_daystat").fetchone() == sums
    assert after == before


# -- in this process (SQLite or PostgreSQL, whichever the suite runs on) -----------------------


@pytest.fixture
def loaded(db):
    from phonebank.campaigns import demo
    from phonebank.campaigns.demo_large import demo_large_load

    demo.demo_load(contacts=20)
    return demo_large_load(scale=0.0005)  # 500 contacts, 2,500 calls, 50 declarations


def test_contacts_are_sealed_as_an_import_seals_them(loaded):
    from phonebank.calling.models import Target
    from phonebank.contacts.pipeline import DETAILS
    from phonebank.lib import phones
    from phonebank.lib.fields import keyring

    assert (loaded.contacts, loaded.attempts, loaded.declarations) == (500, 2500, 50)
    targets = Target.objects.filter(campaign__slug="demo", attempts__gt=0).select_related("contact")
    assert targets.count() > 400
    ring = keyring()
    for target in targets:
        contact = target.contact
        number = phones.normalise(contact.phone, "CN")
        assert isinstance(number, phones.Normalised)
        assert number.e164 == contact.phone
        assert bytes(contact.blind_index) == ring.blind_index(contact.phone)
        place = phones.place(number)
        assert (contact.province, contact.city_zh, contact.city_en, contact.timezone) == (
            place.province,
            place.city_zh[:64],
            place.city_en[:64],
            place.timezone,
        )
        assert contact.country == "CN"
        assert len(json.loads(contact.details)) == len(DETAILS)
        assert contact.name and contact.organisation


def test_rollups_and_log_agree_with_the_calls(loaded):
    from django.core.management import call_command

    from phonebank.campaigns.models import Campaign
    from phonebank.dashboards.services import rollups_rebuild
    from phonebank.registry.models import Declaration
    from phonebank.registry.services import registry_publish

    assert rollups_rebuild(campaign=Campaign.objects.get(slug="demo"), write=False) == {}
    assert registry_publish() is None  # nothing left pending
    assert Declaration.objects.filter(log_index__isnull=False).count() == 50
    call_command("registry", "verify")  # raises CommandError on any inconsistency


def test_loading_again_writes_nothing(loaded):
    from phonebank.calling.models import CallAttempt
    from phonebank.campaigns.demo_large import demo_large_load

    again = demo_large_load(scale=0.0005)
    assert again.already
    assert CallAttempt.objects.count() == 2500


def test_the_demo_campaign_calls_at_any_hour_and_the_product_default_stays(db):
    from phonebank.accounts.models import User
    from phonebank.calling.services import target_claim
    from phonebank.campaigns import demo
    from phonebank.campaigns.models import Campaign
    from phonebank.campaigns.services import campaign_create

    demo.demo_load(contacts=5)
    campaign = Campaign.objects.get(slug=demo.SLUG)
    assert campaign.calling_hours == "00:00-24:00"
    night = dt.datetime(2025, 3, 4, 19, 30, tzinfo=dt.UTC)  # 03:30 in Shanghai
    claim = target_claim(campaign=campaign, caller=User.objects.get(username="caller1"), now=night)
    assert claim is not None
    assert campaign_create(slug="real", name="Real", actor=None).calling_hours == hours.DEFAULT


def test_an_older_demo_campaign_is_switched_to_all_day(db):
    from phonebank.campaigns import demo
    from phonebank.campaigns.models import Campaign
    from phonebank.campaigns.services import campaign_create

    campaign_create(slug=demo.SLUG, name="Demo made before", actor=None)
    demo.demo_load(contacts=5)
    assert Campaign.objects.get(slug=demo.SLUG).calling_hours == "00:00-24:00"


# -- stopping the server ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        todo.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited


@pytest.fixture(scope="module")
def served_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve") / "home"
    _cli(home, "manage", "migrate", "-v", "0")
    return home


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_serve_stops_gunicorn_and_the_worker_on_a_signal(served_home, stop):
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own console script
        [
            sys.executable,
            "-m",
            "phonebank.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=_env(served_home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            url = f"http://127.0.0.1:{port}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    break
            assert server.poll() is None, "serve exited before answering"
            assert time.monotonic() < deadline, "serve never answered /healthz"
            time.sleep(0.3)
        children = _descendants(server.pid)
        assert len(children) >= 3  # gunicorn's master and its workers, the import worker
        server.send_signal(stop)
        server.wait(timeout=60)
        deadline = time.monotonic() + 10  # reparented grandchildren may take a moment
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)]
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for pid in children:  # whatever a failure left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_history_s_outcome_codes_are_calling_s_outcomes_in_order():
    """demo_history keeps its own copy (it runs without Django); its codes index into it."""
    from phonebank.calling.models import Outcome
    from phonebank.campaigns import demo_history

    assert tuple(Outcome.values) == demo_history.OUTCOMES
