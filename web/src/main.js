// The dashboard's session page: unlock in the tab, read, search, lock.
// The data key lives only in the `state` variable of this page; nothing is written to
// storage, cookies or the server. All text goes into the DOM as textContent.
import * as c from "./crypto.js";
import { parsePayload } from "./transcript.js";
import { openShare, sealShare } from "./share.js";

const state = { key: null, messages: [], epoch: 0, payload: null };
const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
}

/** Text with ``` fences -> paragraphs and <pre><code> blocks. */
function renderText(text, into) {
  const pieces = text.split(/```/);
  pieces.forEach((piece, i) => {
    if (i % 2 === 1) {
      const nl = piece.indexOf("\n");
      const lang = nl > 0 ? piece.slice(0, nl).trim() : "";
      const pre = el("pre", "code");
      const code = el("code", null, nl >= 0 ? piece.slice(nl + 1) : piece);
      if (lang) code.dataset.lang = lang;
      pre.appendChild(code);
      into.appendChild(pre);
    } else if (piece.trim()) {
      into.appendChild(el("p", "text", piece.trim()));
    }
  });
}

function renderMessage(m) {
  const li = el("li", "msg role-" + String(m.role).replace(/[^a-z-]/gi, ""));
  const head = el("div", "msg-head");
  head.appendChild(el("span", "msg-role", m.role));
  if (m.time) head.appendChild(el("time", "msg-time", String(m.time).replace("T", " ").slice(0, 19)));
  li.appendChild(head);
  for (const p of m.parts) {
    if (p.kind === "text") { renderText(p.text, li); continue; }
    const det = el("details", p.kind === "tool_call" ? "tool-call" : "tool-result");
    det.appendChild(el("summary", null, (p.kind === "tool_call" ? "Tool call: " : "Tool result: ") + (p.name || "")));
    const pre = el("pre", "code");
    pre.appendChild(el("code", null, p.text));
    det.appendChild(pre);
    li.appendChild(det);
  }
  li.dataset.search = m.parts.map((p) => p.text).join("\n").toLowerCase();
  return li;
}

function showError(text) {
  $("unlock-error").textContent = text;
}

async function unlockWith(secret, doc) {
  const s = secret.trim();
  if (/^lore1-/i.test(s)) {
    const r = await c.fromRecovery(s);
    if (r.error) return { error: r.error };
    if (doc.envelope && (await c.keyId(r.dk)) !== doc.envelope.key_id) {
      return { error: "That recovery key belongs to another key of this account (it was reset since)." };
    }
    return { dk: r.dk };
  }
  if (!doc.envelope) return { error: "This account has no encryption key yet: run `lorectl unlock` on a machine first." };
  const dk = await c.unwrap(doc.envelope, doc.account_id, secret);
  if (!dk) return { error: "Wrong passphrase: this is not the encryption passphrase of this account." };
  return { dk };
}

function openAll(doc, dk) {
  const parts = [];
  for (let i = 0; i < doc.chunks.length; i++) {
    const ad = c.chunkAd("chunk", doc.account_id, doc.session_id, doc.origin_machine_id, doc.generation, i);
    const pt = c.openSealed(dk, c.b64ToBytes(doc.chunks[i]), ad);
    if (!pt) return null;
    parts.push(pt);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

async function renderAll(tool, payload, epoch) {
  const list = $("messages");
  list.replaceChildren();
  await parsePayload(tool, payload, (batch) => {
    if (epoch !== state.epoch) return; // locked meanwhile
    const frag = document.createDocumentFragment();
    for (const m of batch) frag.appendChild(renderMessage(m));
    list.appendChild(frag);
    state.messages.push(...batch);
    $("msg-count").textContent = state.messages.length + " messages";
  });
}

async function onShare() {
  const root = $("reader");
  if (!state.payload) return;
  $("share").disabled = true;
  try {
    const { shareId, key, sealed } = sealShare({
      tool: root.dataset.tool, session_id: root.dataset.sessionId || "",
      payload: new TextDecoder().decode(state.payload),
    });
    const url = root.dataset.shareUrl + "?share_id=" + shareId + "&expires_in=604800";
    const res = await fetch(url, { method: "POST", body: sealed, credentials: "same-origin",
      headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": root.dataset.csrf } });
    const doc = await res.json();
    if (!res.ok) { showError("Sharing failed: " + ((doc.error && doc.error.message) || res.status)); return; }
    $("share-link").value = doc.url + "#" + c.b64url(key);
    $("share-result").hidden = false;
    root.dataset.shared = doc.share_id;
  } finally {
    $("share").disabled = false;
  }
}

async function startShareView() {
  const root = $("share-view");
  const shareId = location.pathname.split("/").pop();
  const keyText = location.hash.slice(1);
  const damaged = "This link is damaged: it does not open. Ask its owner to share the session again.";
  const fail = (text) => { $("share-status").textContent = ""; $("share-error").textContent = text; root.dataset.state = "failed"; };
  if (!keyText) { fail("This link is incomplete: the part after # (the key) is missing."); return; }
  await c.ready();
  const res = await fetch(root.dataset.sealedUrl, { cache: "no-store" });
  if (res.status === 410) { fail("This link is no longer available (revoked or expired)."); return; }
  if (!res.ok) { fail("The server could not hand out this share (HTTP " + res.status + ")."); return; }
  const doc = openShare(shareId, keyText, new Uint8Array(await res.arrayBuffer()));
  if (!doc) { fail(damaged); return; }
  $("share-title").textContent = "Shared " + (doc.tool || "") + " session";
  $("share-bar").hidden = false;
  const epoch = ++state.epoch;
  await renderAll(doc.tool, new TextEncoder().encode(doc.payload), epoch);
  $("share-status").textContent = "";
  root.dataset.state = "open";
}

async function onUnlock(ev) {
  ev.preventDefault();
  const root = $("reader");
  const input = $("unlock-secret");
  const secret = input.value;
  showError("");
  if (!secret) { showError("Enter the encryption passphrase or a lore1- recovery key."); return; }
  $("unlock-button").disabled = true;
  $("unlock-status").textContent = "Unlocking…";
  try {
    await c.ready();
    const res = await fetch(root.dataset.sealedUrl, { credentials: "same-origin", cache: "no-store" });
    if (!res.ok) { showError("The server could not hand out this session (HTTP " + res.status + "); reload the page."); return; }
    const doc = await res.json();
    const got = await unlockWith(secret, doc);
    if (got.error) { showError(got.error); return; }
    const payload = openAll(doc, got.dk);
    if (!payload) { showError("This session's encrypted data is damaged: it does not open with your key."); return; }
    input.value = "";
    state.key = got.dk;
    state.payload = payload;
    state.messages = [];
    const epoch = ++state.epoch;
    $("unlock-form").hidden = true;
    $("unlocked").hidden = false;
    await renderAll(root.dataset.tool, payload, epoch);
    if (epoch === state.epoch) root.dataset.state = "unlocked";
  } catch (err) {
    showError("Unlocking failed in this browser: " + (err && err.message ? err.message : err));
  } finally {
    $("unlock-button").disabled = false;
    $("unlock-status").textContent = "";
  }
}

function onLock() {
  if (state.key) state.key.fill(0);
  state.key = null;
  state.payload = null;
  state.messages = [];
  state.epoch++;
  $("messages").replaceChildren();
  $("search").value = "";
  $("search-count").textContent = "";
  $("share-result").hidden = true;
  $("share-link").value = "";
  $("unlocked").hidden = true;
  $("unlock-form").hidden = false;
  $("reader").dataset.state = "locked";
}

function onSearch() {
  const q = $("search").value.trim().toLowerCase();
  let hits = 0;
  for (const li of $("messages").children) {
    const match = !q || li.dataset.search.includes(q);
    li.hidden = !match;
    if (match && q) hits++;
  }
  $("search-count").textContent = q ? hits + " matching" : "";
}

function start() {
  if ($("share-view")) {
    $("search").addEventListener("input", onSearch);
    startShareView().catch((err) => { $("share-error").textContent = "Opening failed in this browser: " + err; });
    return;
  }
  if (!$("reader")) return;
  $("reader").dataset.state = "locked";
  $("unlock-form").addEventListener("submit", onUnlock);
  $("lock").addEventListener("click", onLock);
  $("share").addEventListener("click", () => { onShare().catch((err) => showError("Sharing failed: " + err)); });
  $("search").addEventListener("input", onSearch);
  window.addEventListener("pagehide", onLock);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
