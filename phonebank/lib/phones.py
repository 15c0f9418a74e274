"""Phone numbers: parse any string into E.164 or a reason, and enrich valid numbers.

Pure: no Django. The geocoder is imported lazily, only where enrichment is asked for: it
costs about 99 MiB and 0.4 s per process, so web workers (which only normalise) never load it.
"""

from __future__ import annotations

import functools
import re
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


# Mainland mobile numbers written plainly, the bulk of any list: "13812345678",
# "+86 138 1234 5678", "138-1234-5678". For these, phonenumbers.parse always ends with
# country code 86 and the 11 digits as the national number: no national prefix, carrier
# code or international prefix of China's metadata ("0", "1[12]xx", "179xx", "00") can begin
# with 1[3-9] except 179, which is left out. So the number is built directly and checked by
# phonenumbers against the same metadata (is_valid_number is region_code_for_number, here
# CN, then is_valid_number_for_region), at about a third of parse's cost.
# tests/test_phones.py compares this with the generic path over every prefix.
_CN_MOBILE = re.compile(r"(\+86)?(1(?:[3-689]\d|7[0-8])\d{8})")
_SEPARATORS = str.maketrans("", "", " -")
_CN = 86


def _cn_mobile(text: str, default_region: str) -> Normalised | Invalid | None:
    """normalise for a plainly written mainland mobile number, else None."""
    found = _CN_MOBILE.fullmatch(text.translate(_SEPARATORS))
    if found is None or (found.group(1) is None and default_region != "CN"):
        return None
    digits = found.group(2)
    number = phonenumbers.PhoneNumber(country_code=_CN, national_number=int(digits))
    if not phonenumbers.is_valid_number_for_region(number, "CN"):
        return Invalid(gettext_noop("not a valid number for its country"))
    return Normalised("+86" + digits, "CN", number)


def normalise(raw: object, default_region: str = "CN") -> Normalised | Invalid:
    """Any input gives either a valid E.164 number or a reason; it never raises."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return Invalid(gettext_noop("no phone number"))
    if len(text) > MAX_INPUT:
        return Invalid(gettext_noop("too long to be a phone number"))
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # spreadsheets turn 13800138000 into 13800138000.0
    fast = _cn_mobile(text, default_region)
    if fast is not None:
        return fast
    return normalise_generic(text, default_region)


def normalise_generic(text: str, default_region: str) -> Normalised | Invalid:
    """normalise through phonenumbers.parse, for any number (text stripped, not empty)."""
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


_PREFIX_PLACES: dict[str, Place] = {}  # leading digits → place
_DATA_PLACES: dict[tuple[int, str, str], Place] = {}  # (country, geocoder key, tz key) → place
_PLACES_MAX = 1 << 18  # entries of each, about 26 MB; 1M random mobiles have ~280k / ~100k
_lengths: dict[int, tuple[int, int]] = {}  # country code → (geocoder, time zone) key length
_data: tuple[dict, dict] = ({}, {})  # phonenumbers' GEOCODE_DATA and TIMEZONE_DATA, once loaded


def _key_lengths(country_code: int) -> tuple[int, int]:
    """The longest key that begins with the country code in the geocoder's data and in the
    time-zone data (at least the country code's own length), or (0, 0) when the number's
    place may depend on more than its leading digits (see prefix_digits)."""
    global _data
    found = _lengths.get(country_code)
    if found is None:
        from phonenumbers.geodata import GEOCODE_DATA
        from phonenumbers.tzdata import TIMEZONE_DATA

        _data = (GEOCODE_DATA, TIMEZONE_DATA)
        cc = str(country_code)
        shared = len(phonenumbers.region_codes_for_country_code(country_code)) != 1
        if shared or phonenumbers.country_mobile_token(country_code):
            found = (0, 0)
        else:
            geo, tz = (
                max(len(cc), max((len(k) for k in data if k.startswith(cc)), default=0))
                for data in (GEOCODE_DATA, TIMEZONE_DATA)
            )
            found = (geo, tz)
        _lengths[country_code] = found
    return found


def prefix_digits(country_code: int) -> int:
    """How many leading digits of an E.164 number (country code included) decide its place,
    or 0 when its whole number must be looked at.

    ``geocoder.description_for_valid_number`` and ``timezone.time_zones_for_geographical_number``
    look a number up by its leading digits, longest first, in ``GEOCODE_DATA`` and
    ``TIMEZONE_DATA``; no key in them that begins with the country code is longer than the
    value returned, so numbers that agree on that many digits get the same answers. That holds
    only where the rest of the lookup does not read the number: the country code must belong
    to one region (CN, not the +1 or +7 shared plans) and have no mobile token (Argentina's
    9), else 0. For +86 it is 9 (the mobile blocks such as 86 138 0013).
    """
    return max(_key_lengths(country_code))


def _longest_key(digits: str, data: dict, longest: int) -> str:
    """The longest of the first ``longest`` digits' prefixes that is a key of ``data``, the
    one phonenumbers' lookup starts from ("" when none is)."""
    for n in range(longest, 0, -1):
        if digits[:n] in data:
            return digits[:n]
    return ""


def place(n: Normalised) -> Place:
    """Province, city and time zone of a valid number (empty where the data does not say).

    The same as ``place_uncached``, through two caches (tests/test_phones.py compares them
    over every CN prefix). Numbers sharing their first ``prefix_digits`` digits share a place;
    and past that, so do numbers whose lookups start from the same keys of the geocoder's and
    the time-zone data: phonenumbers tries a number's prefixes longest first and the first
    key found decides (or, lacking the language, the shorter ones after it, prefixes of that
    key again). On a miss of both the number at hand is described (parsing a stand-in cost
    more than the geocoding itself).
    """
    cc = n.number.country_code
    geo, tz = _lengths.get(cc) or _key_lengths(cc)
    if not geo:
        return _place_for(n.e164)
    e164 = n.e164
    key = e164[: 1 + max(geo, tz)]
    found = _PREFIX_PLACES.get(key)
    if found is None:
        digits = e164[1:]
        data_key = (cc, _longest_key(digits, _data[0], geo), _longest_key(digits, _data[1], tz))
        found = _DATA_PLACES.get(data_key)
        if found is None:
            if len(_DATA_PLACES) >= _PLACES_MAX:
                _DATA_PLACES.clear()
            found = _DATA_PLACES[data_key] = _describe(n.number)
        if len(_PREFIX_PLACES) >= _PLACES_MAX:
            _PREFIX_PLACES.clear()
        _PREFIX_PLACES[key] = found
    return found


def place_uncached(n: Normalised) -> Place:
    """``place`` straight from phonenumbers, without the prefix cache (for tests)."""
    return _describe(n.number)


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
