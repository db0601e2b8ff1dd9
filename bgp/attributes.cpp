#include "bgp/attributes.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <string>
#include <utility>

#include "bgp/nlri.hpp"

namespace kroute::bgp {

namespace {

// RFC 7606 §7: what a malformed instance of each attribute costs.
ErrorAction action_for(std::uint8_t code) {
    switch (code) {
        case kAttrAtomicAggregate:  // §7.6
        case kAttrAggregator:       // §7.7
        case kAttrAs4Path:          // RFC 6793 §6
        case kAttrAs4Aggregator:    // RFC 6793 §6
            return ErrorAction::kAttributeDiscard;
        case kAttrMpReachNlri:  // §7.11: the NLRI cannot be located
        case kAttrMpUnreachNlri:
            return ErrorAction::kSessionReset;
        default:  // ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF (§7.1-7.5), COMMUNITIES (§7.8),
                  // ORIGINATOR_ID, CLUSTER_LIST (§7.9, §7.10), EXTENDED COMMUNITIES (§7.14),
                  // LARGE_COMMUNITY (RFC 8092 §6)
            return ErrorAction::kTreatAsWithdraw;
    }
}

// The Optional and Transitive bits each known attribute must carry (RFC 4271 §5, RFC 4456,
// RFC 4760, RFC 6793). nullopt = not an attribute we recognise.
std::optional<std::uint8_t> expected_flags(std::uint8_t code) {
    switch (code) {
        case kAttrOrigin:
        case kAttrAsPath:
        case kAttrNextHop:
        case kAttrLocalPref:
        case kAttrAtomicAggregate: return kFlagTransitive;
        case kAttrMed:
        case kAttrOriginatorId:
        case kAttrClusterList:
        case kAttrMpReachNlri:
        case kAttrMpUnreachNlri: return kFlagOptional;
        case kAttrAggregator:
        case kAttrCommunities:
        case kAttrExtendedCommunities:  // RFC 4360 §2
        case kAttrAs4Path:
        case kAttrAs4Aggregator:
        case kAttrLargeCommunities: return kFlagOptional | kFlagTransitive;  // RFC 8092 §3
        default: return std::nullopt;
    }
}

std::uint32_t be32(std::span<const std::uint8_t> b) {
    return static_cast<std::uint32_t>(b[0]) << 24 | static_cast<std::uint32_t>(b[1]) << 16 |
           static_cast<std::uint32_t>(b[2]) << 8 | static_cast<std::uint32_t>(b[3]);
}
std::uint64_t be64(std::span<const std::uint8_t> b) {
    return static_cast<std::uint64_t>(be32(b)) << 32 | be32(b.subspan(4));
}

// RFC 7607 §2: AS 0 anywhere in an AS path makes it malformed.
bool has_as0(const std::vector<AsPathSegment>& path) {
    return std::any_of(path.begin(), path.end(), [](const AsPathSegment& s) {
        return std::find(s.asns.begin(), s.asns.end(), 0u) != s.asns.end();
    });
}

// Decodes AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 6793 §3).
std::optional<std::vector<AsPathSegment>> parse_as_path(std::span<const std::uint8_t> value, std::size_t as_size,
                                                        std::string& why) {
    std::vector<AsPathSegment> out;
    Reader r{value};
    while (!r.empty()) {
        auto type = r.u8();
        auto count = r.u8();
        if (!count) { why = "AS_PATH segment header truncated"; return std::nullopt; }
        if (*type < AsPathSegment::kAsSet || *type > kAsConfedSet) {
            why = "AS_PATH segment type " + std::to_string(*type);
            return std::nullopt;
        }
        if (*count == 0) { why = "empty AS_PATH segment"; return std::nullopt; }  // RFC 7606 §7.2
        auto asns = r.bytes(*count * as_size);
        if (!asns) { why = "AS_PATH segment overruns the attribute"; return std::nullopt; }
        AsPathSegment seg{*type, {}};
        seg.asns.reserve(*count);
        for (std::size_t i = 0; i < *count; ++i) {
            auto p = asns->subspan(i * as_size, as_size);
            seg.asns.push_back(as_size == 4 ? be32(p) : static_cast<std::uint32_t>(p[0] << 8 | p[1]));
        }
        out.push_back(std::move(seg));
    }
    return out;
}

// RFC 6793 §4.2.3: rebuild the real path from a 2-octet AS_PATH and the AS4_PATH beside it.
std::vector<AsPathSegment> merge_as4_path(const std::vector<AsPathSegment>& as_path,
                                          const std::vector<AsPathSegment>& as4_path) {
    const std::size_t n = as_path_length(as_path);
    const std::size_t m = as_path_length(as4_path);
    if (n < m) return as_path;  // "the AS4_PATH attribute ... MUST be ignored"
    std::size_t budget = n - m;  // leading ASes of AS_PATH not covered by AS4_PATH
    std::vector<AsPathSegment> out;
    for (const auto& seg : as_path) {
        if (budget == 0) break;
        if (seg.type == AsPathSegment::kAsSequence) {
            const std::size_t take = std::min(budget, seg.asns.size());
            out.push_back(AsPathSegment{seg.type, {seg.asns.begin(), seg.asns.begin() + static_cast<std::ptrdiff_t>(take)}});
            budget -= take;
        } else {
            out.push_back(seg);
            if (seg.type == AsPathSegment::kAsSet) --budget;
        }
    }
    for (const auto& seg : as4_path) {
        if (!out.empty() && out.back().type == AsPathSegment::kAsSequence && seg.type == AsPathSegment::kAsSequence)
            out.back().asns.insert(out.back().asns.end(), seg.asns.begin(), seg.asns.end());
        else
            out.push_back(seg);
    }
    return out;
}

// RFC 4271 §6.3 / RFC 7606 §7.3: a NEXT_HOP that is no unicast host address.
bool bad_next_hop(std::uint32_t a) {
    return a == 0 || a == 0xffffffff || (a >> 28) == 0xe;
}

class AttributeParser {
public:
    AttributeParser(const DecodeContext& ctx) : ctx_{ctx} {}

