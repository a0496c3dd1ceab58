import type { ErrorCode } from "./types.js";

/**
 * Codes of failures that happen on the client's side of the wire (status 0):
 * the server could not be reached or the connection broke (`network_error`),
 * or a request or a wait ran past its time limit (`client_timeout`).
 */
export type ClientErrorCode = "network_error" | "client_timeout";

/** An answer that is not an API error body (a proxy's page, say) has the code `http_error`. */
export type ProgImageErrorCode = ErrorCode | ClientErrorCode | "http_error";

export interface ProgImageErrorInit {
  status: number;
  code: ProgImageErrorCode;
  message: string;
  requestId?: string | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/**
 * Every failure of a call: the API's error (`status`, its stable `code`, its
 * `message`) with the `X-Request-Id` of the answer, which names the request
 * in the server's log. Status 0 is a failure without an answer.
 */
export class ProgImageError extends Error {
  readonly status: number;
  readonly code: ProgImageErrorCode;
  readonly requestId: string | undefined;
  /** The answer's `Retry-After`, in milliseconds, when it had one. */
  readonly retryAfterMs: number | undefined;

  constructor(init: ProgImageErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProgImageError";
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.retryAfterMs = init.retryAfterMs;
  }
}

interface ApiErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** The error an answer with a failure status stands for; `body` is its text. */
export function errorFromAnswer(
  status: number,
  body: string,
  requestId: string | undefined,
  retryAfterMs: number | undefined,
): ProgImageError {
  let parsed: ApiErrorBody | undefined;
  try {
    parsed = JSON.parse(body) as ApiErrorBody;
  } catch {
    parsed = undefined;
  }
  const code = parsed?.error?.code;
  const message = parsed?.error?.message;
  if (typeof code === "string" && typeof message === "string") {
    return new ProgImageError({ status, code: code as ErrorCode, message, requestId, retryAfterMs });
  }
  const excerpt = body.length > 200 ? `${body.slice(0, 200)}…` : body;
  return new ProgImageError({
    status,
    code: "http_error",
    message: `HTTP ${status}${excerpt ? `: ${excerpt}` : ""}`,
    requestId,
    retryAfterMs,
  });
}
