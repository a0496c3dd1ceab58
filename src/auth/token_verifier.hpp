#pragma once
// JSON Web Tokens (RFC 7519) that applications mint themselves: signatures
// checked by libjwt with HS256 secrets or the RS256/ES256 keys of a JWKS file,
// claims checked here, the result a Principal.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwks.hpp"
#include "auth/principal.hpp"
#include "core/hot_cache.hpp"
#include "core/time.hpp"

namespace progimage::auth {

/// The longest token taken (in bytes); longer ones are refused before any decoding.
inline constexpr std::size_t kMaxTokenBytes = 8192;
/// The shortest HS256 secret taken: as long as the hash output (RFC 7518 §3.2).
inline constexpr std::size_t kMinHs256SecretBytes = 32;
/// Memory for tokens already verified (each costs its length and a little more).
inline constexpr std::size_t kVerifiedTokenCacheBytes = 4u << 20;

struct TokenOptions {
  std::vector<std::string> hs256_secrets;  // any of them verifies an HS256 token
  std::string jwks_file;                   // RS256 and ES256 keys, chosen by kid
  std::string issuer;                      // when set, `iss` must equal it
  std::string audience;                    // when set, `aud` must be or contain it
  std::chrono::seconds leeway{60};         // clock skew allowed on `exp` and `nbf`
  std::optional<RateLimit> rate;           // request rate of each token subject (none: not limited)
};

/// Verifies bearer tokens. Built once from the configuration (the JWKS is read
/// and its keys converted to PEM here); any number of threads may call
/// verify() at once.
///
/// libjwt parses the PEM of a key on every call, which costs OpenSSL 3.0 about
/// as much as a whole request, so tokens that verified are remembered (within
/// kVerifiedTokenCacheBytes): a client sends the same token until it expires,
/// and its repeats cost a lookup. Only the time claims depend on when a token
/// is shown; they are checked again on every use. Failures are not remembered.
///
/// An algorithm is accepted only when keys for it are configured: HS256 with
/// HS256 secrets, RS256 with RSA keys, ES256 with P-256 keys. `none` never is,
/// and an HS256 token is never checked against RSA or EC key material.
class TokenVerifier {
 public:
  /// Throws core::Error(bad_parameter) for a secret shorter than
  /// kMinHs256SecretBytes, a negative leeway, or a JWKS file that cannot be used.
  explicit TokenVerifier(TokenOptions options);

  /// Whether any secret or key is configured; without one, every token is a bad_token.
  bool enabled() const noexcept { return !options_.hs256_secrets.empty() || !keys_.empty(); }
  /// The request rate of each token subject.
  const std::optional<RateLimit>& rate() const noexcept { return options_.rate; }
  /// The accepted algorithms, e.g. {"HS256", "ES256"}.
  std::vector<std::string> algorithms() const;
  /// Keys of the JWKS file that were left out, with the reason (for the start-up log).
  const std::vector<std::string>& skipped_keys() const noexcept { return skipped_; }

  /// The principal a compact JWS token speaks for. `exp` is required, `nbf`
  /// optional, both with the leeway; `iss` and `aud` are checked when
  /// configured (an `aud` is refused when no audience is); `scope` holds
  /// space-separated roles, the highest known one wins; `tenant` is absent
  /// (kDefaultTenant), `*` or 1-64 of `A-Z a-z 0-9 . _ -`; `sub` is optional.
  /// Throws core::Error: token_expired (`exp` passed or `nbf` ahead),
  /// unknown_key (a `kid` that no key of the JWKS has) or bad_token
  /// (anything else: malformed, refused alg, bad signature, bad claims).
  Principal verify(std::string_view token) const { return verify(token, core::Clock::now()); }
  Principal verify(std::string_view token, core::Clock::time_point now) const;

 private:
  enum class Alg { hs256, rs256, es256 };
  /// What a verified token grants, and when: all that verify() needs to answer it again.
  struct Grant {
    Principal principal;
    double exp = 0;
    std::optional<double> nbf;
  };

  Grant check(const std::string& token) const;

  Alg accepted_alg(std::string_view name) const;
  /// The key id of the principal ("jwt:" + kid) when a configured secret or key signed `token`.
  std::string check_signature(const std::string& token, Alg alg, const std::string* kid) const;
  std::string check_with_keys(const std::string& token, Alg alg, const std::string* kid) const;

  TokenOptions options_;
  std::vector<PublicKey> keys_;
  std::vector<std::string> skipped_;
  std::unique_ptr<core::HotCache<Grant>> verified_;
};

/// Whether a bearer credential has the shape of a JWT (three base64url parts,
/// a JSON header) rather than of an API key (generated ones never contain a dot).
bool looks_like_jwt(std::string_view credential) noexcept;

}  // namespace progimage::auth
