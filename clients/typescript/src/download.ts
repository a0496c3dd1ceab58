import type { HttpAnswer } from "./http.js";

/** Image bytes as the server answered them. */
export interface Download {
  /** 200, 206 for a range, 304 when `ifNoneMatch` matched (then `bytes` is empty). */
  status: number;
  bytes: Uint8Array;
  contentType: string;
  /** The `ETag`: the original's SHA-256, or the derivative's key. */
  etag: string | undefined;
  /** `X-Cache` of a derivative: served from the cache (`hit`) or rendered for this request (`miss`). */
  cache: string | undefined;
  headers: Headers;
  requestId: string | undefined;
}

export function toDownload(answer: HttpAnswer): Download {
  return {
    status: answer.status,
    bytes: answer.body,
    contentType: answer.headers.get("Content-Type") ?? "application/octet-stream",
    etag: answer.headers.get("ETag") ?? undefined,
    cache: answer.headers.get("X-Cache") ?? undefined,
    headers: answer.headers,
    requestId: answer.requestId,
  };
}
