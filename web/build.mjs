// Bundles the console into src/stepline/console/ (committed, so the dev stack needs no npm).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "stepline", "console");
rmSync(join(out, "assets"), { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "eof",
  outfile: join(out, "assets", "app.js"),
  logLevel: "info",
});
copyFileSync(join(here, "src", "app.css"), join(out, "assets", "app.css"));
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
