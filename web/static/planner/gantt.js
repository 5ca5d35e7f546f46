// The plan's Gantt chart on vis-timeline (vendored from npm): machines x time, ops coloured by
// order, setups and calendar windows shown, zoom from a day to a week. The data is polled with
// an ETag, so a finished solve or a released plan redraws without a reload.
(function () {
  "use strict";
  const DAY = 24 * 3600 * 1000;

  function toItem(it) {
    const base = { id: it.id, group: it.group, start: it.start, end: it.end, title: it.label };
    if (it.kind === "down") {
      const outage = (it.reason || it.label || "").indexOf("load-shedding") >= 0;
      return Object.assign(base, { type: "background", className: "down" + (outage ? " outage" : ""), content: "" });
    }
    if (it.kind === "setup") return Object.assign(base, { type: "range", className: "setup", content: "" });
    return Object.assign(base, {
      type: "range", className: "op" + (it.frozen ? " frozen" : ""), content: it.label,
      style: "background-color:" + it.colour + ";border-color:" + it.colour,
      title: it.label + " (op " + it.op_id + ", line " + it.line_id + ")",
    });
  }

  function start() {
    const box = document.getElementById("gantt");
    if (!box || !window.vis) return;
    let timeline = null;
    let etag = null;
    let data = null;
    const items = new vis.DataSet();
    const groups = new vis.DataSet();

    function zoom(kind) {
      if (!timeline || !data) return;
      const from = Date.parse(data.origin);
      if (kind === "fit") timeline.setWindow(from, Math.max(Date.parse(data.end), from + DAY), { animation: false });
      else timeline.setWindow(from, from + (kind === "day" ? DAY : 7 * DAY), { animation: false });
      box.dataset.zoom = kind;
    }

    function render(payload) {
      const t0 = performance.now();
      data = payload;
      groups.clear();
      groups.add(payload.lanes.map((l) => ({ id: l.id, content: l.name + (l.state === "down" ? " (down)" : ""),
        className: l.state === "down" ? "lane-down" : "" })));
      items.clear();
      items.add(payload.items.map(toItem));
      const ops = payload.items.filter((i) => i.kind === "op").length;
      document.getElementById("gantt-empty").hidden = ops > 0;
      if (!timeline) {
        const from = Date.parse(payload.origin);
        // Open on the first day: vis-timeline only lays out what is in view, so a week-long
        // plan of 2,000 operations paints quickly; "Whole plan" zooms out on demand.
        timeline = new vis.Timeline(box, items, groups, {
          start: from, end: from + DAY, stack: false, orientation: "top", zoomMin: 3600 * 1000, zoomMax: 60 * DAY,
          margin: { item: 2 }, groupHeightMode: "fixed", verticalScroll: true, maxHeight: 640,
          selectable: true, showCurrentTime: true,
        });
        timeline.on("select", (props) => {
          const it = payload.items.find((i) => i.id === props.items[0]);
          const pin = document.getElementById("pin-op");
          if (it && it.op_id && pin) pin.value = it.op_id;
        });
        box.dataset.zoom = "day";
      }
      box.dataset.ops = String(ops);
      box.dataset.renderMs = String(Math.round(performance.now() - t0));
      if (!box.dataset.paintedMs) box.dataset.paintedMs = String(Math.round(performance.now()));
      box.dataset.ready = "true";
    }

    async function poll() {
      const headers = { "Accept": "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      const resp = await fetch(box.dataset.src, { headers, credentials: "same-origin", cache: "no-cache" });
      if (resp.status === 304 || !resp.ok) return;
      etag = resp.headers.get("ETag");
      render(await resp.json());
    }

    document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => zoom(b.dataset.zoom)));
    const inline = document.getElementById("gantt-data");
    if (inline) {
      etag = box.dataset.etag || null;
      render(JSON.parse(inline.textContent));
    } else {
      poll();
    }
    setInterval(() => { if (!document.hidden) poll(); }, 2000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
