// encode_announcements / encode_withdrawals / encode_mp_announcements: as many prefixes per UPDATE as
// fit in 4096 octets (RFC 4271 §4.1), or 65535 with extended messages (RFC 8654). The attribute set
// is BIRD 2.0.12's "update_communities_med" (bird2_ebgp.hex); expected counts are worked out by hand
// in the comments.
#include <catch2/catch.hpp>

#include <array>
#include <set>

#include "bgp/message.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::hex;
using kroute::bgp::test::load_vectors;

namespace {

const DecodeContext kCtx{.four_octet_as = true, .extended_message = false, .ebgp = true};

PathAttributes bird_attributes() {
    auto m = decode_message(load_vectors("bird2_ebgp.hex").at("update_communities_med"), kCtx);
    REQUIRE(m);
    return std::get<UpdateMessage>(*m).attributes;
}

// n distinct /24s: 10.x.y.0/24.
std::vector<Prefix> slash24s(std::size_t n) {
    std::vector<Prefix> out;
    for (std::size_t i = 0; i < n; ++i)
        out.emplace_back(IpAddress::v4(static_cast<std::uint32_t>(0x0a000000u + (i << 8))), 24);
    return out;
}
std::vector<Prefix> ipv6_slash64s(std::size_t n) {
    std::vector<Prefix> out;
    for (std::size_t i = 0; i < n; ++i) {
        std::array<std::uint8_t, 16> a{0xfd, 0x00, 0, 0, 0, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        out.emplace_back(IpAddress::v6(a), 64);
    }
    return out;
}

std::vector<UpdateMessage> decode_all(const std::vector<Bytes>& msgs, const DecodeContext& ctx = kCtx) {
    std::vector<UpdateMessage> out;
    for (const auto& b : msgs) {
        auto m = decode_message(b, ctx);
        REQUIRE(m);
        out.push_back(std::get<UpdateMessage>(*m));
    }
    return out;
}

}  // namespace

TEST_CASE("one prefix: byte-identical to BIRD's UPDATE", "[bgp][codec]") {
    const Prefix p = *Prefix::parse("10.244.1.0/24");
    auto out = encode_announcements(bird_attributes(), std::span(&p, 1));
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(load_vectors("bird2_ebgp.hex").at("update_communities_med")));
}

TEST_CASE("IPv4 announcements fill 4096-octet UPDATEs", "[bgp][codec]") {
    // Header 19 + withdrawn length 2 + attribute length 2 + attributes 38 = 61 octets; a /24 takes 4.
    // (4096 - 61) / 4 = 1008 prefixes per UPDATE (4093 octets; a 1009th would make 4097).
    const auto prefixes = slash24s(2500);
    auto out = encode_announcements(bird_attributes(), prefixes);
    REQUIRE(out.size() == 3);
    CHECK(out[0].size() == 4093);
    CHECK(out[1].size() == 4093);
    CHECK(out[2].size() == 61 + 4 * (2500 - 2016));
    auto updates = decode_all(out);
    CHECK(updates[0].nlri.size() == 1008);
    std::vector<Prefix> all;
    for (const auto& u : updates) {
        CHECK(u.attributes == bird_attributes());
        all.insert(all.end(), u.nlri.begin(), u.nlri.end());
    }
    CHECK(all == prefixes);  // nothing lost, duplicated or reordered
}

TEST_CASE("extended messages (RFC 8654) allow 65535-octet UPDATEs", "[bgp][codec]") {
    // (65535 - 61) / 4 = 16368 prefixes (65533 octets).
    const EncodeContext ext{.four_octet_as = true, .extended_message = true};
    auto out = encode_announcements(bird_attributes(), slash24s(20000), ext);
    REQUIRE(out.size() == 2);
    CHECK(out[0].size() == 65533);
    auto updates = decode_all(out, DecodeContext{.four_octet_as = true, .extended_message = true, .ebgp = true});
    CHECK(updates[0].nlri.size() == 16368);
    CHECK(updates[1].nlri.size() == 20000 - 16368);
}

TEST_CASE("withdrawals: IPv4 in the Withdrawn Routes field, IPv6 in MP_UNREACH_NLRI", "[bgp][codec]") {
    // IPv4: 23 fixed octets, 4 per /24: (4096 - 23) / 4 = 1018 per UPDATE.
    // IPv6: 23 + MP_UNREACH header 4 (extended length: the value exceeds 255) + AFI/SAFI 3 = 30 fixed,
    // a /64 takes 9: (4096 - 30) / 9 = 451 per UPDATE.
    auto v4 = slash24s(1100);
    auto v6 = ipv6_slash64s(500);
    std::vector<Prefix> mixed;
    for (std::size_t i = 0; i < 500; ++i) {
        mixed.push_back(v4[i]);
        mixed.push_back(v6[i]);
    }
    mixed.insert(mixed.end(), v4.begin() + 500, v4.end());
    auto updates = decode_all(encode_withdrawals(mixed));
    REQUIRE(updates.size() == 4);
    CHECK(updates[0].withdrawn.size() == 1018);
    CHECK(updates[1].withdrawn.size() == 82);
    REQUIRE(updates[2].mp_unreach);
    CHECK(updates[2].mp_unreach->withdrawn.size() == 451);
    CHECK(updates[3].mp_unreach->withdrawn.size() == 49);
    std::set<Prefix> seen;
    for (const auto& u : updates) {
        CHECK(u.attributes == PathAttributes{});
        seen.insert(u.withdrawn.begin(), u.withdrawn.end());
        if (u.mp_unreach) seen.insert(u.mp_unreach->withdrawn.begin(), u.mp_unreach->withdrawn.end());
    }
    CHECK(seen == std::set<Prefix>(mixed.begin(), mixed.end()));
}

TEST_CASE("IPv6 announcements in MP_REACH_NLRI with global + link-local next hop", "[bgp][codec]") {
    // Attributes without NEXT_HOP: 38 - 7 = 31; fixed 19 + 4 + 31 = 54; MP_REACH header 4 + AFI/SAFI/
    // NH len 4 + next hops 32 + reserved 1 = 41; a /64 takes 9: (4096 - 95) / 9 = 444 per UPDATE.
    const IpAddress hops[] = {*IpAddress::parse("2001:db8::1"), *IpAddress::parse("fe80::1")};
    auto out = encode_mp_announcements(bird_attributes(), AfiSafi{kAfiIpv6, kSafiUnicast}, hops, ipv6_slash64s(1000));
    auto updates = decode_all(out);
    REQUIRE(updates.size() == 3);
    REQUIRE(updates[0].mp_reach);
    CHECK(updates[0].mp_reach->nlri.size() == 444);
    CHECK(updates[0].mp_reach->next_hops == std::vector<IpAddress>{hops[0], hops[1]});
    CHECK(!updates[0].attributes.next_hop);
    CHECK(updates[0].nlri.empty());
    CHECK(!updates[0].treat_as_withdraw);
    CHECK(updates[2].mp_reach->nlri.size() == 1000 - 888);
}

TEST_CASE("an attribute set too large for any prefix yields no UPDATE", "[bgp][codec]") {
    PathAttributes a = bird_attributes();
    a.communities.assign(1100, 0xfde90064);  // 4400 octets of COMMUNITIES
    CHECK(encode_announcements(a, slash24s(3)).empty());
    CHECK(encode_announcements(bird_attributes(), {}).empty());
    CHECK(encode_withdrawals({}).empty());
}
