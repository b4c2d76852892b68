"""The HTML of colorizekit's two pages, rendered from Jinja templates in `templates/`: `server.html`
(`colorizekit serve`'s page, which uploads to the server) and `browser.html` (the page that colorizes in
the visitor's browser, `web.page`). Both extend `base.html` and take their sliders and before/after view
from `parts.html`, so the markup they share has one home."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def render_page(name: str, **context: str) -> str:
    """The page `name` (a file in templates/) rendered with `context`; a value it needs and lacks raises."""
    return _environment().get_template(name).render(**context)
