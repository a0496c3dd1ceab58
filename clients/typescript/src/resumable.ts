// Resumable uploads over tus 1.0 (docs/API.md, "Resumable uploads"): the
// bytes go in chunks, and after a broken connection or a restart of either
// side the upload goes on from the offset the server acknowledged.
import { uploadLinkToken } from "./admin.js";
import { base64, utf8Bytes } from "./crypto.js";
import { ProgImageError } from "./errors.js";
import { callOptions, type CallOptions, type HttpAnswer, type HttpClient } from "./http.js";
import { backoffDelay, retryableStatuses, sleep } from "./retry.js";

/** Bytes that can be read in any order: what a resumable upload needs. */
export interface ResumableSource {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}

export type ResumableInput = Uint8Array | Blob | ResumableSource;

export interface ResumableOptions extends CallOptions {
  name?: string;
  description?: string;
  tags?: readonly string[];
  /**
   * An upload link's token or url: the upload goes into the link's tenant on
   * its terms, and no request of it carries this client's credential.
   */
  link?: string;
  /** Bytes per PATCH; default 8 MiB. */
  chunkSize?: number;
  /** Called after every acknowledged chunk with the bytes the server holds. */
  onProgress?: (offset: number, size: number) => void;
  /** Called once the upload exists, with its URL path: keep it to resume after a crash. */
  onCreated?: (uploadUrl: string) => void;
}

export interface ResumeOptions extends CallOptions {
  /** The upload was made with a link: send no credential. */
  link?: boolean;
  chunkSize?: number;
  onProgress?: (offset: number, size: number) => void;
}

export interface ResumableResult {
  /** The stored image. */
  imageId: string;
  /** The upload's path, `/v1/resumable/{id}`. */
  uploadUrl: string;
}

export interface UploadState {
  offset: number;
  length: number;
  /** Set once the image is stored. */
  imageId: string | undefined;
}

const tusVersion = "1.0.0";
const defaultChunkSize = 8 * 1024 * 1024;

export function toResumableSource(input: ResumableInput): ResumableSource {
  if (input instanceof Uint8Array) return { size: input.byteLength, read: async (start, end) => input.subarray(start, end) };
  if (input instanceof Blob) {
    return { size: input.size, read: async (start, end) => new Uint8Array(await input.slice(start, end).arrayBuffer()) };
  }
  return input;
}

/** `Upload-Metadata`: each key with its base64 value, comma-separated. */
function uploadMetadata(fields: Record<string, string | undefined>): string {
  return Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `${key} ${base64(utf8Bytes(value))}`)
    .join(",");
}

