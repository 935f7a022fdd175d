// Payload formats of the captured tools -> a flat list of display messages.
// Each message: {role, time, parts: [{kind: "text"|"tool_call"|"tool_result", name, text}]}.
// The same fixtures feed the Python parsers in lored/capture (tests/browser/test_web_bundle.py),
// and the format facts both need come from one file, lored/capture/formats.json.
import FORMATS from "../../lored/capture/formats.json";

const CODEX_INJECTED = FORMATS.codex.injected_user_prefixes;
const CODEX_HIDDEN = FORMATS.codex.hidden_roles;

function textOf(value) {
  if (value == null) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(textOf).filter(Boolean).join("\n");
  if (typeof value === "object") {
    if (typeof value.text === "string") return value.text;
    if ("content" in value) return textOf(value.content);
    if (typeof value.output === "string") return value.output;
  }
  return JSON.stringify(value, null, 2);
}

function claudeParts(content) {
  if (typeof content === "string") return [{ kind: "text", text: content }];
  const parts = [];
  for (const block of Array.isArray(content) ? content : []) {
    if (!block || typeof block !== "object") continue;
    if (block.type === "text") parts.push({ kind: "text", text: block.text || "" });
    else if (block.type === "thinking") parts.push({ kind: "tool_result", name: "thinking", text: block.thinking || "" });
    else if (block.type === "tool_use") parts.push({ kind: "tool_call", name: block.name || "tool", text: JSON.stringify(block.input ?? {}, null, 2) });
    else if (block.type === "tool_result") parts.push({ kind: "tool_result", name: "result", text: textOf(block.content) });
  }
  return parts;
}

/** One Claude Code JSONL record -> message or null. */
export function fromClaude(rec) {
  if (rec.type !== "user" && rec.type !== "assistant") return null;
  const msg = rec.message || {};
  const parts = claudeParts(msg.content);
  if (!parts.length) return null;
  const onlyResults = parts.every((p) => p.kind === "tool_result");
  return { role: onlyResults ? "tool" : (msg.role || rec.type), time: rec.timestamp || "", parts };
}

/** A Codex tool output: often a JSON string {"output", "metadata"} (as lored/capture/codex.py reads it). */
function codexOutput(output) {
  if (typeof output === "string") {
    try {
      const d = JSON.parse(output);
      if (d && typeof d === "object" && !Array.isArray(d) && "output" in d) return textOf(d.output);
    } catch { /* plain text */ }
    return output;
  }
  if (output && typeof output === "object" && !Array.isArray(output)) return textOf(output.content ?? output.output);
  return textOf(output);
}

/** One Codex rollout record (new `payload` form or the older flat one) -> message or null. */
export function fromCodex(rec) {
  const item = rec.type === "response_item" ? rec.payload : (rec.payload ? null : rec);
  if (!item || typeof item !== "object") return null;
  const time = rec.timestamp || "";
  if (item.type === "message") {
    const text = (item.content || []).map((c) => c.text || "").join("\n");
    if (!text || CODEX_HIDDEN.includes(item.role)) return null;
    if (item.role === "user" && CODEX_INJECTED.some((p) => text.trimStart().startsWith(p))) return null;
    return { role: item.role, time, parts: [{ kind: "text", text }] };
  }
  if (item.type === "function_call" || item.type === "local_shell_call" || item.type === "custom_tool_call") {
    return { role: "assistant", time, parts: [{ kind: "tool_call", name: item.name || "shell", text: item.arguments || item.input || JSON.stringify(item.action ?? {}, null, 2) }] };
  }
  if (item.type === "function_call_output" || item.type === "custom_tool_call_output") {
    return { role: "tool", time, parts: [{ kind: "tool_result", name: "output", text: codexOutput(item.output) }] };
  }
  return null;
}

/** A rendered-JSON payload (Gemini, Aider, OpenCode as Lore stores them) -> messages. */
export function fromRendered(doc) {
  const list = Array.isArray(doc) ? doc : (doc.messages || []);
  const out = [];
  for (const m of list) {
    if (!m || typeof m !== "object") continue;
    const role = m.role || m.type || "message";
    const text = textOf(m.parts ?? m.content ?? m.text ?? "");
    if (text) out.push({ role: role === "model" || role === "gemini" ? "assistant" : role, time: m.timestamp || m.time || "", parts: [{ kind: "text", text }] });
  }
  return out;
}

/** Which parser a tool's payload takes. */
export function parserFor(tool) {
  if (tool === "claude-code") return { lines: true, one: fromClaude };
  if (tool === "codex") return { lines: true, one: fromCodex };
  return { lines: false, all: fromRendered };
}

/** Parse a whole payload (Uint8Array) -> messages; `onBatch(list)` every ~500 lines. */
export async function parsePayload(tool, bytes, onBatch) {
  const text = new TextDecoder().decode(bytes);
  const parser = parserFor(tool);
  if (!parser.lines) {
    let doc = null;
    try { doc = JSON.parse(text); } catch { doc = null; }
    const all = doc ? parser.all(doc) : [{ role: "transcript", time: "", parts: [{ kind: "text", text }] }];
    onBatch(all);
    return;
  }
  let batch = [];
  let start = 0;
  let n = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (!line) continue;
    try {
      const m = parser.one(JSON.parse(line));
      if (m) batch.push(m);
    } catch { /* a torn last line while the tool was writing: skip it */ }
    if (++n % 500 === 0) {
      onBatch(batch);
      batch = [];
      await new Promise((r) => setTimeout(r, 0)); // let the tab breathe
    }
  }
  onBatch(batch);
}
