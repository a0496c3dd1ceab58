#pragma once
#include <string>

namespace progimage::core {

/// A new opaque id: 22 base62 characters from a CSPRNG (about 130 bits).
std::string new_id();
/// A unique id for a request: a random per-thread prefix and a counter, so
/// that naming a request costs no call into the random source.
std::string new_request_id();
/// This process's name among the nodes of an installation ("host:pid:random",
/// the same for the whole process): job leases and the node list carry it.
const std::string& this_node_id();
/// A new secret key: 32 bytes from a CSPRNG, base64url without padding.
std::string new_secret();
/// True when `s` has the shape of an id (URL-safe characters, sane length).
bool looks_like_id(std::string_view s) noexcept;

}  // namespace progimage::core
