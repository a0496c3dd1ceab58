// The retry policy against storms of 429 and 503 (and dropped connections)
// from tests/clients/storm_proxy.py, which stands between the client and a
// real server.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";

import { ProgImage } from "../dist/index.js";
import { corpusFile, expectError, startServer, startStormProxy } from "./support.mjs";

describe("retries through a storm", () => {
  let server;
  let proxy;
  let client;
  let jpeg;

  before(async () => {
    server = await startServer();
    proxy = await startStormProxy(server.url);
    client = new ProgImage({ baseUrl: proxy.url, retry: { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 5000 } });
    jpeg = await corpusFile("sharp-fixtures/concert.jpg");
  });

  after(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  beforeEach(() => proxy.reset());

  it("an upload gets through 4 answers of 429 and 503, waiting Retry-After between them", async () => {
    await proxy.arm({ count: 4, statuses: [429, 503], retry_after: 1, methods: ["POST"], path_prefix: "/v1/images" });
    const image = await client.images.upload(jpeg, { name: "storm.jpg" });
    assert.equal(image.width, 400);

    const log = (await proxy.log()).filter((e) => e.path.startsWith("/v1/images"));
    assert.deepEqual(
      log.map((e) => [e.method, e.answer]),
      [["POST", 429], ["POST", 503], ["POST", 429], ["POST", 503], ["POST", 201]],
    );
    for (let i = 1; i < log.length; i++) {
      const gap = log[i].t - log[i - 1].t;
      assert.ok(gap >= 0.95, `attempt ${i + 1} came ${gap.toFixed(3)} s after the one before, within Retry-After: 1`);
    }
  });

  it("a GET without Retry-After backs off and gets through", async () => {
    const image = await client.images.upload(jpeg);
    await proxy.reset();
    await proxy.arm({ count: 3, statuses: [503], retry_after: null, methods: ["GET"] });
    const info = await client.images.info(image.id);
    assert.equal(info.id, image.id);
    assert.deepEqual((await proxy.log()).map((e) => e.answer), [503, 503, 503, 200]);
  });

  it("a storm longer than the attempts ends in the last answer's error", async () => {
    const patient = new ProgImage({ baseUrl: proxy.url, retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 5000 } });
    await proxy.arm({ count: 10, statuses: [503], retry_after: 0 });
    const error = await expectError(patient.images.upload(jpeg), 503, "unavailable");
    assert.match(error.message, /storm/);
    assert.deepEqual((await proxy.log()).map((e) => e.answer), [503, 503, 503]);
  });

  it("a Retry-After over maxDelayMs is not waited for", async () => {
    await proxy.arm({ count: 1, statuses: [429], retry_after: 30 });
    const started = Date.now();
    const error = await expectError(client.images.upload(jpeg), 429, "rate_limited");
    assert.equal(error.retryAfterMs, 30_000);
    assert.ok(Date.now() - started < 5000);
    assert.equal((await proxy.log()).length, 1);
  });

  it("a dropped connection is retried for a GET, not for an upload", async () => {
    const image = await client.images.upload(jpeg);
    await proxy.reset();
    await proxy.arm({ count: 2, drop: true, methods: ["GET"] });
    const original = await client.images.get(image.id);
    assert.equal(original.bytes.length, jpeg.length);
    assert.deepEqual((await proxy.log()).map((e) => e.answer), ["dropped", "dropped", 200]);

    await proxy.reset();
    await proxy.arm({ count: 1, drop: true, methods: ["POST"] });
    await expectError(client.images.upload(jpeg), 0, "network_error");
    assert.deepEqual((await proxy.log()).map((e) => e.answer), ["dropped"]);
  });
});
