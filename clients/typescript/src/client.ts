import { Keys, Quotas, UploadLinks } from "./admin.js";
import type { ImageInput } from "./body.js";
import { toDownload, type Download } from "./download.js";
import {
  callOptions,
  decodeJson,
  defaultTimeoutMs,
  HttpClient,
  retrySettings,
  type CallOptions,
  type FetchFunction,
} from "./http.js";
import { Images, isRemote, rawRequest, type RemoteImage } from "./images.js";
import { Jobs } from "./jobs.js";
import { apiPath } from "./paths.js";
import { formatQuery, toPairs } from "./query.js";
import { Resumable } from "./resumable.js";
import type { RetryOptions } from "./retry.js";
import { transformPairs, type TransformInput } from "./transform.js";
import type { Explain, HealthStatus, Stats, Usage, UsageQuery } from "./types.js";

export interface ProgImageOptions {
  /** Where the server is, e.g. `https://images.example.com` (the API's paths start at `/v1/`). */
  baseUrl: string;
  /** An API key (`pik_…` or one of the configuration). */
  key?: string;
  /** A bearer token (JWT) that your application minted; instead of `key`. */
  token?: string;
  /** For operator credentials: act as this tenant alone (`X-ProgImage-Tenant`). */
  tenant?: string;
  /** The limit of one attempt, the answer's body included; default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  /**
   * The server's URL-signing secret, to sign transform URLs. Only where the
   * secret is safe: on a server, never in a browser.
   */
  signingSecret?: string;
  /** Another fetch (a test double, an instrumented one); default the runtime's. */
  fetch?: FetchFunction;
}

export interface UrlOptions {
  /** Seconds from now until the URL answers 403 `url_expired`. */
  expiresIn?: number;
  /** When the URL expires: a Date, or Unix seconds. */
  expiresAt?: Date | number;
  /** Another format by extension (`webp`, `jpg`, …). */
  ext?: string;
}

/** A stored image as a transform's source: its pixels are taken from the store (and the answer cached). */
export interface StoredImage {
  id: string;
}

type Environment = Record<string, string | undefined>;

function processEnvironment(): Environment {
  const process = (globalThis as { process?: { env?: Environment } }).process;
  return process?.env ?? {};
}

function unixSeconds(options: UrlOptions): number | undefined {
  if (options.expiresIn !== undefined && options.expiresAt !== undefined) {
    throw new TypeError("give expiresIn or expiresAt, not both");
  }
  if (options.expiresIn !== undefined) return Math.floor(Date.now() / 1000) + Math.round(options.expiresIn);
  if (options.expiresAt instanceof Date) return Math.floor(options.expiresAt.getTime() / 1000);
  return options.expiresAt === undefined ? undefined : Math.floor(options.expiresAt);
}

/**
 * A client of one ProgImage server: `new ProgImage({ baseUrl, key })`.
 * Images, jobs, keys, quotas, upload links and resumable uploads have their
 * own groups of calls; the rest are methods here.
 */
export class ProgImage {
  readonly images: Images;
  readonly jobs: Jobs;
  readonly keys: Keys;
  readonly quotas: Quotas;
  readonly uploadLinks: UploadLinks;
  readonly resumable: Resumable;
  readonly #http: HttpClient;

