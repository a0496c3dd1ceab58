// The API's objects, named after the schemas of docs/openapi.json. The
// generated file is made by `npm run generate` (part of `npm run build`), so
// these types are always those of the description the server serves.
import type { components, operations } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type ErrorCode = Schemas["ErrorCode"];
export type Image = Schemas["Image"];
export type Info = Schemas["Info"];
export type ImageList = Schemas["ImageList"];
export type ImagePatch = Schemas["ImagePatch"];
export type MultipartResult = Schemas["MultipartResult"];
export type Derivative = Schemas["Derivative"];
export type DerivativeList = Schemas["DerivativeList"];
export type Explain = Schemas["Explain"];
export type TransformParams = Schemas["TransformParams"];
export type SimilarImages = Schemas["SimilarImages"];
export type SimilarImage = Schemas["SimilarImage"];
export type TagCount = Schemas["TagCount"];
export type Tags = Schemas["Tags"];
export type HealthStatus = Schemas["HealthStatus"];

export type Job = Schemas["Job"];
export type JobStatus = Schemas["JobStatus"];
export type JobResult = Schemas["JobResult"];
export type JobRequest = Schemas["JobRequest"];
export type JobAccepted = Schemas["JobAccepted"];
export type JobSource = Schemas["JobSource"];
export type JobSelector = Schemas["JobSelector"];
export type CallbackSecret = Schemas["CallbackSecret"];

export type Role = Schemas["Role"];
export type ApiKey = Schemas["ApiKey"];
export type ApiKeyList = Schemas["ApiKeyList"];
export type NewApiKey = Schemas["NewApiKey"];
export type CreatedApiKey = Schemas["CreatedApiKey"];
export type Quota = Schemas["Quota"];
export type QuotaUpdate = Schemas["QuotaUpdate"];
export type Usage = Schemas["Usage"];
export type Stats = Schemas["Stats"];

export type UploadLink = Schemas["UploadLink"];
export type UploadLinkRequest = Schemas["UploadLinkRequest"];
export type UploadLinkList = Schemas["UploadLinkList"];

/** The filters of `GET /v1/images` (without the paging ones, which the iterator drives). */
export type ImageQuery = Omit<NonNullable<operations["listImages"]["parameters"]["query"]>, "cursor">;
/** `GET /v1/images/{id}/similar` and `POST /v1/similar`. */
export type SimilarQuery = NonNullable<operations["similarImages"]["parameters"]["query"]>;
/** `GET /v1/usage`. */
export type UsageQuery = NonNullable<operations["getUsage"]["parameters"]["query"]>;
