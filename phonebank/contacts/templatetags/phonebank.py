from django import template
from django.utils.translation import get_language

from phonebank.lib import phones, provinces

register = template.Library()


@register.filter
def masked(e164: str) -> str:
    """+86 138****5678"""
    return phones.mask(e164) if e164 else ""


@register.filter
def phone_display(e164: str) -> str:
    """+86 138 0013 8000: readable to dial by hand (only the caller holding it sees this)."""
    return phones.display(e164) if e164 else ""


@register.filter
def province_name(code: str) -> str:
    return provinces.name(code, get_language() or "en")


@register.filter
def city(contact) -> str:
    language = get_language() or "en"
    return contact.city_zh if language.startswith("zh") else contact.city_en


@register.filter
def markdown(text: str):
    """Organiser-written Markdown, sanitised (lib.markdown)."""
    from django.utils.safestring import mark_safe

    from phonebank.lib.markdown import render

    return mark_safe(render(text))  # noqa: S308 - nh3 has sanitised it  # nosec B308 B703


@register.filter
def org_name(organisation, language: str) -> str:
    return organisation.name(language or "en")


@register.simple_tag
def province_options():
    """(code, name) of every province in the current language, for select boxes."""
    language = get_language() or "en"
    return [(p.code, provinces.name(p.code, language)) for p in provinces.PROVINCES]
