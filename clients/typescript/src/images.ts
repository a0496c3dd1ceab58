// Stored images: docs/API.md, "Images".
import { rawBody, toBlob, type FilePart, type ImageInput } from "./body.js";
import { toDownload, type Download } from "./download.js";
import { callOptions, decodeJson, type CallOptions, type HttpClient } from "./http.js";
import { paginate } from "./paginate.js";
import { apiPath } from "./paths.js";
import { toPairs, type QueryPairs } from "./query.js";
import { transformPairs, type TransformInput } from "./transform.js";
import type {
  Derivative,
  DerivativeList,
  Image,
  ImageList,
  ImagePatch,
  ImageQuery,
  Info,
  MultipartResult,
  SimilarImage,
  SimilarImages,
  SimilarQuery,
  TagCount,
  Tags,
} from "./types.js";

export interface ImageFields {
  /** The file name (directories are dropped by the server). */
  name?: string;
  /** Its hashtags (`#beach`) join the tags. */
  description?: string;
  tags?: readonly string[];
}

export interface UploadOptions extends ImageFields, CallOptions {}

export interface GetImageOptions extends CallOptions {
  /** Transform parameters: the answer is a derivative. */
  transform?: TransformInput;
  /** Another format by extension (`webp`, `jpg`, …); `format` in the transform wins. */
  ext?: string;
  /** An ETag held: a match answers 304 without bytes. */
  ifNoneMatch?: string;
  /** One byte range of the original, e.g. `bytes=0-99` (answer 206). */
  range?: string;
}

export interface ListOptions extends ImageQuery, CallOptions {
  /** Images per request while iterating (the server's `limit`, 1–1000). */
  pageSize?: number;
}

export type VariantAnswer =
  | { status: "ready"; image: Download }
  | { status: "pending"; retryAfterMs: number | undefined };

/** A remote image for the server to fetch (http/https, behind its address guard). */
export interface RemoteImage {
  url: string;
}

function fieldPairs(fields: ImageFields): QueryPairs {
  return toPairs({ name: fields.name, description: fields.description, tags: fields.tags?.join(",") });
}

function jsonFields(fields: ImageFields): Record<string, unknown> {
  return { name: fields.name, description: fields.description, tags: fields.tags };
}

/** Sends one image to an upload route (`/v1/images` or an upload link's). */
export async function uploadOne(
  http: HttpClient,
  path: string,
  input: ImageInput,
  options: UploadOptions,
  authenticate = true,
): Promise<Image> {
  const { body, contentType } = rawBody(input);
  return http.json<Image>({
    ...callOptions(options),
    method: "POST",
    path,
    query: fieldPairs(options),
    headers: { "Content-Type": contentType },
    body,
    authenticate,
  });
}

export async function uploadParts(
  http: HttpClient,
  path: string,
  parts: readonly FilePart[],
  options: Omit<UploadOptions, "name">,
  authenticate = true,
): Promise<MultipartResult> {
  const form = new FormData();
  parts.forEach((part, i) => form.append("file", toBlob(part.data, part.contentType), part.filename ?? `image-${i + 1}`));
  if (options.description !== undefined) form.append("description", options.description);
  if (options.tags !== undefined) form.append("tags", options.tags.join(","));
  return http.json<MultipartResult>({ ...callOptions(options), method: "POST", path, body: form, authenticate });
}

export async function importRemote(
  http: HttpClient,
  path: string,
  remote: RemoteImage,
  options: UploadOptions,
  authenticate = true,
): Promise<Image> {
  return http.json<Image>({ ...callOptions(options), method: "POST", path, json: { url: remote.url, ...jsonFields(options) }, authenticate });
}

