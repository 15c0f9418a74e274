"""Markdown written by organisers (scripts, playbook responses), rendered safely."""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "blockquote",
    "code",
    "pre",
    "hr",
    "br",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


@functools.lru_cache(maxsize=256)
def render(text: str) -> str:
    """HTML from Markdown: raw HTML is escaped, then only harmless tags survive.

    Links keep http(s) and tel: targets and open with rel="noopener noreferrer".
    """
    html = _md.render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "tel", "mailto"},
        link_rel="noopener noreferrer",
    )
