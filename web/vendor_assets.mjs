// Copies the npm front-end libraries Hunar serves into web/static (run by `npm ci` postinstall
// and `npm run vendor`). Nothing is loaded from a CDN.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

const FILES = {
  "@google/model-viewer/dist/model-viewer.min.js": "web/static/vendor/model-viewer.min.js",
  "swagger-ui-dist/swagger-ui-bundle.js": "web/static/vendor/swagger-ui-bundle.js",
  "swagger-ui-dist/swagger-ui.css": "web/static/vendor/swagger-ui.css",
  "vis-timeline/standalone/umd/vis-timeline-graph2d.min.js":
    "web/static/planner/vendor/vis-timeline-graph2d.min.js",
  "vis-timeline/styles/vis-timeline-graph2d.css":
    "web/static/planner/vendor/vis-timeline-graph2d.css",
};
for (const [src, dest] of Object.entries(FILES)) {
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(`node_modules/${src}`, dest);
}
console.log(`vendored ${Object.keys(FILES).length} files into web/static`);
