// Bundle src/ into lorecloud/dashboard/static/lore-web.js, deterministically: pinned
// esbuild from package-lock.json, no timestamps, no absolute paths, no source map.
//   node build.mjs              -> the committed browser bundle
//   node build.mjs --out FILE   -> the browser bundle elsewhere (make test compares the two)
//   node build.mjs --node FILE  -> the crypto and parsers as a CommonJS module for node tests
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeOut = process.argv[2] === "--node" ? process.argv[3] : null;
const browserOut = process.argv[2] === "--out" ? path.resolve(process.argv[3])
  : path.join(here, "../lorecloud/dashboard/static/lore-web.js");
// libsodium-wrappers' ES module build imports a file that is not shipped; its
// CommonJS build is complete, so both builds take that one
const alias = {
  "libsodium-wrappers": path.join(here, "node_modules/libsodium-wrappers/dist/modules/libsodium-wrappers.js"),
};
const common = {
  absWorkingDir: here, bundle: true, alias, legalComments: "none", charset: "utf8",
  logLevel: "warning", minify: true, target: ["es2020"],
};
if (nodeOut) {
  await esbuild.build({ ...common, entryPoints: ["src/node.js"], outfile: nodeOut,
    format: "cjs", platform: "node" });
} else {
  await esbuild.build({ ...common, entryPoints: ["src/main.js"], format: "iife", platform: "browser",
    outfile: browserOut });
}
