// Image bytes as a request body.

/**
 * An image to send: bytes (a Node.js Buffer is a Uint8Array), a Blob (a File
 * too), or a stream. A stream can be sent only once, so a call with one is
 * never tried again; give bytes or a Blob when retries matter.
 */
export type ImageInput = Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

export interface RawBody {
  body: BodyInit;
  contentType: string;
}

/** The body and Content-Type of a raw upload: a Blob's own `image/*` type, else application/octet-stream. */
export function rawBody(input: ImageInput): RawBody {
  if (typeof Blob !== "undefined" && input instanceof Blob) {
    return { body: input, contentType: input.type.startsWith("image/") ? input.type : "application/octet-stream" };
  }
  return { body: input as BodyInit, contentType: "application/octet-stream" };
}

/** A multipart file part: its bytes, with an optional file name and type. */
export interface FilePart {
  data: Uint8Array | ArrayBuffer | Blob;
  filename?: string;
  contentType?: string;
}

export function toBlob(data: Uint8Array | ArrayBuffer | Blob, contentType?: string): Blob {
  if (data instanceof Blob) return contentType === undefined ? data : new Blob([data], { type: contentType });
  return new Blob([data as BlobPart], contentType === undefined ? {} : { type: contentType });
}