    Expected<DecodedAttributes, DecodeError> run(std::span<const std::uint8_t> field) {
        Reader r{field};
        while (!r.empty()) {
            const std::size_t start = r.position();
            auto flags = r.u8();
            auto code = r.u8();
            std::optional<std::uint16_t> len;
            if (code) {
                if (*flags & kFlagExtendedLength)
                    len = r.u16();
                else if (auto l8 = r.u8())
                    len = *l8;
            }
            if (!len) {
                // RFC 7606 §4: fewer than 3 (4) octets left for an attribute header.
                withdraw(DecodeError{kUpdateMessageError, kMalformedAttributeList, ErrorAction::kTreatAsWithdraw, {},
                                     "truncated attribute header"});
                break;
            }
            auto value = r.bytes(*len);
            if (!value) {
                // RFC 7606 §4: the last attribute overruns the Total Path Attribute Length.
                withdraw(DecodeError{kUpdateMessageError, kAttributeLengthError, ErrorAction::kTreatAsWithdraw,
                                     Bytes(field.begin() + static_cast<std::ptrdiff_t>(start), field.end()),
                                     "attribute " + std::to_string(*code) + " overruns the attribute field"});
                break;
            }
            raw_ = field.subspan(start, r.position() - start);
            if (seen_.test(*code)) {
                // RFC 7606 §3 (g): a repeated MP attribute is fatal; any other repeat is dropped.
                if (*code == kAttrMpReachNlri || *code == kAttrMpUnreachNlri)
                    return unexpected(DecodeError{kUpdateMessageError, kMalformedAttributeList, ErrorAction::kSessionReset,
                                                  {}, "repeated MP attribute " + std::to_string(*code)});
                out_.discarded.push_back(*code);
                continue;
            }
            seen_.set(*code);
            out_.seen.push_back(*code);
            if (auto ok = one(*flags, *code, *value); !ok) return unexpected(std::move(ok).error());
        }
        finish_as4();
        return std::move(out_);
    }

private:
    // Records an error at the attribute's RFC 7606 action; a session reset comes back as an error.
    Expected<void, DecodeError> fail(std::uint8_t code, std::uint8_t subcode, std::string detail) {
        DecodeError e{kUpdateMessageError, subcode, action_for(code), Bytes(raw_.begin(), raw_.end()), std::move(detail)};
        switch (e.action) {
            case ErrorAction::kSessionReset: return unexpected(std::move(e));
            case ErrorAction::kTreatAsWithdraw: withdraw(std::move(e)); break;
            case ErrorAction::kAttributeDiscard: out_.discarded.push_back(code); break;
        }
        return {};
    }
    void withdraw(DecodeError e) {
        if (!out_.treat_as_withdraw) out_.treat_as_withdraw = std::move(e);
    }

