"""China's provincial-level divisions: a stable code for each, names in three languages.

Codes follow ISO 3166-2:CN (without the ``CN-`` prefix). ``match`` turns the free-form
descriptions that ``phonenumbers.geocoder`` gives ("广东省深圳市", "广西南宁市", "北京市") or a
user's "地区" column ("广东", "Guangdong", "廣東省") into one of them.
"""

from __future__ import annotations

from typing import NamedTuple


class Province(NamedTuple):
    code: str
    zh_hans: str  # short name, as geocoder descriptions start
    zh_hant: str
    en: str
    full_hans: str  # official full name


PROVINCES: tuple[Province, ...] = (
    Province("BJ", "北京", "北京", "Beijing", "北京市"),
    Province("TJ", "天津", "天津", "Tianjin", "天津市"),
    Province("HE", "河北", "河北", "Hebei", "河北省"),
    Province("SX", "山西", "山西", "Shanxi", "山西省"),
    Province("NM", "内蒙古", "內蒙古", "Inner Mongolia", "内蒙古自治区"),
    Province("LN", "辽宁", "遼寧", "Liaoning", "辽宁省"),
    Province("JL", "吉林", "吉林", "Jilin", "吉林省"),
    Province("HL", "黑龙江", "黑龍江", "Heilongjiang", "黑龙江省"),
    Province("SH", "上海", "上海", "Shanghai", "上海市"),
    Province("JS", "江苏", "江蘇", "Jiangsu", "江苏省"),
    Province("ZJ", "浙江", "浙江", "Zhejiang", "浙江省"),
    Province("AH", "安徽", "安徽", "Anhui", "安徽省"),
    Province("FJ", "福建", "福建", "Fujian", "福建省"),
    Province("JX", "江西", "江西", "Jiangxi", "江西省"),
    Province("SD", "山东", "山東", "Shandong", "山东省"),
    Province("HA", "河南", "河南", "Henan", "河南省"),
    Province("HB", "湖北", "湖北", "Hubei", "湖北省"),
    Province("HN", "湖南", "湖南", "Hunan", "湖南省"),
    Province("GD", "广东", "廣東", "Guangdong", "广东省"),
    Province("GX", "广西", "廣西", "Guangxi", "广西壮族自治区"),
    Province("HI", "海南", "海南", "Hainan", "海南省"),
    Province("CQ", "重庆", "重慶", "Chongqing", "重庆市"),
    Province("SC", "四川", "四川", "Sichuan", "四川省"),
    Province("GZ", "贵州", "貴州", "Guizhou", "贵州省"),
    Province("YN", "云南", "雲南", "Yunnan", "云南省"),
    Province("XZ", "西藏", "西藏", "Tibet", "西藏自治区"),
    Province("SN", "陕西", "陝西", "Shaanxi", "陕西省"),
    Province("GS", "甘肃", "甘肅", "Gansu", "甘肃省"),
    Province("QH", "青海", "青海", "Qinghai", "青海省"),
    Province("NX", "宁夏", "寧夏", "Ningxia", "宁夏回族自治区"),
    Province("XJ", "新疆", "新疆", "Xinjiang", "新疆维吾尔自治区"),
    Province("TW", "台湾", "臺灣", "Taiwan", "台湾省"),
    Province("HK", "香港", "香港", "Hong Kong", "香港特别行政区"),
    Province("MO", "澳门", "澳門", "Macau", "澳门特别行政区"),
)

BY_CODE = {p.code: p for p in PROVINCES}

# Longest names first, so "内蒙古" is not taken for something shorter.
_PREFIXES: list[tuple[str, str]] = sorted(
    {
        (name, p.code)
        for p in PROVINCES
        for name in (
            p.full_hans,
            p.zh_hans,
            p.zh_hant,
            p.zh_hant + "省",
            p.zh_hans + "省",
            p.zh_hans + "市",
            p.zh_hant + "市",
        )
    },
    key=lambda pair: -len(pair[0]),
)
_EN = {p.en.casefold(): p.code for p in PROVINCES} | {
    "inner mongolia": "NM",
    "macao": "MO",
    "xizang": "XZ",
}


def match(text: str) -> tuple[str, str]:
    """Return (province code, the rest of the text) or ("", text) when no province matches."""
    text = (text or "").strip()
    for prefix, code in _PREFIXES:
        if text.startswith(prefix):
            return code, text[len(prefix) :].strip()
    folded = text.casefold().removesuffix(" province").strip()
    if folded in _EN:
        return _EN[folded], ""
    if folded.upper() in BY_CODE:
        return folded.upper(), ""
    return "", text


def name(code: str, language: str) -> str:
    """The province's name in a Django language code (en, zh-hans, zh-hant)."""
    p = BY_CODE.get(code)
    if p is None:
        return ""
    if language.startswith("zh-hant") or language in ("zh-tw", "zh-hk"):
        return p.zh_hant
    if language.startswith("zh"):
        return p.zh_hans
    return p.en
