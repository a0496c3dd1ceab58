#pragma once
// Which peer addresses a remote fetch may connect to. Pure code: no sockets,
// no DNS; the fetcher asks it about every address after resolution.
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::fetch {

/// An IPv4 or IPv6 address. IPv4 is kept as four bytes, never as ::ffff:a.b.c.d.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // first 4 used for IPv4

  /// Numeric text only ("127.0.0.1", "::1"; strict dotted quad, no zone id).
  static std::optional<IpAddress> try_parse(std::string_view text);
  /// AF_INET or AF_INET6; nullopt for any other family.
  static std::optional<IpAddress> from_sockaddr(const sockaddr* addr);
  /// Conventional text form ("10.0.0.1", "fe80::1").
  std::string to_string() const;
  /// The IPv4 address carried inside an IPv6 one: IPv4-mapped ::ffff:0:0/96,
  /// IPv4-compatible ::/96 (but not :: or ::1), NAT64 64:ff9b::/96 and 6to4
  /// 2002::/16. nullopt for IPv4 and for other IPv6 addresses.
  std::optional<IpAddress> embedded_v4() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// A network: address plus prefix length. Host bits are cleared.
struct Cidr {
  IpAddress network;
  int prefix = 0;

  /// "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128).
  static std::optional<Cidr> try_parse(std::string_view text);
  /// Same family and the first `prefix` bits equal.
  bool contains(const IpAddress& address) const noexcept;
};

/// Refuses loopback, private, link-local, multicast, cloud-metadata and other
/// special-purpose addresses, unless an allow-listed CIDR contains them. An
/// address that embeds an IPv4 address (see IpAddress::embedded_v4) is judged
/// by that IPv4 address, for the allow-list as for the refusal. IPv6 outside
/// global unicast 2000::/3 is refused too. Immutable, so thread-safe.
class AddressGuard {
 public:
  /// Throws std::invalid_argument naming the first CIDR that does not parse.
  explicit AddressGuard(const std::vector<std::string>& allow_cidrs = {});

  /// Why the address may not be used, e.g. "address 127.0.0.1 is not allowed
  /// (loopback)"; nullopt when it may. Families other than IPv4 and IPv6
  /// (e.g. AF_UNIX) are always refused.
  std::optional<std::string> refuse_reason(const sockaddr* addr) const;
  std::optional<std::string> refuse_reason(const IpAddress& address) const;

  /// The special-purpose range an address belongs to, e.g. "loopback",
  /// "private (RFC 1918)"; nullopt for an ordinary public address. Ignores the
  /// allow-list.
  static std::optional<std::string_view> special_range(const IpAddress& address);

 private:
  bool allowed(const IpAddress& address) const noexcept;

  std::vector<Cidr> allow_;
};

}  // namespace progimage::fetch