    Expected<void, DecodeError> one(std::uint8_t flags, std::uint8_t code, std::span<const std::uint8_t> v) {
        auto want = expected_flags(code);
        // IPv6 Address Specific Extended Community (RFC 5701): not interpreted, but RFC 7606 (which
        // updates RFC 5701) makes a value that is not a non-zero multiple of 20 octets malformed:
        // treat-as-withdraw, rather than pass the damage on with the Partial bit.
        if (code == kAttrIpv6ExtendedCommunities && (flags & kFlagOptional) && (v.empty() || v.size() % 20 != 0))
            return fail(code, kOptionalAttributeError, "IPv6 EXTENDED COMMUNITIES length");
        if (!want) return unknown(flags, code, v);
        // RFC 7606 §7.5, §7.9, §7.10: from an external peer these are discarded, malformed or not
        // (they describe the sender's AS and mean nothing here); checked before flags and length.
        if (ctx_.ebgp && (code == kAttrLocalPref || code == kAttrOriginatorId || code == kAttrClusterList)) {
            out_.discarded.push_back(code);
            return {};
        }
        if ((flags & (kFlagOptional | kFlagTransitive)) != *want)
            return fail(code, kAttributeFlagsError, "attribute " + std::to_string(code) + " flags");  // RFC 7606 §3 (c)
        PathAttributes& a = out_.attributes;
        std::string why;
        switch (code) {
            case kAttrOrigin:  // RFC 7606 §7.1
                if (v.size() != 1) return fail(code, kAttributeLengthError, "ORIGIN length");
                if (v[0] > 2) return fail(code, kInvalidOriginAttribute, "ORIGIN value " + std::to_string(v[0]));
                a.origin = static_cast<Origin>(v[0]);
                return {};
            case kAttrAsPath: {  // RFC 7606 §7.2
                auto path = parse_as_path(v, ctx_.four_octet_as ? 4 : 2, why);
                if (!path) return fail(code, kMalformedAsPath, why);
                for (const auto& seg : *path)
                    if (ctx_.ebgp && (seg.type == kAsConfedSequence || seg.type == kAsConfedSet))
                        return fail(code, kMalformedAsPath, "confederation segment from an external peer");
                if (has_as0(*path)) return fail(code, kMalformedAsPath, "AS 0 in AS_PATH");  // RFC 7607 §2
                a.as_path = std::move(*path);
                return {};
            }
            case kAttrNextHop:  // RFC 7606 §7.3
                if (v.size() != 4) return fail(code, kAttributeLengthError, "NEXT_HOP length");
                if (bad_next_hop(be32(v))) return fail(code, kInvalidNextHopAttribute, "NEXT_HOP is no unicast address");
                a.next_hop = IpAddress::v4(be32(v));
                return {};
            case kAttrMed:  // RFC 7606 §7.4
                if (v.size() != 4) return fail(code, kAttributeLengthError, "MULTI_EXIT_DISC length");
                a.med = be32(v);
                return {};
            case kAttrLocalPref:  // RFC 7606 §7.5 (from eBGP: discarded above, RFC 4271 §5.1.5)
                if (v.size() != 4) return fail(code, kAttributeLengthError, "LOCAL_PREF length");
                a.local_pref = be32(v);
                return {};
            case kAttrAtomicAggregate:  // RFC 7606 §7.6
                if (!v.empty()) return fail(code, kAttributeLengthError, "ATOMIC_AGGREGATE length");
                a.atomic_aggregate = true;
                return {};
            case kAttrAggregator: {  // RFC 7606 §7.7
                const std::size_t as_size = ctx_.four_octet_as ? 4 : 2;
                if (v.size() != as_size + 4) return fail(code, kAttributeLengthError, "AGGREGATOR length");
                const std::uint32_t asn = as_size == 4 ? be32(v) : static_cast<std::uint32_t>(v[0] << 8 | v[1]);
                if (asn == 0) return fail(code, kOptionalAttributeError, "AGGREGATOR AS 0");  // RFC 7607 §2
                a.aggregator = Aggregator{asn, IpAddress::v4(be32(v.subspan(as_size)))};
                return {};
            }
            case kAttrCommunities:  // RFC 7606 §7.8
                if (v.empty() || v.size() % 4 != 0) return fail(code, kOptionalAttributeError, "COMMUNITIES length");
                for (std::size_t i = 0; i < v.size(); i += 4) a.communities.push_back(be32(v.subspan(i)));
                return {};
            case kAttrOriginatorId:  // RFC 7606 §7.9
                if (v.size() != 4) return fail(code, kAttributeLengthError, "ORIGINATOR_ID length");
                a.originator_id = be32(v);
                return {};
            case kAttrClusterList:  // RFC 7606 §7.10
                if (v.empty() || v.size() % 4 != 0) return fail(code, kAttributeLengthError, "CLUSTER_LIST length");
                for (std::size_t i = 0; i < v.size(); i += 4) a.cluster_list.push_back(be32(v.subspan(i)));
                return {};
            case kAttrExtendedCommunities:  // RFC 7606 §7.14: a non-zero multiple of 8 octets
                if (v.empty() || v.size() % 8 != 0) return fail(code, kOptionalAttributeError, "EXTENDED COMMUNITIES length");
                // RFC 7606 §7.14: an unrecognised Type / Sub-Type is not an error: all are kept.
                for (std::size_t i = 0; i < v.size(); i += 8) a.extended_communities.push_back(be64(v.subspan(i)));
                return {};
            case kAttrLargeCommunities:  // RFC 8092 §6: a non-zero multiple of 12 octets
                if (v.empty() || v.size() % 12 != 0) return fail(code, kOptionalAttributeError, "LARGE_COMMUNITY length");
                // RFC 8092 §6: duplicates are no error; kept as received.
                for (std::size_t i = 0; i < v.size(); i += 12)
                    a.large_communities.push_back(LargeCommunity{be32(v.subspan(i)), be32(v.subspan(i + 4)), be32(v.subspan(i + 8))});
                return {};
            case kAttrMpReachNlri: {
                auto r = decode_mp_reach(v, ctx_);
                if (!r) return unexpected(std::move(r).error());
                out_.mp_reach = std::move(*r);
                return {};
            }
            case kAttrMpUnreachNlri: {
                auto u = decode_mp_unreach(v, ctx_);
                if (!u) return unexpected(std::move(u).error());
                out_.mp_unreach = std::move(*u);
                return {};
            }
            case kAttrAs4Path: {
                if (ctx_.four_octet_as) return {};  // RFC 6793 §3: disregarded between NEW speakers
                auto path = parse_as_path(v, 4, why);
                if (!path) return fail(code, kMalformedAsPath, why);
                for (const auto& seg : *path)  // RFC 6793 §6: confederation segments make it malformed
                    if (seg.type == kAsConfedSequence || seg.type == kAsConfedSet)
                        return fail(code, kMalformedAsPath, "confederation segment in AS4_PATH");
                if (has_as0(*path)) return fail(code, kMalformedAsPath, "AS 0 in AS4_PATH");  // RFC 7607 §2
                as4_path_ = std::move(*path);
                return {};
            }
            case kAttrAs4Aggregator:
                if (ctx_.four_octet_as) return {};
                if (v.size() != 8) return fail(code, kAttributeLengthError, "AS4_AGGREGATOR length");
                if (be32(v) == 0) return fail(code, kOptionalAttributeError, "AS4_AGGREGATOR AS 0");  // RFC 7607 §2
                as4_aggregator_ = Aggregator{be32(v), IpAddress::v4(be32(v.subspan(4)))};
                return {};
            default: return {};
        }
    }

