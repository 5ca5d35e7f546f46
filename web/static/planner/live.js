// Live parts of staff pages: poll HTML fragments with ETags (a 304 costs almost nothing),
// animate solve progress bars, and make submit buttons single-shot (double clicks are also
// refused server-side by event id).
(function () {
  "use strict";
  const INTERVAL = 1500;
  const etags = new Map();

  async function refresh(el) {
    const url = el.dataset.live;
    const headers = { "Accept": "text/html" };
    if (etags.has(el)) headers["If-None-Match"] = etags.get(el);
    let resp;
    try {
      resp = await fetch(url, { headers, credentials: "same-origin", cache: "no-cache" });
    } catch (err) {
      el.dataset.liveError = String(err);
      return;
    }
    if (resp.status === 304) return;
    if (!resp.ok) { el.dataset.liveError = String(resp.status); return; }
    const etag = resp.headers.get("ETag");
    const html = await resp.text();
    if (etag) {
      const first = !etags.has(el);
      etags.set(el, etag);
      if (first && el.dataset.liveFresh !== "true") { el.dataset.liveFresh = "true"; }
    }
    el.innerHTML = html;
    el.dataset.liveUpdated = String(Date.now());
    wire(el);
    document.dispatchEvent(new CustomEvent("live:updated", { detail: { el } }));
  }

  function progress(root) {
    root.querySelectorAll("[data-progress]").forEach((bar) => {
      const started = Date.parse(bar.dataset.started);
      const limit = Number(bar.dataset.limit) * 1000;
      const pct = Math.min(97, Math.max(3, (100 * (Date.now() - started)) / limit));
      bar.style.width = pct.toFixed(1) + "%";
    });
  }

  function wire(root) {
    root.querySelectorAll("form[data-once]").forEach((form) => {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", () => {
        form.querySelectorAll("button[type=submit]").forEach((b) => {
          setTimeout(() => { b.disabled = true; }, 0);
        });
      });
    });
  }

  function start() {
    wire(document);
    const live = Array.from(document.querySelectorAll("[data-live]"));
    // A fragment rendered with the page carries its ETag: poll from there, no refetch at load.
    live.forEach((el) => { if (el.dataset.etag) etags.set(el, el.dataset.etag); else refresh(el); });
    setInterval(() => {
      if (document.hidden) return;
      live.forEach((el) => refresh(el));
      progress(document);
    }, INTERVAL);
    progress(document);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
