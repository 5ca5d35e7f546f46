// Fleet board refresh: fetch /planner/fleet.json every second (same origin, no framework) and
// update the table's cells in place. Only text changes: the action forms rendered by the server
// stay as they are (a half-ticked "plate clear" form or a half-typed cancel reason is never
// wiped), and are shown or hidden as the printer needs them. The JSON carries an ETag, so an unchanged fleet costs a 304.
(function () {
  "use strict";
  const INTERVAL = 1000;
  const table = document.getElementById("fleet");
  if (!table) return;
  const url = table.dataset.json;
  const body = table.tBodies[0];
  let etag = null;
  let busy = false;

  function fixed(v, digits) { return v === null || v === undefined ? null : Number(v).toFixed(digits); }

  function text(cell, parts) {
    // parts: [text, "muted"?] pairs, joined by line breaks; built with text nodes (no HTML).
    cell.textContent = "";
    parts.forEach(function (p, i) {
      if (i) cell.appendChild(document.createElement("br"));
      if (p[1]) {
        const span = document.createElement(p[1] === "strong" ? "strong" : "span");
        if (p[1] !== "strong") span.className = p[1];
        span.textContent = p[0];
        cell.appendChild(span);
      } else {
        cell.appendChild(document.createTextNode(p[0]));
      }
    });
  }

  function newRow(p) {
    const tr = document.createElement("tr");
    tr.id = "printer-" + p.machine_id;
    tr.dataset.machine = p.machine_id;
    const name = document.createElement("td");
    text(name, [[p.machine_id, "strong"], [p.name, "muted"]]);
    tr.appendChild(name);
    ["link", "state", "job", "progress", "nozzle", "bed", "eta", "material", "error", "actions"].forEach(function (f) {
      const td = document.createElement("td");
      td.dataset.field = f;
      if (["progress", "nozzle", "bed", "eta"].indexOf(f) >= 0) td.className = "num";
      if (f === "actions") td.textContent = "reload for actions";
      tr.appendChild(td);
    });
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.appendChild(tr);
    return tr;
  }

  function render(p) {
    const tr = document.getElementById("printer-" + p.machine_id) || newRow(p);
    const cell = function (f) { return tr.querySelector('[data-field="' + f + '"]'); };
    tr.dataset.connection = p.connection;
    tr.dataset.jobState = p.job_state;
    if (p.stale) tr.dataset.stale = "true"; else delete tr.dataset.stale;
    const link = [[p.transport + (p.machine_state === "down" ? " · down" : ""), ""]];
    if (p.monitor_only) link.push(["monitor only", "muted"]);
    text(cell("link"), link);
    text(cell("state"), p.live
      ? [[p.job_state + " · " + p.connection + (p.stale ? " · stale" : ""), ""]]
      : [["no live status", "muted"]]);
    const job = [[p.printer_job || "—", ""]];
    if (p.planned) job.push(["plan: " + p.planned.job_order_id + " (" + p.planned.status + ")", "muted"]);
    text(cell("job"), job);
    const pct = fixed(p.progress === null ? null : p.progress * 100, 1);
    text(cell("progress"), [[pct === null ? "—" : pct + " %", ""]]);
    const nozzle = fixed(p.nozzle_c, 0);
    const bed = fixed(p.bed_c, 0);
    text(cell("nozzle"), [[nozzle === null ? "—" : nozzle + " °C", ""]]);
    text(cell("bed"), [[bed === null ? "—" : bed + " °C", ""]]);
    text(cell("eta"), [[p.eta_s === null ? "—" : Math.floor(p.eta_s / 60) + " min", ""]]);
    const mat = [[p.spool || "no spool recorded", ""]];
    if (p.material) mat.push(["printer: " + p.material, "muted"]);
    text(cell("material"), mat);
    text(cell("error"), p.error ? [[p.error, "strong"]] : p.last_error ? [[p.last_error, "muted"]] : [["—", ""]]);
    const form = cell("actions").querySelector("form.bedclear");
    if (form) form.hidden = !p.bed_clear_needed;
    // "Cancel print" names the job it cancels; it follows the running job until a reason is
    // typed (then a job that changed underneath is refused by the server, never retargeted).
    const cancel = cell("actions").querySelector("form.cancelprint");
    if (cancel) {
      cancel.hidden = !p.may_cancel;
      const job = cancel.querySelector('input[name="job_order_id"]');
      const reason = cancel.querySelector('input[name="reason"]');
      if (p.may_cancel && p.planned && job && reason && !reason.value) job.value = p.planned.job_order_id;
    }
    const note = cell("actions").querySelector('[data-field="cancel-note"]');
    if (note) note.textContent = p.cancel_note || "";
  }

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const headers = { "Accept": "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      const resp = await fetch(url, { headers: headers, credentials: "same-origin", cache: "no-cache" });
      if (resp.status === 304) return;
      if (!resp.ok) { table.dataset.liveError = String(resp.status); return; }
      etag = resp.headers.get("ETag");
      const data = await resp.json();
      data.printers.forEach(render);
      delete table.dataset.liveError;
      table.dataset.liveUpdated = String(Date.now());
      const note = document.getElementById("fleet-refreshed");
      if (note) note.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
    } catch (err) {
      table.dataset.liveError = String(err);
    } finally {
      busy = false;
    }
  }

  setInterval(refresh, INTERVAL);
  refresh();
})();
