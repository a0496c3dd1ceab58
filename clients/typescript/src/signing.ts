// URL signatures (src/ops/README.md, "URL signatures") and the signature of
// job callbacks (docs/API.md, Jobs). Both need a secret, which must stay on
// a server: never sign in a browser or ship the secret to one.
import { base64url, hex, hmacSha256, utf8Bytes } from "./crypto.js";
import { encodeComponent, type QueryPairs } from "./query.js";

function compareUtf8(a: string, b: string): number {
  const x = utf8Bytes(a);
  const y = utf8Bytes(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

/**
 * The signed message: the decoded path, `?`, and the parameters without
 * `sig`, sorted by key then value (bytewise on UTF-8), each key and value
 * percent-encoded, joined as `key=value` with `&`.
 */
export function signingMessage(path: string, params: QueryPairs): string {
  const sorted = params
    .filter(([key]) => key !== "sig")
    .sort(([ka, va], [kb, vb]) => compareUtf8(ka, kb) || compareUtf8(va, vb));
  return `${path}?${sorted.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join("&")}`;
}

/** `sig` for a GET of `path` with exactly these parameters. */
export async function signature(secret: string, path: string, params: QueryPairs): Promise<string> {
  return base64url(await hmacSha256(secret, signingMessage(path, params)));
}

/**
 * Whether a job callback came from the server: `header` is its
 * `X-ProgImage-Signature` (`sha256=<hex>`), `body` the raw request body as
 * received, `secret` the callback secret (`--callback-secret`, or
 * `GET /v1/callbacks/secret`).
 */
export async function verifyCallbackSignature(
  secret: string,
  body: string | Uint8Array,
  header: string | null | undefined,
): Promise<boolean> {
  if (!header?.startsWith("sha256=")) return false;
  const expected = `sha256=${hex(await hmacSha256(secret, body))}`;
  // Compared in full whatever the first difference, so timing tells nothing.
  if (expected.length !== header.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ header.charCodeAt(i);
  return difference === 0;
}
