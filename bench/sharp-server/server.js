// The comparison server for bench/bench_transform.sh: sharp behind node:cluster
// with one worker per core, serving GET /resize?file=NAME&w=300&format=jpeg|webp|avif
// from the files in IMAGE_DIR. Listens on 127.0.0.1:$PORT.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const port = Number(process.env.PORT || 8090);
const dir = process.env.IMAGE_DIR || '.';
const workers = Number(process.env.WORKERS || os.availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code) => console.error(`worker ${w.process.pid} exited with ${code}`));
  // The primary only supervises; its children serve.
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      for (const id in cluster.workers) cluster.workers[id].kill();
      process.exit(0);
    });
  }
} else {
  const sharp = require('sharp');
  // As in ProgImage: one libvips thread per image, parallelism across requests; no operation cache.
  sharp.concurrency(1);
  sharp.cache(false);
  const encoderOptions = {
    jpeg: { quality: 80, optimiseCoding: true },
    webp: { quality: 80 },
    avif: { quality: 50, effort: 2 },
  };
  const mime = { jpeg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif' };
  http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      const file = url.searchParams.get('file');
      const w = Number(url.searchParams.get('w') || 300);
      const format = url.searchParams.get('format') || 'jpeg';
      if (url.pathname !== '/resize' || !file || file.includes('/') || !mime[format]) {
        res.writeHead(400).end('bad request');
        return;
      }
      // The same work as ProgImage's defaults: autorotate, fit inside without enlargement,
      // metadata stripped, JPEG Q80 with optimised coding, WebP Q80, AVIF Q50 at effort 2.
      const out = await sharp(path.join(dir, file))
        .rotate()
        .resize({ width: w, fit: 'inside', withoutEnlargement: true })
        .toFormat(format, encoderOptions[format])
        .toBuffer();
      res.writeHead(200, { 'Content-Type': mime[format], 'Content-Length': out.length }).end(out);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  }).listen(port, '127.0.0.1');
}
