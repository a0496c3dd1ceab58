/**
 * Web Crypto's SubtleCrypto: the runtime's global one (browsers, Deno, Bun,
 * Node.js 19+), else Node.js 18's, which is not global there.
 */
export async function subtleCrypto(): Promise<SubtleCrypto> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) return subtle;
  const { webcrypto } = await import("node:crypto");
  return webcrypto.subtle as SubtleCrypto;
}

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array<ArrayBuffer> {
  return utf8.encode(text);
}

/** Text as UTF-8, or a copy of bytes that Web Crypto takes (not over a SharedArrayBuffer). */
function bufferSource(data: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return typeof data === "string" ? utf8Bytes(data) : new Uint8Array(data);
}

/** HMAC-SHA256 of `message` keyed with `secret` (both UTF-8 text, or bytes). */
export async function hmacSha256(secret: string | Uint8Array, message: string | Uint8Array): Promise<Uint8Array> {
  const subtle = await subtleCrypto();
  const key = await subtle.importKey("raw", bufferSource(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", key, bufferSource(message)));
}

export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** RFC 4648 §5 base64url, without `=` padding. */
export function base64url(bytes: Uint8Array): string {
  return base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
