"""The hostile traffic of bench/attack_bench.py: the corpus, the recorder and three parts.

- `params`: every JSON API operation of /api/openapi.json with a body or a path parameter,
  one field at a time replaced by a hostile value (numbers out of range, NaN and Infinity,
  Unicode digits, `1_000`, leading zeros, NUL, 100 kB text, emoji, bidi override, template and
  format-string text, SQL, path traversal, wrong JSON types, nesting 1,000 deep); and a body
  nested 1,000 deep sent to every route of the app, anonymously;
- `forms`: every HTML POST route of the app's url_map as a signed-in customer, planner,
  operator and admin: without the CSRF token, with it and a hostile value in every field the
  templates name, with repeated fields, and with aliased or hostile URL ids;
- `schemathesis`: generated positive and negative cases for every operation of the document.

Every answer goes through `Hits`: status codes per part, each 5xx and each body that shows a
Python traceback, with the request that caused it.
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

import configurator

REPO = Path(__file__).resolve().parents[1]
DEEP = "[" * 1000 + "]" * 1000  # JSON nested 1,000 deep (raw text: json.dumps would recurse)
_DEEP_MARK = "\x01deep\x01"
NUMBERS: list[Any] = [10**30, -1, -(10**18), 0, 1e308, -0.0, 2**63, 0.5]
SPECIAL = ["NaN", "Infinity", "-Infinity"]  # bare JSON tokens Python's parser accepts
TEXT: list[str] = [
    "١٢٣",
    "1_000",
    "0001",
    "1e3",
    "0x10",
    " 7 ",
    "",
    "\x00",
    "7\x00",
    "a" * 100_000,
    "😀" * 40,
    "a\u202eb",
    "{{7*7}}",
    "${7*7}",
    "%s%n%x%d",
    "'; DROP TABLE orders; --",
    '" OR 1=1 --',
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "<script>alert(1)</script>",
]
TYPES: list[Any] = [None, True, [], {}, [1, 2], {"a": 1}, _DEEP_MARK]
URL_IDS = ["01", "١", "0", "-1", "99999999999999999999", "1_0", "%00", "..%2f..%2fetc", "😀"]


def corpus() -> list[Any]:
    """The hostile values, with the text allow-list's own bad cases from the security tests."""
    try:
        import sys

        sys.path.insert(0, str(REPO / "tests/web/security"))
        sys.path.insert(0, str(REPO / "tests/web"))
        from test_security_input import BAD_TEXT  # type: ignore[import-not-found]  # the CadQuery text allow-list's bad cases

        extra = [t for t in BAD_TEXT if t not in TEXT]
    except Exception:  # noqa: BLE001 - the test tree is optional for a bench
        extra = []
    return [*NUMBERS, *(f"\x02{s}" for s in SPECIAL), *TEXT, *extra, *TYPES]


def encode(body: Any) -> str:
    """JSON text with the bare NaN/Infinity tokens and the deep nesting spliced in."""
    text = json.dumps(body, allow_nan=True)
    text = text.replace(json.dumps(_DEEP_MARK), DEEP)
    for s in SPECIAL:
        text = text.replace(json.dumps(f"\x02{s}"), s)
    return text


