// Live ETA: the order page re-reads its tracking from the API every 20 s.
"use strict";
(() => {
  const root = document.getElementById("order-tracking");
  if (!root) return;
  async function refresh() {
    const resp = await fetch(`/api/orders/${root.dataset.order}`, { credentials: "same-origin" });
    if (!resp.ok) return;
    const order = await resp.json();
    const status = document.getElementById("order-status");
    status.textContent = order.status_text || status.textContent;  // plain words, never a status name
    status.dataset.status = order.status;
    for (const line of order.lines) {
      const eta = root.querySelector(`.eta[data-line="${line.id}"]`);
      if (eta) eta.textContent = line.eta ? `${window.hunarLocal.when(line.eta)} ${window.hunarLocal.zone()}` : "not planned yet";
      for (const step of line.timeline) {
        const li = root.querySelector(`[data-line="${line.id}"] [data-status="${step.status}"]`);
        if (li) li.className = step.reached ? "done" : "todo";
      }
    }
  }
  setInterval(refresh, 20000);
})();