    Expected<void, DecodeError> unknown(std::uint8_t flags, std::uint8_t code, std::span<const std::uint8_t> v) {
        if (!(flags & kFlagOptional))  // RFC 4271 §6.3: an unrecognised well-known attribute
            return unexpected(DecodeError{kUpdateMessageError, kUnrecognizedWellKnownAttribute, ErrorAction::kSessionReset,
                                          Bytes(raw_.begin(), raw_.end()), "unrecognised well-known attribute " + std::to_string(code)});
        if (!(flags & kFlagTransitive)) return {};  // RFC 4271 §5: optional non-transitive: quietly ignored
        // Passed on with the Partial bit set (RFC 4271 §5); the length flag is the encoder's choice.
        RawAttribute raw{static_cast<std::uint8_t>((flags | kFlagPartial) & ~kFlagExtendedLength & 0xf0), code,
                         Bytes(v.begin(), v.end())};
        auto& u = out_.attributes.unknown;
        u.insert(std::upper_bound(u.begin(), u.end(), raw, [](const RawAttribute& x, const RawAttribute& y) { return x.code < y.code; }),
                 std::move(raw));
        return {};
    }

    void finish_as4() {
        if (ctx_.four_octet_as) return;
        PathAttributes& a = out_.attributes;
        // RFC 6793 §4.2.3: an AGGREGATOR with a real 2-octet AS means whoever aggregated was an OLD
        // speaker, so AS4_AGGREGATOR and AS4_PATH are stale and ignored.
        if (a.aggregator && a.aggregator->asn != kAsTrans) return;
        if (a.aggregator && as4_aggregator_) a.aggregator = as4_aggregator_;
        if (as4_path_ && a.as_path) a.as_path = merge_as4_path(*a.as_path, *as4_path_);
    }

