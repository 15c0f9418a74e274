"""lib.phones: any text becomes an E.164 number or a reason; valid numbers get a place."""

from __future__ import annotations

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
