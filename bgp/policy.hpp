// Route policies: import and export filters of one peer, as an ordered list of terms (first match
// decides) and a default action. Pure code: a path (prefix + attributes) in, a decision and the
// modified attributes out; no I/O, no knowledge of who the peer is (the speaker chooses which
// policy applies to which peer and where, RFC 4271 §9.1.1 and §9.1.3). Thread: any; a Policy is a
// value, shared between peers as shared_ptr<const Policy> and never changed once built.
//
// Prefix lists read as FRR's `ip prefix-list` and Junos' route-filter do: `P/len` alone matches the
// route P/len only; `ge G` and `le L` widen it to every route inside P/len whose length is in
// [G, L] (G defaults to len, L to the family's maximum when only ge is given, else to len).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bgp/message.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

// RFC 1997 §3: the well-known communities; the speaker honours them on export.
inline constexpr std::uint32_t kCommunityNoExport = 0xFFFFFF01;
inline constexpr std::uint32_t kCommunityNoAdvertise = 0xFFFFFF02;
inline constexpr std::uint32_t kCommunityNoExportSubconfed = 0xFFFFFF03;
// RFC 8326 §5: GRACEFUL_SHUTDOWN (65535:0): the path is about to go; a receiver that honours it
// (kroute's import does) sets its LOCAL_PREF to 0.
inline constexpr std::uint32_t kCommunityGracefulShutdown = 0xFFFF0000;

// One prefix-list entry: `prefix [ge G] [le L]`.
struct PrefixRange {
    Prefix prefix;
    std::optional<int> ge;
    std::optional<int> le;

    // "10.0.0.0/8", "10.0.0.0/8 le 24", "10.0.0.0/8 ge 16", "10.0.0.0/8 ge 16 le 24"; FRR's rule
    // len < ge <= le <= max (and len <= le) is checked, host bits are refused.
    [[nodiscard]] static Expected<PrefixRange, std::string> parse(std::string_view text);
    [[nodiscard]] bool matches(const Prefix& route) const noexcept;
    [[nodiscard]] std::string to_string() const;
    // Empty when well formed, else what is wrong (same rule as parse()).
    [[nodiscard]] std::string check() const;

    friend bool operator==(const PrefixRange&, const PrefixRange&) = default;
    friend auto operator<=>(const PrefixRange&, const PrefixRange&) = default;
};

// Matches a route when any entry does.
using PrefixList = std::vector<PrefixRange>;

[[nodiscard]] bool matches(const PrefixList& list, const Prefix& route) noexcept;

// What a term looks at; every condition given must hold (an empty one is no condition).
struct PolicyMatch {
    std::optional<PrefixList> prefixes{};              // the route matches the list (an empty list: nothing)
    std::vector<std::uint32_t> any_community{};        // RFC 1997: the path carries one of these
    std::vector<std::uint32_t> all_communities{};      // ... every one of these
    std::vector<LargeCommunity> any_large_community{}; // RFC 8092: likewise
    std::vector<LargeCommunity> all_large_communities{};
    friend bool operator==(const PolicyMatch&, const PolicyMatch&) = default;
};

// What a term does. The modifications apply only when the path is accepted, in this order:
// communities (set, then remove, then add), large communities likewise, AS_PATH prepend,
// LOCAL_PREF, MED. Modified community lists are kept sorted and without duplicates.
struct PolicyAction {
    bool accept = true;
    std::optional<std::vector<std::uint32_t>> set_communities{};  // replaces them all
    std::vector<std::uint32_t> remove_communities{};
    std::vector<std::uint32_t> add_communities{};
    std::optional<std::vector<LargeCommunity>> set_large_communities{};
    std::vector<LargeCommunity> remove_large_communities{};
    std::vector<LargeCommunity> add_large_communities{};
    std::uint32_t prepend_asn = 0;   // RFC 4271 §5.1.2: this AS, prepend_count times, leftmost
    int prepend_count = 0;           // 0 = no prepend
    std::optional<std::uint32_t> set_local_pref{};  // RFC 4271 §5.1.5
    std::optional<std::uint32_t> set_med{};         // RFC 4271 §5.1.4

    // Accepts with changes (the caller then needs a copy of the attributes).
    [[nodiscard]] bool modifies() const noexcept;
    friend bool operator==(const PolicyAction&, const PolicyAction&) = default;
};

struct PolicyTerm {
    std::string name{};  // for logs and kroutectl
    PolicyMatch match{};
    PolicyAction action{};
    friend bool operator==(const PolicyTerm&, const PolicyTerm&) = default;
};

struct Policy {
    std::string name{};
    std::vector<PolicyTerm> terms{};
    PolicyAction default_action{};  // when no term matches
    friend bool operator==(const Policy&, const Policy&) = default;
};

// Longest AS_PATH prepend a policy may ask for: beyond a few, prepending only burdens others.
inline constexpr int kMaxPrepend = 32;

// Empty when every term is well formed, else what is wrong, naming the term.
[[nodiscard]] std::string check(const Policy& policy);

[[nodiscard]] bool matches(const PolicyMatch& match, const Prefix& route, const PathAttributes& attrs);

struct PolicyDecision {
    const PolicyAction* action = nullptr;  // never null
    const PolicyTerm* term = nullptr;      // null: the default action decided
    [[nodiscard]] bool accept() const noexcept { return action->accept; }
};
// The first term that matches, else the default action. `policy` must outlive the decision.
[[nodiscard]] PolicyDecision decide(const Policy& policy, const Prefix& route, const PathAttributes& attrs);

// The action's modifications (whatever its accept says).
void modify(const PolicyAction& action, PathAttributes& attrs);

// Whether some term or the default accepts with changes. When not, a path the policy accepted is
// the path as received, and a new policy can be applied to it again without the peer.
[[nodiscard]] bool may_modify(const Policy& policy) noexcept;

// True when `policy` rejects `route` whatever the path's attributes: on the way to the deciding
// term only prefix lists matter. A path refused by an older policy that the new one still refuses
// this way need not be asked from the peer again.
[[nodiscard]] bool rejects_whatever_attributes(const Policy& policy, const Prefix& route) noexcept;

// decide() then modify(): false when rejected (attrs left as they were).
[[nodiscard]] bool apply(const Policy& policy, const Prefix& route, PathAttributes& attrs);

// "65000:100", a number, or a well-known name (no-export, no-advertise, no-export-subconfed).
[[nodiscard]] std::optional<std::uint32_t> parse_community(std::string_view text);
[[nodiscard]] std::string community_to_string(std::uint32_t community);
// RFC 8092 §3 text form "global:local1:local2".
[[nodiscard]] std::optional<LargeCommunity> parse_large_community(std::string_view text);
[[nodiscard]] std::string large_community_to_string(const LargeCommunity& community);
// RFC 4271 §5.1.2 b: `asn` leftmost in the AS_PATH (a new AS_SEQUENCE when the first segment is a
// set or full). The speaker's own prepend towards eBGP peers and the policies' prepend alike.
void prepend_as(PathAttributes& a, std::uint32_t asn);
// RFC 4360 §3-4 / RFC 5668 in the notation of BIRD and GoBGP: "rt:65001:100", "soo:192.0.2.1:7",
// "rt:4200000001:5" for the AS- and IPv4-specific route targets and origins (transitive or not);
// anything else as "0x" and 16 hex digits.
[[nodiscard]] std::string extended_community_to_string(ExtendedCommunity community);

}  // namespace kroute::bgp
