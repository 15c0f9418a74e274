"""Serving a server-drawn SVG chart under a Content-Security-Policy without 'unsafe-inline'.

pygal writes its look as one <style> block inside the SVG (and one inline style attribute,
on the tooltip). Opened as a document, the SVG is held to its own response's policy, so
instead of allowing every inline style the policy names the block by its SHA-256: a style
anyone managed to get into the SVG would not match and would not apply. Style attributes
cannot be allowed by hash without 'unsafe-hashes', so they become SVG presentation
attributes, which no policy governs. Anything else is refused loudly, not served
unstyled.
"""

from __future__ import annotations

import base64
import hashlib
import re
from xml.sax.saxutils import unescape  # nosec B406 - unescapes our own text, parses nothing

from django.http import HttpResponse

_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL)
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
# CSS properties that are also SVG presentation attributes (and all pygal puts in style="").
_PRESENTATION = {"opacity", "fill", "fill-opacity", "stroke", "stroke-opacity", "display"}


def _as_attributes(match: re.Match) -> str:
    pairs = [p.split(":", 1) for p in match.group(1).split(";") if p.strip()]
    if any(len(p) != 2 or p[0].strip() not in _PRESENTATION for p in pairs):
        raise ValueError(f"an inline style the chart policy cannot allow: {match.group(1)!r}")
    return "".join(f' {name.strip()}="{value.strip()}"' for name, value in pairs)


def style_hash(css: str) -> str:
    """The CSP source for one style block's text (as the browser reads it)."""
    digest = hashlib.sha256(css.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def policy(svg: str) -> tuple[str, str]:
    """(the SVG without style attributes, the Content-Security-Policy that serves it)."""
    svg = _STYLE_ATTRIBUTE.sub(_as_attributes, svg)
    # The hash is of the element's text after XML parsing: pygal escapes ">" as "&gt;".
    hashes = sorted({style_hash(unescape(css)) for css in _STYLE_BLOCK.findall(svg)})
    directives = {
        "default-src": "'none'",
        "script-src": "'none'",
        "style-src": " ".join(hashes) or "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    return svg, "; ".join(f"{name} {value}" for name, value in directives.items())


def svg_response(svg: str) -> HttpResponse:
    """An image/svg+xml response with its own policy (the site's CSP middleware keeps it)."""
    svg, csp = policy(svg)
    response = HttpResponse(svg.encode(), content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = csp
    return response
