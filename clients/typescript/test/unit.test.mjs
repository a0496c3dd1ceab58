// The parts that need no server: canonical spelling, signatures, Retry-After,
// and the retry policy against a scripted fetch.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";

import {
  ProgImage,
  ProgImageError,
  Transform,
  backoffDelay,
  parseRetryAfter,
  signature,
  signingMessage,
  verifyCallbackSignature,
} from "../dist/index.js";

describe("Transform.toQuery spells values as the server's canonical form", () => {
  const cases = [
    [() => new Transform().width(300).height(300).fit("cover").format("webp"), "fit=cover&format=webp&h=300&w=300"],
    [() => new Transform().fit("inside").dpr(1).gravity("centre").autorotate(true).strip(true).enlarge(false), ""],
    [() => new Transform().rotate(-90), "rotate=270"],
    [() => new Transform().rotate(720), ""],
    [() => new Transform().hue(-30), "hue=330"],
    [() => new Transform().hue(359.9999999), "hue=0"],
    [() => new Transform().blur(0.30000004).brightness(1.23456789), "blur=0.3&brightness=1.234568"],
    [() => new Transform().brightness(1), "brightness=1"],
    [() => new Transform().dpr(2.5).width(100), "dpr=2.5&w=100"],
    [() => new Transform().tint("#ABCDEF"), "tint=abcdef"],
    [() => new Transform().background("112233FF"), "bg=112233"],
    [() => new Transform().background("11223380"), "bg=11223380"],
    [() => new Transform().format("JPG"), "format=jpeg"],
    [() => new Transform().format("tif"), "format=tiff"],
    [() => new Transform().trim(), "trim=10"],
    [() => new Transform().trim(40).trim(false), ""],
    [() => new Transform().flip("vh"), "flip=hv"],
    [() => new Transform().gravity({ x: 0.25, y: 1 }), "gravity=fp:0.25:1"],
    [() => new Transform().gravity("smart"), "gravity=smart"],
    [() => new Transform().crop({ x: 0, y: 5, width: 10, height: 20 }), "crop=0,5,10,20"],
    [() => new Transform().watermark("abc", { gravity: "southeast", opacity: 0.5, scale: 0.3 }), "watermark=abc&wm_scale=0.3"],
    [() => new Transform().watermark("abc", { gravity: "centre", opacity: 0.25 }), "watermark=abc&wm_gravity=center&wm_opacity=0.25"],
    [() => new Transform().mask({ rounded: 12 }), "mask=rounded:12"],
    [() => new Transform().quality(80).lossless().progressive().effort(0).strip(false), "effort=0&lossless=true&progressive=true&q=80&strip=false"],
    [() => new Transform().page(0).animated(), "animated=true&page=0"],
    [() => new Transform().width(100).width(200), "w=200"],
  ];
  for (const [make, expected] of cases) {
    it(`${make.toString().slice(6)} → "${expected}"`, () => assert.equal(make().toQuery(), expected));
  }

  it("refuses values outside the documented ranges", () => {
    assert.throws(() => new Transform().width(0), RangeError);
    assert.throws(() => new Transform().width(1.5), RangeError);
    assert.throws(() => new Transform().height(16385), RangeError);
    assert.throws(() => new Transform().blur(0.2), RangeError);
    assert.throws(() => new Transform().gamma(Number.NaN), RangeError);
    assert.throws(() => new Transform().format("bmp"), RangeError);
    assert.throws(() => new Transform().tint("12345"), RangeError);
    assert.throws(() => new Transform().tint("11223344"), RangeError);
    assert.throws(() => new Transform().watermark("not an id"), RangeError);
    assert.throws(() => new Transform().watermark("abc", { scale: 0 }), RangeError);
    assert.throws(() => new Transform().gravity({ x: 1.5, y: 0 }), RangeError);
  });
});

describe("URL signatures", () => {
  it("match the worked example of src/ops/README.md", async () => {
    const path = "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp";
    const params = [["w", "300"], ["h", "300"], ["fit", "cover"]];
    assert.equal(signingMessage(path, params), `${path}?fit=cover&h=300&w=300`);
    assert.equal(await signature("topsecret", path, params), "CdAick1KCB_HpSpNVXoXcdnDNXWSxcft3HokmZkLhmY");
  });

  it("sort by key then value, percent-encode all but unreserved, and leave sig out", () => {
    const message = signingMessage("/p", [["tag", "b"], ["sig", "x"], ["tag", "a b"], ["q", "é*~"], ["a", ""]]);
    assert.equal(message, "/p?a=&q=%C3%A9%2A~&tag=a%20b&tag=b");
  });

  it("verify callbacks keyed with the secret over the raw body", async () => {
    const body = '{"id":"j1","status":"completed"}';
    const good = `sha256=${createHmac("sha256", "cbsecret").update(body).digest("hex")}`;
    assert.equal(await verifyCallbackSignature("cbsecret", body, good), true);
    assert.equal(await verifyCallbackSignature("cbsecret", `${body} `, good), false);
    assert.equal(await verifyCallbackSignature("other", body, good), false);
    assert.equal(await verifyCallbackSignature("cbsecret", body, undefined), false);
  });
});

