// Node.js helpers: files and Node streams. Kept apart from the core, which
// needs nothing but fetch and Web Crypto.
import { open, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebStream } from "node:stream/web";

import type { ProgImage } from "./client.js";
import type { UploadOptions } from "./images.js";
import type { ResumableOptions, ResumableResult, ResumableSource } from "./resumable.js";
import type { Image } from "./types.js";

/**
 * Uploads a file, named after it unless `options.name` says otherwise. The
 * bytes are read first, so that a 429 or 503 can be answered by sending them
 * again; use uploadFileResumable for files too large to hold in memory.
 */
export async function uploadFile(client: ProgImage, path: string, options: UploadOptions = {}): Promise<Image> {
  const bytes = await readFile(path);
  return client.images.upload(bytes, { name: basename(path), ...options });
}

/** Uploads a Node.js stream as it comes (sent once: never retried). */
export function uploadStream(client: ProgImage, stream: Readable, options: UploadOptions = {}): Promise<Image> {
  const web = Readable.toWeb(stream) as NodeWebStream<Uint8Array>;
  return client.images.upload(web as unknown as ReadableStream<Uint8Array>, options);
}

/** A file read piece by piece, for resumable uploads. */
export async function fileSource(path: string): Promise<ResumableSource & { close(): Promise<void> }> {
  const handle = await open(path, "r");
  const { size } = await handle.stat();
  return {
    size,
    async read(start, end) {
      const buffer = new Uint8Array(end - start);
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled);
        if (bytesRead === 0) throw new Error(`${path} ended at ${start + filled} bytes, before ${end}`);
        filled += bytesRead;
      }
      return buffer;
    },
    close: () => handle.close(),
  };
}

/** Uploads a file of any size in chunks (tus), resuming after broken connections. */
export async function uploadFileResumable(
  client: ProgImage,
  path: string,
  options: ResumableOptions = {},
): Promise<ResumableResult> {
  const source = await fileSource(path);
  try {
    return await client.resumable.upload(source, { name: basename(path), ...options });
  } finally {
    await source.close();
  }
}
