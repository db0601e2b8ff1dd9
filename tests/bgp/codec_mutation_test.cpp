// A bounded, deterministic random-mutation loop over every captured message (tests/data/bgp/*.hex:
// BIRD 2.0.12, GoBGP 3.10.0, FRR 8.4.4): decode_message() and frame_length() must never crash, read
// out of bounds (run under KROUTE_SANITIZE=ON to make that loud) or throw, and must obey their
// contracts on whatever comes out. Not a substitute for the libFuzzer target, a floor under it.
#include <catch2/catch.hpp>

#include <random>

#include "bgp/message.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::load_vectors;

namespace {

std::vector<Bytes> corpus() {
    std::vector<Bytes> out;
    for (const char* f : {"bird2_ebgp.hex", "bird2_ibgp.hex", "bird2_2octet.hex", "gobgp_ebgp.hex", "gobgp_ibgp.hex",
                          "frr8_ebgp.hex", "bird2_addpath.hex", "frr8_addpath.hex", "gobgp_addpath.hex"})
        for (auto& [name, bytes] : load_vectors(f)) out.push_back(bytes);
    return out;
}

// One of: flip a bit, set a byte to a boundary value, cut the tail, duplicate a slice, delete a
// slice; lengths in the header are then fixed up half of the time so that the body gets exercised.
Bytes mutate(Bytes b, std::mt19937& rng) {
    auto pick = [&rng](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    const int rounds = 1 + static_cast<int>(pick(3));
    for (int r = 0; r < rounds && !b.empty(); ++r) {
        switch (pick(5)) {
            case 0: b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << pick(8)); break;
            case 1: {
                static const std::uint8_t kValues[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x21, 0x81};
                b[pick(b.size())] = kValues[pick(sizeof kValues)];
                break;
            }
            case 2: b.resize(pick(b.size() + 1)); break;
            case 3: {
                const std::size_t from = pick(b.size());
                const std::size_t n = std::min<std::size_t>(pick(16) + 1, b.size() - from);
                Bytes slice(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + n));
                b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), slice.begin(), slice.end());
                break;
            }
            case 4: {
                const std::size_t from = pick(b.size());
                const std::size_t n = std::min<std::size_t>(pick(8) + 1, b.size() - from);
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + n));
                break;
            }
        }
    }
    if (b.size() >= 19 && pick(2) == 0) {
        b[16] = static_cast<std::uint8_t>(b.size() >> 8);
        b[17] = static_cast<std::uint8_t>(b.size());
    }
    return b;
}

}  // namespace

TEST_CASE("20000 seeded mutations of captured messages never break the decoder", "[bgp][codec][fuzz]") {
    const auto seeds = corpus();
    REQUIRE(seeds.size() > 30);
    std::mt19937 rng(20261123);  // fixed: failures reproduce
    const DecodeContext contexts[] = {{.four_octet_as = true, .extended_message = false, .ebgp = true},
                                      {.four_octet_as = false, .extended_message = false, .ebgp = false},
                                      {.four_octet_as = true, .extended_message = true, .ebgp = false},
                                      // RFC 7911: path identifiers in both unicast families
                                      {.four_octet_as = true, .extended_message = false, .ebgp = true,
                                       .add_path = {AfiSafi{kAfiIpv4, kSafiUnicast}, AfiSafi{kAfiIpv6, kSafiUnicast}}}};
    std::size_t decoded = 0;
    std::size_t rejected = 0;
    for (int i = 0; i < 20000; ++i) {
        const Bytes& seed = seeds[static_cast<std::size_t>(i) % seeds.size()];
        const Bytes b = mutate(seed, rng);
        const DecodeContext& ctx = contexts[i % 4];
        auto framed = frame_length(b, ctx.extended_message);
        if (framed && *framed) REQUIRE(**framed <= b.size());
        auto m = decode_message(b, ctx);
        if (!m) {
            ++rejected;
            // A reset always names a real NOTIFICATION code.
            REQUIRE(m.error().code >= kMessageHeaderError);
            REQUIRE(m.error().code <= kRouteRefreshMessageError);
            REQUIRE(m.error().action == ErrorAction::kSessionReset);
            continue;
        }
        ++decoded;
        if (auto* n = std::get_if<NotificationMessage>(&*m)) {  // RFC 9003 parsing of peer text
            (void)decode_shutdown_communication(n->data);
            (void)notification_to_string(n->code, n->subcode, n->data);
        }
        // Whatever decodes encodes again, and the result decodes (our encoder writes what it reads).
        auto again = decode_message(encode(*m, EncodeContext{ctx.four_octet_as, ctx.extended_message, ctx.add_path}), ctx);
        if (auto* u = std::get_if<UpdateMessage>(&*m); u && !u->treat_as_withdraw && u->discarded_attributes.empty()) {
            INFO("mutation " << i << ": " << kroute::bgp::test::hex(b));
            REQUIRE(again);
            auto& u2 = std::get<UpdateMessage>(*again);
            CHECK(u2.nlri == u->nlri);
            CHECK(u2.withdrawn == u->withdrawn);
            CHECK(u2.nlri_path_ids == u->nlri_path_ids);
            CHECK(u2.withdrawn_path_ids == u->withdrawn_path_ids);
        }
    }
    // Both outcomes must be common, or the mutations are not exercising the decoder.
    CHECK(decoded > 1000);
    CHECK(rejected > 1000);
}
