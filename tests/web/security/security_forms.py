"""Finding every HTML form a role can see: crawl the GET routes of `app.url_map`, parse the pages
with html.parser, and fill each form the way a browser would (hidden values, first option,
checkboxes ticked, required text filled with harmless values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from security_helpers import Client, World
from sqlalchemy import func, select

from orders.db import Base

FILL = {
    "start": "2031-03-04T10:00",
    "end": "2031-03-04T12:00",
    "reason": "sweep check",
    "note": "sweep",
    "name": "sweep",
    "email": "nobody@example.com",
    "password": "not the password",
    "qty": "1",
    "q": "x",
}

OVERRIDE = {"time_limit_s": "1"}  # a proposal solves in-process: keep it short


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    endpoint: str = ""

    @property
    def has_token(self) -> bool:
        return any(name == "csrf_token" and value for name, value in self.fields)

    def data(self, with_token: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.fields:
            if name == "csrf_token" and not with_token:
                continue
            out.setdefault(name, []).append(OVERRIDE.get(name) or value or FILL.get(name, "1"))
        return out


class _FormParser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page, self.forms = page, []  # type: ignore[var-annotated]
        self._form: Form | None = None
        self._select: str | None = None
        self._button_seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urlsplit(a.get("action") or self.page)
            self._form = Form(
                self.page,
                action.path + (f"?{action.query}" if action.query else ""),
                (a.get("method") or "get").lower(),
            )
            self._button_seen = False
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "option" and self._select:
            self._form.fields.append((self._select, a.get("value", "")))
            self._select = None
        if not a.get("name"):
            return
        if tag in ("input", "textarea"):
            self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "button" and not self._button_seen:
            self._button_seen = True  # the first submit button is the one pressed
            self._form.fields.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_in(page: str, html: str) -> list[Form]:
    parser = _FormParser(page)
    parser.feed(html)
    return parser.forms


def get_pages(w: World, values: dict[str, Any]) -> list[str]:
    """Every GET route, filled with the world's ids (static files and machine feeds excluded)."""
    adapter, out = w.app.url_map.bind("localhost"), []
    for rule in w.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        out.append(adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments}))
    return sorted(out)


def crawl(
    w: World, who: Client, values: dict[str, Any], extra: tuple[str, ...] = ()
) -> tuple[dict[str, str], list[Form]]:
    """(HTML of every page this client may open, every form on them: one per endpoint, method
    and set of field names, so e.g. the start and the scrap button of one job both count)."""
    adapter = w.app.url_map.bind("localhost")
    pages, forms, seen = {}, [], set()
    for url in [*get_pages(w, values), *extra]:
        resp = who.client.get(url)
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        pages[url] = html = resp.get_data(as_text=True)
        for form in forms_in(url, html):
            endpoint = adapter.match(urlsplit(form.action).path, method=form.method.upper())[0]
            key = (form.method, endpoint, frozenset(name for name, _ in form.fields))
            if key not in seen:
                seen.add(key)
                form.endpoint = endpoint
                forms.append(form)
    return pages, forms


def row_counts(w: World) -> dict[str, int]:
    """Rows per table: a refused request must leave every one of them unchanged."""
    with w.ctx.db.sessions() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }
