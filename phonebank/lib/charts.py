"""What every server-side SVG chart (pygal) shares: the look, Chinese-capable fonts, and no
script. pygal's default config loads a script from another site; `js=[]` turns that off,
and `clean()` removes the inline config script it still writes. Charts are served as
images, each with a text table beside it on the page."""

from __future__ import annotations

from django.utils.translation import gettext
from pygal.style import Style

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#ccc",
    colors=("#b22222", "#1f4e79", "#d08c00", "#4d7f3a", "#7a4b94", "#6b6b6b"),
    font_family="'Noto Sans CJK SC', 'Noto Sans SC', 'WenQuanYi Micro Hei', 'PingFang SC', "
    "'Microsoft YaHei', sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    no_data_font_size=18,
)
CONFIG = {"js": [], "style": STYLE, "disable_xml_declaration": True}


def config(no_data: str | None = None) -> dict:
    """CONFIG with pygal's empty-chart text in the reader's language."""
    return {**CONFIG, "no_data_text": no_data or gettext("Nothing to show yet.")}


def whole(value) -> str:
    return f"{value:,.0f}" if value is not None else ""


def percent(value) -> str:
    return f"{value:.0f}%" if value is not None else ""


def clean(svg: str) -> str:
    """Without pygal's inline config script: an image runs no script, and none is needed."""
    start = svg.find("<script")
    while start != -1:
        end = svg.find("</script>", start)
        svg = svg[:start] + svg[end + len("</script>") :]
        start = svg.find("<script")
    return svg
