// @progimage/client: the ProgImage HTTP API v1 over fetch and Web Crypto, for
// Node.js 18+ and any runtime that has both. Node.js-only helpers (files,
// Node streams) are in "@progimage/client/node".
export { ProgImage, type ProgImageOptions, type StoredImage, type UrlOptions } from "./client.js";
export { ProgImageError, type ClientErrorCode, type ProgImageErrorCode } from "./errors.js";
export {
  Transform,
  formatNumber,
  type Crop,
  type Fit,
  type Flip,
  type FocalPoint,
  type Gravity,
  type Mask,
  type OutputFormat,
  type Position,
  type TransformInput,
  type WatermarkOptions,
} from "./transform.js";
export { signature, signingMessage, verifyCallbackSignature } from "./signing.js";
export { backoffDelay, defaultRetry, parseRetryAfter, type RetryOptions } from "./retry.js";
export type { CallOptions, FetchFunction } from "./http.js";
export type { Download } from "./download.js";
export type { FilePart, ImageInput } from "./body.js";
export type {
  GetImageOptions,
  ImageFields,
  Images,
  ListOptions,
  RemoteImage,
  UploadOptions,
  VariantAnswer,
} from "./images.js";
export { isFinished, type Jobs, type JobSubmission, type WaitOptions } from "./jobs.js";
export type { Keys, Quotas, UploadLinks } from "./admin.js";
export type {
  Resumable,
  ResumableInput,
  ResumableOptions,
  ResumableResult,
  ResumableSource,
  ResumeOptions,
  UploadState,
} from "./resumable.js";
export type * from "./types.js";
export type { components, paths, operations } from "./generated/openapi.js";
