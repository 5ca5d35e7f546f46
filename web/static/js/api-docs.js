// Renders /api/openapi.json with the locally served swagger-ui (no CDN).
"use strict";
const root = document.getElementById("swagger");
window.SwaggerUIBundle({ url: root.dataset.spec, domNode: root, deepLinking: true });
