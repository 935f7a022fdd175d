// node parse-cli.cjs BUILD TOOL FILE -> the browser parser's messages as JSON (for pytest)
const lw = require(process.argv[2]);
const bytes = require("fs").readFileSync(process.argv[4]);
const out = [];
lw.transcript.parsePayload(process.argv[3], new Uint8Array(bytes), (b) => out.push(...b))
  .then(() => process.stdout.write(JSON.stringify(out)));