export class Images {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * Stores one image. Same bytes stored before answer the existing image with
   * `duplicate: true`.
   */
  upload(input: ImageInput, options: UploadOptions = {}): Promise<Image> {
    return uploadOne(this.#http, "/v1/images", input, options);
  }

  /** Stores several images in one multipart request; each part succeeds or fails on its own. */
  uploadMany(parts: readonly FilePart[], options: Omit<UploadOptions, "name"> = {}): Promise<MultipartResult> {
    return uploadParts(this.#http, "/v1/images", parts, options);
  }

  /** Has the server fetch a remote image and store it. */
  import(remote: RemoteImage, options: UploadOptions = {}): Promise<Image> {
    return importRemote(this.#http, "/v1/images", remote, options);
  }

  /** The original bytes, or with a transform or extension a derivative (signed when a signing secret is set). */
  async get(id: string, options: GetImageOptions = {}): Promise<Download> {
    const query = transformPairs(options.transform);
    const headers: Record<string, string> = {};
    if (options.ifNoneMatch !== undefined) headers["If-None-Match"] = options.ifNoneMatch;
    if (options.range !== undefined) headers["Range"] = options.range;
    const answer = await this.#http.send({
      ...callOptions(options),
      method: "GET",
      path: options.ext === undefined ? apiPath`/v1/images/${id}` : apiPath`/v1/images/${id}.${options.ext}`,
      query,
      headers,
      sign: query.length > 0 || options.ext !== undefined,
      acceptStatuses: [304],
    });
    return toDownload(answer);
  }

  /** The image object with EXIF, ICC, perceptual hash, dominant colour and blurhash. */
  info(id: string, options: CallOptions = {}): Promise<Info> {
    return this.#http.json<Info>({ ...callOptions(options), method: "GET", path: apiPath`/v1/images/${id}/info` });
  }

  /** Replaces the given fields (`null` clears one). */
  update(id: string, patch: ImagePatch, options: CallOptions = {}): Promise<Image> {
    return this.#http.json<Image>({ ...callOptions(options), method: "PATCH", path: apiPath`/v1/images/${id}`, json: patch });
  }

  async delete(id: string, options: CallOptions = {}): Promise<void> {
    await this.#http.send({ ...callOptions(options), method: "DELETE", path: apiPath`/v1/images/${id}` });
  }

  /** One page of the list or search, newest first. */
  page(query: ImageQuery & { cursor?: string } = {}, options: CallOptions = {}): Promise<ImageList> {
    return this.#http.json<ImageList>({ ...callOptions(options), method: "GET", path: "/v1/images", query: toPairs(query) });
  }

  /**
   * Every image that the filters select, newest first, page after page:
   * `for await (const image of client.images.list({ tag: ['beach'] }))`.
   */
  list(options: ListOptions = {}): AsyncGenerator<Image> {
    const { pageSize, signal: _signal, requestId: _requestId, ...filters } = options;
    return paginate(async (cursor) => {
      const page = await this.page({ ...filters, limit: pageSize ?? filters.limit, cursor }, callOptions(options));
      return { items: page.images, nextCursor: page.next_cursor };
    });
  }

  /** Stored images that look like this one, nearest first. */
  async similar(id: string, query: SimilarQuery = {}, options: CallOptions = {}): Promise<SimilarImage[]> {
    const answer = await this.#http.json<SimilarImages>({
      ...callOptions(options),
      method: "GET",
      path: apiPath`/v1/images/${id}/similar`,
      query: toPairs(query),
    });
    return answer.images;
  }

  /** Stored images that look like the one sent (which is not stored). */
  async similarTo(input: ImageInput | RemoteImage, query: SimilarQuery = {}, options: CallOptions = {}): Promise<SimilarImage[]> {
    const request = { ...callOptions(options), method: "POST", path: "/v1/similar", query: toPairs(query) };
    const answer = isRemote(input)
      ? await this.#http.send({ ...request, json: { url: input.url } })
      : await this.#http.send({ ...request, ...rawRequest(input) });
    return decodeJson<SimilarImages>(answer).images;
  }

  /** The cached derivatives of the image's bytes. */
  async derivatives(id: string, options: CallOptions = {}): Promise<Derivative[]> {
    const answer = await this.#http.json<DerivativeList>({
      ...callOptions(options),
      method: "GET",
      path: apiPath`/v1/images/${id}/derivatives`,
    });
    return answer.derivatives;
  }

  /** Drops the cached derivatives (they are rendered again on the next request). */
  async purgeDerivatives(id: string, options: CallOptions = {}): Promise<void> {
    await this.#http.send({ ...callOptions(options), method: "DELETE", path: apiPath`/v1/images/${id}/derivatives` });
  }

  /** A preset variant (`thumb`, `small`, `medium` by default): its bytes when ready, or pending. */
  async variant(id: string, name: string, options: CallOptions = {}): Promise<VariantAnswer> {
    const answer = await this.#http.send({
      ...callOptions(options),
      method: "GET",
      path: apiPath`/v1/images/${id}/variants/${name}`,
      acceptStatuses: [202],
    });
    if (answer.status === 202) {
      const seconds = Number(answer.headers.get("Retry-After"));
      return { status: "pending", retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined };
    }
    return { status: "ready", image: toDownload(answer) };
  }

  /** The tags of the caller's images, most used first. */
  async tags(query: { limit?: number } = {}, options: CallOptions = {}): Promise<TagCount[]> {
    const answer = await this.#http.json<Tags>({ ...callOptions(options), method: "GET", path: "/v1/tags", query: toPairs(query) });
    return answer.tags;
  }
}

export function isRemote(input: unknown): input is RemoteImage {
  return typeof input === "object" && input !== null && typeof (input as RemoteImage).url === "string" && !(input instanceof Blob);
}

export function rawRequest(input: ImageInput): { body: BodyInit; headers: Record<string, string> } {
  const { body, contentType } = rawBody(input);
  return { body, headers: { "Content-Type": contentType } };
}
