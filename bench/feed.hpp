// The BGP ingest benchmark's feed: N distinct IPv4 prefixes spread over K attribute sets, encoded
// once into UPDATE messages with the project's codec, before any socket exists, so the feeder only
// has to write bytes. Pure: same config (seed included), same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bgp/message.hpp"
#include "common/ip.hpp"

namespace kroute::bench {

struct FeedConfig {
    std::size_t prefixes = 1'000'000;
    std::size_t attribute_sets = 2000;
    std::size_t per_update = 180;       // prefixes per UPDATE (the codec splits further at 4096 bytes)
    std::uint64_t seed = 1;
    bool ibgp = true;                   // sends LOCAL_PREF (RFC 4271 §5.1.5: iBGP only)
    std::uint32_t local_as = 64512;     // eBGP: leftmost in every AS_PATH (RFC 4271 §5.1.2)
    IpAddress next_hop = IpAddress::v4(0x7f000001);
};

// A stream of whole BGP messages, with cut points: every `chunk_ends` entry is the end offset of a
// message, so a KEEPALIVE may be written between two chunks without splitting an UPDATE.
struct MessageStream {
    bgp::Bytes bytes;
    std::vector<std::size_t> chunk_ends;
    std::size_t messages = 0;
};

struct Feed {
    std::vector<Prefix> prefixes;     // distinct, in no particular order
    std::vector<bgp::PathAttributes> attribute_sets;
    MessageStream announcements;
    MessageStream withdrawals;
};

// Deterministic distinct prefixes: /24s (and ~10% /25../28 inside distinct /24s) from public
// unicast space (no 0/8, 10/8, 127/8, 100.64/10, 169.254/16, 172.16/12, 192.168/16, 224/3).
[[nodiscard]] std::vector<Prefix> make_prefixes(std::size_t count, std::uint64_t seed);

// K attribute sets: ORIGIN, AS_PATH of 2-6 public ASNs, NEXT_HOP, MED on about half, LOCAL_PREF
// when iBGP, 0-4 communities. Distinct from one another.
[[nodiscard]] std::vector<bgp::PathAttributes> make_attribute_sets(const FeedConfig& config);

[[nodiscard]] Feed build_feed(const FeedConfig& config);

}  // namespace kroute::bench
