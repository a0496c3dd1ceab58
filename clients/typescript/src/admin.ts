// Keys, quotas and upload links: docs/API.md, "Tenants, keys and usage" and "Upload links".
import type { FilePart, ImageInput } from "./body.js";
import { callOptions, type CallOptions, type HttpClient } from "./http.js";
import { importRemote, uploadOne, uploadParts, type RemoteImage, type UploadOptions } from "./images.js";
import { paginate } from "./paginate.js";
import { apiPath } from "./paths.js";
import type {
  ApiKey,
  ApiKeyList,
  CreatedApiKey,
  Image,
  MultipartResult,
  NewApiKey,
  Quota,
  QuotaUpdate,
  UploadLink,
  UploadLinkList,
  UploadLinkRequest,
} from "./types.js";

/** Managed API keys of the caller's tenant (admin). */
export class Keys {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Makes a key; its secret (`key`) is in this answer only. */
  create(key: NewApiKey, options: CallOptions = {}): Promise<CreatedApiKey> {
    return this.#http.json<CreatedApiKey>({ ...callOptions(options), method: "POST", path: "/v1/keys", json: key });
  }

  /** The unrevoked managed keys, oldest first, without secrets. */
  async list(options: CallOptions = {}): Promise<ApiKey[]> {
    return (await this.#http.json<ApiKeyList>({ ...callOptions(options), method: "GET", path: "/v1/keys" })).keys;
  }

  async revoke(id: string, options: CallOptions = {}): Promise<void> {
    await this.#http.send({ ...callOptions(options), method: "DELETE", path: apiPath`/v1/keys/${id}` });
  }
}

/** Tenants' storage quotas. */
export class Quotas {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  get(tenant: string, options: CallOptions = {}): Promise<Quota> {
    return this.#http.json<Quota>({ ...callOptions(options), method: "GET", path: apiPath`/v1/tenants/${tenant}/quota` });
  }

  /** Replaces the quota (operator keys only); 0 or null is no limit. */
  set(tenant: string, quota: QuotaUpdate, options: CallOptions = {}): Promise<Quota> {
    return this.#http.json<Quota>({ ...callOptions(options), method: "PUT", path: apiPath`/v1/tenants/${tenant}/quota`, json: quota });
  }
}

/** The token of an upload link, from its `url` (`/v1/uploads/{token}`, relative or absolute) or as it is. */
export function uploadLinkToken(link: string): string {
  const match = /\/v1\/uploads\/([^/?#]+)/.exec(link);
  return match ? decodeURIComponent(match[1]!) : link;
}

/** Links that let others upload without a key (admin to manage; none to use). */
export class UploadLinks {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Makes a link; its `url` is in this answer only. */
  create(link: UploadLinkRequest, options: CallOptions = {}): Promise<UploadLink> {
    return this.#http.json<UploadLink>({ ...callOptions(options), method: "POST", path: "/v1/upload-links", json: link });
  }

  /** Every link of the tenant, newest first. */
  list(page: { pageSize?: number } = {}, options: CallOptions = {}): AsyncGenerator<UploadLink> {
    return paginate(async (cursor) => {
      const query: [string, string][] = [];
      if (page.pageSize !== undefined) query.push(["limit", String(page.pageSize)]);
      if (cursor !== undefined) query.push(["cursor", cursor]);
      const answer = await this.#http.json<UploadLinkList>({ ...callOptions(options), method: "GET", path: "/v1/upload-links", query });
      return { items: answer.links, nextCursor: answer.next_cursor };
    });
  }

  async revoke(id: string, options: CallOptions = {}): Promise<void> {
    await this.#http.send({ ...callOptions(options), method: "DELETE", path: apiPath`/v1/upload-links/${id}` });
  }

  /** Uploads through a link (its `url` or token), without sending this client's credential. */
  upload(link: string, input: ImageInput, options: UploadOptions = {}): Promise<Image> {
    return uploadOne(this.#http, apiPath`/v1/uploads/${uploadLinkToken(link)}`, input, options, false);
  }

  uploadMany(link: string, parts: readonly FilePart[], options: Omit<UploadOptions, "name"> = {}): Promise<MultipartResult> {
    return uploadParts(this.#http, apiPath`/v1/uploads/${uploadLinkToken(link)}`, parts, options, false);
  }

  import(link: string, remote: RemoteImage, options: UploadOptions = {}): Promise<Image> {
    return importRemote(this.#http, apiPath`/v1/uploads/${uploadLinkToken(link)}`, remote, options, false);
  }
}
