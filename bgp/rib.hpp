// The RIBs (RFC 4271 §3.2): every peer's Adj-RIB-In and the Loc-RIB, kept together as one table
// prefix -> paths (one per peer, plus the local one), with the best path chosen by select_best().
// Pure: no I/O. Every mutation appends a BestChange for each prefix whose best path or multipath
// next-hop set changed, and only then.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bgp/best_path.hpp"
#include "bgp/message.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

// Interned attribute sets: the thousands of prefixes that share one set share one object (BIRD's
// rta cache, GoBGP's PathAttrs). Entries die with their last user and are swept lazily.
class AttributeStore {
public:
    [[nodiscard]] std::shared_ptr<const PathAttributes> intern(PathAttributes attrs);
    [[nodiscard]] std::size_t size();  // live sets (sweeps first)

private:
    void sweep();
    std::map<PathAttributes, std::weak_ptr<const PathAttributes>> sets_;
    std::size_t sweep_at_ = 1024;
};

struct RibEntry {
    std::vector<Path> paths;            // any order
    std::optional<Selection> selection; // indices into paths
    [[nodiscard]] const Path* best() const noexcept;
    // The best path's next hop, and those of its multipath siblings: sorted, unique.
    [[nodiscard]] std::vector<IpAddress> next_hops() const;
};

struct BestChange {
    Prefix prefix;
    std::optional<Path> old_best;  // nullopt: the prefix was new
    std::optional<Path> new_best;  // nullopt: the prefix left the Loc-RIB
    std::vector<IpAddress> old_next_hops;
    std::vector<IpAddress> new_next_hops;
};

// Who a path came from.
struct PathSource {
    IpAddress address;
    std::uint32_t router_id = 0;
    std::uint32_t asn = 0;
    bool ebgp = false;
};

class Rib {
public:
    using Changes = std::vector<BestChange>;

    // Adj-RIB-In: replaces the peer's path to `prefix` (implicit withdraw, RFC 4271 §9).
    void update(const PathSource& from, const Prefix& prefix, std::shared_ptr<const PathAttributes> attrs,
                const IpAddress& next_hop, Changes& out);
    void withdraw(const IpAddress& peer, const Prefix& prefix, Changes& out);
    // The session went down: every path of the peer leaves at once.
    void drop_peer(const IpAddress& peer, Changes& out);

    // Locally originated routes (a podCIDR): ORIGIN IGP, empty AS_PATH.
    void originate(const Prefix& prefix, const IpAddress& next_hop, Changes& out);
    void withdraw_local(const Prefix& prefix, Changes& out);

    [[nodiscard]] const RibEntry* find(const Prefix& prefix) const;
    [[nodiscard]] const std::map<Prefix, RibEntry>& entries() const noexcept { return loc_rib_; }
    [[nodiscard]] std::size_t prefix_count() const noexcept { return loc_rib_.size(); }
    [[nodiscard]] std::size_t adj_rib_in_count(const IpAddress& peer) const;
    [[nodiscard]] AttributeStore& attributes() noexcept { return store_; }

private:
    // Puts (or, with nullopt, removes) the path of `key` and reselects.
    void apply(const Prefix& prefix, const IpAddress& key, bool local, std::optional<Path> path, Changes& out);

    AttributeStore store_;
    std::map<Prefix, RibEntry> loc_rib_;
    std::unordered_map<IpAddress, std::unordered_set<Prefix>> adj_rib_in_;
    std::unordered_set<Prefix> local_;
};

}  // namespace kroute::bgp
