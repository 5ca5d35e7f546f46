// Money and times as the shop reads them, for scripts that redraw them (the server's rule is
// orders/formats.py): "Rs 195,929.79" and "2026-12-01 10:00" in the shop's zone. The zone,
// locale and currency signs come from the page's <body data-*>, so there is one source.
"use strict";
(() => {
  const body = document.body.dataset;
  const zone = body.timeZone || "UTC";
  const locale = body.locale || "en";
  let signs = {};
  try { signs = JSON.parse(body.currencySigns || "{}"); } catch (e) { signs = {}; }
  const digits = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: true });
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  window.hunarLocal = {
    money(amount, currency) {
      const code = String(currency || "").toUpperCase();
      return `${signs[code] || code}\u00a0${digits.format(Number(amount))}`;
    },
    when(iso) {
      const p = Object.fromEntries(parts.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
    },
    zone() { return body.zoneLabel || zone; },
  };
})();
