// Credentials, tenants, quotas, usage, upload links, resumable uploads and
// the operational endpoints, against a server that is not open.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { ProgImage } from "../dist/index.js";
import { uploadFileResumable } from "../dist/node.js";
import { corpusFile, expectError, startServer } from "./support.mjs";

const operatorKey = "ts-operator-admin-key";

describe("keys, tenants and administration", () => {
  let server;
  let operator;
  let acme; // a write key of tenant acme, made through the API
  let acmeKey;
  let jpeg;

  before(async () => {
    server = await startServer(["--api-key", `${operatorKey}:admin:*`]);
    operator = new ProgImage({ baseUrl: server.url, key: operatorKey });
    jpeg = await corpusFile("sharp-fixtures/concert.jpg");
  });

  after(() => server?.stop());

  it("refuses a request without a key, or with an unknown one, as 401 unauthorized", async () => {
    await expectError(new ProgImage({ baseUrl: server.url }).images.upload(jpeg), 401, "unauthorized");
    await expectError(new ProgImage({ baseUrl: server.url, key: "nope" }).images.tags(), 401, "unauthorized");
  });

  it("makes, lists and revokes managed keys", async () => {
    acmeKey = await operator.keys.create({ role: "write", name: "acme uploader", tenant: "acme", rate_limit: { per_second: 50, burst: 100 } });
    assert.match(acmeKey.key, /^pik_[A-Za-z0-9]{44}$/);
    assert.deepEqual([acmeKey.role, acmeKey.tenant, acmeKey.rate_limit], ["write", "acme", { per_second: 50, burst: 100 }]);
    acme = new ProgImage({ baseUrl: server.url, key: acmeKey.key });

    const listed = await operator.keys.list();
    assert.ok(listed.some((k) => k.id === acmeKey.id && k.prefix === acmeKey.key.slice(0, 12) && !("key" in k)));

    const reader = await operator.keys.create({ role: "read", tenant: "acme" });
    const readerClient = new ProgImage({ baseUrl: server.url, key: reader.key });
    await expectError(readerClient.images.upload(jpeg), 403, "forbidden");
    await operator.keys.revoke(reader.id);
    await expectError(readerClient.images.tags(), 401, "unauthorized");
  });

  it("keeps tenants apart; an operator acts as one with tenant", async () => {
    const image = await acme.images.upload(jpeg, { tags: ["acme-only"] });
    const asAcme = new ProgImage({ baseUrl: server.url, key: operatorKey, tenant: "acme" });
    assert.equal((await asAcme.images.info(image.id)).id, image.id);
    const asOther = new ProgImage({ baseUrl: server.url, key: operatorKey, tenant: "other" });
    await expectError(asOther.images.info(image.id), 404, "not_found");
    assert.deepEqual(await asOther.images.tags(), []);
  });

  it("sets and reads quotas; an upload over one is 403 quota_exceeded", async () => {
    const quota = await operator.quotas.set("acme", { images: 1, bytes: null });
    assert.deepEqual([quota.tenant, quota.images, quota.bytes, quota.used.images], ["acme", 1, null, 1]);
    assert.equal((await acme.quotas.get("acme")).images, 1);
    await expectError(acme.images.upload(await corpusFile("pngsuite/basn2c08.png")), 403, "quota_exceeded");
    await expectError(acme.quotas.set("acme", { images: 5 }), 403, "forbidden");
    await operator.quotas.set("acme", {});
  });

  it("reports usage and stats", async () => {
    const usage = await acme.usage({ key: "self" });
    const days = usage.keys.flatMap((k) => k.days);
    assert.ok(days.some((d) => d.uploads >= 1 && d.requests >= 1), JSON.stringify(usage));
    const stats = await operator.stats();
    assert.ok(stats.images >= 1);
    assert.ok(stats.formats.some((f) => f.format === "jpeg"));
    const secret = await operator.jobs.callbackSecret();
    assert.deepEqual([secret.source, secret.algorithm, secret.header], ["generated", "HMAC-SHA256", "X-ProgImage-Signature"]);
  });

  it("upload links take uploads without a key, count their uses and end when revoked", async () => {
    const link = await operator.uploadLinks.create({ expires_in: "PT1H", max_uploads: 3, tags: ["linked"], formats: ["png", "jpeg"] });
    assert.match(link.url, /^\/v1\/uploads\/[A-Za-z0-9]{44}$/);
    const anonymous = new ProgImage({ baseUrl: server.url });
    const image = await anonymous.uploadLinks.upload(link.url, jpeg, { name: "linked.jpg" });
    assert.deepEqual(image.tags, ["linked"]);
    await expectError(anonymous.uploadLinks.upload(link.url, await corpusFile("vips-formats/1.webp")), 415, "unsupported_media");

    const links = [];
    for await (const l of operator.uploadLinks.list({ pageSize: 1 })) links.push(l);
    const listed = links.find((l) => l.id === link.id);
    assert.deepEqual([listed.uses, listed.status, listed.url], [1, "active", undefined]);

    await operator.uploadLinks.revoke(link.id);
    await expectError(anonymous.uploadLinks.upload(link.url, jpeg), 410, "link_expired");
  });

  it("uploads in resumable chunks, and resumes an upload cut off", async () => {
    const bytes = await corpusFile("sharp-fixtures/flowers.jpeg");
    const seen = [];
    const whole = await acme.resumable.upload(bytes, { name: "flowers.jpeg", chunkSize: 16 * 1024, onProgress: (offset) => seen.push(offset) });
    assert.equal(seen.at(-1), bytes.length);
    assert.ok(seen.length >= 5);
    const stored = await acme.images.get(whole.imageId);
    assert.equal(Buffer.compare(Buffer.from(stored.bytes), bytes), 0);

    // Cut off after the first chunk, then resumed from what the server holds.
    const other = await corpusFile("exif-orientation/Landscape_1.jpg");
    const controller = new AbortController();
    let uploadUrl;
    await assert.rejects(
      acme.resumable.upload(other, {
        chunkSize: 64 * 1024,
        signal: controller.signal,
        onCreated: (url) => (uploadUrl = url),
        onProgress: () => controller.abort(new Error("cut off")),
      }),
      /cut off/,
    );
    const state = await acme.resumable.state(uploadUrl);
    assert.deepEqual([state.offset, state.length, state.imageId], [64 * 1024, other.length, undefined]);
    const resumed = await acme.resumable.resume(uploadUrl, new Blob([other]), { chunkSize: 256 * 1024 });
    const back = await acme.images.get(resumed.imageId);
    assert.equal(Buffer.compare(Buffer.from(back.bytes), other), 0);
  });

  it("resumable uploads through a link need no key, and a file goes in pieces", async () => {
    const link = await operator.uploadLinks.create({ expires_in: "PT1H", tags: ["tus-linked"] });
    const anonymous = new ProgImage({ baseUrl: server.url });
    const bytes = await corpusFile("vips-formats/sample.jpg");
    const done = await anonymous.resumable.upload(bytes, { link: link.url, chunkSize: 8192 });
    assert.deepEqual((await operator.images.info(done.imageId)).tags, ["tus-linked"]);

    const dir = await mkdtemp(join(tmpdir(), "progimage-ts-file-"));
    try {
      const photo = await corpusFile("exif-samples/jpg/gps/DSCN0010.jpg");
      const path = join(dir, "a photo with gps.jpg");
      await writeFile(path, photo);
      const fromFile = await uploadFileResumable(operator, path, { chunkSize: 4096 });
      const info = await operator.images.info(fromFile.imageId);
      assert.deepEqual([info.name, info.size, info.duplicate], ["a photo with gps.jpg", photo.length, undefined]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Bytes that are no image are refused when the last one arrives.
    await expectError(acme.resumable.upload(new TextEncoder().encode("only text, no image")), 415, "unsupported_media");
  });

  it("answers health, readiness, metrics and its OpenAPI description without a key", async () => {
    const anonymous = new ProgImage({ baseUrl: server.url });
    assert.deepEqual(await anonymous.health(), { status: "ok" });
    assert.equal(await anonymous.ready(), true);
    assert.match(await anonymous.metrics(), /progimage_http_requests_total/);
    const doc = await anonymous.openapi();
    assert.equal(doc.openapi, "3.1.0");
    assert.ok("/v1/images" in doc.paths);
  });
});
