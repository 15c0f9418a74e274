"""The dashboards' charts: server-side SVG from pygal (phonebank/lib/charts.py), served as
images; every chart has a table with the same figures beside it on the page."""

from __future__ import annotations

import pygal
from django.utils.translation import gettext as _

from phonebank.dashboards.selectors import DayRow, Funnel, GroupRow, ObjectionAnalytics
from phonebank.lib.charts import clean, config, percent, whole

WIDTH = 900


def _config() -> dict:
    """The shared look, and pygal's empty-chart text in the reader's language."""
    return config(_("No calls yet."))


def int_labels(top: int, most: int = 6) -> list[int]:
    """Whole-number axis labels from 0 to at least ``top``, at most ``most`` of them: pygal's
    own steps are fractions for small counts, which whole-number labels would repeat."""
    top = max(int(top), 1)
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if -(-top // step) + 1 <= most:
                return list(range(0, -(-top // step) * step + 1, step))
        scale *= 10


def _labels_every(n: int) -> int:
    return max(1, min(10, n))


def days_svg(rows: list[DayRow], *, calls: str, reached: str, declared: str, title: str) -> str:
    """Calls and reached calls per day (bars), declarations per day (line)."""
    chart = pygal.Bar(
        width=WIDTH,
        height=340,
        title=title,
        legend_at_bottom=True,
        x_labels_major_count=_labels_every(len(rows)),
        show_minor_x_labels=len(rows) <= 31,
        x_label_rotation=0 if len(rows) <= 14 else 30,
        truncate_label=-1,
        value_formatter=whole,
        **_config(),
    )
    chart.x_labels = [r.day.strftime("%m-%d") for r in rows]
    chart.y_labels = int_labels(max([r.calls for r in rows], default=0))
    chart.add(calls, [r.calls for r in rows])
    chart.add(reached, [r.reached for r in rows])
    chart.add(declared, [r.declared for r in rows])
    return clean(chart.render())


def cumulative_svg(rows: list[DayRow], *, per_day: str, cumulative: str, title: str) -> str:
    """Declarations per day and their running total since the campaign began."""
    chart = pygal.Line(
        width=WIDTH,
        height=300,
        title=title,
        legend_at_bottom=True,
        x_labels_major_count=_labels_every(len(rows)),
        show_minor_x_labels=False,
        show_only_major_dots=True,
        dots_size=2,
        truncate_label=-1,
        value_formatter=whole,
        secondary_range=(0, max([r.cumulative for r in rows], default=1) or 1),
        **_config(),
    )
    chart.x_labels = [r.day.strftime("%m-%d") for r in rows]
    chart.y_labels = int_labels(max([r.declared for r in rows], default=0))
    chart.add(per_day, [r.declared for r in rows], fill=True)
    chart.add(cumulative, [r.cumulative for r in rows], secondary=True)
    return clean(chart.render())


def funnel_svg(funnel: Funnel, *, labels: dict[str, str], title: str) -> str:
    chart = pygal.HorizontalBar(
        width=WIDTH, height=260, title=title, show_legend=False, value_formatter=whole, **_config()
    )
    steps = list(reversed(funnel.steps()))  # dialled at the top
    chart.x_labels = [labels[name] for name, _n, _share in steps]
    chart.y_labels = int_labels(funnel.dialled)
    chart.add(title, [n for _name, n, _share in steps])
    return clean(chart.render())


def groups_svg(
    rows: list[GroupRow], *, names: list[str], calls: str, declared: str, title: str
) -> str:
    """Calls and declarations per group (province), largest at the top."""
    shown = list(reversed(rows))
    chart = pygal.HorizontalBar(
        width=WIDTH,
        height=max(180, 24 * len(rows) + 90),
        title=title,
        legend_at_bottom=True,
        truncate_label=-1,
        value_formatter=whole,
        **_config(),
    )
    chart.x_labels = list(reversed(names))
    chart.y_labels = int_labels(max([r.calls for r in rows], default=0))
    chart.add(calls, [r.calls for r in shown])
    chart.add(declared, [r.declared for r in shown])
    return clean(chart.render())


def hours_svg(rows: list[GroupRow], *, calls: str, rate: str, title: str) -> str:
    """Calls per hour of the contacts' day (bars) and the share that reached someone."""
    chart = pygal.Bar(
        width=WIDTH,
        height=320,
        title=title,
        legend_at_bottom=True,
        value_formatter=whole,
        secondary_range=(0, 100),
        **_config(),
    )
    chart.x_labels = [f"{r.key:02d}" for r in rows]
    chart.y_labels = int_labels(max([r.calls for r in rows], default=0))
    chart.add(calls, [r.calls for r in rows])
    chart.add(
        rate,
        [
            {"value": round(100 * r.contact_rate), "formatter": percent}
            if r.contact_rate is not None
            else None
            for r in rows
        ],
        secondary=True,
    )
    return clean(chart.render())


def objections_svg(data: ObjectionAnalytics, *, title: str, label: str) -> str:
    rows = [r for r in data.rows if r.times][:15]
    chart = pygal.HorizontalBar(
        width=WIDTH,
        height=max(180, 28 * len(rows) + 90),
        title=title,
        show_legend=False,
        truncate_label=60,
        value_formatter=whole,
        **_config(),
    )
    shown = list(reversed(rows))
    chart.x_labels = [r.entry.objection for r in shown]
    chart.y_labels = int_labels(max([r.times for r in rows], default=0))
    chart.add(label, [r.times for r in shown])
    return clean(chart.render())


def objection_weeks_svg(data: ObjectionAnalytics, *, title: str) -> str:
    """Times per week for the objections heard most."""
    chart = pygal.Line(
        width=WIDTH,
        height=320,
        title=title,
        legend_at_bottom=True,
        truncate_legend=40,
        value_formatter=whole,
        dots_size=2,
        **_config(),
    )
    chart.x_labels = [monday.strftime("%m-%d") for monday in data.weeks]
    heard = [r for r in data.rows if r.times][:5]
    if heard:  # else no series: pygal draws its "nothing to show" text (y labels would fail)
        chart.y_labels = int_labels(max(n for r in heard for n in r.weeks))
    for row in heard:
        chart.add(row.entry.objection, row.weeks)
    return clean(chart.render())
