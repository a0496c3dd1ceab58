/** How a call is tried again after a 429, a 503 or (for idempotent methods) a lost connection. */
export interface RetryOptions {
  /** Attempts in all, the first included (1: never retry). Default 4. */
  maxAttempts: number;
  /** The first backoff's ceiling; it doubles per attempt. Default 200 ms. */
  baseDelayMs: number;
  /**
   * The longest wait between two attempts. A `Retry-After` longer than this
   * is not waited for: the call fails at once with the answer's error (its
   * `retryAfterMs` says how long the server asked for). Default 10 s.
   */
  maxDelayMs: number;
}

export const defaultRetry: RetryOptions = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 10_000 };

/** The statuses that say the server did not act on the request: safe to send again, whatever the method. */
export const retryableStatuses: ReadonlySet<number> = new Set([429, 503]);

/** Methods that may be sent again after a lost connection, since repeating them changes nothing. */
export const idempotentMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/**
 * Exponential backoff with full jitter: a random wait between 0 and
 * `baseDelayMs * 2^(attempt-1)`, capped at `maxDelayMs` (attempt counts from 1,
 * the attempt that just failed).
 */
export function backoffDelay(attempt: number, retry: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` in milliseconds: whole seconds, or an HTTP date (a date in the
 * past is 0). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
