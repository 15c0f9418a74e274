"""Server-side SVG charts (pygal) for the public pages: no script, nothing from elsewhere.

pygal's default config loads a script from another site; `js=[]` turns that off. The SVG is
served as an image with its own tight Content-Security-Policy, and every chart has a text
table beside it on the page.
"""

from __future__ import annotations

import pygal

from phonebank.lib.charts import clean as _clean
from phonebank.lib.charts import config as _config
from phonebank.lib.charts import whole as _whole


def days_svg(rows: list[tuple], *, per_day: str, cumulative: str, title: str) -> str:
    """Declarations per day (bars) and their running total (line, right axis)."""
    chart = pygal.Line(
        width=900,
        height=360,
        legend_at_bottom=True,
        title=title,
        truncate_label=-1,
        x_labels_major_count=8,
        show_minor_x_labels=False,
        show_only_major_dots=True,
        value_formatter=_whole,
        secondary_range=(0, max([t for _d, _n, t in rows], default=1)),
        dots_size=2,
        **_config(),
    )
    chart.x_labels = [day.strftime("%m-%d") for day, _n, _t in rows]
    chart.add(per_day, [n for _d, n, _t in rows], fill=True)
    chart.add(cumulative, [t for _d, _n, t in rows], secondary=True)
    return _clean(chart.render())


def provinces_svg(rows: list[tuple[str, str, int]], *, title: str, label: str) -> str:
    height = max(160, 28 * len(rows) + 80)
    chart = pygal.HorizontalBar(
        width=900, height=height, show_legend=False, title=title, truncate_label=-1, **_config()
    )
    ordered = list(reversed(rows))  # largest at the top
    chart.x_labels = [name for _c, name, _n in ordered]
    chart.value_formatter = _whole
    chart.add(label, [n for _c, _name, n in ordered])
    return _clean(chart.render())
