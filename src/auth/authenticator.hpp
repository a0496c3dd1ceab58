#pragma once
// Who a bearer credential speaks for: a key of the configuration, a key that
// the catalog manages (found by its hash), or a JWT an application minted.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/principal.hpp"
#include "auth/token_verifier.hpp"
#include "core/config.hpp"

namespace progimage::auth {

/// The unrevoked managed key whose secret hashes to `hash` (key_hash()), or nullopt.
using ManagedKeyLookup = std::function<std::optional<Principal>(const std::string& hash)>;

/// How long a managed key found in the catalog is trusted without asking it
/// again. A revocation made on this node takes effect at once (forget());
/// other nodes see it within this time.
inline constexpr std::chrono::milliseconds kManagedKeyRecheck{1000};

class Authenticator {
 public:
  /// `managed` may be empty (no managed keys); `managed_keys_exist` says
  /// whether the catalog holds any now (asked again, at most once per
  /// kManagedKeyRecheck, while the server is open: another node may make the
  /// first). Throws core::Error for a token configuration that cannot be
  /// used (see TokenVerifier).
  Authenticator(std::vector<core::ApiKey> configured, TokenOptions tokens, ManagedKeyLookup managed,
                std::function<bool()> managed_keys_exist);

  /// Nothing configured and no managed key yet: every request acts as an
  /// operator (local use). The first managed key, made on any node, closes
  /// the server.
  bool open() const;
  /// The principal of an API key or a JWT; nullopt for an API key nobody has.
  /// Throws core::Error token_expired, unknown_key or bad_token for a JWT.
  std::optional<Principal> identify(std::string_view credential) const;

  /// A managed key was created: the server is no longer open.
  void key_created() noexcept { managed_exist_.store(true); }
  /// A managed key was revoked: it stops working here at once. "" forgets
  /// every remembered key (revocations may have been missed).
  void forget(const std::string& key_id);

  const TokenVerifier& tokens() const noexcept { return tokens_; }

 private:
  struct Remembered {
    Principal principal;
    std::chrono::steady_clock::time_point checked;
  };
  std::optional<Principal> managed_key(std::string_view secret) const;

  std::vector<core::ApiKey> configured_;
  TokenVerifier tokens_;
  ManagedKeyLookup managed_;
  std::function<bool()> ask_managed_exist_;
  mutable std::atomic<bool> managed_exist_{false};
  mutable std::atomic<std::int64_t> asked_at_ms_{0};  // steady clock
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<std::string, Remembered> remembered_;  // by key hash
};

/// The key id that usage and rate limits use for a key of the configuration:
/// "cfg_" and the start of its hash, never the secret.
std::string configured_key_id(std::string_view secret);

}  // namespace progimage::auth