describe("Retry-After and backoff", () => {
  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("3", now), 3000);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
    assert.equal(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  it("draws full jitter under an exponential ceiling capped at maxDelayMs", () => {
    const retry = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 700 };
    assert.equal(backoffDelay(1, retry, () => 0), 0);
    assert.equal(backoffDelay(1, retry, () => 0.999), 99);
    assert.equal(backoffDelay(3, retry, () => 0.999), 399);
    assert.equal(backoffDelay(6, retry, () => 0.999), 699);
  });
});

/** A fetch that plays `script` (answers, or errors to throw) in order and records the requests. */
function scriptedFetch(script) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const step = script[Math.min(calls.length - 1, script.length - 1)];
    if (step instanceof Error) throw step;
    if (step === "hang") {
      return new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(new Error("aborted"))));
    }
    const [status, body = "{}", headers = {}] = step;
    return new Response(status === 204 ? null : body, { status, headers: { "X-Request-Id": `r${calls.length}`, ...headers } });
  };
  return { fetch, calls };
}

const busy = [503, '{"error":{"code":"overloaded","message":"busy"}}', { "Retry-After": "0" }];
const fastRetry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1000 };

function client(fetch, options = {}) {
  return new ProgImage({ baseUrl: "http://progimage.test/", key: "k1", fetch, retry: fastRetry, ...options });
}

describe("the retry policy", () => {
  it("sends an upload again after 503s and answers its result", async () => {
    const { fetch, calls } = scriptedFetch([busy, busy, [201, '{"id":"abc"}']]);
    const image = await client(fetch).images.upload(new Uint8Array([1, 2, 3]), { name: "a.png", tags: ["x", "y"] });
    assert.equal(image.id, "abc");
    assert.equal(calls.length, 3);
    assert.equal(calls[0].url, "http://progimage.test/v1/images?name=a.png&tags=x%2Cy");
    assert.equal(new Headers(calls[0].init.headers).get("Authorization"), "Bearer k1");
  });

  it("gives up after maxAttempts with the last answer's error", async () => {
    const { fetch, calls } = scriptedFetch([busy]);
    const error = await client(fetch).images.info("abc").catch((e) => e);
    assert.ok(error instanceof ProgImageError);
    assert.deepEqual([error.status, error.code, error.requestId, calls.length], [503, "overloaded", "r3", 3]);
  });

  it("does not wait for a Retry-After longer than maxDelayMs", async () => {
    const { fetch, calls } = scriptedFetch([[429, '{"error":{"code":"rate_limited","message":"slow"}}', { "Retry-After": "120" }]]);
    const error = await client(fetch).images.info("abc").catch((e) => e);
    assert.deepEqual([error.code, error.retryAfterMs, calls.length], ["rate_limited", 120_000, 1]);
  });

  it("retries a GET after a lost connection, never a POST", async () => {
    const lost = new TypeError("fetch failed");
    const get = scriptedFetch([lost, lost, [200, '{"id":"abc"}']]);
    assert.equal((await client(get.fetch).images.info("abc")).id, "abc");
    assert.equal(get.calls.length, 3);
    const post = scriptedFetch([lost, [201, '{"id":"abc"}']]);
    const error = await client(post.fetch).images.upload(new Uint8Array([1])).catch((e) => e);
    assert.deepEqual([error.status, error.code, post.calls.length], [0, "network_error", 1]);
  });

  it("never sends a stream twice", async () => {
    const { fetch, calls } = scriptedFetch([busy, [201, '{"id":"abc"}']]);
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) });
    const error = await client(fetch).images.upload(stream).catch((e) => e);
    assert.deepEqual([error.status, calls.length], [503, 1]);
  });

  it("ends an attempt at timeoutMs and calls it client_timeout", async () => {
    const { fetch, calls } = scriptedFetch(["hang"]);
    const error = await client(fetch, { timeoutMs: 50 }).images.info("abc").catch((e) => e);
    assert.deepEqual([error.status, error.code, calls.length], [0, "client_timeout", 3]);
  });

  it("does not retry what the caller aborted", async () => {
    const { fetch, calls } = scriptedFetch(["hang"]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("caller gave up")), 30);
    const error = await client(fetch).images.info("abc", { signal: controller.signal }).catch((e) => e);
    assert.equal(error.message, "caller gave up");
    assert.equal(calls.length, 1);
  });

  it("keeps an answer that is not an API error as http_error", async () => {
    const { fetch } = scriptedFetch([[502, "<html>bad gateway</html>"]]);
    const error = await client(fetch).images.info("abc").catch((e) => e);
    assert.deepEqual([error.status, error.code], [502, "http_error"]);
    assert.match(error.message, /bad gateway/);
  });
});

describe("ProgImage.fromEnv", () => {
  it("reads PROGIMAGE_URL and PROGIMAGE_KEY", async () => {
    const { fetch, calls } = scriptedFetch([[200, '{"status":"ok"}']]);
    const c = ProgImage.fromEnv({ PROGIMAGE_URL: "http://env.test", PROGIMAGE_KEY: "envkey" }, { fetch });
    await c.images.tags();
    assert.equal(calls[0].url, "http://env.test/v1/tags");
    assert.equal(new Headers(calls[0].init.headers).get("Authorization"), "Bearer envkey");
  });

  it("needs PROGIMAGE_URL", () => {
    assert.throws(() => ProgImage.fromEnv({}), /PROGIMAGE_URL/);
  });
});