    const DecodeContext& ctx_;
    DecodedAttributes out_;
    std::bitset<256> seen_;
    std::span<const std::uint8_t> raw_;  // the whole attribute being decoded, for NOTIFICATION data
    std::optional<std::vector<AsPathSegment>> as4_path_;
    std::optional<Aggregator> as4_aggregator_;
};

struct Encoded {
    std::uint8_t code;
    std::uint8_t flags;
    Bytes value;
};

void put_as_path(Writer& w, const std::vector<AsPathSegment>& path, bool four_octet, bool skip_confed) {
    for (const auto& seg : path) {
        if (skip_confed && (seg.type == kAsConfedSequence || seg.type == kAsConfedSet)) continue;
        // A segment holds at most 255 ASes (one count octet): longer ones are split.
        for (std::size_t pos = 0; pos < seg.asns.size(); pos += 255) {
            const std::size_t n = std::min<std::size_t>(255, seg.asns.size() - pos);
            w.u8(seg.type);
            w.u8(static_cast<std::uint8_t>(n));
            for (std::size_t i = pos; i < pos + n; ++i) {
                if (four_octet)
                    w.u32(seg.asns[i]);
                else
                    w.u16(seg.asns[i] > 0xffff ? kAsTrans : static_cast<std::uint16_t>(seg.asns[i]));
            }
        }
    }
}

bool needs_as4(const std::vector<AsPathSegment>& path) {
    return std::any_of(path.begin(), path.end(), [](const AsPathSegment& s) {
        return std::any_of(s.asns.begin(), s.asns.end(), [](std::uint32_t a) { return a > 0xffff; });
    });
}

}  // namespace

std::size_t as_path_length(const std::vector<AsPathSegment>& path) noexcept {
    std::size_t n = 0;
    for (const auto& seg : path) {
        if (seg.type == AsPathSegment::kAsSequence) n += seg.asns.size();
        if (seg.type == AsPathSegment::kAsSet) n += 1;
    }
    return n;
}

Expected<DecodedAttributes, DecodeError> decode_path_attributes(std::span<const std::uint8_t> field,
                                                                const DecodeContext& ctx) {
    return AttributeParser{ctx}.run(field);
}

void write_path_attributes(Writer& w, const PathAttributes& a, const MpReach* mp_reach, const MpUnreach* mp_unreach,
                           const EncodeContext& ctx) {
    std::vector<Encoded> list;
    auto add = [&list](std::uint8_t code, std::uint8_t flags) -> Writer {
        list.push_back(Encoded{code, flags, {}});
        return Writer{list.back().value};
    };
    // Each Writer is used before the next add(), so the reference into `list` stays valid.
    if (a.origin) add(kAttrOrigin, kFlagTransitive).u8(static_cast<std::uint8_t>(*a.origin));
    if (a.as_path) {
        Writer v = add(kAttrAsPath, kFlagTransitive);
        put_as_path(v, *a.as_path, ctx.four_octet_as, false);
    }
    if (a.next_hop) add(kAttrNextHop, kFlagTransitive).bytes(std::span<const std::uint8_t>(a.next_hop->data(), 4));
    if (a.med) add(kAttrMed, kFlagOptional).u32(*a.med);
    if (a.local_pref) add(kAttrLocalPref, kFlagTransitive).u32(*a.local_pref);
    if (a.atomic_aggregate) add(kAttrAtomicAggregate, kFlagTransitive);
    const bool as4_aggregator = a.aggregator && !ctx.four_octet_as && a.aggregator->asn > 0xffff;
    if (a.aggregator) {
        Writer v = add(kAttrAggregator, kFlagOptional | kFlagTransitive);
        if (ctx.four_octet_as)
            v.u32(a.aggregator->asn);
        else
            v.u16(as4_aggregator ? kAsTrans : static_cast<std::uint16_t>(a.aggregator->asn));
        v.bytes(std::span<const std::uint8_t>(a.aggregator->address.data(), 4));
    }
    if (!a.communities.empty()) {
        Writer v = add(kAttrCommunities, kFlagOptional | kFlagTransitive);
        for (auto c : a.communities) v.u32(c);
    }
    if (a.originator_id) add(kAttrOriginatorId, kFlagOptional).u32(*a.originator_id);
    if (!a.cluster_list.empty()) {
        Writer v = add(kAttrClusterList, kFlagOptional);
        for (auto c : a.cluster_list) v.u32(c);
    }
    if (mp_reach) {
        Writer v = add(kAttrMpReachNlri, kFlagOptional);
        write_mp_reach_value(v, *mp_reach, ctx.has_path_ids(mp_reach->family));
    }
    if (mp_unreach) {
        Writer v = add(kAttrMpUnreachNlri, kFlagOptional);
        write_mp_unreach_value(v, *mp_unreach, ctx.has_path_ids(mp_unreach->family));
    }
    if (!a.extended_communities.empty()) {
        Writer v = add(kAttrExtendedCommunities, kFlagOptional | kFlagTransitive);
        for (auto c : a.extended_communities) {
            v.u32(static_cast<std::uint32_t>(c >> 32));
            v.u32(static_cast<std::uint32_t>(c));
        }
    }
    if (!a.large_communities.empty()) {
        Writer v = add(kAttrLargeCommunities, kFlagOptional | kFlagTransitive);
        for (const auto& c : a.large_communities) {
            v.u32(c.global);
            v.u32(c.local1);
            v.u32(c.local2);
        }
    }
    if (a.as_path && !ctx.four_octet_as && needs_as4(*a.as_path)) {  // RFC 6793 §4.2.2
        Writer v = add(kAttrAs4Path, kFlagOptional | kFlagTransitive);
        put_as_path(v, *a.as_path, true, true);
    }
    if (as4_aggregator) {
        Writer v = add(kAttrAs4Aggregator, kFlagOptional | kFlagTransitive);
        v.u32(a.aggregator->asn);
        v.bytes(std::span<const std::uint8_t>(a.aggregator->address.data(), 4));
    }
    for (const auto& u : a.unknown) list.push_back(Encoded{u.code, static_cast<std::uint8_t>(u.flags & 0xe0), u.value});
    // RFC 7606 §5.1: MP_REACH_NLRI / MP_UNREACH_NLRI "SHALL be encoded as the very first path
    // attribute", so that their NLRI can be withdrawn even if a later attribute is malformed.
    auto rank = [](const Encoded& e) {
        const bool mp = e.code == kAttrMpReachNlri || e.code == kAttrMpUnreachNlri;
        return (mp ? 0 : 256) + e.code;
    };
    std::stable_sort(list.begin(), list.end(), [&rank](const Encoded& x, const Encoded& y) { return rank(x) < rank(y); });
    for (const auto& e : list) {
        const bool ext = e.value.size() > 255;
        w.u8(static_cast<std::uint8_t>(e.flags | (ext ? kFlagExtendedLength : 0)));
        w.u8(e.code);
        if (ext)
            w.u16(static_cast<std::uint16_t>(e.value.size()));
        else
            w.u8(static_cast<std::uint8_t>(e.value.size()));
        w.bytes(e.value);
    }
}

namespace {

struct Hasher {  // FNV-1a over 32-bit words: cheap, and attribute sets are few and small
    std::size_t h = 1469598103934665603ull;
    void add(std::uint64_t v) noexcept {
        h ^= v;
        h *= 1099511628211ull;
    }
    void add(const IpAddress& ip) noexcept {
        add(static_cast<std::uint64_t>(ip.family()));
        for (std::size_t i = 0; i < (ip.is_v4() ? 4u : 16u); ++i) add(ip.data()[i]);
    }
};

}  // namespace

std::size_t hash_value(const PathAttributes& a) noexcept {
    Hasher h;
    h.add(a.origin ? static_cast<std::uint64_t>(*a.origin) + 1 : 0);
    if (a.as_path) {
        h.add(a.as_path->size() + 1);
        for (const auto& seg : *a.as_path) {
            h.add(seg.type);
            h.add(seg.asns.size());
            for (auto asn : seg.asns) h.add(asn);
        }
    } else {
        h.add(0);
    }
    if (a.next_hop) h.add(*a.next_hop);
    h.add(a.med ? *a.med + (1ull << 32) : 0);
    h.add(a.local_pref ? *a.local_pref + (1ull << 32) : 0);
    h.add(a.atomic_aggregate);
    if (a.aggregator) {
        h.add(a.aggregator->asn);
        h.add(a.aggregator->address);
    }
    h.add(a.communities.size());
    for (auto c : a.communities) h.add(c);
    h.add(a.originator_id ? *a.originator_id + (1ull << 32) : 0);
    h.add(a.cluster_list.size());
    for (auto c : a.cluster_list) h.add(c);
    h.add(a.extended_communities.size());
    for (auto c : a.extended_communities) h.add(c);
    h.add(a.large_communities.size());
    for (const auto& c : a.large_communities) {
        h.add(c.global);
        h.add(static_cast<std::uint64_t>(c.local1) << 32 | c.local2);
    }
    h.add(a.unknown.size());
    for (const auto& u : a.unknown) {
        h.add(static_cast<std::uint64_t>(u.flags) << 8 | u.code);
        h.add(u.value.size());
        for (auto b : u.value) h.add(b);
    }
    return h.h;
}

}  // namespace kroute::bgp