@dataclass
class Hits:
    """Thread-safe: status codes per part, 5xx and tracebacks with their request."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # a sweep's rule broken (IDOR, auth...)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, part: str, method: str, url: str, code: int, body: bytes, sent: str) -> None:
        where = f"{part}: {method} {url} {sent[:240]!r}"
        with self.lock:
            self.statuses[part][code] += 1
            if code >= 500:
                self.errors.append(f"{where} -> {code} {body[:200]!r}")
            if b"Traceback (most recent call last)" in body or b'File "/' in body:
                self.traces.append(f"{where} -> {code} {body[:200]!r}")

    def send(
        self, part: str, client: httpx.Client, method: str, url: str, **kw: Any
    ) -> httpx.Response | None:
        sent = str(kw.get("content") or kw.get("data") or kw.get("json") or "")
        try:
            resp = client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            with self.lock:
                self.statuses[part][0] += 1
                self.broken.append(f"{part}: {method} {url} {sent[:200]!r}: {exc!r}")
            return None
        self.note(part, method, url, resp.status_code, resp.content, sent)
        return resp

    def finding(self, text: str) -> None:
        with self.lock:
            self.findings.append(text)

    def total(self, part: str) -> int:
        return sum(self.statuses[part].values())


@dataclass
class Who:
    """The signed-in clients of one attack (cookie sessions with their CSRF token, bearer
    tokens for the JSON API) and the ids to fill URLs with."""

    base_url: str
    sessions: dict[str, httpx.Client]  # role -> cookie session (X-CSRFToken header set)
    csrf: dict[str, str]
    bearers: list[str]  # customers' API tokens
    ids: dict[str, str]  # URL argument name -> a real value
    design: dict[str, Any]  # an orderable design the attacker ("customer") saved
    anon: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.anon = httpx.Client(base_url=self.base_url, timeout=180)

    def bearer(self, rng: random.Random) -> dict[str, str]:
        return {"Authorization": f"Bearer {rng.choice(self.bearers)}"}


def run_all(jobs: list[Callable[[], None]], workers: int) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(j) for j in jobs]:
            f.result()


def _budget(items: list[Any], budget: int, rng: random.Random) -> list[Any]:
    rng.shuffle(items)
    return items[:budget]


# --- part 1: hostile parameter values ------------------------------------------------------


def _leaves(body: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[Any, ...]]:
    yield path
    if isinstance(body, dict):
        for k, v in body.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(body, list) and body:
        yield from _leaves(body[0], (*path, 0))


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def _base_bodies(schema: dict[str, Any], ids: dict[str, str]) -> list[dict[str, Any]]:
    """A valid body per family (an order: one line of a real design) for an operation."""
    props = schema.get("properties", {})
    if "lines" in props:
        line = {"configuration_id": int(ids["config_id"]), "quantity": 1, "tier": "standard"}
        return [{"lines": [line], "idempotency_key": "k"}]
    bodies = []
    for fam in configurator.all_families():
        body: dict[str, Any] = {"family": fam.key, "params": dict(fam.default_raw())}
        body |= {k: v for k, v in (("quantity", 1), ("tier", "standard")) if k in props}
        bodies.append(body)
    return bodies


def param_requests(doc: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str, Any]]:
    """(method, path, body or None) for every operation, field and hostile value."""
    schemas = doc.get("components", {}).get("schemas", {})
    out: list[tuple[str, str, Any]] = []
    values = corpus()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
            for name in names:
                other = {n: ids.get(n, "1") for n in names if n != name}
                for v in [*URL_IDS, *TEXT[:9], "a" * 5000]:
                    url = path.format(**other, **{name: quote(v, safe="%")})
                    out.append((method.upper(), url, None))
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = ref.get("schema", {})
            schema = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema)
            if not schema:
                continue
            url = path.format(**{n: ids.get(n, "1") for n in names})
            for base in _base_bodies(schema, ids):
                for leaf in _leaves(base):
                    out += [(method.upper(), url, _replace(base, leaf, v)) for v in values]
    return out


def part_params(
    hits: Hits, who: Who, doc: dict[str, Any], routes: list[tuple[str, str]], budget: int
) -> None:
    rng = random.Random(1)
    reqs = _budget(param_requests(doc, who.ids), max(0, budget - len(routes)), rng)

    def one(method: str, url: str, body: Any, seed: int) -> Callable[[], None]:
        def go() -> None:
            r = random.Random(seed)
            anon = r.random() < 0.15
            headers = {} if anon else who.bearer(r)
            if body is None:
                hits.send("params", who.anon, method, url, headers=headers)
                return
            if isinstance(body, dict) and body.get("idempotency_key") == "k":
                body["idempotency_key"] = uuid.uuid4().hex
            headers["Content-Type"] = "application/json"
            hits.send("params", who.anon, method, url, headers=headers, content=encode(body))

        return go

    jobs = [one(m, u, b, i) for i, (m, u, b) in enumerate(reqs)]

    def deep(method: str, url: str) -> None:
        headers = {"Content-Type": "application/json"}
        hits.send("params", who.anon, method, url, headers=headers, content=DEEP)

    # the deep body on every route without URL arguments, anonymously (healthz too)
    jobs += [partial(deep, method, url) for method, url in routes]
    run_all(jobs, 6)


# --- part 2: form posts ----------------------------------------------------------------------

FORM_ROLES = ("customer", "planner", "operator", "admin")
_ANY = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
NO_SESSION = ("shop.login", "shop.signup", "shop.forgot_password", "shop.reset_password")
SKIP_SIGNED_IN = ("shop.logout",)  # ends every session of the user: sent from a fresh one


def form_fields() -> list[str]:
    """Every field name a template's form sends (the universe of form fields)."""
    text = "".join(p.read_text() for p in (REPO / "web/templates").rglob("*.html"))
    names = set(re.findall(r'name="([a-z_]+)"', text)) - {"csrf_token"}
    return sorted(names)


