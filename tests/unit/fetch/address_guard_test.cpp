#include "fetch/address_guard.hpp"

#include <netinet/in.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

using progimage::fetch::AddressGuard;
using progimage::fetch::Cidr;
using progimage::fetch::IpAddress;

namespace {

IpAddress ip(const std::string& text) {
  auto a = IpAddress::try_parse(text);
  if (!a) throw std::invalid_argument("test: bad address " + text);
  return *a;
}

struct RangeCase {
  const char* address;
  const char* range;  // nullptr: an ordinary public address
};

// Every special range, its edges, and the public addresses just outside.
const RangeCase kRanges[] = {
    // IPv4
    {"0.0.0.0", "this network"},
    {"0.255.255.255", "this network"},
    {"10.0.0.0", "private (RFC 1918)"},
    {"10.255.255.255", "private (RFC 1918)"},
    {"11.0.0.0", nullptr},
    {"9.255.255.255", nullptr},
    {"172.16.0.0", "private (RFC 1918)"},
    {"172.31.255.255", "private (RFC 1918)"},
    {"172.15.255.255", nullptr},
    {"172.32.0.0", nullptr},
    {"192.168.0.1", "private (RFC 1918)"},
    {"192.168.255.255", "private (RFC 1918)"},
    {"192.167.255.255", nullptr},
    {"192.169.0.0", nullptr},
    {"100.64.0.0", "shared address space (CGNAT)"},
    {"100.127.255.255", "shared address space (CGNAT)"},
    {"100.63.255.255", nullptr},
    {"100.128.0.0", nullptr},
    {"127.0.0.1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"126.255.255.255", nullptr},
    {"128.0.0.0", nullptr},
    {"169.254.0.1", "link-local"},
    {"169.254.255.255", "link-local"},
    {"169.254.169.254", "cloud metadata"},
    {"169.253.255.255", nullptr},
    {"169.255.0.0", nullptr},
    {"192.0.0.8", "IETF protocol assignments"},
    {"192.0.2.1", "documentation"},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"192.88.99.1", "6to4 relay anycast"},
    {"198.18.0.0", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"198.17.255.255", nullptr},
    {"198.20.0.0", nullptr},
    {"224.0.0.1", "multicast"},
    {"239.255.255.255", "multicast"},
    {"223.255.255.255", nullptr},
    {"240.0.0.1", "reserved"},
    {"254.255.255.255", "reserved"},
    {"255.255.255.255", "broadcast"},
    {"8.8.8.8", nullptr},
    {"1.1.1.1", nullptr},
    {"93.184.216.34", nullptr},
    // IPv6 proper
    {"::", "unspecified"},
    {"::1", "loopback"},
    {"0:0:0:0:0:0:0:1", "loopback"},
    {"fe80::1", "link-local"},
    {"febf:ffff::1", "link-local"},
    {"fec0::1", "site-local"},
    {"fc00::1", "unique-local"},
    {"fdff:ffff::1", "unique-local"},
    {"fd00:ec2::254", "cloud metadata"},
    {"fd00:ec2::253", "unique-local"},
    {"ff02::1", "multicast"},
    {"ff0e::101", "multicast"},
    {"100::1", "discard-only"},
    {"2001:db8::1", "documentation"},
    {"2001:2::1", "benchmarking"},
    {"2001::1", "Teredo"},
    {"2001:10::1", "IETF protocol assignments"},
    {"1::1", "reserved (not global unicast)"},
    {"4000::1", "reserved (not global unicast)"},
    {"e000::1", "reserved (not global unicast)"},
    {"2606:4700:4700::1111", nullptr},
    {"2a00:1450:4001::200e", nullptr},
    {"2001:200::1", nullptr},
    // IPv6 forms that carry an IPv4 address: judged by it
    {"::ffff:127.0.0.1", "loopback"},
    {"::ffff:7f00:1", "loopback"},
    {"0:0:0:0:0:ffff:7f00:1", "loopback"},
    {"::ffff:10.1.2.3", "private (RFC 1918)"},
    {"::ffff:169.254.169.254", "cloud metadata"},
    {"::ffff:a9fe:a9fe", "cloud metadata"},
    {"::ffff:0.0.0.0", "this network"},
    {"::ffff:8.8.8.8", nullptr},
    {"::127.0.0.1", "loopback"},
    {"::2", "this network"},
    {"::10.0.0.1", "private (RFC 1918)"},
    {"::8.8.8.8", nullptr},
    {"64:ff9b::127.0.0.1", "loopback"},
    {"64:ff9b::a9fe:a9fe", "cloud metadata"},
    {"64:ff9b::c0a8:1", "private (RFC 1918)"},
    {"64:ff9b::808:808", nullptr},
    {"64:ff9b:1::7f00:1", "reserved (not global unicast)"},
    {"2002:7f00:1::1", "loopback"},
    {"2002:a00:1::", "private (RFC 1918)"},
    {"2002:c0a8:101::1", "private (RFC 1918)"},
    {"2002:a9fe:a9fe::", "cloud metadata"},
    {"2002:808:808::1", nullptr},
};

class RangeTable : public ::testing::TestWithParam<RangeCase> {};

TEST_P(RangeTable, ClassifiesAndRefuses) {
  const auto& c = GetParam();
  const AddressGuard guard;
  auto range = AddressGuard::special_range(ip(c.address));
  auto reason = guard.refuse_reason(ip(c.address));
  if (c.range == nullptr) {
    EXPECT_EQ(range, std::nullopt) << c.address;
    EXPECT_EQ(reason, std::nullopt) << c.address;
  } else {
    EXPECT_EQ(range.value_or("(none)"), c.range) << c.address;
    ASSERT_TRUE(reason.has_value()) << c.address;
    EXPECT_NE(reason->find(c.range), std::string::npos) << *reason;
    EXPECT_NE(reason->find("is not allowed"), std::string::npos) << *reason;
  }
}

INSTANTIATE_TEST_SUITE_P(AddressGuard, RangeTable, ::testing::ValuesIn(kRanges));

TEST(AddressGuard, ReasonNamesTheAddressAndTheRange) {
  const AddressGuard guard;
  EXPECT_EQ(guard.refuse_reason(ip("127.0.0.1")), "address 127.0.0.1 is not allowed (loopback)");
  EXPECT_EQ(guard.refuse_reason(ip("::1")), "address ::1 is not allowed (loopback)");
  EXPECT_EQ(guard.refuse_reason(ip("::ffff:127.0.0.1")),
            "address ::ffff:127.0.0.1 is not allowed (IPv4-mapped 127.0.0.1: loopback)");
  EXPECT_EQ(guard.refuse_reason(ip("64:ff9b::a9fe:a9fe")),
            "address 64:ff9b::a9fe:a9fe is not allowed (NAT64 169.254.169.254: cloud metadata)");
}

TEST(AddressGuard, AllowListExemptsOnlyItsRanges) {
  const AddressGuard guard({"127.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(guard.refuse_reason(ip("127.0.0.1")), std::nullopt);
  EXPECT_EQ(guard.refuse_reason(ip("127.9.9.9")), std::nullopt);
  EXPECT_EQ(guard.refuse_reason(ip("::ffff:127.0.0.1")), std::nullopt);  // same peer as 127.0.0.1
  EXPECT_EQ(guard.refuse_reason(ip("fd12::1")), std::nullopt);
  EXPECT_EQ(guard.refuse_reason(ip("fd00:ec2::254")), std::nullopt);  // explicitly allowed range
  EXPECT_TRUE(guard.refuse_reason(ip("::1")));                       // IPv6 loopback is not 127/8
  EXPECT_TRUE(guard.refuse_reason(ip("10.0.0.1")));
  EXPECT_TRUE(guard.refuse_reason(ip("169.254.169.254")));
  EXPECT_TRUE(guard.refuse_reason(ip("fc00::1")));
}

TEST(AddressGuard, AllowListOfOneHost) {
  const AddressGuard guard({"127.0.0.2/32", "::1"});
  EXPECT_EQ(guard.refuse_reason(ip("127.0.0.2")), std::nullopt);
  EXPECT_EQ(guard.refuse_reason(ip("::1")), std::nullopt);
  EXPECT_TRUE(guard.refuse_reason(ip("127.0.0.1")));
  EXPECT_TRUE(guard.refuse_reason(ip("127.0.0.3")));
  EXPECT_TRUE(guard.refuse_reason(ip("::ffff:127.0.0.1")));
}

TEST(AddressGuard, InvalidAllowListEntryThrows) {
  EXPECT_THROW(AddressGuard({"127.0.0.0/33"}), std::invalid_argument);
  EXPECT_THROW(AddressGuard({"localhost"}), std::invalid_argument);
  EXPECT_NO_THROW(AddressGuard({"0.0.0.0/0", "::/0"}));
}

TEST(AddressGuard, Sockaddrs) {
  const AddressGuard guard;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_addr.s_addr = htonl(0x7f000001);
  EXPECT_EQ(guard.refuse_reason(reinterpret_cast<sockaddr*>(&v4)), "address 127.0.0.1 is not allowed (loopback)");
  v4.sin_addr.s_addr = htonl(0x08080808);
  EXPECT_EQ(guard.refuse_reason(reinterpret_cast<sockaddr*>(&v4)), std::nullopt);

  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_addr = in6addr_loopback;
  EXPECT_TRUE(guard.refuse_reason(reinterpret_cast<sockaddr*>(&v6)));
  auto mapped = ip("::ffff:10.0.0.1");
  std::memcpy(&v6.sin6_addr, mapped.bytes.data(), 16);
  EXPECT_TRUE(guard.refuse_reason(reinterpret_cast<sockaddr*>(&v6)));

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_TRUE(guard.refuse_reason(reinterpret_cast<sockaddr*>(&un)));
  EXPECT_TRUE(guard.refuse_reason(static_cast<const sockaddr*>(nullptr)));
}

TEST(Cidr, Parses) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/+8",
                          "10.0.0.0/8/8", "10.0.0/8", "127.1/32", "0x7f.0.0.1/8", "010.0.0.0/8", "10.0.0.0 /8",
                          "abc", "fe80::1%lo/64", "10.0.0.0/0008", "[::1]/128"}) {
    EXPECT_EQ(Cidr::try_parse(bad), std::nullopt) << bad;
  }
  auto c = Cidr::try_parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, 8);
  EXPECT_EQ(c->network, ip("10.0.0.0"));  // host bits cleared
  EXPECT_EQ(Cidr::try_parse("::1")->prefix, 128);
  EXPECT_EQ(Cidr::try_parse("1.2.3.4")->prefix, 32);
}

