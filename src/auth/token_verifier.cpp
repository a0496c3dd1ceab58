#include "auth/token_verifier.hpp"

#include <jwt.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <tuple>

#include "auth/openssl.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"

namespace progimage::auth {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

using Jwt = std::unique_ptr<jwt_t, detail::Deleter<jwt_free>>;

constexpr double kLongestRemembered = 3600;  // seconds a verified token stays in memory

Error bad_token(const std::string& why) { return Error(ErrorCode::bad_token, "bad token: " + why); }

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
    return lower(x) == lower(y);
  });
}

bool is_base64url(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

struct Segments {
  std::string_view header, payload, signature;
};

/// The three parts of a compact JWS, or nullopt. Only the base64url alphabet
/// without padding is taken: libjwt's decoder skips characters it does not
/// know, which would let many spellings of one token verify.
std::optional<Segments> split(std::string_view token) noexcept {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  Segments s{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
  if (s.header.empty() || s.payload.empty()) return std::nullopt;
  for (auto part : {s.header, s.payload, s.signature})
    if (!std::all_of(part.begin(), part.end(), is_base64url)) return std::nullopt;
  return s;
}

json::object decode_object(std::string_view segment, const char* what) {
  auto text = core::base64_decode(segment);
  if (!text) throw bad_token(std::string("the ") + what + " is not base64url");
  boost::system::error_code ec;
  auto value = json::parse(*text, ec);
  if (ec || !value.is_object()) throw bad_token(std::string("the ") + what + " is not a JSON object");
  return std::move(value.as_object());
}

/// A member that must be a string when present; nullptr when absent.
const json::string* optional_string(const json::object& o, std::string_view name, const char* where) {
  const auto* v = o.if_contains(name);
  if (!v) return nullptr;
  if (!v->is_string()) throw bad_token(std::string("the ") + where + " member " + std::string(name) + " is not a string");
  return &v->as_string();
}

struct Header {
  std::string alg;
  std::optional<std::string> kid;
};

Header read_header(const json::object& h) {
  const auto* alg = optional_string(h, "alg", "header");
  if (!alg) throw bad_token("the header has no alg");
  // RFC 7515 §4.1.11: extensions marked critical must be understood; none are.
  if (h.contains("crit")) throw bad_token("the header lists critical extensions (crit), none of which is supported");
  // libjwt refuses a typ other than JWT itself; say so here, with the reason.
  if (const auto* typ = optional_string(h, "typ", "header"); typ && !equals_ignoring_case(*typ, "JWT"))
    throw bad_token("typ " + std::string(*typ) + " is not supported (JWT)");
  Header out{std::string(*alg), std::nullopt};
  if (const auto* kid = optional_string(h, "kid", "header")) out.kid = std::string(*kid);
  return out;
}

jwt_alg_t libjwt_alg(std::string_view name) {
  if (name == "HS256") return JWT_ALG_HS256;
  if (name == "RS256") return JWT_ALG_RS256;
  return JWT_ALG_ES256;
}

/// libjwt's verdict on `token` with one secret or PEM key: whether the
/// signature holds and libjwt read the same alg as we did.
bool signed_with(const std::string& token, std::string_view key, jwt_alg_t alg) {
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                 static_cast<int>(key.size())) != 0)
    return false;
  Jwt decoded(raw);
  return jwt_get_alg(decoded.get()) == alg;
}

/// A NumericDate claim (seconds since the epoch, possibly fractional), when present.
std::optional<double> numeric_date(const json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_token("the claim " + std::string(name) + " is not a number");
  return v->to_number<double>();
}

std::string when(double unix_seconds) { return core::format_rfc3339(static_cast<std::int64_t>(std::floor(unix_seconds))); }

/// The time claims: `exp` is required, `nbf` optional.
std::pair<double, std::optional<double>> validity(const json::object& claims) {
  const auto exp = numeric_date(claims, "exp");
  if (!exp) throw bad_token("the token has no exp");
  return {*exp, numeric_date(claims, "nbf")};
}

