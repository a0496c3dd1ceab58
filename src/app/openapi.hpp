#pragma once
namespace progimage::app {
/// docs/openapi.json, embedded at build time.
extern const char* const kOpenApiJson;
}  // namespace progimage::app
