"""Phone numbers: parse any string into E.164 or a reason, and enrich valid numbers.

Pure: no Django. The geocoder is imported lazily, only where enrichment is asked for: it
costs about 99 MiB and 0.4 s per process, so web workers (which only normalise) never load it.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from phonebank.lib import provinces

MAX_INPUT = 64  # longer than any real number written with spaces and punctuation


def gettext_noop(message: str) -> str:
    """Marks a reason for translation; the rejects file shows it in the reader's language."""
    return message


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: gettext_noop("unknown country code"),
    NumberParseException.NOT_A_NUMBER: gettext_noop("not a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: gettext_noop("too short"),
    NumberParseException.TOO_SHORT_NSN: gettext_noop("too short"),
    NumberParseException.TOO_LONG: gettext_noop("too long"),
}


class Normalised(NamedTuple):
    e164: str
    region: str  # ISO 3166-1 alpha-2, e.g. "CN"
    number: phonenumbers.PhoneNumber


class Invalid(NamedTuple):
    reason: str


class Place(NamedTuple):
    province: str  # code from lib.provinces, "" when unknown
    city_zh: str
    city_en: str
    timezone: str


def normalise(raw: object, default_region: str = "CN") -> Normalised | Invalid:
    """Any input gives either a valid E.164 number or a reason; it never raises."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return Invalid(gettext_noop("no phone number"))
    if len(text) > MAX_INPUT:
        return Invalid(gettext_noop("too long to be a phone number"))
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # spreadsheets turn 13800138000 into 13800138000.0
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        return Invalid(_PARSE_REASONS.get(exc.error_type, gettext_noop("not a phone number")))
    if not phonenumbers.is_valid_number(number):
        return Invalid(gettext_noop("not a valid number for its country"))
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if len(e164) > 16:  # E.164 allows 15 digits; phonenumbers accepts some longer (DE, JP)
        return Invalid(gettext_noop("too long"))
    region = phonenumbers.region_code_for_number(number) or ""
    return Normalised(e164, region, number)


def _describe(number: phonenumbers.PhoneNumber) -> Place:
    from phonenumbers import geocoder, timezone

    zh = geocoder.description_for_valid_number(number, "zh")
    en = geocoder.description_for_valid_number(number, "en")
    zones = timezone.time_zones_for_geographical_number(number)
    tz = zones[0] if zones and zones[0] != timezone.UNKNOWN_TIMEZONE else ""
    return _place_from(zh, en, tz)


@functools.lru_cache(maxsize=4096)
def _place_from(zh: str, en: str, tz: str) -> Place:
    """The province code and city names from the geocoder's text (a few thousand values)."""
    code, rest = provinces.match(zh)
    city_zh = rest if code else ""
    city_en = en.split(",")[0].strip() if code and "," in en else (en if code else "")
    if code and city_en == provinces.BY_CODE[code].en and not rest:
        city_en = ""
    return Place(code, city_zh, city_en, tz)


@functools.lru_cache(maxsize=65536)
def _place_for(e164: str) -> Place:
    return _describe(phonenumbers.parse(e164))


_CN_PLACES: dict[str, Place] = {}
_CN_PLACES_MAX = 1 << 18  # about 24 MB; a 1M-row file of random numbers has ~290k keys


def place(n: Normalised) -> Place:
    """Province, city and time zone of a valid number (empty where the data does not say)."""
    if n.region != "CN":
        return _place_for(n.e164)
    # Chinese geocoding and time-zone data key on at most 7 national digits, so numbers sharing
    # them (and their length) share a place. Cache on that, and on a miss describe the number
    # at hand: parsing a stand-in again cost more than the geocoding itself.
    key = n.e164[:10] + "0" * (len(n.e164) - 10)
    found = _CN_PLACES.get(key)
    if found is None:
        if len(_CN_PLACES) >= _CN_PLACES_MAX:
            _CN_PLACES.clear()
        found = _CN_PLACES[key] = _describe(n.number)
    return found


def display(e164: str) -> str:
    """The international format, grouped for reading: +86 138 0013 8000."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        return e164


def mask(e164: str) -> str:
    """+86 138****5678: enough to tell numbers apart in a list, not enough to dial."""
    try:
        number = phonenumbers.parse(e164)
    except NumberParseException:
        return "****"
    national = str(number.national_number)
    keep_head = 3 if len(national) > 7 else 1
    hidden = max(len(national) - keep_head - 4, 1)
    return f"+{number.country_code} {national[:keep_head]}{'*' * hidden}{national[-4:]}"


def mask_e164(e164: str) -> str:
    """``mask`` for a number stored as E.164, without parsing it again (exports mask
    millions; a parse costs ~15 µs): the country code is the 1-3 digit prefix that is one."""
    digits = e164[1:]
    if e164[:1] == "+" and digits.isdigit():
        for n in (1, 2, 3):
            if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                national = digits[n:]
                # A leading zero (Italy) or an odd length: leave it to the parser.
                if national[:1] != "0" and 6 <= len(national) <= 14:
                    keep_head = 3 if len(national) > 7 else 1
                    hidden = max(len(national) - keep_head - 4, 1)
                    return f"+{digits[:n]} {national[:keep_head]}{'*' * hidden}{national[-4:]}"
                break
    return mask(e164)


def is_mobile(n: Normalised) -> bool:
    return phonenumbers.number_type(n.number) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
