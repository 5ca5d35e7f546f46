"""Time to the first 3D preview of a NEW design, as a customer sees it in a real browser.

gunicorn (2 sync workers, no Redis: CAD jobs run in-process in a thread) on a private
PostgreSQL database; Debian's Chromium driven by Playwright signs up, opens /shop/enclosure and
edits the design so that each edit is a design never built before. For each design it prints,
in seconds from the page's POST /api/configurations/<id>/preview:

* GLB recorded: the preview Artifact row's created_at (committed by the job's sink);
* GLB fetched: the browser has the file (Resource Timing responseEnd);
* page shows it: model-viewer's `load` event for that GLB's URL;
* job finished: the CAD JobRecord's ended_at (STEP/STL/3MF, analysis, G-code done);
* "up to date": the page's status text says so.

The first design (cold worker: CadQuery imports) is printed apart from the measured ones.

    .venv/bin/python bench/preview_bench.py [--designs 5] [--verbose] [--smoke]

Exits 1 if the page never fetched or showed a design's GLB. ``--smoke``: one new design after
the cold one, with the page's status texts (every step, in the least time).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.web_bench import (  # noqa: E402
    _drop_db,
    _free_port,
    _make_db,
    start_server,
    stop_server,
    wait_up,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--enable-unsafe-swiftshader",
]
# Page-side clock: when the preview is requested, when model-viewer loads a src, status texts.
PROBE = """
window.__bench = {posts: [], loads: [], states: []};
const realFetch = window.fetch;
window.fetch = function (input, init) {
  const url = typeof input === "string" ? input : input.url;
  const m = url.match(/\\/api\\/configurations\\/(\\d+)\\/preview$/);
  if (m && init && init.method === "POST") window.__bench.posts.push({id: +m[1], t: Date.now()});
  return realFetch.apply(this, arguments);
};
document.addEventListener("DOMContentLoaded", () => {
  const v = document.getElementById("preview");
  const s = document.getElementById("preview-state");
  if (!v || !s) return;
  v.addEventListener("load", () => window.__bench.loads.push({src: v.getAttribute("src"),
                                                              t: Date.now()}));
  new MutationObserver(() => window.__bench.states.push({text: s.textContent, t: Date.now()}))
    .observe(s, {childList: true, characterData: true, subtree: true});
});
"""


def _db_times(url: str, config_id: int) -> dict[str, float | None]:
    """Epoch ms of the GLB row and of the CAD job's start and end, read from the database."""
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    with eng.connect() as c:
        glb = c.execute(
            sa.text(
                "select id, created_at from artifacts where configuration_id=:i and kind='glb'"
            ),
            {"i": config_id},
        ).first()
        job = c.execute(
            sa.text(
                "select j.created_at, j.started_at, j.ended_at from job_records j join configurations c "
                "on j.dedupe_key = 'cad:' || c.config_hash where c.id=:i order by j.created_at desc"
                " limit 1"
            ),
            {"i": config_id},
        ).first()
    eng.dispose()

    def ms(v: Any) -> float | None:
        return v.timestamp() * 1000 if v is not None else None

    return {
        "glb_id": glb[0] if glb else None,
        "glb": ms(glb[1]) if glb else None,
        "queued": ms(job[0]) if job else None,
        "ended": ms(job[2]) if job else None,
    }


def _measure(page: Any, url: str, config_id: int, post_t: float) -> dict[str, float | None]:
    db = _db_times(url, config_id)
    probe = page.evaluate("window.__bench")
    src = f"/files/{db['glb_id']}"
    shown = next((x["t"] for x in probe["loads"] if x["src"] == src), None)
    fetched = page.evaluate(
        """src => {
      const e = performance.getEntriesByType("resource").find(r => r.name.endsWith(src));
      return e ? performance.timeOrigin + e.responseEnd : null; }""",
        src,
    )
    upd = next(
        (x["t"] for x in probe["states"] if "up to date" in x["text"] and x["t"] >= post_t), None
    )

    def rel(t: float | None) -> float | None:
        return None if t is None else (t - post_t) / 1000

    texts = [f"{rel(x['t']):.2f}s {x['text']}" for x in probe["states"] if x["t"] >= post_t]
    return {
        "glb": rel(db["glb"]),
        "fetched": rel(fetched),
        "shown": rel(shown),
        "ended": rel(db["ended"]),
        "uptodate": rel(upd),
        "texts": texts,
    }


