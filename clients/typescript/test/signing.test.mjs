// Signed URLs against a server with a signing secret: what the client signs
// is accepted, and any change to the signature or to a parameter, or the
// passing of the expiry, is refused.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ProgImage, Transform } from "../dist/index.js";
import { corpusFile, expectError, startServer } from "./support.mjs";

const secret = "ts-client-signing-secret";

/** The URL with one character of `part` (the value of a parameter) changed. */
function tamper(url, parameter) {
  const u = new URL(url);
  const value = u.searchParams.get(parameter);
  const last = value.at(-1);
  u.searchParams.set(parameter, value.slice(0, -1) + (last === "A" ? "B" : "A"));
  return u.toString();
}

async function get(url) {
  const response = await fetch(url);
  const body = new Uint8Array(await response.arrayBuffer());
  let code;
  try {
    code = JSON.parse(new TextDecoder().decode(body)).error?.code;
  } catch {
    code = undefined;
  }
  return { status: response.status, type: response.headers.get("Content-Type"), body, code };
}

describe("signed URLs", () => {
  let server;
  let client;
  let image;

  before(async () => {
    server = await startServer(["--signing-secret", secret]);
    client = new ProgImage({ baseUrl: server.url, signingSecret: secret });
    image = await client.images.upload(await corpusFile("sharp-fixtures/concert.jpg"));
  });

  after(() => server?.stop());

  const transform = () => new Transform().width(120).height(80).fit("cover").format("webp");

  it("a URL the client signed is served", async () => {
    const url = await client.url(image.id, transform());
    assert.match(url, /[?&]sig=[A-Za-z0-9_-]{43}$/);
    const answer = await get(url);
    assert.equal(answer.status, 200);
    assert.equal(answer.type, "image/webp");
    assert.deepEqual([...answer.body.subarray(8, 12)], [..."WEBP"].map((c) => c.charCodeAt(0)));
  });

  it("a format by extension and an expiry in the future are signed too", async () => {
    const url = await client.url(image.id, "w=50", { ext: "png", expiresIn: 3600 });
    assert.match(url, /\/v1\/images\/[^/?]+\.png\?w=50&exp=\d+&sig=/);
    const answer = await get(url);
    assert.equal(answer.status, 200);
    assert.equal(answer.type, "image/png");
  });

  it("one character changed in the signature is 403 bad_signature", async () => {
    const answer = await get(tamper(await client.url(image.id, transform()), "sig"));
    assert.deepEqual([answer.status, answer.code], [403, "bad_signature"]);
  });

  it("one parameter changed is 403 bad_signature", async () => {
    const url = new URL(await client.url(image.id, transform()));
    url.searchParams.set("w", "121");
    const answer = await get(url.toString());
    assert.deepEqual([answer.status, answer.code], [403, "bad_signature"]);
  });

  it("an expiry moved later is 403 bad_signature", async () => {
    const url = new URL(await client.url(image.id, transform(), { expiresIn: 60 }));
    url.searchParams.set("exp", String(Number(url.searchParams.get("exp")) + 3600));
    const answer = await get(url.toString());
    assert.deepEqual([answer.status, answer.code], [403, "bad_signature"]);
  });

  it("an expired URL is 403 url_expired", async () => {
    const url = await client.url(image.id, transform(), { expiresAt: new Date(Date.now() - 10_000) });
    const answer = await get(url);
    assert.deepEqual([answer.status, answer.code], [403, "url_expired"]);
  });

  it("the client signs its own transform requests; without the secret they are refused", async () => {
    const derivative = await client.images.get(image.id, { transform: transform() });
    assert.equal(derivative.contentType, "image/webp");
    const explained = await client.explain(image.id, transform());
    assert.equal(explained.canonical, transform().toQuery());
    const unsigned = new ProgImage({ baseUrl: server.url });
    await expectError(unsigned.images.get(image.id, { transform: transform() }), 403, "bad_signature");
    await expectError(unsigned.explain(image.id, transform()), 403, "bad_signature");
    const original = await unsigned.images.get(image.id);
    assert.equal(original.status, 200, "the plain original needs no signature");
  });
});
