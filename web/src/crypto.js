// Lore's encryption format (docs/protocol.md, PROTOCOL.md) in the browser.
// Argon2id comes from hash-wasm (libsodium's crypto_pwhash fixes parallelism at 1,
// the envelope says p=4); XChaCha20-Poly1305-IETF and keyed BLAKE2b from libsodium.
import sodium from "libsodium-wrappers";
import { argon2id, blake2b } from "hash-wasm";
import { decompress } from "fzstd";

const enc = new TextEncoder();

/** Wait for libsodium's WebAssembly to load. */
export async function ready() {
  await sodium.ready;
}

export function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function b64ToBytes(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToB64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function concat(parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** lp(x): u16 big-endian length, then the UTF-8 bytes. */
export function lp(text) {
  const b = typeof text === "string" ? enc.encode(text) : text;
  return concat([new Uint8Array([b.length >> 8, b.length & 0xff]), b]);
}

function u32(n) {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

export function envelopeAd(accountId, keyId) {
  return concat([enc.encode("lore/v1/envelope"), lp(accountId), lp(keyId)]);
}

export function chunkAd(tag, accountId, sessionId, origin, generation, index) {
  return concat([enc.encode("lore/v1/" + tag), lp(accountId), lp(sessionId), lp(origin),
    u32(generation), u32(index)]);
}

/** KEK = Argon2id(NFC(passphrase), salt, t, m KiB, p) with the envelope's parameters. */
export async function deriveKek(passphrase, kdf) {
  if (kdf.alg !== "argon2id" || kdf.v !== 19) throw new Error("unsupported key derivation");
  return argon2id({
    password: enc.encode(passphrase.normalize("NFC")),
    salt: b64ToBytes(kdf.salt),
    iterations: kdf.t, memorySize: kdf.m, parallelism: kdf.p,
    hashLength: 32, outputType: "binary",
  });
}

/** hex(BLAKE2b(b"lore key id v1", key=dk, 16)) */
export async function keyId(dk) {
  return blake2b(enc.encode("lore key id v1"), 128, dk);
}

function aeadOpen(key, nonce, ct, ad) {
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, ad, nonce, key);
  } catch {
    return null;
  }
}

/** The data key from the envelope and a passphrase, or null for a wrong passphrase. */
export async function unwrap(envelope, accountId, passphrase) {
  const kek = await deriveKek(passphrase, envelope.kdf);
  const dk = aeadOpen(kek, b64ToBytes(envelope.nonce), b64ToBytes(envelope.wrapped),
    envelopeAd(accountId, envelope.key_id));
  kek.fill(0);
  return dk;
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** The data key from a `lore1-` recovery key (lored/crypto/recovery.py), or an error text. */
export async function fromRecovery(text) {
  const cleaned = text.replace(/[\s-]/g, "").toUpperCase();
  if (!cleaned.startsWith("LORE1")) return { error: "That is not a Lore recovery key (it starts with lore1-)." };
  const body = cleaned.slice(5);
  let bits = 0, value = 0;
  const out = [];
  for (const ch of body) {
    const v = B32.indexOf(ch);
    if (v < 0) return { error: "The recovery key contains characters that cannot be in it." };
    value = (value << 5) | v; bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  if (out.length !== 36 || (value & ((1 << bits) - 1)) !== 0) {
    return { error: "The recovery key has a typo or is incomplete." };
  }
  const raw = new Uint8Array(out);
  const dk = raw.slice(0, 32);
  const check = await blake2b(dk, 32, enc.encode("lore recovery v1"));
  if (check !== bytesToHex(raw.slice(32))) return { error: "The recovery key has a typo." };
  return { dk };
}

/** Open one sealed chunk/info (0x01 ‖ nonce ‖ AEAD(zstd(bytes))); null if it fails. */
export function openSealed(key, sealed, ad) {
  if (sealed.length < 1 + 24 + 16 || sealed[0] !== 1) return null;
  const pt = aeadOpen(key, sealed.subarray(1, 25), sealed.subarray(25), ad);
  if (pt === null) return null;
  try {
    return decompress(pt);
  } catch {
    return null;
  }
}

/** ad of a share: b"lore/v1/share" ‖ lp(share_id) (a blob cannot be moved to another id). */
export function shareAd(shareId) {
  return concat([enc.encode("lore/v1/share"), lp(shareId)]);
}

export function b64url(bytes) {
  return bytesToB64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(text) {
  const t = text.replace(/-/g, "+").replace(/_/g, "/");
  return b64ToBytes(t + "=".repeat((4 - (t.length % 4)) % 4));
}

/** Seal a share: 0x02 ‖ nonce(24) ‖ XChaCha20-Poly1305(key, JSON bytes, shareAd) (no zstd). */
export function sealRaw(key, plaintext, ad) {
  const nonce = sodium.randombytes_buf(24);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
  return concat([new Uint8Array([2]), nonce, ct]);
}

/** Open what sealRaw made; null if tampered. */
export function openRaw(key, sealed, ad) {
  if (sealed.length < 41 || sealed[0] !== 2) return null;
  return aeadOpen(key, sealed.subarray(1, 25), sealed.subarray(25), ad);
}

export function randomKey() {
  return sodium.randombytes_buf(32);
}