  constructor(options: ProgImageOptions) {
    if (options.key !== undefined && options.token !== undefined) throw new TypeError("give key or token, not both");
    const runtimeFetch: FetchFunction = (input, init) => globalThis.fetch(input, init);
    this.#http = new HttpClient({
      baseUrl: options.baseUrl,
      credential: options.key ?? options.token,
      tenant: options.tenant,
      timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      retry: retrySettings(options.retry),
      signingSecret: options.signingSecret,
      fetch: options.fetch ?? runtimeFetch,
    });
    this.images = new Images(this.#http);
    this.jobs = new Jobs(this.#http);
    this.keys = new Keys(this.#http);
    this.quotas = new Quotas(this.#http);
    this.uploadLinks = new UploadLinks(this.#http);
    this.resumable = new Resumable(this.#http);
  }

  /**
   * A client from `PROGIMAGE_URL` and `PROGIMAGE_KEY` (Node.js's
   * `process.env` unless another environment is given); `options` add to them.
   */
  static fromEnv(env: Environment = processEnvironment(), options: Partial<ProgImageOptions> = {}): ProgImage {
    const baseUrl = env["PROGIMAGE_URL"];
    if (!baseUrl) throw new TypeError("PROGIMAGE_URL is not set (the server's address, e.g. http://127.0.0.1:8080)");
    const key = env["PROGIMAGE_KEY"];
    return new ProgImage({ baseUrl, ...(key ? { key } : {}), ...options });
  }

  /**
   * The URL of an image, transformed when a transform is given, signed with
   * the signing secret when one is set (and, with an expiry, only valid until
   * then). Sign on a server only: the secret must never reach a browser.
   */
  async url(id: string, transform?: TransformInput, options: UrlOptions = {}): Promise<string> {
    const query = transformPairs(transform);
    const exp = unixSeconds(options);
    if (exp !== undefined) query.push(["exp", String(exp)]);
    const path = options.ext === undefined ? apiPath`/v1/images/${id}` : apiPath`/v1/images/${id}.${options.ext}`;
    return this.#http.url(path, query, query.length > 0 || options.ext !== undefined);
  }

  /**
   * Transforms an image without storing the result: bytes sent, a remote
   * URL the server fetches, or a stored image (answered from the cache).
   */
  async transform(input: ImageInput | RemoteImage | StoredImage, transform: TransformInput, options: CallOptions = {}): Promise<Download> {
    const query = transformPairs(transform);
    const request = { ...callOptions(options), method: "POST", path: "/v1/transform" };
    if (isStored(input)) {
      const params = formatQuery(query);
      return toDownload(await this.#http.send({ ...request, json: { source: { id: input.id }, params } }));
    }
    if (isRemote(input)) return toDownload(await this.#http.send({ ...request, query, json: { url: input.url } }));
    return toDownload(await this.#http.send({ ...request, query, ...rawRequest(input) }));
  }

  /** `GET /v1/transform`: a remote image transformed (read role; signed when a signing secret is set). */
  async transformRemote(url: string, transform: TransformInput, options: CallOptions = {}): Promise<Download> {
    const query: [string, string][] = [["url", url], ...transformPairs(transform)];
    return toDownload(await this.#http.send({ ...callOptions(options), method: "GET", path: "/v1/transform", query, sign: true }));
  }

  /** A dry run: the canonical parameters, the steps with their sizes, the output, and whether it is cached. */
  explain(id: string, transform: TransformInput, options: CallOptions = {}): Promise<Explain> {
    const query = transformPairs(transform);
    return this.#http.json<Explain>({
      ...callOptions(options),
      method: "GET",
      path: apiPath`/v1/images/${id}/explain`,
      query,
      sign: query.length > 0,
    });
  }

  /** Requests, bytes, transforms and uploads by UTC day. */
  usage(query: UsageQuery = {}, options: CallOptions = {}): Promise<Usage> {
    return this.#http.json<Usage>({ ...callOptions(options), method: "GET", path: "/v1/usage", query: toPairs(query) });
  }

  /** Storage and job statistics (admin). */
  stats(options: CallOptions = {}): Promise<Stats> {
    return this.#http.json<Stats>({ ...callOptions(options), method: "GET", path: "/v1/stats" });
  }

  /** Liveness: `{status: "ok"}` while the process serves. */
  health(options: CallOptions = {}): Promise<HealthStatus> {
    return this.#http.json<HealthStatus>({ ...callOptions(options), method: "GET", path: "/healthz", authenticate: false });
  }

  /** Readiness: whether the catalog and the blob store answer (asked once, not retried). */
  async ready(options: CallOptions = {}): Promise<boolean> {
    const answer = await this.#http.send({
      ...callOptions(options),
      method: "GET",
      path: "/readyz",
      authenticate: false,
      acceptStatuses: [503],
      retry: false,
    });
    return answer.status === 200;
  }

  /** The Prometheus metrics text. */
  async metrics(options: CallOptions = {}): Promise<string> {
    const answer = await this.#http.send({ ...callOptions(options), method: "GET", path: "/metrics", authenticate: false });
    return new TextDecoder().decode(answer.body);
  }

  /** The OpenAPI description the server serves. */
  async openapi(options: CallOptions = {}): Promise<Record<string, unknown>> {
    return decodeJson(await this.#http.send({ ...callOptions(options), method: "GET", path: "/openapi.json", authenticate: false }));
  }
}

function isStored(input: unknown): input is StoredImage {
  return typeof input === "object" && input !== null && typeof (input as StoredImage).id === "string" && !(input instanceof Blob);
}