def fill(rule: str, ids: dict[str, str], rng: random.Random, hostile: bool) -> list[str]:
    """URLs for a rule: each `any(...)` option, the id from `ids` (or hostile ids)."""
    urls = [rule]
    for m in _ANY.finditer(rule):
        conv, args, name = m.groups()
        if conv == "any":
            opts = [a.strip() for a in args.split(",")]
        elif hostile and conv in ("id", None):
            opts = [rng.choice(URL_IDS)]
        else:
            opts = [ids.get(name, "1")]
        urls = [u.replace(m.group(0), o, 1) for u in urls for o in opts]
    return urls


def form_requests(
    rules: list[tuple[str, str]], ids: dict[str, str], rng: random.Random
) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    """(role, endpoint, url, form pairs; no csrf_token) for every POST rule of the app."""
    fields = form_fields()
    texts = [t for t in TEXT if len(t) < 1000] + ["-5", "1e309", "NaN"]
    out = []
    for endpoint, rule in rules:
        roles = ("anonymous",) if endpoint in NO_SESSION else FORM_ROLES
        for role in roles:
            for url in fill(rule, ids, rng, False):
                out.append((role, endpoint, url, [("\x03notoken", "1"), ("event_id", "x")]))
                for t in texts:
                    out.append((role, endpoint, url, [(f, t) for f in fields]))
                long = rng.choice(fields)  # 100 kB in one field (in all: a 6 MB body)
                out.append((role, endpoint, url, [(long, "a" * 100_000), ("event_id", "x")]))
                pairs = [(f, v) for f in fields for v in ("1", "999999", "")]
                out.append((role, endpoint, url, pairs))  # repeated fields
            for url in fill(rule, ids, rng, True):
                out.append((role, endpoint, url, [(f, "1") for f in fields]))
    return out


def part_forms(
    hits: Hits, who: Who, rules: list[tuple[str, str]], budget: int, fresh: Callable[[], Any]
) -> None:
    """`fresh()` gives an anonymous client with its CSRF token (login, sign-up, logout)."""
    rng = random.Random(2)
    reqs = _budget(form_requests(rules, who.ids, rng), budget, rng)

    def one(role: str, endpoint: str, url: str, pairs: list[tuple[str, str]]) -> None:
        token = not any(k == "\x03notoken" for k, _ in pairs)
        pairs = [(k, v) for k, v in pairs if k != "\x03notoken"]
        if role == "anonymous" or endpoint in SKIP_SIGNED_IN:
            client, csrf = fresh()
        else:
            client, csrf = who.sessions[role], who.csrf[role]
        data = ([("csrf_token", csrf)] if token else []) + pairs
        headers = {"X-CSRFToken": ""} if not token else {}
        hits.send("forms", client, "POST", url, data=dict_multi(data), headers=headers)
        if endpoint in SKIP_SIGNED_IN or role == "anonymous":
            client.close()

    run_all([partial(one, *r) for r in reqs], 4)


def dict_multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form pairs as httpx sends repeated fields (a list per name)."""
    out: dict[str, list[str]] = defaultdict(list)
    for k, v in pairs:
        out[k].append(v)
    return dict(out)


# --- part 3: schemathesis ------------------------------------------------------------------


def part_schemathesis(hits: Hits, who: Who, examples: int) -> None:
    """Positive and negative generated cases for every operation, as a customer (bearer)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import HypothesisException

    schema = schemathesis.openapi.from_url(who.base_url + "/api/openapi.json")
    ops = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    rng = random.Random(3)

    def fuzz(op: Any, mode: Any, headers: dict[str, str]) -> None:
        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            try:
                resp = case.call(base_url=who.base_url, headers=headers, timeout=180)
            except Exception as exc:  # noqa: BLE001 - a broken connection is counted, not raised
                with hits.lock:
                    hits.statuses["schemathesis"][0] += 1
                    hits.broken.append(f"schemathesis: {op.method} {op.path}: {exc!r}")
                return
            sent = f"{case.path_parameters} {case.query} {str(case.body)[:200]}"
            hits.note("schemathesis", op.method.upper(), case.formatted_path, resp.status_code,
                      resp.content or b"", sent)  # fmt: skip

        try:
            run()
        except HypothesisException:
            pass  # nothing to generate (negative mode on an operation without input)

    pairs = [(op, mode, who.bearer(rng)) for op in ops for mode in schemathesis.GenerationMode]
    run_all([partial(fuzz, *p) for p in pairs], 3)
