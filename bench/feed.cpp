#include "bench/feed.hpp"

#include <algorithm>
#include <set>

namespace kroute::bench {
namespace {

// splitmix64: tiny, portable, and the same sequence on every standard library (unlike
// std::uniform_int_distribution), so a seed names one feed everywhere.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform enough in [lo, hi] for a benchmark's purposes.
    std::uint64_t in(std::uint64_t lo, std::uint64_t hi) { return lo + next() % (hi - lo + 1); }

private:
    std::uint64_t state_;
};

bool public_unicast_slash24(std::uint32_t index) {
    const std::uint32_t a = index >> 16, b = (index >> 8) & 0xff;
    if (a == 0 || a == 10 || a == 127 || a >= 224) return false;
    if (a == 100 && b >= 64 && b < 128) return false;  // RFC 6598
    if (a == 169 && b == 254) return false;
    if (a == 172 && b >= 16 && b < 32) return false;
    if (a == 192 && b == 168) return false;
    return true;
}

std::uint32_t public_asn(Rng& rng) {
    for (;;) {  // bounded in practice: most draws are public
        auto asn = static_cast<std::uint32_t>(rng.in(1, 399'999));
        if (asn != bgp::kAsTrans && !(asn >= 64496 && asn <= 131071)) return asn;
    }
}

// Cut a list of encoded messages into one stream with chunk boundaries every ~256 KiB.
void append(MessageStream& out, const std::vector<bgp::Bytes>& messages) {
    constexpr std::size_t kChunk = 256 * 1024;
    for (const auto& m : messages) {
        out.bytes.insert(out.bytes.end(), m.begin(), m.end());
        ++out.messages;
        std::size_t last = out.chunk_ends.empty() ? 0 : out.chunk_ends.back();
        if (out.bytes.size() - last >= kChunk) out.chunk_ends.push_back(out.bytes.size());
    }
}
void close_stream(MessageStream& out) {
    if (out.chunk_ends.empty() || out.chunk_ends.back() != out.bytes.size()) out.chunk_ends.push_back(out.bytes.size());
}

}  // namespace

std::vector<Prefix> make_prefixes(std::size_t count, std::uint64_t seed) {
    Rng rng(seed ^ 0x5052454649584553ULL);
    constexpr std::uint32_t kSpace = 1U << 24;  // every /24
    // An odd stride visits each of the 2^24 /24s exactly once: distinct without a set.
    const auto stride = static_cast<std::uint32_t>(rng.next() | 1U) & (kSpace - 1);
    auto index = static_cast<std::uint32_t>(rng.next()) & (kSpace - 1);
    std::vector<Prefix> out;
    out.reserve(count);
    for (std::uint32_t step = 0; step < kSpace && out.size() < count; ++step) {
        index = (index + stride) & (kSpace - 1);
        if (!public_unicast_slash24(index)) continue;
        int length = 24;
        if (rng.in(0, 9) == 0) length = static_cast<int>(rng.in(25, 28));
        out.emplace_back(IpAddress::v4(index << 8), length);
    }
    return out;
}

std::vector<bgp::PathAttributes> make_attribute_sets(const FeedConfig& config) {
    Rng rng(config.seed ^ 0x4154545253455453ULL);
    // A few dozen upstreams so paths share their first hops, as a real table's do.
    std::vector<std::uint32_t> upstreams;
    for (int i = 0; i < 40; ++i) upstreams.push_back(public_asn(rng));
    std::set<bgp::PathAttributes> seen;
    std::vector<bgp::PathAttributes> out;
    out.reserve(config.attribute_sets);
    for (std::size_t tries = 0; out.size() < config.attribute_sets && tries < config.attribute_sets * 10; ++tries) {
        bgp::PathAttributes a;
        a.origin = rng.in(0, 9) == 0 ? bgp::Origin::kIncomplete : bgp::Origin::kIgp;
        bgp::AsPathSegment seg;
        seg.asns.push_back(upstreams[rng.in(0, upstreams.size() - 1)]);
        const auto length = rng.in(2, 6);
        while (seg.asns.size() < length) seg.asns.push_back(public_asn(rng));
        if (!config.ibgp) seg.asns.insert(seg.asns.begin(), config.local_as);  // eBGP: our AS first
        a.as_path = std::vector<bgp::AsPathSegment>{seg};
        a.next_hop = config.next_hop;
        if (rng.in(0, 1) == 0) a.med = static_cast<std::uint32_t>(rng.in(0, 1000));
        if (config.ibgp) a.local_pref = 100;
        const auto ncomm = rng.in(0, 4);
        for (std::uint64_t c = 0; c < ncomm; ++c)
            a.communities.push_back((seg.asns.front() & 0xffffU) << 16 | static_cast<std::uint32_t>(rng.in(1, 999)));
        std::sort(a.communities.begin(), a.communities.end());
        a.communities.erase(std::unique(a.communities.begin(), a.communities.end()), a.communities.end());
        if (seen.insert(a).second) out.push_back(std::move(a));
    }
    return out;
}

Feed build_feed(const FeedConfig& config) {
    Feed feed;
    feed.prefixes = make_prefixes(config.prefixes, config.seed);
    feed.attribute_sets = make_attribute_sets(config);
    if (feed.attribute_sets.empty() || feed.prefixes.empty()) return feed;
    const std::size_t per_update = std::max<std::size_t>(config.per_update, 1);

    // Each prefix gets an attribute set; then each set's prefixes go out P at a time, the UPDATEs
    // of all sets shuffled together (a table dump interleaves its attribute sets).
    Rng rng(config.seed ^ 0x55504441544553ULL);
    std::vector<std::vector<Prefix>> by_set(feed.attribute_sets.size());
    for (const auto& p : feed.prefixes) by_set[rng.in(0, by_set.size() - 1)].push_back(p);
    struct Batch {
        std::size_t set;
        std::size_t begin;
        std::size_t end;
    };
    std::vector<Batch> batches;
    for (std::size_t s = 0; s < by_set.size(); ++s)
        for (std::size_t b = 0; b < by_set[s].size(); b += per_update)
            batches.push_back({s, b, std::min(b + per_update, by_set[s].size())});
    for (std::size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[rng.in(0, i - 1)]);

    feed.announcements.bytes.reserve(feed.prefixes.size() * 5 + batches.size() * 80);
    for (const auto& b : batches) {
        std::span<const Prefix> nlri(by_set[b.set].data() + b.begin, b.end - b.begin);
        append(feed.announcements, bgp::encode_announcements(feed.attribute_sets[b.set], nlri));
    }
    close_stream(feed.announcements);
    for (std::size_t b = 0; b < feed.prefixes.size(); b += per_update) {
        std::span<const Prefix> w(feed.prefixes.data() + b, std::min(per_update, feed.prefixes.size() - b));
        append(feed.withdrawals, bgp::encode_withdrawals(w));
    }
    close_stream(feed.withdrawals);
    return feed;
}

}  // namespace kroute::bench
