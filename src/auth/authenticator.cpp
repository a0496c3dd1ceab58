#include "auth/authenticator.hpp"

#include "auth/key_secret.hpp"
#include "core/hash.hpp"

namespace progimage::auth {

namespace {
/// Remembered keys beyond this are dropped all at once (a flood of distinct
/// valid keys is not a way to grow the memory).
constexpr std::size_t kMaxRemembered = 100'000;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string configured_key_id(std::string_view secret) { return "cfg_" + key_hash(secret).substr(0, 16); }

Authenticator::Authenticator(std::vector<core::ApiKey> configured, TokenOptions tokens, ManagedKeyLookup managed,
                             std::function<bool()> managed_keys_exist)
    : configured_(std::move(configured)),
      tokens_(std::move(tokens)),
      managed_(std::move(managed)),
      ask_managed_exist_(std::move(managed_keys_exist)) {
  if (ask_managed_exist_) managed_exist_ = ask_managed_exist_();
  asked_at_ms_ = steady_ms();
}

bool Authenticator::open() const {
  if (!configured_.empty() || tokens_.enabled() || managed_exist_.load()) return false;
  auto asked = asked_at_ms_.load();
  const auto now = steady_ms();
  if (ask_managed_exist_ && now - asked >= kManagedKeyRecheck.count() &&
      asked_at_ms_.compare_exchange_strong(asked, now)) {
    try {
      if (ask_managed_exist_()) managed_exist_ = true;
    } catch (...) {
      return false;  // the catalog does not answer: stay shut rather than open
    }
  }
  return !managed_exist_.load();
}

std::optional<Principal> Authenticator::identify(std::string_view credential) const {
  if (credential.empty()) return std::nullopt;
  if (looks_like_jwt(credential)) {
    auto principal = tokens_.verify(credential);
    principal.rate = tokens_.rate();
    return principal;
  }
  // Every configured key is compared, so the time taken does not tell which one matched.
  const core::ApiKey* found = nullptr;
  for (const auto& k : configured_)
    if (core::secure_equals(k.key, credential)) found = &k;
  if (found) return Principal{found->tenant, found->role, configured_key_id(found->key), {}, std::nullopt};
  return managed_key(credential);
}

std::optional<Principal> Authenticator::managed_key(std::string_view secret) const {
  if (!managed_ || !secret.starts_with(kKeySecretPrefix)) return std::nullopt;
  const auto hash = key_hash(secret);
  const auto now = std::chrono::steady_clock::now();
  {
    std::shared_lock lock(mutex_);
    auto it = remembered_.find(hash);
    if (it != remembered_.end() && now - it->second.checked < kManagedKeyRecheck) return it->second.principal;
  }
  auto principal = managed_(hash);
  std::unique_lock lock(mutex_);
  if (!principal) {
    remembered_.erase(hash);
    return std::nullopt;
  }
  if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  remembered_[hash] = Remembered{*principal, now};
  return principal;
}

void Authenticator::forget(const std::string& key_id) {
  std::unique_lock lock(mutex_);
  if (key_id.empty()) {
    remembered_.clear();
    return;
  }
  std::erase_if(remembered_, [&key_id](const auto& entry) { return entry.second.principal.key_id == key_id; });
}

}  // namespace progimage::auth
