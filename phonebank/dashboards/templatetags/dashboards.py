"""Small filters for the dashboards' tables."""

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def pct(value) -> str:
    """A share (0..1) as a whole percentage, "—" when there is none."""
    if value is None or value == "":
        return "—"
    return f"{number_format(round(100 * float(value)))}%"


@register.filter
def ratio(part, whole):
    return part / whole if whole else None


@register.filter
def get(mapping, key):
    return mapping.get(key, "")


@register.filter
def share(row, outcome: str):
    """Of the calls where an objection came up, the share that ended with ``outcome``."""
    return row.share(outcome)


@register.filter
def active_count(callers) -> int:
    return sum(1 for c in callers if c.active)
