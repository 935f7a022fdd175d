// Share links: seal a session under a fresh key (the Share button) and open one
// (the public /s/<id> page). The key lives only in the URL fragment.
import * as c from "./crypto.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** -> {shareId, key, sealed} for a session's payload text. */
export function sealShare(doc) {
  const shareId = c.b64url(c.randomKey().slice(0, 16));
  const key = c.randomKey();
  const body = enc.encode(JSON.stringify({ v: 1, ...doc }));
  return { shareId, key, sealed: c.sealRaw(key, body, c.shareAd(shareId)) };
}

/** The share document, or null when the blob or the key was altered. */
export function openShare(shareId, keyText, sealed) {
  let key;
  try { key = c.fromB64url(keyText); } catch { return null; }
  if (key.length !== 32) return null;
  const pt = c.openRaw(key, sealed, c.shareAd(shareId));
  if (!pt) return null;
  try {
    const doc = JSON.parse(dec.decode(pt));
    return doc && doc.v === 1 && typeof doc.payload === "string" ? doc : null;
  } catch {
    return null;
  }
}
