"""lib.phones: any text becomes an E.164 number or a reason; valid numbers get a place."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonebank.lib import phones

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("+86 (138) 0013 8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("  13800138000\t", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),  # full-width digits
        ("＋８６ １３８ ００１３ ８０００", "+8613800138000"),
        ("13800138000.0", "+8613800138000"),  # how spreadsheets hand over numbers
        (13800138000, "+8613800138000"),
        (13800138000.0, "+8613800138000"),
        ("(010) 6234 5678", "+861062345678"),
        ("010-62345678", "+861062345678"),
        ("+86 10 6234 5678", "+861062345678"),
        ("0755 8888 1234", "+8675588881234"),
        ("+1 650 253 0000", "+16502530000"),
        ("+44 20 7946 0018", "+442079460018"),
    ],
)
def test_it_turns_the_ways_people_write_numbers_into_e164(raw, e164):
    result = phones.normalise(raw)
    assert isinstance(result, phones.Normalised)
    assert result.e164 == e164


def test_the_country_of_a_number_is_its_region_not_the_default():
    assert phones.normalise("13800138000").region == "CN"
    assert phones.normalise("+1 650 253 0000", "CN").region == "US"
    assert phones.normalise("650 253 0000", "US").e164 == "+16502530000"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "no phone number"),
        ("   ", "no phone number"),
        (None, "no phone number"),
        ("garbage", "not a phone number"),
        ("call me", "not a phone number"),
        ("+", "not a phone number"),
        ("12", "not a valid number for its country"),
        ("1380013800", "not a valid number for its country"),  # one digit short
        ("13800138000.5", "not a valid number for its country"),
        ("+999 1234 5678", "unknown country code"),
        ("1" * 65, "too long to be a phone number"),
        ("+4920100000000000", "too long"),  # 16 digits: phonenumbers accepts it, E.164 does not
    ],
)
def test_what_is_not_a_number_gets_a_reason(raw, reason):
    assert phones.normalise(raw) == phones.Invalid(reason)


# Text that looks like phone numbers reaches the parser's deeper paths more often than
# arbitrary text does; arbitrary text checks that nothing at all makes it raise.
phone_like = st.text(alphabet="0123456789０１２３４５６７８９٠١٢+-() .#*xet;,", max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.one_of(
        st.text(),
        phone_like,
        st.from_regex(r"\+?[0-9 ]{5,20}", fullmatch=True),
        st.from_regex(r"1[3-9][0-9]{9}(\.0)?", fullmatch=True),
    ),
    region=st.sampled_from(["CN", "US", "DE", "GB", "HK", "ZZ", ""]),
)
def test_any_text_gives_a_valid_e164_number_or_a_reason_and_never_raises(raw, region):
    result = phones.normalise(raw, region)
    if isinstance(result, phones.Normalised):
        assert E164.match(result.e164), result.e164
        again = phones.normalise(result.e164)  # E.164 is a fixed point
        assert (again.e164, again.region) == (result.e164, result.region)
    else:
        assert isinstance(result, phones.Invalid)
        assert result.reason


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+8613800138000", "+86 138****8000"),
        ("+8675588881234", "+86 755****1234"),
        ("+16502530000", "+1 650***0000"),
    ],
)
def test_a_masked_number_keeps_the_head_and_the_last_four_digits(e164, masked):
    assert phones.mask(e164) == masked


def test_masking_something_that_is_not_a_number_shows_nothing():
    assert phones.mask("not a number") == "****"
    assert phones.mask("") == "****"


@pytest.mark.parametrize(
    ("raw", "province", "city_zh", "city_en", "timezone"),
    [
        ("13800138000", "BJ", "", "", "Asia/Shanghai"),
        ("(010) 6234 5678", "BJ", "", "", "Asia/Shanghai"),
        ("0755 8888 1234", "GD", "深圳市", "Shenzhen", "Asia/Shanghai"),
        ("020 8888 1234", "GD", "广州市", "Guangzhou", "Asia/Shanghai"),
        ("0571 8888 1234", "ZJ", "杭州市", "Hangzhou", "Asia/Shanghai"),
        ("0991 888 1234", "XJ", "乌鲁木齐市", "Urumqi", "Asia/Shanghai"),
        ("+1 650 253 0000", "", "", "", "America/Los_Angeles"),
        ("+44 20 7946 0018", "", "", "", "Europe/London"),
    ],
)
def test_place_gives_province_city_and_time_zone(raw, province, city_zh, city_en, timezone):
    assert phones.place(phones.normalise(raw)) == phones.Place(province, city_zh, city_en, timezone)


def test_numbers_sharing_a_prefix_share_a_place_but_not_across_prefixes():
    shenzhen = phones.place(phones.normalise("0755 8888 1234"))
    assert phones.place(phones.normalise("0755 8888 9999")) == shenzhen
    assert phones.place(phones.normalise("020 8888 1234")) != shenzhen


def test_a_mobile_number_is_mobile_and_a_landline_is_not():
    assert phones.is_mobile(phones.normalise("13800138000"))
    assert not phones.is_mobile(phones.normalise("0755 8888 1234"))


def _cn_numbers_of_every_prefix(every: int = 1, lengths=(10, 11, 11, 12)):
    """Valid CN numbers for the keys of phonenumbers' CN geocoder and time-zone data (all of
    them, or only every ``every``-th of the 9-digit ones) and for every 2-4 digit national
    prefix, each with seeded random endings of the given lengths: numbers that share a key,
    numbers whose longer prefixes are no key, numbers that agree on the cache's digits."""
    import random

    import phonenumbers
    from phonenumbers.geodata import GEOCODE_DATA
    from phonenumbers.tzdata import TIMEZONE_DATA

    rng = random.Random(86)
    keys = sorted({k for d in (GEOCODE_DATA, TIMEZONE_DATA) for k in d if k.startswith("86")})
    heads = [k[2:] for i, k in enumerate(keys) if len(k) < 9 or i % every == 0]
    heads += [str(n) for n in range(10, 10000)]
    numbers = []
    for head in heads:
        for length in lengths:
            if len(head) < length:
                raw = "+86" + head + "".join(rng.choices("0123456789", k=length - len(head)))
                if phonenumbers.is_valid_number(phonenumbers.parse(raw)):
                    numbers.append(phones.normalise(raw))
    rng.shuffle(numbers)
    return numbers


