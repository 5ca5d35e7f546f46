// Live configurator: validation messages per field, the itemised quote and date, and the 3D
// preview (a customer's saved design, or for anyone else an anonymous preview by config hash).
// The process narrows the materials, the material the colours, and a standard size fills its
// dependent fields; the server still validates everything. While a field is invalid the
// preview says so instead of showing the last model as if it were current.
// Every server text is inserted with textContent, never as HTML.
"use strict";
(() => {
  const form = document.getElementById("configure");
  if (!form) return;
  const family = JSON.parse(document.getElementById("family-data").textContent);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : ""; // only signed-in users need it for the API
  const signedIn = form.dataset.signedIn === "true";
  const addBtn = document.getElementById("add-to-cart");
  const quoteBox = document.getElementById("quote");
  const viewer = document.getElementById("preview");
  const bar = document.getElementById("preview-bar");
  const progress = document.getElementById("preview-progress");
  const stateText = document.getElementById("preview-state");
  const findingsList = document.getElementById("findings");
  const formErrors = document.getElementById("form-errors");
  const params = family.groups.flatMap((g) => g.params);
  const materialParam = params.find((p) => p.name === "material");
  const allMaterials = materialParam ? materialParam.options.map(String) : [];
  let seq = 0;
  let previewSeq = 0;
  let timer = null;
  let previewTimer = null;

  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  };

  function readParams() {
    const out = {};
    for (const p of params) {
      const input = document.getElementById("p-" + p.name);
      if (!input) continue;
      out[p.name] = input.type === "checkbox" ? input.checked : input.value;
    }
    return out;
  }

  function readOrder() {
    const qty = Number.parseInt(document.getElementById("qty").value, 10);
    return { quantity: Number.isFinite(qty) ? qty : 0, tier: document.getElementById("tier").value };
  }

  async function api(method, path, body) {
    const resp = await fetch(path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    return { status: resp.status, data };
  }

  function showErrors(fields) {
    document.querySelectorAll("[data-error-for]").forEach((n) => { n.textContent = ""; });
    document.querySelectorAll(".field.invalid").forEach((n) => n.classList.remove("invalid"));
    formErrors.replaceChildren();
    for (const [name, msg] of Object.entries(fields || {})) {
      const slot = document.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) {
        slot.textContent = msg;
        slot.closest(".field")?.classList.add("invalid");
      } else {
        formErrors.append(el("li", msg));
      }
    }
  }

  // Why the design cannot be ordered, next to the disabled button (empty: it can be).
  function blockOrdering(why) {
    const note = document.getElementById("add-blocked");
    addBtn.disabled = Boolean(why) || addBtn.disabled;
    if (!note) return;
    note.textContent = why ? `Cannot be ordered: ${why}` : "";
    note.hidden = !why;
  }

  // A design that cannot be made has no price or date: the quote's amounts are null and
  // `reasons` (feasibility's, then Required DFM findings) say why.
  function renderUnmakeable(q) {
    const div = el("div", undefined, "error");
    div.id = "infeasible";
    div.append(el("strong", "This design cannot be made here, so it has no price or ship date:"));
    const ul = el("ul");
    q.reasons.forEach((r) => {
      const li = el("li", r.source === "dfm" ? `${r.code}: ${r.message}` : r.message);
      li.dataset.code = r.code;
      ul.append(li);
    });
    div.append(ul);
    quoteBox.replaceChildren(el("h2", "No price"), div);
  }

  function renderQuote(q) {
    if (q.makeable === false) { renderUnmakeable(q); return; }
    const box = [el("h2", "Your price")];
    const table = el("table", undefined, "quote-lines");
    for (const ln of q.lines) {
      const tr = el("tr");
      tr.append(el("td", ln.label), el("td", ln.amount, "num"));
      table.append(tr);
    }
    const total = el("tr", undefined, "total");
    const totalCell = el("td", window.hunarLocal.money(q.total, q.currency), "num");
    totalCell.id = "quote-total";
    total.append(el("td", `Total (${q.quantity} pcs, ${q.tier})`), totalCell);
    const unit = el("tr");
    unit.append(el("td", "Per unit"), el("td", window.hunarLocal.money(q.unit_price, q.currency), "num"));
    table.append(total, unit);
    box.push(table);
    const source = el("p", q.source === "measured"
      ? "Priced from the measured geometry of your design."
      : "Estimate from the analytic model; the price is confirmed from the measured geometry.");
    source.id = "quote-source";
    source.dataset.source = q.source;
    box.push(source);
    if (q.promise.ok) {
      const p = el("p", "Ships by ");
      const d = el("strong", q.promise.ship_date);
      d.id = "ship-date";
      p.append(d);
      box.push(p);
    } else {
      box.push(el("p", "No ship date: " + q.promise.reasons.join("; "), "error"));
    }
    if (!q.feasibility.ok) {
      const div = el("div", undefined, "error");
      div.id = "infeasible";
      div.append(el("strong", "This design cannot be made here:"));
      const ul = el("ul");
      q.feasibility.reasons.forEach((r) => ul.append(el("li", r.message)));
      div.append(ul);
      box.push(div);
    }
    quoteBox.replaceChildren(...box);
  }

  async function update(withPreview = true) {
    const mine = ++seq;
    const body = { family: family.key, params: readParams(), ...readOrder() };
    const { status, data } = await api("POST", "/api/quote", body);
    if (mine !== seq) return; // a newer edit is on its way
    if (status === 200) {
      showErrors({});
      renderQuote(data);
      addBtn.disabled = !data.orderable;
      blockOrdering(data.orderable ? "" : (data.reasons || []).map((r) => r.message)
        .concat(data.makeable === false ? [] : data.promise.reasons).join("; "));
      if (data.makeable === false) {
        stale("This design cannot be made, so no 3D preview is built. Change the design to see one.");
      } else if (withPreview) {
        schedulePreview(body.params);
      }
      return;
    }
    blockOrdering("");
    addBtn.disabled = true;
    const err = (data && data.error) || { message: "The server did not answer.", fields: {} };
    const fields = (err && err.fields) || {};
    showErrors(Object.keys(fields).length ? fields : { form: err.message || "Please try again." });
    quoteBox.replaceChildren(el("p", "Fix the highlighted fields to see the price.", "muted"));
    if (status === 422) stale("Fix the highlighted field to update the 3D preview.");
  }

  // The model on screen no longer matches the form: say so, stop following any build.
  function stale(text) {
    ++previewSeq;
    viewer.dataset.stale = "true";
    viewer.classList.add("stale");
    setProgress(1, text);
    findingsList.replaceChildren();
  }

  function fresh() {
    viewer.dataset.stale = "false";
    viewer.classList.remove("stale");
  }

  function setProgress(fraction, text) {
    progress.hidden = fraction >= 1;
    bar.style.width = `${Math.round(Math.max(0.05, fraction) * 100)}%`;
    stateText.textContent = text;
  }

  function renderFindings(findings) {
    findingsList.replaceChildren();
    const required = findings.filter((f) => f.severity === "required");
    if (required.length) blockOrdering(required.map((f) => `${f.code}: ${f.hint}`).join("; "));
    viewer.querySelectorAll("[slot^='hotspot-']").forEach((n) => n.remove());
    findings.forEach((f, i) => {
      const li = el("li", `${f.severity === "required" ? "Required" : "Advisory"}: ${f.hint}`,
        f.severity === "required" ? "finding required" : "finding advisory");
      findingsList.append(li);
      if (Array.isArray(f.location)) {
        const [x, y, z] = f.location; // CAD Z-up -> glTF Y-up
        const spot = el("button", String(i + 1), "hotspot " + f.severity);
        spot.slot = `hotspot-${i}`;
        spot.dataset.position = `${x} ${z} ${-y}`;
        spot.dataset.normal = "0 1 0";
        spot.title = f.hint;
        viewer.append(spot);
      }
    });
  }

  // The job records the GLB about a second in, long before STEP/STL/3MF, analysis and G-code:
  // show it as soon as the status names it, then keep following the job to "up to date".
  // Signed-in customers preview their saved design; anyone else asks by the design's values
  // (the server reuses a build of the same design and limits new ones).
  async function startPreview(values) {
    if (signedIn) {
      const saved = await api("POST", "/api/configurations", { family: family.key, params: values });
      if (saved.status !== 201) return { id: null, st: saved };
      const id = saved.data.id;
      const path = `/api/configurations/${id}/preview`;
      return { id, path, st: await api("POST", path) };
    }
    const st = await api("POST", "/api/preview", { family: family.key, params: values });
    const id = st.data && st.data.config_hash;
    return { id, path: id ? `/api/preview/${id}` : null, st };
  }

  async function preview(values) {
    const mine = ++previewSeq;
    setProgress(0.05, "Building your 3D preview…");
    const started = await startPreview(values);
    if (mine !== previewSeq) return;
    if (started.id === null || started.id === undefined) {
      const err = started.st.data && started.st.data.error;
      setProgress(1, `No 3D preview right now: ${(err && err.message) || "please try again"}.`);
      return;
    }
    const id = started.id;
    let st = started.st;
    let shown = false;
    while (mine === previewSeq && st.status < 300 && ["queued", "building"].includes(st.data.state)) {
      if (!shown && st.data.preview_url) shown = showModel(st.data.preview_url, id);
      setProgress(st.data.progress || 0.1, shown
        ? "Preview ready, preparing manufacturing files…"
        : `Building: ${st.data.stage || st.data.state}…`);
      await new Promise((r) => setTimeout(r, shown ? 1000 : 250));
      st = await api("GET", started.path);
    }
    if (mine !== previewSeq) return;
    if (st.status >= 300 || st.data.state === "failed") {
      const err = st.data && st.data.error;
      const why = (err && (err.message || err)) || "error";
      if (!shown) viewer.dataset.stale = "true";
      setProgress(1, shown
        ? `The manufacturing files could not be prepared: ${why}.`
        : `The preview could not be built: ${why}. The last good preview stays on screen.`);
      return;
    }
    if (st.data.preview_url) showModel(st.data.preview_url, id);
    renderFindings(st.data.findings || []);
    setProgress(1, st.data.state === "ready" ? "Preview up to date." : "Preview pending.");
    if (st.data.state === "ready") remeasure(mine, 0);
  }

  // Point model-viewer at a design's GLB (once per URL); the previous design's finding markers
  // go with the previous model, the new ones come with the finished job.
  function showModel(url, id) {
    if (viewer.getAttribute("src") !== url) {
      renderFindings([]);
      viewer.dataset.loaded = "false";
      viewer.setAttribute("src", url);
    }
    viewer.dataset.configurationId = id;
    fresh();
    return true;
  }

  // CAD has measured the part: re-price from the real geometry (quotes are cached for up
  // to 5 s on the server, so ask a few times until the source says "measured").
  async function remeasure(mine, attempt) {
    const source = document.getElementById("quote-source");
    if (mine !== previewSeq || !source || source.dataset.source !== "analytic" || attempt > 4) return;
    await update(false);
    setTimeout(() => remeasure(mine, attempt + 1), 2000);
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  }

  // Only the materials the chosen process runs (the current one stays if the server must
  // still say why it does not fit); then the colours follow the material.
  function schedulePreview(values) {
    clearTimeout(previewTimer);
    if (signedIn) { preview(values); return; }
    // a visitor's new designs are rate-limited: build once the edits pause
    setProgress(0.05, "The 3D preview follows when you pause…");
    const mine = previewSeq;
    previewTimer = setTimeout(() => { if (mine === previewSeq) preview(values); }, 1200);
  }

  function syncMaterials(initial = false) {
    const proc = document.getElementById("p-process");
    const mat = document.getElementById("p-material");
    if (!proc || !mat || !allMaterials.length) return;
    const keep = mat.value;
    const fits = allMaterials.filter((m) => {
      const info = family.material_info[m];
      return info && info.processes.includes(proc.value);
    });
    if (!fits.length) return;
    if (initial && !fits.includes(keep) && allMaterials.includes(keep)) fits.push(keep);
    const chosen = fits.includes(keep) ? keep : fits[0];
    mat.replaceChildren(...fits.map((m) => {
      const o = el("option", m.replaceAll("_", " "));
      o.value = m;
      o.selected = m === chosen;
      return o;
    }));
    syncColours();
  }

  // A standard size (e.g. a flange's nominal size) fills the fields it determines.
  function fillStandard(name) {
    const table = (family.standards || {})[name];
    const input = document.getElementById("p-" + name);
    const row = table && input ? table[input.value] : null;
    if (!row) return;
    for (const [param, value] of Object.entries(row)) {
      const field = document.getElementById("p-" + param);
      if (field) field.value = String(value);
    }
  }

  function syncColours() {
    const mat = document.getElementById("p-material");
    const colour = document.getElementById("p-colour");
    if (!mat || !colour) return;
    const info = family.material_info[mat.value];
    if (!info) return;
    const keep = colour.value;
    colour.replaceChildren(...info.colours.map((c) => {
      const o = el("option", c.replaceAll("_", " "));
      o.value = c;
      o.selected = c === keep;
      return o;
    }));
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", (ev) => {
    const name = ev.target.name;
    if (name === "process") syncMaterials();
    if (name === "material") syncColours();
    if (family.standards && name in family.standards) fillStandard(name);
    schedule();
  });
  if (form.dataset.invalid === "true") stale("Fix the highlighted field to update the 3D preview.");
  syncMaterials(true);
  viewer.addEventListener("load", () => { viewer.dataset.loaded = "true"; });
  update();
})();
