// Bulk and asynchronous work: docs/API.md, "Jobs".
import { toDownload, type Download } from "./download.js";
import { ProgImageError } from "./errors.js";
import { callOptions, type CallOptions, type HttpClient } from "./http.js";
import { paginate } from "./paginate.js";
import { apiPath } from "./paths.js";
import { toPairs } from "./query.js";
import { sleep } from "./retry.js";
import { Transform } from "./transform.js";
import type { CallbackSecret, Job, JobAccepted, JobRequest, JobResult, JobStatus, TransformParams } from "./types.js";

/** A job as `POST /v1/jobs` takes it, with `params` also as a Transform. */
export type JobSubmission = Omit<JobRequest, "params"> & { params?: Transform | TransformParams | string };

export interface WaitOptions {
  /** Called with the job whenever its status or counts change (first with what it is when the wait starts). */
  onProgress?: (job: Job) => void;
  /** Between two looks at the job; default 500 ms. */
  intervalMs?: number;
  /** Give up after this long (a ProgImageError `client_timeout`); default: wait as long as it takes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const finished: ReadonlySet<JobStatus> = new Set(["completed", "failed", "partial", "cancelled"]);

/**
 * Whether nothing more will change: a final status, and every item counted.
 * (A cancelled job lets the items under way finish after its status says
 * `cancelled`.)
 */
export function isFinished(job: Pick<Job, "status" | "total" | "done" | "failed" | "cancelled">): boolean {
  return finished.has(job.status) && job.done + job.failed + job.cancelled === job.total;
}

function progressKey(job: Job): string {
  return `${job.status}/${job.done}/${job.failed}/${job.cancelled}`;
}

export class Jobs {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Queues a job over stored images (ids or a search) or remote URLs. */
  submit(job: JobSubmission, options: CallOptions = {}): Promise<JobAccepted> {
    const params = job.params instanceof Transform ? job.params.toQuery() : job.params;
    return this.#http.json<JobAccepted>({ ...callOptions(options), method: "POST", path: "/v1/jobs", json: { ...job, params } });
  }

  /** The job with one page of its results (`limit` 1–1000, default 100). */
  get(id: string, page: { limit?: number; cursor?: string } = {}, options: CallOptions = {}): Promise<Job> {
    return this.#http.json<Job>({ ...callOptions(options), method: "GET", path: apiPath`/v1/jobs/${id}`, query: toPairs(page) });
  }

  /** Looks at the job every `intervalMs` until it has finished (see isFinished), and answers it then with its first page of results. */
  async wait(id: string, options: WaitOptions = {}): Promise<Job> {
    const interval = options.intervalMs ?? 500;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const call = callOptions(options);
    let seen = "";
    for (;;) {
      const job = await this.get(id, { limit: 1 }, call);
      if (progressKey(job) !== seen) {
        seen = progressKey(job);
        options.onProgress?.(job);
      }
      if (isFinished(job)) return this.get(id, {}, call);
      if (Date.now() + interval > deadline) {
        throw new ProgImageError({
          status: 0,
          code: "client_timeout",
          message: `job ${id} has not finished within ${options.timeoutMs} ms (${job.done + job.failed + job.cancelled} of ${job.total} items)`,
        });
      }
      await sleep(interval, options.signal);
    }
  }

  /** Cancels what has not started; answers the job as it is then. */
  cancel(id: string, options: CallOptions = {}): Promise<Job> {
    return this.#http.json<Job>({ ...callOptions(options), method: "DELETE", path: apiPath`/v1/jobs/${id}` });
  }

  /** Every result of the job in source order, page after page. */
  results(id: string, page: { pageSize?: number } = {}, options: CallOptions = {}): AsyncGenerator<JobResult> {
    return paginate(async (cursor) => {
      const job = await this.get(id, { limit: page.pageSize, cursor }, options);
      return { items: job.results, nextCursor: job.next_cursor };
    });
  }

  /** The bytes of result `n` of a job that kept its outputs (URL sources with `store: false`). */
  async resultBytes(id: string, n: number, options: CallOptions = {}): Promise<Download> {
    return toDownload(await this.#http.send({ ...callOptions(options), method: "GET", path: apiPath`/v1/jobs/${id}/results/${n}` }));
  }

  /** The key of callbacks' `X-ProgImage-Signature` (admin); see verifyCallbackSignature. */
  callbackSecret(options: CallOptions = {}): Promise<CallbackSecret> {
    return this.#http.json<CallbackSecret>({ ...callOptions(options), method: "GET", path: "/v1/callbacks/secret" });
  }
}