void check_time(double exp, std::optional<double> nbf, double now, double leeway) {
  if (now >= exp + leeway) throw Error(ErrorCode::token_expired, "the token expired at " + when(exp));
  if (nbf && now + leeway < *nbf)
    throw Error(ErrorCode::token_expired, "the token is not valid before " + when(*nbf) + " (nbf)");
}

void check_issuer(const json::object& claims, const std::string& issuer) {
  if (issuer.empty()) return;
  const auto* iss = optional_string(claims, "iss", "claims");
  if (!iss) throw bad_token("the token has no iss; this server takes tokens of " + issuer);
  if (*iss != issuer) throw bad_token("the token is from issuer " + std::string(*iss) + ", not " + issuer);
}

bool names_audience(const json::value& aud, std::string_view audience) {
  if (aud.is_string()) return aud.as_string() == audience;
  if (!aud.is_array()) throw bad_token("the claim aud is neither a string nor an array");
  const auto& list = aud.as_array();
  return std::any_of(list.begin(), list.end(), [&](const json::value& v) {
    return v.is_string() && v.as_string() == audience;
  });
}

// RFC 7519 §4.1.3: a token whose aud does not name this server is refused, so
// that a token minted for another service of the same issuer is no key here.
void check_audience(const json::object& claims, const std::string& audience) {
  const auto* aud = claims.if_contains("aud");
  if (audience.empty()) {
    if (aud) throw bad_token("the token names an audience (aud) and this server has none configured");
    return;
  }
  if (!aud) throw bad_token("the token has no aud; this server is " + audience);
  if (!names_audience(*aud, audience)) throw bad_token("the token's aud does not name " + audience);
}

core::Role role_from_scope(const json::object& claims) {
  const auto* scope = optional_string(claims, "scope", "claims");
  if (!scope) throw bad_token("the token has no scope (read, write or admin)");
  std::optional<core::Role> best;
  std::string_view rest = *scope;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    if (auto role = core::parse_role(rest.substr(0, space)); role && (!best || *role > *best)) best = role;
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  if (!best) throw bad_token("the scope names no role (read, write or admin)");
  return *best;
}

bool valid_tenant(std::string_view t) noexcept { return t == kAllTenants || core::is_valid_tenant(t); }

std::string tenant_from(const json::object& claims) {
  const auto* tenant = optional_string(claims, "tenant", "claims");
  if (!tenant) return std::string(kDefaultTenant);
  if (!valid_tenant(*tenant)) throw bad_token("the tenant must be * or 1-63 of a-z 0-9 - _, starting with a letter or digit");
  return std::string(*tenant);
}

std::string_view type_name(KeyType t) { return t == KeyType::rsa ? "an RSA key" : "an EC P-256 key"; }

}  // namespace

TokenVerifier::TokenVerifier(TokenOptions options)
    : options_(std::move(options)), verified_(std::make_unique<core::HotCache<Grant>>(kVerifiedTokenCacheBytes)) {
  for (const auto& secret : options_.hs256_secrets)
    if (secret.size() < kMinHs256SecretBytes)
      throw Error(ErrorCode::bad_parameter, "an HS256 secret must have at least " +
                                                std::to_string(kMinHs256SecretBytes) + " bytes");
  if (options_.leeway.count() < 0) throw Error(ErrorCode::bad_parameter, "the token leeway cannot be negative");
  if (!options_.jwks_file.empty()) {
    auto jwks = load_jwks(options_.jwks_file);
    keys_ = std::move(jwks.keys);
    skipped_ = std::move(jwks.skipped);
  }
}

std::vector<std::string> TokenVerifier::algorithms() const {
  auto has = [&](KeyType t) { return std::any_of(keys_.begin(), keys_.end(), [&](auto& k) { return k.type == t; }); };
  std::vector<std::string> out;
  if (!options_.hs256_secrets.empty()) out.emplace_back("HS256");
  if (has(KeyType::rsa)) out.emplace_back("RS256");
  if (has(KeyType::ec_p256)) out.emplace_back("ES256");
  return out;
}