def _compare_cached_and_uncached(monkeypatch, numbers):
    assert all(isinstance(n, phones.Normalised) for n in numbers)
    # Fresh caches, small enough to be cleared a few times on the way.
    monkeypatch.setattr(phones, "_PREFIX_PLACES", {})
    monkeypatch.setattr(phones, "_DATA_PLACES", {})
    monkeypatch.setattr(phones, "_PLACES_MAX", len(numbers) // 5)
    differ = [n.e164 for n in numbers if phones.place(n) != phones.place_uncached(n)]
    assert differ == []
    # and the caches were used: most answers came from another number's lookup
    assert len(phones._DATA_PLACES) < len(numbers) // 5


def test_the_cache_key_length_comes_from_the_data():
    from phonenumbers.geodata import GEOCODE_DATA
    from phonenumbers.tzdata import TIMEZONE_DATA

    longest = max(len(k) for d in (GEOCODE_DATA, TIMEZONE_DATA) for k in d if k.startswith("86"))
    assert phones.prefix_digits(86) == longest == 9  # "86" and 7 national digits


def test_the_prefix_caches_give_what_phonenumbers_gives_for_cn_prefixes(monkeypatch):
    numbers = _cn_numbers_of_every_prefix(every=10, lengths=(10, 11))
    assert len(numbers) > 30_000
    _compare_cached_and_uncached(monkeypatch, numbers)


@pytest.mark.slow
def test_the_prefix_caches_give_what_phonenumbers_gives_for_every_cn_prefix(monkeypatch):
    numbers = _cn_numbers_of_every_prefix()
    assert len(numbers) > 250_000
    _compare_cached_and_uncached(monkeypatch, numbers)


@pytest.mark.parametrize("country_code", [1, 7, 44, 54])
def test_no_prefix_cache_where_the_place_depends_on_more_than_the_leading_digits(country_code):
    # +1, +7 and +44 are shared by several regions; +54 strips a mobile token first.
    assert phones.prefix_digits(country_code) == 0


@pytest.mark.parametrize(
    "raw", ["+1 650 253 0000", "+44 20 7946 0018", "+49 30 901820", "+61 2 9374 4000"]
)
def test_numbers_outside_china_get_the_uncached_place_too(raw):
    n = phones.normalise(raw)
    assert phones.place(n) == phones.place_uncached(n)


# --- the fast path for plainly written mainland mobile numbers -------------------------------


def _both(raw: str, region: str):
    fast = phones.normalise(raw, region)
    text = raw.strip()
    generic = phones.normalise_generic(text, region)
    return fast, generic


def test_plain_mainland_mobiles_take_the_fast_path():
    assert phones._cn_mobile("13812345678", "CN") is not None
    assert phones._cn_mobile("+86 138 1234 5678", "US") is not None
    assert phones._cn_mobile("138-1234-5678", "CN") is not None
    assert phones._cn_mobile("13812345678", "US") is None  # a US reader's 1 is a country code
    assert phones._cn_mobile("17951234567", "CN") is None  # 179xx is a carrier prefix
    assert phones._cn_mobile("(138) 1234 5678", "CN") is None  # anything else: the generic path


def test_the_fast_path_gives_what_phonenumbers_gives_for_every_mobile_prefix():
    rng = random.Random(4)  # suffixes, not secrets
    compared = 0
    for prefix in range(1000, 2000):
        for _ in range(3):
            digits = f"{prefix}{rng.randrange(10**7):07d}"
            spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
            for raw, region in [
                (digits, "CN"),
                (digits, "US"),
                (f"+86{digits}", "CN"),
                (f"+86 {spaced}", "GB"),
                (f"+86-{digits[:3]}-{digits[3:7]}-{digits[7:]}", "CN"),
                (f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", "CN"),
                (f" {spaced} ", "CN"),
            ]:
                fast, generic = _both(raw, region)
                assert fast == generic, (raw, region, fast, generic)
                if isinstance(fast, phones.Normalised):
                    assert fast.number == generic.number
                    assert fast.number.country_code_source == generic.number.country_code_source
                compared += 1
    assert compared == 21000


@settings(max_examples=300, deadline=None)
@given(
    digits=st.from_regex(r"1[0-9]{10}", fullmatch=True),
    plus=st.booleans(),
    separators=st.lists(st.sampled_from(["", " ", "-"]), min_size=11, max_size=11),
    region=st.sampled_from(["CN", "US", "HK", "TW"]),
)
def test_the_fast_path_agrees_with_the_generic_one_on_any_separators(
    digits, plus, separators, region
):
    raw = ("+86" if plus else "") + "".join(s + d for s, d in zip(separators, digits, strict=True))
    fast, generic = _both(raw, region)
    assert fast == generic