TEST(Cidr, Contains) {
  auto c = *Cidr::try_parse("172.16.0.0/12");
  EXPECT_TRUE(c.contains(ip("172.16.0.0")));
  EXPECT_TRUE(c.contains(ip("172.31.255.255")));
  EXPECT_FALSE(c.contains(ip("172.32.0.0")));
  EXPECT_FALSE(c.contains(ip("::ffff:172.16.0.1")));  // families never mix in Cidr itself
  auto all4 = *Cidr::try_parse("0.0.0.0/0");
  EXPECT_TRUE(all4.contains(ip("255.255.255.255")));
  EXPECT_FALSE(all4.contains(ip("::1")));
  auto v6 = *Cidr::try_parse("fe80::/10");
  EXPECT_TRUE(v6.contains(ip("febf::1")));
  EXPECT_FALSE(v6.contains(ip("fec0::1")));
  auto odd = *Cidr::try_parse("2001:db8::/33");
  EXPECT_TRUE(odd.contains(ip("2001:db8:7fff::1")));
  EXPECT_FALSE(odd.contains(ip("2001:db8:8000::1")));
}

TEST(IpAddress, ParsesOnlyStrictNumericText) {
  for (const char* bad : {"", "localhost", "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "[::1]", "::1%lo",
                          "1.2.3.4 ", "256.0.0.1"}) {
    EXPECT_EQ(IpAddress::try_parse(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ip("::ffff:7f00:1").to_string(), "::ffff:127.0.0.1");
  EXPECT_EQ(ip("10.0.0.1").to_string(), "10.0.0.1");
  EXPECT_EQ(ip("2002:7f00:1::1").embedded_v4(), ip("127.0.0.1"));
  EXPECT_EQ(ip("::1").embedded_v4(), std::nullopt);
  EXPECT_EQ(ip("10.0.0.1").embedded_v4(), std::nullopt);
}

}  // namespace
