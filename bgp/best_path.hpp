// The BGP decision process (RFC 4271 §9.1.2): which of the paths to one prefix is the best, and
// which others are equal to it for multipath. Pure functions over Path values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "bgp/message.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

inline constexpr std::uint32_t kDefaultLocalPref = 100;

// One path to a prefix: a route in some peer's Adj-RIB-In, or a local one.
struct Path {
    std::shared_ptr<const PathAttributes> attributes{};  // interned; never null
    IpAddress next_hop{};         // from NEXT_HOP or MP_REACH_NLRI; for local routes, originate()'s
    IpAddress peer_address{};     // unspecified for local routes
    std::uint32_t peer_router_id = 0;
    std::uint32_t peer_as = 0;
    bool ebgp = false;
    bool local = false;           // originated by this speaker
    std::uint32_t path_id = 0;    // RFC 7911 Path Identifier from an ADD-PATH peer; 0 otherwise

    // Values the decision process reads, with the RFC's defaults for absent attributes.
    [[nodiscard]] std::uint32_t local_pref() const noexcept;  // absent: kDefaultLocalPref
    [[nodiscard]] std::size_t as_path_length() const noexcept;  // an AS_SET counts 1 (§9.1.2.2 a)
    [[nodiscard]] Origin origin() const noexcept;               // absent: INCOMPLETE
    [[nodiscard]] std::uint32_t med() const noexcept;           // absent: 0 (RFC 4271 §9.1.2.2 c)
    // The AS the route was learned from: the first AS of the AS_PATH; 0 when empty (our own AS).
    [[nodiscard]] std::uint32_t neighbor_as() const noexcept;
    // RFC 4456 §9: ORIGINATOR_ID stands in for the router id when present.
    [[nodiscard]] std::uint32_t router_id() const noexcept;

    friend bool operator==(const Path& a, const Path& b) {
        return a.next_hop == b.next_hop && a.peer_address == b.peer_address &&
               a.peer_router_id == b.peer_router_id && a.peer_as == b.peer_as && a.ebgp == b.ebgp &&
               a.local == b.local && a.path_id == b.path_id && (a.attributes == b.attributes || (a.attributes && b.attributes &&
                                                                       *a.attributes == *b.attributes));
    }
};

// The decision step that made the winner win.
enum class Reason : std::uint8_t {
    kOnlyPath, kLocal, kLocalPref, kAsPathLength, kOrigin, kMed, kEbgpOverIbgp, kRouterId, kClusterListLength,
    kPeerAddress, kPathId
};
[[nodiscard]] std::string_view to_string(Reason r) noexcept;
// The same step from the loser's side, for an operator: "lower LOCAL_PREF", "longer AS_PATH",
// "higher ORIGIN", "higher MED", "eBGP preferred over iBGP", "higher router id", ...
[[nodiscard]] std::string_view loss_to_string(Reason r) noexcept;

struct Verdict {
    bool a_wins = false;
    Reason reason = Reason::kOnlyPath;
    friend bool operator==(const Verdict&, const Verdict&) = default;
};

// Pairwise comparison, one RFC step per line. Not transitive across neighbour ASes because of
// MED: use select_best() for a set of paths.
[[nodiscard]] Verdict compare(const Path& a, const Path& b);

struct Selection {
    std::size_t best = 0;            // index into the input
    Reason reason = Reason::kOnlyPath;
    // Indices of the paths equal to the best down to (excluding) the router-id step, best
    // included: same local pref, AS path length, origin, MED and eBGP/iBGP (multipath).
    std::vector<std::size_t> multipath;
};

// RFC 4271 §9.1.2.2 by elimination, so that the result does not depend on the input order: MED is
// only compared among paths from the same neighbouring AS (step c) before any tie-break.
[[nodiscard]] std::optional<Selection> select_best(std::span<const Path> paths);
[[nodiscard]] std::optional<Selection> select_best_of(std::span<const Path* const> paths);

// Why each path is or is not the best: select_best()'s elimination, recorded. `lost_at[i]` is the
// step that eliminated path i (nullopt for the best one). A path may lose to another than the
// best: at the MED step, to a path from its own neighbouring AS (RFC 4271 §9.1.2.2 c).
struct Explanation {
    Selection selection;
    std::vector<std::optional<Reason>> lost_at;  // one per input path
};
[[nodiscard]] std::optional<Explanation> explain(std::span<const Path> paths);

}  // namespace kroute::bgp
