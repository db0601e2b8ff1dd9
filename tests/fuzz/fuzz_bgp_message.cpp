// libFuzzer target for the BGP message codec (bgp/message.hpp): wire input never crashes, and
// whatever decode_message() accepts, encode() must turn into bytes decode_message() accepts again,
// and those bytes must survive a second decode/encode unchanged.
//
// Input layout: byte 0 selects the session context (what was negotiated decides how the same bytes
// decode: 2- vs 4-octet AS numbers, RFC 6793; the 4096 vs 65535 size limit, RFC 8654; the RFC 7606
// iBGP/eBGP checks; bit 3: ADD-PATH for IPv4 and IPv6 unicast, RFC 7911, every NLRI, withdrawn,
// MP_REACH and MP_UNREACH prefix preceded by a Path Identifier); the rest is a byte stream from the
// peer. The OPEN, NOTIFICATION (RFC 9003 shutdown communication) and ROUTE-REFRESH paths take any
// context. The stream is framed with
// frame_length() as the session does, and the whole rest is also handed to decode_message() as one
// frame, whose own header checks must reject what does not fit.
//
// A codec bug is a crash: the sanitizers report memory and UB errors, and a re-encoded message
// that no longer decodes, or does not encode back to the same bytes, aborts with what went wrong.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "bgp/message.hpp"

namespace {

using kroute::bgp::DecodeContext;
using kroute::bgp::EncodeContext;

void check_round_trip(std::span<const std::uint8_t> frame, const DecodeContext& ctx) {
    auto first = kroute::bgp::decode_message(frame, ctx);
    if (!first) return;  // rejected with a NOTIFICATION: fine, that is the error path
    const EncodeContext ectx{.four_octet_as = ctx.four_octet_as, .extended_message = ctx.extended_message,
                             .add_path = ctx.add_path};
    const auto bytes = kroute::bgp::encode(*first, ectx);
    auto second = kroute::bgp::decode_message(bytes, ctx);
    if (!second) {
        std::fprintf(stderr,
                     "fuzz_bgp_message: re-encoded message (type %zu, %zu octets, from %zu) does not decode: "
                     "code %u subcode %u, %s (four_octet_as=%d extended_message=%d ebgp=%d add_path=%d)\n",
                     first->index(), bytes.size(), frame.size(), static_cast<unsigned>(second.error().code),
                     static_cast<unsigned>(second.error().subcode), second.error().detail.c_str(),
                     ctx.four_octet_as, ctx.extended_message, ctx.ebgp, !ctx.add_path.empty());
        std::abort();
    }
    // One round trip reaches a fixed point: what decoded from our own bytes encodes to them again.
    const auto again = kroute::bgp::encode(*second, ectx);
    if (again != bytes) {
        std::fprintf(stderr,
                     "fuzz_bgp_message: encode(decode(encode(m))) != encode(m) (type %zu, %zu vs %zu octets)\n",
                     first->index(), again.size(), bytes.size());
        std::abort();
    }
    // A NOTIFICATION's data is peer text too: the RFC 9003 parser and the log formatting must take
    // anything (their result is not checked: any outcome is fine, a crash is not).
    if (const auto* n = std::get_if<kroute::bgp::NotificationMessage>(&*first)) {
        (void)kroute::bgp::decode_shutdown_communication(n->data);
        (void)kroute::bgp::notification_to_string(n->code, n->subcode, n->data);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    const std::span<const std::uint8_t> stream(data + 1, size - 1);
    const DecodeContext ctx{
        .four_octet_as = (selector & 0x01) == 0,  // 0 = the common case: capability 65 on both sides
        .extended_message = (selector & 0x02) != 0,
        .ebgp = (selector & 0x04) != 0,
        .add_path = (selector & 0x08) != 0
                        ? std::vector<kroute::bgp::AfiSafi>{{kroute::bgp::kAfiIpv4, kroute::bgp::kSafiUnicast},
                                                            {kroute::bgp::kAfiIpv6, kroute::bgp::kSafiUnicast}}
                        : std::vector<kroute::bgp::AfiSafi>{},
        .ipv4_with_ipv6_next_hop = (selector & 0x10) != 0,  // RFC 8950 negotiated
    };

    // As the session reads: frame after frame until an error or an incomplete tail. Every frame is
    // at least a header long, so this ends within size / 19 rounds.
    std::span<const std::uint8_t> rest = stream;
    while (!rest.empty()) {
        auto length = kroute::bgp::frame_length(rest, ctx.extended_message);
        if (!length || !*length) break;
        const std::size_t n = **length;
        if (n < kroute::bgp::kHeaderLength || n > rest.size()) {
            std::fprintf(stderr, "fuzz_bgp_message: frame_length() returned %zu for %zu buffered octets\n", n,
                         rest.size());
            std::abort();
        }
        check_round_trip(rest.first(n), ctx);
        rest = rest.subspan(n);
    }

    // The whole stream as one frame: a length field that disagrees with the span must be an error.
    check_round_trip(stream, ctx);
    return 0;
}
