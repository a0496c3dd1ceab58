// The builder's query against the server's own canonical form: for each
// transform, `toQuery()` must equal the `canonical` of GET /explain.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ProgImage, Transform } from "../dist/index.js";
import { corpusFile, startServer } from "./support.mjs";

describe("Transform.toQuery equals the server's canonical form", () => {
  let server;
  let client;
  let photo;
  let mark;

  before(async () => {
    server = await startServer();
    client = new ProgImage({ baseUrl: server.url });
    photo = await client.images.upload(await corpusFile("sharp-fixtures/concert.jpg"), { name: "concert.jpg" });
    mark = await client.images.upload(await corpusFile("pngsuite/basn6a08.png"), { name: "mark.png" });
  });

  after(() => server?.stop());

  // Each with a format, since the canonical form includes the output format.
  const transforms = {
    "resize and cover": () => new Transform().width(300).height(200).fit("cover").format("webp"),
    "defaults spelled out": () =>
      new Transform().width(120).fit("inside").dpr(1).gravity("centre").enlarge(false).autorotate(true).strip(true).format("png"),
    "dpr and enlarge": () => new Transform().width(64).dpr(2.5).enlarge().format("jpg"),
    "contain with a translucent background": () =>
      new Transform().width(200).height(200).fit("contain").background("#FFAA0080").format("png"),
    "opaque background spelled with alpha": () => new Transform().width(50).background("102030FF").format("jpeg"),
    "focal point gravity": () => new Transform().width(100).height(100).fit("cover").gravity({ x: 0.333333333, y: 1 }).format("avif"),
    "smart gravity, fill": () => new Transform().width(80).height(40).fit("fill").gravity("smart").format("webp"),
    "crop, then rotate by a negative angle": () => new Transform().crop({ x: 10, y: 20, width: 200, height: 150 }).rotate(-90).format("png"),
    "rotate past a turn, flip vh": () => new Transform().rotate(450).flip("vh").format("gif"),
    "every filter": () =>
      new Transform()
        .width(90)
        .blur(1.25)
        .sharpen(0.5)
        .grayscale()
        .sepia()
        .negate()
        .brightness(1.1)
        .saturation(0.75)
        .hue(-45)
        .contrast(1.2)
        .gamma(2.2)
        .format("jpeg"),
    "many decimals, rounded": () => new Transform().width(40).blur(0.3000004).brightness(1.23456789).hue(725.5).format("png"),
    "tint in capitals": () => new Transform().width(30).tint("#A1B2C3").format("tiff"),
    "masks: circle": () => new Transform().width(60).mask("circle").format("png"),
    "masks: rounded": () => new Transform().width(60).mask({ rounded: 8 }).format("webp"),
    "masks: a stored image": () => new Transform().width(60).mask({ image: mark.id }).format("png"),
    "watermark with every option": () =>
      new Transform().width(200).watermark(mark.id, { gravity: "northwest", opacity: 0.8, scale: 0.1 }).format("jpeg"),
    "watermark with its defaults": () =>
      new Transform().width(200).watermark(mark.id, { gravity: "southeast", opacity: 0.5, scale: 0.25 }).format("png"),
    "watermark at a focal point": () => new Transform().width(200).watermark(mark.id, { gravity: { x: 0.5, y: 0.25 } }).format("webp"),
    "trim true and encoder options": () => new Transform().trim().quality(70).progressive().effort(3).strip(false).format("jpeg"),
    "trim threshold, lossless": () => new Transform().trim(25).lossless().effort(9).format("webp"),
    "page, animated, autorotate off": () => new Transform().page(0).animated().autorotate(false).format("gif"),
    "tif alias": () => new Transform().height(77).format("tif"),
  };

  for (const [name, make] of Object.entries(transforms)) {
    it(name, async () => {
      const transform = make();
      const explained = await client.explain(photo.id, transform);
      assert.equal(transform.toQuery(), explained.canonical);
    });
  }

  it("covers at least 15 transforms", () => assert.ok(Object.keys(transforms).length >= 15));

  it("gives equal queries for equal transforms, however they were spelled", async () => {
    const a = new Transform().format("jpg").width(100).gravity("centre").hue(360 + 10);
    const b = new Transform().hue(10).width(100).format("JPEG");
    assert.equal(a.toQuery(), b.toQuery());
    assert.equal((await client.explain(photo.id, a)).canonical, (await client.explain(photo.id, b)).canonical);
  });
});
