// Live configurator: validation messages per field, the itemised quote and date, and the 3D
// preview. Every server text is inserted with textContent, never as HTML.
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
  let seq = 0;
  let previewSeq = 0;
  let timer = null;

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
    const totalCell = el("td", `${q.currency} ${q.total}`, "num");
    totalCell.id = "quote-total";
    total.append(el("td", `Total (${q.quantity} pcs, ${q.tier})`), totalCell);
    const unit = el("tr");
    unit.append(el("td", "Per unit"), el("td", `${q.currency} ${q.unit_price}`, "num"));
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
      if (data.orderable && signedIn && withPreview) preview(body.params);
      return;
    }
    blockOrdering("");
    addBtn.disabled = true;
    const err = (data && data.error) || { message: "The server did not answer.", fields: {} };
    showErrors(Object.keys(err.fields).length ? err.fields : { form: err.message });
    quoteBox.replaceChildren(el("p", "Fix the highlighted fields to see the price.", "muted"));
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
  async function preview(values) {
    const mine = ++previewSeq;
    setProgress(0.05, "Building your 3D preview…");
    const saved = await api("POST", "/api/configurations", { family: family.key, params: values });
    if (mine !== previewSeq || saved.status !== 201) return;
    const id = saved.data.id;
    let st = await api("POST", `/api/configurations/${id}/preview`);
    let shown = false;
    while (mine === previewSeq && st.status < 300 && ["queued", "building"].includes(st.data.state)) {
      if (!shown && st.data.preview_url) shown = showModel(st.data.preview_url, id);
      setProgress(st.data.progress || 0.1, shown
        ? "Preview ready, preparing manufacturing files…"
        : `Building: ${st.data.stage || st.data.state}…`);
      await new Promise((r) => setTimeout(r, shown ? 1000 : 250));
      st = await api("GET", `/api/configurations/${id}/preview`);
    }
    if (mine !== previewSeq) return;
    if (st.status >= 300 || st.data.state === "failed") {
      const err = st.data && st.data.error;
      const why = (err && (err.message || err)) || "error";
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
    if (ev.target.id === "p-material") syncColours();
    schedule();
  });
  viewer.addEventListener("load", () => { viewer.dataset.loaded = "true"; });
  update();
})();
