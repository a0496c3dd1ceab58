#include "fetch/address_guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace progimage::fetch {

namespace {

struct Range {
  Cidr cidr;
  std::string_view name;
};

Cidr must_parse(std::string_view text) {
  auto cidr = Cidr::try_parse(text);
  if (!cidr) throw std::logic_error("bad built-in CIDR");
  return *cidr;
}

// First match wins, so the narrow ranges come before the ones holding them.
const std::vector<Range>& v4_ranges() {
  static const std::vector<Range> ranges = {
      {must_parse("169.254.169.254/32"), "cloud metadata"},
      {must_parse("255.255.255.255/32"), "broadcast"},
      {must_parse("0.0.0.0/8"), "this network"},
      {must_parse("10.0.0.0/8"), "private (RFC 1918)"},
      {must_parse("172.16.0.0/12"), "private (RFC 1918)"},
      {must_parse("192.168.0.0/16"), "private (RFC 1918)"},
      {must_parse("100.64.0.0/10"), "shared address space (CGNAT)"},
      {must_parse("127.0.0.0/8"), "loopback"},
      {must_parse("169.254.0.0/16"), "link-local"},
      {must_parse("192.0.0.0/24"), "IETF protocol assignments"},
      {must_parse("192.0.2.0/24"), "documentation"},
      {must_parse("198.51.100.0/24"), "documentation"},
      {must_parse("203.0.113.0/24"), "documentation"},
      {must_parse("192.88.99.0/24"), "6to4 relay anycast"},
      {must_parse("198.18.0.0/15"), "benchmarking"},
      {must_parse("224.0.0.0/4"), "multicast"},
      {must_parse("240.0.0.0/4"), "reserved"},
  };
  return ranges;
}

const std::vector<Range>& v6_ranges() {
  static const std::vector<Range> ranges = {
      {must_parse("::/128"), "unspecified"},
      {must_parse("::1/128"), "loopback"},
      {must_parse("fd00:ec2::254/128"), "cloud metadata"},
      {must_parse("fc00::/7"), "unique-local"},
      {must_parse("fe80::/10"), "link-local"},
      {must_parse("fec0::/10"), "site-local"},
      {must_parse("ff00::/8"), "multicast"},
      {must_parse("100::/64"), "discard-only"},
      {must_parse("2001:db8::/32"), "documentation"},
      {must_parse("2001:2::/48"), "benchmarking"},
      {must_parse("2001::/32"), "Teredo"},
      {must_parse("2001::/23"), "IETF protocol assignments"},
  };
  return ranges;
}

const Cidr& global_unicast() {
  static const Cidr cidr = must_parse("2000::/3");
  return cidr;
}

struct Embedded {
  IpAddress v4;
  std::string_view kind;
};

IpAddress v4_from(const std::uint8_t* four) {
  IpAddress a;
  std::memcpy(a.bytes.data(), four, 4);
  return a;
}

std::optional<Embedded> find_embedded(const IpAddress& a) {
  if (!a.v6) return std::nullopt;
  const auto& b = a.bytes;
  auto zero = [&](int from, int to) {
    for (int i = from; i < to; ++i)
      if (b[i] != 0) return false;
    return true;
  };
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return Embedded{v4_from(&b[12]), "IPv4-mapped"};
  if (zero(0, 12)) {
    if (zero(12, 15) && b[15] <= 1) return std::nullopt;  // :: and ::1 are IPv6 proper
    return Embedded{v4_from(&b[12]), "IPv4-compatible"};
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12))
    return Embedded{v4_from(&b[12]), "NAT64"};
  if (b[0] == 0x20 && b[1] == 0x02) return Embedded{v4_from(&b[2]), "6to4"};
  return std::nullopt;
}

}  // namespace

std::optional<IpAddress> IpAddress::try_parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* addr) {
  if (addr == nullptr) return std::nullopt;
  IpAddress a;
  if (addr->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof in);
    std::memcpy(a.bytes.data(), &in.sin_addr, 4);
    return a;
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof in6);
    std::memcpy(a.bytes.data(), &in6.sin6_addr, 16);
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

std::optional<IpAddress> IpAddress::embedded_v4() const {
  auto e = find_embedded(*this);
  if (!e) return std::nullopt;
  return e->v4;
}

std::optional<Cidr> Cidr::try_parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = IpAddress::try_parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const int bits = address->v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc{} || end != digits.data() + digits.size() || prefix < 0 || prefix > bits)
      return std::nullopt;
  }
  Cidr cidr{*address, prefix};
  for (int i = prefix; i < bits; ++i)
    cidr.network.bytes[i / 8] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const noexcept {
  if (address.v6 != network.v6) return false;
  int full = prefix / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), full) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
  return (address.bytes[full] & mask) == (network.bytes[full] & mask);
}

AddressGuard::AddressGuard(const std::vector<std::string>& allow_cidrs) {
  for (const auto& text : allow_cidrs) {
    auto cidr = Cidr::try_parse(text);
    if (!cidr) throw std::invalid_argument("invalid CIDR in the fetch allow-list: '" + text + "'");
    allow_.push_back(*cidr);
  }
}

bool AddressGuard::allowed(const IpAddress& address) const noexcept {
  for (const auto& cidr : allow_)
    if (cidr.contains(address)) return true;
  return false;
}

std::optional<std::string_view> AddressGuard::special_range(const IpAddress& address) {
  if (auto embedded = find_embedded(address)) return special_range(embedded->v4);
  for (const auto& range : address.v6 ? v6_ranges() : v4_ranges())
    if (range.cidr.contains(address)) return range.name;
  if (address.v6 && !global_unicast().contains(address)) return "reserved (not global unicast)";
  return std::nullopt;
}

std::optional<std::string> AddressGuard::refuse_reason(const IpAddress& address) const {
  auto embedded = find_embedded(address);
  if (allowed(address) || (embedded && allowed(embedded->v4))) return std::nullopt;
  auto range = special_range(address);
  if (!range) return std::nullopt;
  std::string why = "address " + address.to_string() + " is not allowed (";
  if (embedded) why += std::string(embedded->kind) + " " + embedded->v4.to_string() + ": ";
  return why + std::string(*range) + ")";
}

std::optional<std::string> AddressGuard::refuse_reason(const sockaddr* addr) const {
  auto address = IpAddress::from_sockaddr(addr);
  if (!address) return "address family is not allowed (not IPv4 or IPv6)";
  return refuse_reason(*address);
}

}  // namespace progimage::fetch
