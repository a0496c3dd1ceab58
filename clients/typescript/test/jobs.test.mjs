// Jobs on a real server's workers: submit, wait with progress, results page
// after page, kept outputs, cancel.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ProgImage, Transform, isFinished } from "../dist/index.js";
import { corpusFile, expectError, startFileServer, startServer } from "./support.mjs";

describe("jobs", () => {
  let server;
  let files;
  let client;
  const ids = [];

  before(async () => {
    files = await startFileServer();
    // One worker, so that a job's items are seen finishing one after another.
    server = await startServer(["--workers", "1", "--fetch-allow", "127.0.0.1/32"]);
    client = new ProgImage({ baseUrl: server.url });
    const names = [
      "exif-orientation/Landscape_1.jpg",
      "exif-orientation/Portrait_1.jpg",
      "sharp-fixtures/concert.jpg",
      "sharp-fixtures/flowers.jpeg",
      "vips-formats/1.webp",
      "vips-formats/sample.jpg",
    ];
    for (const name of names) ids.push((await client.images.upload(await corpusFile(name), { name, tags: ["jobs"] })).id);
  });

  after(async () => {
    await server?.stop();
    await files?.stop();
  });

  it("stores the results; wait reports rising progress; the results iterate in source order", async () => {
    const sources = [...ids, ...ids]; // twelve items
    const params = new Transform().width(640).height(640).fit("cover").blur(2).sharpen(1).format("png");
    const accepted = await client.jobs.submit({ sources, params, format: "png", store: true });
    assert.equal(accepted.total, sources.length);

    const progress = [];
    const job = await client.jobs.wait(accepted.id, { intervalMs: 20, timeoutMs: 120_000, onProgress: (j) => progress.push(j.done) });
    assert.equal(job.status, "completed");
    assert.equal(job.done, sources.length);
    assert.equal(job.params, params.toQuery());
    assert.ok(progress.length >= 2, `progress reported ${progress.length} time(s): ${progress}`);
    assert.equal(progress.at(-1), sources.length);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1], `done went down: ${progress}`);

    const results = [];
    for await (const result of client.jobs.results(accepted.id, { pageSize: 5 })) results.push(result);
    assert.deepEqual(results.map((r) => r.source), sources);
    assert.ok(results.every((r) => r.status === "done" && r.image_id));
    const stored = await client.images.info(results[0].image_id);
    assert.deepEqual([stored.format, stored.width, stored.height], ["png", 640, 640]);
  });

  it("keeps outputs of URL sources without storing them, served as result bytes", async () => {
    const accepted = await client.jobs.submit({
      sources: [{ url: files.url("pngsuite/basn2c08.png") }],
      params: "w=16&format=webp",
      store: false,
    });
    const job = await client.jobs.wait(accepted.id, { intervalMs: 50, timeoutMs: 60_000 });
    assert.equal(job.status, "completed", JSON.stringify(job.results));
    assert.equal(job.results[0].url, `/v1/jobs/${accepted.id}/results/0`);
    const output = await client.jobs.resultBytes(accepted.id, 0);
    assert.equal(output.contentType, "image/webp");
    await expectError(client.jobs.resultBytes(accepted.id, 1), 404, "not_found");
  });

  it("selects sources by a search and can be cancelled", async () => {
    const accepted = await client.jobs.submit({ query: { tag: ["jobs"] }, params: new Transform().width(1200).blur(20).format("avif") });
    assert.equal(accepted.total, ids.length);
    const cancelled = await client.jobs.cancel(accepted.id);
    assert.equal(cancelled.status, "cancelled");
    assert.ok(cancelled.cancelled >= 1, "some items had not started");
    const job = await client.jobs.wait(accepted.id, { intervalMs: 50, timeoutMs: 120_000 });
    assert.ok(isFinished(job));
    assert.equal(job.done + job.failed + job.cancelled, job.total, "items under way were counted once they finished");
  });

  it("wait gives up at its timeout", async () => {
    const accepted = await client.jobs.submit({ sources: ids, params: new Transform().width(1600).blur(30).format("avif") });
    await expectError(client.jobs.wait(accepted.id, { intervalMs: 10, timeoutMs: 30 }), 0, "client_timeout");
    await client.jobs.cancel(accepted.id);
  });

  it("a bad job is 400 bad_parameter", async () => {
    await expectError(client.jobs.submit({ sources: ["noSuchImage0000000000"], params: "w=10" }), 400, "bad_parameter");
  });
});
