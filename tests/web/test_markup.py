"""The two pages' HTML, rendered from web/templates: every element their scripts look up by id is there,
once, and the markup they share comes out the same from both."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from colorizekit.web.app import STATIC_DIR as SERVER_STATIC
from colorizekit.web.markup import render_page
from colorizekit.web.page.build import CSP
from colorizekit.web.page.build import STATIC_DIR as PAGE_STATIC

PAGES = {  # template -> (its context, the script that drives it)
    "server.html": ({}, SERVER_STATIC / "app.js"),
    "browser.html": ({"csp": CSP}, PAGE_STATIC / "page.js"),
}


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.ids += [value for name, value in attrs if name == "id"]


def _ids(html: str) -> list[str]:
    parser = _Ids()
    parser.feed(html)
    return parser.ids


@pytest.mark.parametrize("template", sorted(PAGES))
def test_every_id_the_script_uses_is_on_the_page_once(template):
    context, script = PAGES[template]
    ids = _ids(render_page(template, **context))
    wanted = set(re.findall(r'\$\("([\w-]+)"\)', script.read_text()))
    assert len(wanted) > 10  # the pattern found the script's look-ups
    assert not wanted - set(ids), f"{script.name} looks up ids {template} lacks"
    assert len(ids) == len(set(ids)), f"{template} repeats an id"


def test_the_shared_parts_render_alike_and_the_pages_differ_where_they_should():
    server = render_page("server.html")
    browser = render_page("browser.html", csp=CSP)
    for page in (server, browser):
        assert page.startswith("<!doctype html>") and "{{" not in page and "{%" not in page
        for name in ("vividness", "saturation"):  # the slider macro: label, range, its value and its hint
            assert re.search(rf'<label for="{name}">\w+</label>', page)
            assert re.search(rf'<output id="{name}-value" for="{name}">\d\.\d\d</output>', page)
            assert f'aria-describedby="{name}-help"' in page
    assert 'max="2"' in server.split('id="saturation"')[1][:120]  # each page keeps its own range
    assert 'max="3"' in browser.split('id="saturation"')[1][:120]
    assert f'content="{CSP}"' in browser and "Content-Security-Policy" not in server
    assert 'data-state="idle"' in browser and "data-state" not in server


def test_a_missing_value_is_an_error_not_an_empty_string():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render_page("browser.html")  # no csp
