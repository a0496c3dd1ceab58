// One HTTP exchange with the server, tried again when that is safe: after a
// 429 or 503 (the server did not act; honouring Retry-After) for any method
// whose body can be sent again, and after a lost connection or a time-out for
// idempotent methods only. The whole answer is read before it is returned, so
// the time limit covers the body too.
import { errorFromAnswer, ProgImageError } from "./errors.js";
import { formatQuery, type QueryPairs } from "./query.js";
import {
  backoffDelay,
  defaultRetry,
  idempotentMethods,
  parseRetryAfter,
  retryableStatuses,
  sleep,
  type RetryOptions,
} from "./retry.js";
import { signature } from "./signing.js";

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpSettings {
  baseUrl: string;
  /** `Authorization: Bearer` credential: an API key or a token. */
  credential?: string | undefined;
  tenant?: string | undefined;
  timeoutMs: number;
  retry: RetryOptions;
  signingSecret?: string | undefined;
  fetch: FetchFunction;
}

/** Options every call takes. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Sent as `X-Request-Id` (`[A-Za-z0-9._-]{1,128}`), to find the request in the server's log. */
  requestId?: string;
}

/** Just the CallOptions of a larger options object, to pass on to a request. */
export function callOptions(options: CallOptions): CallOptions {
  const picked: CallOptions = {};
  if (options.signal !== undefined) picked.signal = options.signal;
  if (options.requestId !== undefined) picked.requestId = options.requestId;
  return picked;
}

export interface HttpRequest extends CallOptions {
  method: string;
  /** The API path, e.g. `/v1/images/ID` (the server's path, as signed). */
  path: string;
  query?: QueryPairs;
  headers?: Record<string, string>;
  body?: BodyInit;
  /** A JSON body (instead of `body`). */
  json?: unknown;
  /** Send the credential (default true); false for upload links, whose token is the proof. */
  authenticate?: boolean;
  /** Add `sig` over the path and query when a signing secret is configured. */
  sign?: boolean;
  /** Statuses outside 2xx that are answers, not errors (e.g. 304). */
  acceptStatuses?: readonly number[];
  /** Try again after 429/503 and lost connections (default true); false when the caller recovers itself. */
  retry?: boolean;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  requestId: string | undefined;
}

export function decodeJson<T>(answer: HttpAnswer): T {
  return JSON.parse(new TextDecoder().decode(answer.body)) as T;
}

function isReplayable(body: BodyInit | undefined): boolean {
  return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
}

/** One attempt's outcome: an answer, or a failure without one. */
type Attempt = { answer: HttpAnswer } | { failure: ProgImageError };

export class HttpClient {
  readonly settings: HttpSettings;

  constructor(settings: HttpSettings) {
    this.settings = { ...settings, baseUrl: settings.baseUrl.replace(/\/+$/, "") };
  }

  /** The absolute URL of an API path with its query, `sig` added when asked for and configured. */
  async url(path: string, query: QueryPairs = [], sign = false): Promise<string> {
    const pairs = [...query];
    if (sign && this.settings.signingSecret !== undefined) {
      pairs.push(["sig", await signature(this.settings.signingSecret, path, query)]);
    }
    return `${this.settings.baseUrl}${path}${pairs.length > 0 ? `?${formatQuery(pairs)}` : ""}`;
  }

  /** The answer to `request`; a failure status (or no answer) throws a ProgImageError. */
  async send(request: HttpRequest): Promise<HttpAnswer> {
    const url = await this.url(request.path, request.query, request.sign ?? false);
    const init = this.#init(request);
    const { maxAttempts } = this.settings.retry;
    const mayRetry = (request.retry ?? true) && isReplayable(init.body ?? undefined);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(url, init, request.signal);
      const last = !mayRetry || attempt >= maxAttempts;
      if ("failure" in outcome) {
        if (last || !idempotentMethods.has(request.method)) throw outcome.failure;
        await sleep(backoffDelay(attempt, this.settings.retry), request.signal);
        continue;
      }
      const { answer } = outcome;
      if ((answer.status >= 200 && answer.status < 300) || request.acceptStatuses?.includes(answer.status)) return answer;
      const error = errorFromAnswer(
        answer.status,
        new TextDecoder().decode(answer.body),
        answer.requestId,
        parseRetryAfter(answer.headers.get("Retry-After")),
      );
      if (last || !retryableStatuses.has(answer.status)) throw error;
      const delay = error.retryAfterMs ?? backoffDelay(attempt, this.settings.retry);
      if (delay > this.settings.retry.maxDelayMs) throw error; // longer than the caller allows to wait
      await sleep(delay, request.signal);
    }
  }

  async json<T>(request: HttpRequest): Promise<T> {
    return decodeJson<T>(await this.send(request));
  }

  #init(request: HttpRequest): RequestInit & { duplex?: "half" } {
    const headers = new Headers(request.headers);
    if ((request.authenticate ?? true) && this.settings.credential !== undefined) {
      headers.set("Authorization", `Bearer ${this.settings.credential}`);
    }
    if (this.settings.tenant !== undefined) headers.set("X-ProgImage-Tenant", this.settings.tenant);
    if (request.requestId !== undefined) headers.set("X-Request-Id", request.requestId);
    let body = request.body;
    if (request.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(request.json);
    }
    const init: RequestInit & { duplex?: "half" } = { method: request.method, headers };
    if (body !== undefined) init.body = body;
    // A streamed request body needs this in Node.js's fetch (and the Fetch standard).
    if (!isReplayable(body)) init.duplex = "half";
    return init;
  }

  async #attempt(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Attempt> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.settings.timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.settings.fetch(url, { ...init, signal: controller.signal });
      const body = new Uint8Array(await response.arrayBuffer());
      return {
        answer: {
          status: response.status,
          headers: response.headers,
          body,
          requestId: response.headers.get("X-Request-Id") ?? undefined,
        },
      };
    } catch (cause) {
      if (signal?.aborted) throw signal.reason; // the caller's own abort is not retried
      const failure = timedOut
        ? new ProgImageError({
            status: 0,
            code: "client_timeout",
            message: `${init.method} ${url}: no complete answer within ${this.settings.timeoutMs} ms`,
            cause,
          })
        : new ProgImageError({
            status: 0,
            code: "network_error",
            message: `${init.method} ${url}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause,
          });
      return { failure };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

export const defaultTimeoutMs = 30_000;

export function retrySettings(retry: Partial<RetryOptions> | undefined): RetryOptions {
  const merged = { ...defaultRetry, ...retry };
  if (!Number.isInteger(merged.maxAttempts) || merged.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer of at least 1, got ${merged.maxAttempts}`);
  }
  return merged;
}