TokenVerifier::Alg TokenVerifier::accepted_alg(std::string_view name) const {
  const auto accepted = algorithms();
  if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
    std::string list;
    for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
    throw bad_token("alg " + std::string(name) + " is not accepted" +
                    (list.empty() ? "; no token keys are configured" : " (" + list + ")"));
  }
  return name == "HS256" ? Alg::hs256 : name == "RS256" ? Alg::rs256 : Alg::es256;
}

std::string TokenVerifier::check_signature(const std::string& token, Alg alg,
                                                        const std::string* kid) const {
  if (alg != Alg::hs256) return check_with_keys(token, alg, kid);
  // HS256 secrets have no kid: a kid in the header is the issuer's business.
  for (const auto& secret : options_.hs256_secrets)
    if (signed_with(token, secret, JWT_ALG_HS256)) return "jwt:hs256";
  throw bad_token("the signature does not match any HS256 secret");
}

std::string TokenVerifier::check_with_keys(const std::string& token, Alg alg,
                                                        const std::string* kid) const {
  const auto type = alg == Alg::rs256 ? KeyType::rsa : KeyType::ec_p256;
  const char* name = alg == Alg::rs256 ? "RS256" : "ES256";
  const PublicKey* other_type = nullptr;
  bool tried = false;
  for (const auto& key : keys_) {
    if (kid && key.kid != *kid) continue;
    if (key.type != type) {
      other_type = &key;
      continue;
    }
    tried = true;
    if (signed_with(token, key.pem, libjwt_alg(name)))
      return "jwt:" + (key.kid.empty() ? (alg == Alg::rs256 ? "rs256" : "es256") : key.kid);
  }
  if (!kid) throw bad_token(std::string("the signature does not match any ") + name + " key");
  if (tried) throw bad_token("the signature does not match the key " + *kid);
  if (other_type)
    throw bad_token("the key " + *kid + " is " + std::string(type_name(other_type->type)) + "; the token is " + name);
  throw Error(ErrorCode::unknown_key, "no key of the JWKS has the kid " + *kid);
}

TokenVerifier::Grant TokenVerifier::check(const std::string& token) const {
  const auto parts = split(token);
  if (!parts) throw bad_token("not a compact JWS (three base64url parts separated by dots)");
  const auto header = read_header(decode_object(parts->header, "header"));
  if (header.alg == "none") throw bad_token("unsigned tokens (alg none) are refused");
  const auto alg = accepted_alg(header.alg);
  // Read before the signature is checked, so that a malformed payload is called that.
  const auto claims = decode_object(parts->payload, "payload");
  auto key_id = check_signature(token, alg, header.kid ? &*header.kid : nullptr);

  Grant out;
  std::tie(out.exp, out.nbf) = validity(claims);
  check_issuer(claims, options_.issuer);
  check_audience(claims, options_.audience);
  out.principal.role = role_from_scope(claims);
  out.principal.tenant = tenant_from(claims);
  out.principal.key_id = std::move(key_id);
  if (const auto* sub = optional_string(claims, "sub", "claims")) out.principal.subject = std::string(*sub);
  return out;
}

Principal TokenVerifier::verify(std::string_view token, core::Clock::time_point now) const {
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const auto leeway = static_cast<double>(options_.leeway.count());
  if (token.size() > kMaxTokenBytes)
    throw bad_token("the token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  const std::string key(token);
  auto grant = verified_->get(key);
  if (!grant) {
    grant = check(key);
    // Kept until the token expires (an hour at most); the cache checks no claims itself.
    const double left = std::min(grant->exp + leeway - now_s, kLongestRemembered);
    if (left > 0)
      verified_->put(key, *grant, key.size() + sizeof(Grant) + grant->principal.tenant.size() +
                                      grant->principal.key_id.size() + grant->principal.subject.size(),
                     std::chrono::duration_cast<core::HotCache<Grant>::Clock::duration>(
                         std::chrono::duration<double>(left)));
  }
  check_time(grant->exp, grant->nbf, now_s, leeway);
  return std::move(grant->principal);
}

bool looks_like_jwt(std::string_view credential) noexcept {
  // Every JWS header is a JSON object, and `{"` is `eyJ` in base64url.
  return credential.starts_with("eyJ") && split(credential).has_value();
}

}  // namespace progimage::auth