def _one_design(page: Any, url: str, value: int | None) -> dict[str, float | None]:
    """Edit inner_length (None: the page's own first design) and wait until up to date."""
    before = len(page.evaluate("window.__bench.posts"))
    if value is not None:
        page.fill("#p-inner_length", str(value))
    page.wait_for_function(f"window.__bench.posts.length > {before}", timeout=60_000)
    post = page.evaluate("window.__bench.posts")[-1]
    page.wait_for_function(
        "t => window.__bench.states.some(s => s.t >= t && s.text.includes('up to date'))",
        arg=post["t"],
        timeout=300_000,
    )
    page.wait_for_timeout(300)  # a model-viewer load may land just after the text
    return {"id": post["id"], **_measure(page, url, post["id"], post["t"])}


def _fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.2f}"


def _print(rows: list[dict[str, Any]], verbose: bool) -> None:
    print(
        "design            | GLB recorded | GLB fetched | page shows it | job finished | "
        "'up to date'"
    )
    print("-" * 80)
    for i, r in enumerate(rows):
        name = "cold (not counted)" if i == 0 else f"new design {i} (#{r['id']})"
        print(
            f"{name:<18}| {_fmt(r['glb'])} s     | {_fmt(r['fetched'])} s    | "
            f"{_fmt(r['shown'])} s      | "
            f"{_fmt(r['ended'])} s     | {_fmt(r['uptodate'])} s"
        )
        if verbose:
            print("    page status: " + " | ".join(dict.fromkeys(r["texts"])))
    measured = rows[1:]
    for key, label in (
        ("glb", "GLB recorded"),
        ("fetched", "GLB fetched"),
        ("shown", "page shows it"),
        ("ended", "job finished"),
    ):
        xs = [r[key] for r in measured if r[key] is not None]
        if xs:
            print(
                f"{label:<14} median {statistics.median(xs):.2f} s, max {max(xs):.2f} s "
                f"(n={len(xs)})"
            )


def run(designs: int, verbose: bool = False) -> int:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="hunar-previewbench-"))
    rows: list[dict[str, Any]] = []
    name, server = "", None
    try:
        name, url = _make_db()
        _seed(url, tmp)
        port = _free_port()
        server = start_server(url, tmp, port)
        base = f"http://127.0.0.1:{port}"
        wait_up(base, server, tmp)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            page.add_init_script(PROBE)
            _sign_up(page, base)
            page.goto(f"{base}/shop/enclosure")
            rows.append(_one_design(page, url, None))
            for i in range(designs):
                rows.append(_one_design(page, url, 90 + i))
            browser.close()
    finally:
        if server is not None:
            stop_server(server)
        if name:
            _drop_db(name)
        shutil.rmtree(tmp, ignore_errors=True)
    _print(rows, verbose)
    unseen = [r["id"] for r in rows if r["fetched"] is None or r["shown"] is None]
    if unseen:
        print(f"FAILED: the page never fetched or showed the GLB of design(s) {unseen}")
        return 1
    return 0


def _seed(url: str, tmp: Path) -> None:
    from orders.context import AppContext
    from orders.seed import seed_shop
    from orders.settings import Settings

    ctx = AppContext.from_settings(Settings(database_url=url, var_dir=tmp / "var"))
    with ctx.db.transaction() as s:
        seed_shop(s)
    ctx.close()


def _sign_up(page: Any, base: str) -> None:
    page.goto(f"{base}/signup")
    page.fill("input[name=email]", f"bench-{uuid.uuid4().hex[:6]}@example.com")
    page.fill("input[name=name]", "Bench")
    page.fill("input[name=password]", "a long enough password")
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector(".flashes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="print the page's status texts")
    parser.add_argument("--smoke", action="store_true", help="--designs 1 --verbose")
    args = parser.parse_args()
    if args.smoke:
        args.designs, args.verbose = 1, True
    return run(args.designs, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
