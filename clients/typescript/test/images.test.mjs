// Stored images end to end with real corpus files: upload in every input
// form, read back, inspect, change, search, derive, transform, delete.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { after, before, describe, it } from "node:test";

import { ProgImage, Transform } from "../dist/index.js";
import { uploadFile, uploadStream } from "../dist/node.js";
import { corpusFile, corpusPath, expectError, startFileServer, startServer } from "./support.mjs";

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("images", () => {
  let server;
  let files;
  let client;
  const stored = {}; // corpus name -> image

  before(async () => {
    files = await startFileServer();
    // The remote import fetches from the file server on loopback, which the guard refuses unless allowed.
    server = await startServer(["--fetch-allow", "127.0.0.1/32"]);
    client = new ProgImage({ baseUrl: server.url });
  });

  after(async () => {
    await server?.stop();
    await files?.stop();
  });

  it("uploads bytes, a Blob, a web stream, a Node stream and a file, each read back byte for byte", async () => {
    const jpeg = await corpusFile("sharp-fixtures/concert.jpg");
    stored.jpeg = await client.images.upload(jpeg, { name: "concert.jpg", description: "a #concert at night", tags: ["Live", "music"] });
    const png = await corpusFile("pngsuite/basn6a08.png");
    stored.png = await client.images.upload(new Blob([png], { type: "image/png" }), { name: "alpha.png" });
    const webp = await corpusFile("vips-formats/1.webp");
    stored.webp = await client.images.upload(new Blob([webp]).stream(), { name: "one.webp", tags: ["music"] });
    stored.gif = await uploadStream(client, createReadStream(corpusPath("vips-formats/cramps.gif")), { name: "cramps.gif" });
    stored.tiff = await uploadFile(client, corpusPath("sharp-fixtures/8bit_depth.tiff"));

    const expected = {
      jpeg: [jpeg, "jpeg", 400, 267],
      png: [png, "png", 32, 32],
      webp: [webp, "webp", 550, 368],
      gif: [await corpusFile("vips-formats/cramps.gif"), "gif", 159, 203],
      tiff: [await corpusFile("sharp-fixtures/8bit_depth.tiff"), "tiff", 21, 21],
    };
    for (const [key, [bytes, format, width, height]] of Object.entries(expected)) {
      const image = stored[key];
      assert.deepEqual([image.format, image.width, image.height, image.size, image.duplicate], [format, width, height, bytes.length, false], key);
      assert.equal(image.sha256, sha256(bytes), key);
      const original = await client.images.get(image.id);
      assert.equal(Buffer.compare(Buffer.from(original.bytes), bytes), 0, `${key}: the original comes back unchanged`);
      assert.equal(original.etag, `"${image.sha256}"`);
    }
    assert.equal(stored.tiff.name, "8bit_depth.tiff");
    assert.deepEqual([...stored.jpeg.tags].sort(), ["concert", "live", "music"]);
  });

  it("answers the same image for the same bytes, marked duplicate", async () => {
    const again = await client.images.upload(await corpusFile("sharp-fixtures/concert.jpg"));
    assert.equal(again.id, stored.jpeg.id);
    assert.equal(again.duplicate, true);
  });

  it("imports a remote URL", async () => {
    const image = await client.images.import({ url: files.url("exif-samples/jpg/Canon_40D.jpg") }, { tags: ["remote"] });
    assert.deepEqual([image.format, image.width, image.height, image.tags], ["jpeg", 100, 68, ["remote"]]);
    assert.equal(image.sha256, sha256(await corpusFile("exif-samples/jpg/Canon_40D.jpg")));
    stored.remote = image;
  });

  it("stores each multipart part on its own, a bad one failing alone", async () => {
    const result = await client.images.uploadMany(
      [
        { data: await corpusFile("pngsuite/basn2c08.png"), filename: "rgb.png", contentType: "image/png" },
        { data: new TextEncoder().encode("not an image"), filename: "bad.png" },
      ],
      { tags: ["batch"] },
    );
    assert.equal(result.images.length, 2);
    assert.deepEqual([result.images[0].width, result.images[0].tags], [32, ["batch"]]);
    assert.equal(result.images[1].error.code, "unsupported_media");
  });

  it("reads info with EXIF", async () => {
    const info = await client.images.info(stored.remote.id);
    assert.equal(info.exif.make, "Canon");
    assert.equal(info.camera.model, "Canon EOS 40D");
    assert.match(info.phash, /^[0-9a-f]{16}$/);
    assert.match(info.dominant_color, /^#[0-9a-f]{6}$/);
  });

  it("patches description, tags and focus", async () => {
    const patched = await client.images.update(stored.png.id, { description: "a #sunset here", tags: ["Sky"], focus: { x: 0.25, y: 0.75 } });
    assert.equal(patched.description, "a #sunset here");
    assert.deepEqual([...patched.tags].sort(), ["sky", "sunset"]);
    assert.deepEqual(patched.focus, { x: 0.25, y: 0.75 });
    const cleared = await client.images.update(stored.png.id, { focus: null });
    assert.equal(cleared.focus, null);
  });

  it("iterates the list page after page, newest first, and searches", async () => {
    const seen = [];
    for await (const image of client.images.list({ pageSize: 2 })) seen.push(image.id);
    const expected = [];
    for (let page = await client.images.page({ limit: 1000 }); ; ) {
      expected.push(...page.images.map((i) => i.id));
      if (!page.next_cursor) break;
      page = await client.images.page({ limit: 1000, cursor: page.next_cursor });
    }
    assert.ok(seen.length >= 7, `only ${seen.length} images listed`);
    assert.deepEqual(seen, expected);
    assert.equal(new Set(seen).size, seen.length, "no image twice");

    const music = [];
    for await (const image of client.images.list({ tag: ["music"], pageSize: 1 })) music.push(image.id);
    assert.deepEqual(music.sort(), [stored.jpeg.id, stored.webp.id].sort());
    const night = [];
    for await (const image of client.images.list({ q: "night" })) night.push(image.id);
    assert.deepEqual(night, [stored.jpeg.id]);
    const tags = await client.images.tags();
    assert.deepEqual(tags.find((t) => t.tag === "music"), { tag: "music", images: 2 });
  });

  it("serves derivatives, lists and purges them", async () => {
    const transform = new Transform().width(100).format("webp");
    const derivative = await client.images.get(stored.jpeg.id, { transform });
    assert.equal(derivative.contentType, "image/webp");
    assert.equal(derivative.cache, "miss");
    assert.equal((await client.images.get(stored.jpeg.id, { transform })).cache, "hit");
    const asPng = await client.images.get(stored.jpeg.id, { ext: "png" });
    assert.equal(asPng.contentType, "image/png");

    const listed = await client.images.derivatives(stored.jpeg.id);
    assert.ok(listed.some((d) => d.params === transform.toQuery() && d.width === 100), JSON.stringify(listed));
    await client.images.purgeDerivatives(stored.jpeg.id);
    assert.deepEqual(await client.images.derivatives(stored.jpeg.id), []);
  });

  it("answers 304 for a held ETag and 206 for a range", async () => {
    const fresh = await client.images.get(stored.jpeg.id, { ifNoneMatch: `"${stored.jpeg.sha256}"` });
    assert.equal(fresh.status, 304);
    const head = await client.images.get(stored.jpeg.id, { range: "bytes=0-9" });
    assert.equal(head.status, 206);
    assert.deepEqual(Buffer.from(head.bytes), (await corpusFile("sharp-fixtures/concert.jpg")).subarray(0, 10));
  });

  it("transforms without storing: bytes, a stored image and a remote URL", async () => {
    const before = (await client.images.page({ limit: 1000 })).images.length;
    const fromBytes = await client.transform(await corpusFile("vips-formats/1.webp"), new Transform().width(55).format("png"));
    assert.equal(fromBytes.contentType, "image/png");
    const fromStored = await client.transform({ id: stored.jpeg.id }, "w=40&format=jpeg");
    assert.equal(fromStored.contentType, "image/jpeg");
    const fromRemote = await client.transform({ url: files.url("pngsuite/basn2c08.png") }, new Transform().width(16).format("webp"));
    assert.equal(fromRemote.contentType, "image/webp");
    const viaGet = await client.transformRemote(files.url("pngsuite/basn2c08.png"), new Transform().width(8).format("png"));
    assert.equal(viaGet.contentType, "image/png");
    assert.equal((await client.images.page({ limit: 1000 })).images.length, before, "nothing was stored");

    // The rendered sizes, read by the server itself.
    const measured = await client.images.upload(fromBytes.bytes);
    assert.deepEqual([measured.width, measured.height], [55, 37]);
  });

  it("finds similar images by id and by bytes", async () => {
    const copy = await client.transform(await corpusFile("sharp-fixtures/concert.jpg"), new Transform().width(200).format("png"));
    const copyImage = await client.images.upload(copy.bytes, { name: "small copy.png" });
    const byId = await client.images.similar(stored.jpeg.id);
    assert.ok(byId.some((s) => s.image.id === copyImage.id && s.distance <= 10), JSON.stringify(byId));
    const byBytes = await client.images.similarTo(await corpusFile("sharp-fixtures/concert.jpg"), { max_distance: 10 });
    assert.ok(byBytes.some((s) => s.image.id === stored.jpeg.id && s.distance === 0), JSON.stringify(byBytes));
  });

  it("serves preset variants once made", async () => {
    let answer = await client.images.variant(stored.jpeg.id, "thumb");
    for (let i = 0; answer.status === "pending" && i < 100; i++) {
      await sleep(100);
      answer = await client.images.variant(stored.jpeg.id, "thumb");
    }
    assert.equal(answer.status, "ready");
    assert.ok(answer.image.bytes.length > 0);
    await expectError(client.images.variant(stored.jpeg.id, "no-such-variant"), 404, "not_found");
  });

  it("deletes, then answers 404 not_found with the request id", async () => {
    await client.images.delete(stored.gif.id);
    const error = await expectError(client.images.get(stored.gif.id), 404, "not_found");
    assert.match(error.requestId, /^[A-Za-z0-9._-]+$/);
    const named = await expectError(client.images.info(stored.gif.id, { requestId: "ts-client-test-1" }), 404, "not_found");
    assert.equal(named.requestId, "ts-client-test-1");
  });

  it("refuses a bad parameter with 400 bad_parameter", async () => {
    await expectError(client.images.get(stored.jpeg.id, { transform: "w=0" }), 400, "bad_parameter");
  });
});