/** The path of an upload URL, relative or absolute. */
function uploadPath(uploadUrl: string): string {
  const match = /\/v1\/resumable\/[^/?#]+/.exec(uploadUrl);
  if (!match) throw new TypeError(`not a resumable upload URL: ${uploadUrl}`);
  return match[0];
}

/** Whether a failed PATCH may be followed by a look at the offset and another PATCH. */
function recoverable(error: unknown): error is ProgImageError {
  return error instanceof ProgImageError && (error.status === 0 || error.status === 409 || retryableStatuses.has(error.status));
}

export class Resumable {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Uploads `input` in chunks and answers once the image is stored. */
  async upload(input: ResumableInput, options: ResumableOptions = {}): Promise<ResumableResult> {
    const source = toResumableSource(input);
    const authenticate = options.link === undefined;
    const created = await this.#http.send({
      ...callOptions(options),
      method: "POST",
      path: "/v1/resumable/",
      headers: {
        "Tus-Resumable": tusVersion,
        "Upload-Length": String(source.size),
        "Upload-Metadata": uploadMetadata({
          filename: options.name,
          description: options.description,
          tags: options.tags?.join(","),
          link: options.link === undefined ? undefined : uploadLinkToken(options.link),
        }),
      },
      authenticate,
    });
    const location = created.headers.get("Location");
    if (location === null) {
      throw new ProgImageError({
        status: created.status,
        code: "http_error",
        message: "the upload was created without a Location",
        requestId: created.requestId,
      });
    }
    const uploadUrl = uploadPath(location);
    options.onCreated?.(uploadUrl);
    return this.#send(uploadUrl, source, { offset: 0, length: source.size, imageId: undefined }, { ...options, link: !authenticate });
  }

  /** Goes on with an upload from where the server has it (after a crash, say). */
  async resume(uploadUrl: string, input: ResumableInput, options: ResumeOptions = {}): Promise<ResumableResult> {
    const path = uploadPath(uploadUrl);
    const state = await this.state(path, options);
    return this.#send(path, toResumableSource(input), state, options);
  }

  /** What the server holds of an upload. */
  async state(uploadUrl: string, options: ResumeOptions = {}): Promise<UploadState> {
    const answer = await this.#http.send({
      ...callOptions(options),
      method: "HEAD",
      path: uploadPath(uploadUrl),
      headers: { "Tus-Resumable": tusVersion },
      authenticate: !options.link,
    });
    return {
      offset: Number(answer.headers.get("Upload-Offset")),
      length: Number(answer.headers.get("Upload-Length")),
      imageId: answer.headers.get("ProgImage-Image-Id") ?? undefined,
    };
  }

  /** Ends an unfinished upload; its bytes are removed. */
  async terminate(uploadUrl: string, options: ResumeOptions = {}): Promise<void> {
    await this.#http.send({
      ...callOptions(options),
      method: "DELETE",
      path: uploadPath(uploadUrl),
      headers: { "Tus-Resumable": tusVersion },
      authenticate: !options.link,
    });
  }

  async #send(path: string, source: ResumableSource, start: UploadState, options: ResumeOptions): Promise<ResumableResult> {
    if (start.length !== source.size) {
      throw new RangeError(`the upload is of ${start.length} bytes, the input of ${source.size}`);
    }
    const chunkSize = options.chunkSize ?? defaultChunkSize;
    const { maxAttempts } = this.#http.settings.retry;
    let state = start;
    let failures = 0;
    const pause = async (error?: ProgImageError) => {
      await sleep(error?.retryAfterMs ?? backoffDelay(failures, this.#http.settings.retry), options.signal);
    };
    while (state.imageId === undefined) {
      if (state.offset >= state.length) {
        // Every byte is there but the image is not stored yet (the last chunk
        // was answered 503): the server stores it on a HEAD.
        state = await this.state(path, options);
        if (state.imageId !== undefined) break;
        if (++failures >= maxAttempts) {
          throw new ProgImageError({ status: 0, code: "http_error", message: `${path}: every byte was sent but no image was stored` });
        }
        await pause();
        continue;
      }
      try {
        const answer = await this.#patch(path, source, state.offset, chunkSize, options);
        state = {
          offset: Number(answer.headers.get("Upload-Offset")),
          length: state.length,
          imageId: answer.headers.get("ProgImage-Image-Id") ?? undefined,
        };
        failures = 0;
        options.onProgress?.(state.offset, state.length);
      } catch (error) {
        if (!recoverable(error) || ++failures >= maxAttempts) throw error;
        await pause(error);
        state = await this.state(path, options);
      }
    }
    return { imageId: state.imageId, uploadUrl: path };
  }

  async #patch(path: string, source: ResumableSource, offset: number, chunkSize: number, options: ResumeOptions): Promise<HttpAnswer> {
    const chunk = await source.read(offset, Math.min(source.size, offset + chunkSize));
    return this.#http.send({
      ...callOptions(options),
      method: "PATCH",
      path,
      headers: {
        "Tus-Resumable": tusVersion,
        "Upload-Offset": String(offset),
        "Content-Type": "application/offset+octet-stream",
      },
      body: chunk as BodyInit,
      authenticate: !options.link,
      retry: false, // recovered above, from the offset the server reports
    });
  }
}
