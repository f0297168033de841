"""Fill the blocks of the report template, escaping every value that is not markup made here.

The template (``templates/report.html``, package data found with `importlib.resources`) holds
named blocks, ``<!-- block NAME -->`` ... ``<!-- end NAME -->``, each a `string.Template`. `render`
fills one: a `Markup` value (HTML this package built from already escaped parts) goes in as it
is, anything else is turned into text and passed through `html.escape`, so a file called
``<script>.jpg`` or an artist called ``"&<>`` shows as text wherever it lands, attributes included.
Escaping by default rather than at each call is what keeps a forgotten call from becoming a hole.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from importlib import resources
from string import Template

TEMPLATE_PACKAGE = "painter_match.evaluation"
TEMPLATE_NAME = "report.html"

_BLOCK = re.compile(r"<!-- block (\w+) -->\n(.*?)\n<!-- end \1 -->", re.DOTALL)


class Markup(str):
    """A string of HTML or SVG that is safe to insert as it is (built from escaped parts)."""


def escape(value: object) -> Markup:
    """``value`` as HTML text: markup as it is, anything else escaped (quotes too)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: list[Markup] | tuple[Markup, ...], separator: str = "\n") -> Markup:
    """Markup parts one after the other."""
    return Markup(separator.join(escape(part) for part in parts))


def template_text() -> str:
    """The report template as shipped with the package.

    Raises:
        FileNotFoundError: the package was installed without its data (``package_data`` in
            setup.cfg names ``evaluation/templates/*.html``).
    """
    return (
        resources.files(TEMPLATE_PACKAGE)
        .joinpath("templates")
        .joinpath(TEMPLATE_NAME)
        .read_text(encoding="utf-8")
    )


@lru_cache(maxsize=1)
def blocks() -> dict[str, Template]:
    """Every named block of the template."""
    found = {name: Template(body) for name, body in _BLOCK.findall(template_text())}
    if not found:
        raise ValueError(f"{TEMPLATE_NAME} holds no <!-- block NAME --> ... <!-- end NAME --> blocks")
    return found


def render(block: str, **values: object) -> Markup:
    """Fill the named block; every value not `Markup` is HTML-escaped.

    Raises:
        KeyError: no block of that name, or a placeholder of the block left without a value.
    """
    try:
        template = blocks()[block]
    except KeyError:
        raise KeyError(f"no block {block!r} in {TEMPLATE_NAME}; it has {sorted(blocks())}") from None
    return Markup(template.substitute({name: escape(value) for name, value in values.items()}))
