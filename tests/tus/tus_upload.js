// Drives the real tus-js-client against a ProgImage server, for the contract
// tests (tests/contract/resumable_test.cpp). One JSON argument:
//   {"mode": "cut" | "resume" | "full", "endpoint", "file", "store",
//    "chunk_size", "cut_after", "network_cut": bool, "headers": {...}, "metadata": {...}}
// cut:    uploads until `cut_after` bytes are sent, then stops, keeping the
//         upload's URL in `store`. With `network_cut` the client speaks
//         through a small TCP relay here that drops both connections once it
//         has passed `cut_after` bytes on: the network fails in the middle of
//         a PATCH body. Without it the client aborts after the chunk that
//         reaches `cut_after` (the cut falls between chunks);
// resume: finds that URL in `store` and finishes the upload from it;
// full:   one upload from start to end.
// The last line printed is `RESULT {json}`: the upload URL, the requests sent
// (method, status, Upload-Offset) and the ProgImage-Image-Id of the answers.
'use strict';

const fs = require('fs');
const net = require('net');
const tus = require('tus-js-client');

const args = JSON.parse(process.argv[2] || '{}');
const bytes = fs.readFileSync(args.file);
const requests = [];
let imageId = '';

function finish(result, code) {
  process.stdout.write('RESULT ' + JSON.stringify({ requests, image_id: imageId, ...result }) + '\n');
  process.exit(code);
}

/// A TCP relay to `target` (http://host:port) on a free loopback port that
/// cuts every connection once `limit` bytes in all went from client to server.
function cuttingRelay(target, limit) {
  const { hostname, port } = new URL(target);
  let passed = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.pipe(client);
    client.on('data', (data) => {
      const room = limit - passed;
      passed += data.length;
      if (room > data.length) {
        upstream.write(data);
        return;
      }
      // The last bytes that fit, then the network is gone for both ends.
      upstream.write(data.subarray(0, Math.max(room, 0)), () => {
        upstream.destroy();
        client.destroy();
      });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function options(extra) {
  return {
    // One name for the file in every mode (a stream has no fingerprint of its own).
    fingerprint: async () => 'progimage-contract-' + args.file,
    endpoint: args.endpoint,
    chunkSize: args.chunk_size || Infinity,
    headers: args.headers || {},
    metadata: args.metadata || {},
    urlStorage: new tus.FileUrlStorage(args.store),
    removeFingerprintOnSuccess: false,
    onAfterResponse(req, res) {
      requests.push({
        method: req.getMethod(),
        url: req.getURL(),
        status: res.getStatus(),
        offset: res.getHeader('Upload-Offset') || null,
      });
      const id = res.getHeader('ProgImage-Image-Id');
      if (id) imageId = id;
    },
    onError(err) {
      finish({ error: String(err && err.message ? err.message : err) }, 1);
    },
    ...extra,
  };
}

async function networkCut() {
  const relay = await cuttingRelay(args.endpoint, args.cut_after);
  const origin = new URL(args.endpoint).origin;
  const viaRelay = 'http://127.0.0.1:' + relay.address().port;
  const upload = new tus.Upload(
    bytes,
    options({
      endpoint: args.endpoint.replace(origin, viaRelay),
      retryDelays: null,
      onError(err) {
        // Expected: the relay cut the connection. The stored URL names the
        // relay; the resume speaks to the server itself.
        const url = upload.url ? upload.url.replace(viaRelay, origin) : null;
        const stored = fs.readFileSync(args.store, 'utf8');
        fs.writeFileSync(args.store, stored.split(viaRelay).join(origin));
        finish({ url, cut: String(err && err.message ? err.message : err) }, url ? 0 : 1);
      },
      onSuccess() {
        finish({ url: upload.url, error: 'the upload finished before the network was cut' }, 1);
      },
    }),
  );
  upload.start();
}

function cut() {
  if (args.network_cut) return networkCut();
  let aborted = false;
  const upload = new tus.Upload(
    bytes,
    options({
      retryDelays: null,
      onProgress(sent) {
        if (aborted || sent < args.cut_after) return;
        aborted = true;
        // false: stop sending, keep the upload on the server (no termination).
        upload.abort(false).then(() => finish({ url: upload.url, sent }, 0));
      },
      onSuccess() {
        finish({ url: upload.url, error: 'the upload finished before it could be cut' }, 1);
      },
    }),
  );
  upload.start();
}

async function resume() {
  const upload = new tus.Upload(
    bytes,
    options({
      // A cut request may still be ending on the server: its 409 is retried.
      retryDelays: [100, 300, 1000, 2000],
      onSuccess() {
        finish({ url: upload.url }, 0);
      },
    }),
  );
  const previous = await upload.findPreviousUploads();
  if (previous.length === 0) finish({ error: 'no stored upload URL to resume from in ' + args.store }, 1);
  upload.resumeFromPreviousUpload(previous[0]);
  upload.start();
}

function full() {
  const upload = new tus.Upload(
    bytes,
    options({
      retryDelays: null,
      onSuccess() {
        finish({ url: upload.url }, 0);
      },
    }),
  );
  upload.start();
}

({ cut, resume, full })[args.mode]
  ? ({ cut, resume, full })[args.mode]()
  : finish({ error: 'mode must be cut, resume or full' }, 2);
