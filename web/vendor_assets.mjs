// Copies the npm front-end libraries Hunar serves into web/static/vendor (run by `npm run vendor`).
import { copyFileSync, mkdirSync } from "node:fs";

const FILES = {
  "@google/model-viewer/dist/model-viewer.min.js": "model-viewer.min.js",
  "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui-bundle.js",
  "swagger-ui-dist/swagger-ui.css": "swagger-ui.css",
};
mkdirSync("web/static/vendor", { recursive: true });
for (const [src, dest] of Object.entries(FILES)) {
  copyFileSync(`node_modules/${src}`, `web/static/vendor/${dest}`);
}
console.log(`vendored ${Object.keys(FILES).length} files into web/static/vendor`);
