// The RIBs (RFC 4271 §3.2): every peer's Adj-RIB-In and the Loc-RIB, kept together as one table
// prefix -> paths (one per peer, plus the local one), with the best path chosen by select_best().
// Pure: no I/O. Every mutation appends a BestChange for each prefix whose best path or multipath
// next-hop set changed, and only then.
//
// Built for a million prefixes (BIRD's layout, not a map of maps): attribute sets are interned
// once (AttributeStore), a path — attributes + next hop + the peer it came from — is interned once
// more into a PathId shared by every prefix it covers (PathStore, BIRD's rta), and each family has
// an open-addressing table of prefix -> PathId whose slot is 12 octets for IPv4. Only a prefix with
// several paths (multipath, two upstreams) pays for a path list of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
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
    std::unordered_multimap<std::size_t, std::weak_ptr<const PathAttributes>> sets_;  // hash_value() ->
    std::size_t sweep_at_ = 1024;
};

using PathId = std::uint32_t;
inline constexpr PathId kNoPath = 0xffffffffu;

// Interned paths, reference counted by the RIB's table slots. Two paths are the same PathId when
// their attributes are the same interned object and their next hop and source are equal.
class PathStore {
public:
    [[nodiscard]] PathId intern(Path path);  // the caller owns one reference
    void ref(PathId id) noexcept { ++slots_[id].refs; }
    void unref(PathId id);
    [[nodiscard]] const Path& operator[](PathId id) const noexcept { return slots_[id].path; }
    [[nodiscard]] std::size_t size() const noexcept { return slots_.size() - free_.size(); }

private:
    struct Slot {
        Path path;
        std::uint32_t refs = 0;
        std::size_t hash = 0;
    };
    std::vector<Slot> slots_;
    std::vector<PathId> free_;
    std::unordered_multimap<std::size_t, PathId> index_;
};

// One prefix's paths, materialised for callers that want to look at all of them (snapshots, tests).
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
    std::uint32_t path_id = 0;  // RFC 7911: a peer with ADD-PATH has one path per (prefix, path id)
};

// One path of a peer's Adj-RIB-In: the prefix and its RFC 7911 Path Identifier (0 without ADD-PATH).
struct PathKey {
    Prefix prefix;
    std::uint32_t path_id = 0;
    friend bool operator==(const PathKey&, const PathKey&) = default;
    friend auto operator<=>(const PathKey&, const PathKey&) = default;
};
struct PathKeyHash {
    std::size_t operator()(const PathKey& k) const noexcept {
        return std::hash<Prefix>{}(k.prefix) ^ (static_cast<std::size_t>(k.path_id) * 0x9E3779B97F4A7C15ull);
    }
};

inline constexpr std::uint8_t kUnusedLength = 0xff;

struct Key4 {
    std::uint32_t addr = 0;
    std::uint8_t len = kUnusedLength;
    friend bool operator==(const Key4&, const Key4&) = default;
    static std::uint64_t hash(const Key4& k) noexcept {
        return (static_cast<std::uint64_t>(k.addr) << 8 | k.len) * 0x9E3779B97F4A7C15ull;
    }
};
struct Key6 {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    std::uint8_t len = kUnusedLength;
    friend bool operator==(const Key6&, const Key6&) = default;
    static std::uint64_t hash(const Key6& k) noexcept {
        std::uint64_t h = (k.hi ^ (k.lo * 0xC2B2AE3D27D4EB4Full) ^ k.len) * 0x9E3779B97F4A7C15ull;
        return h ^ (h >> 29) * 0xBF58476D1CE4E5B9ull;
    }
};

// Open-addressing hash table (linear probing, backward-shift deletion) from a prefix key to a
// 32-bit value. Slots are plain values; the table grows at 3/4 load.
template <class Key>
class PrefixTable {
public:
    struct Slot {
        Key key{};  // key.len == kUnusedLength: a free slot
        std::uint32_t value = 0;
        [[nodiscard]] bool used() const noexcept { return key.len != kUnusedLength; }
    };

    [[nodiscard]] Slot* find(const Key& k) noexcept;
    [[nodiscard]] const Slot* find(const Key& k) const noexcept { return const_cast<PrefixTable*>(this)->find(k); }
    // The slot of `k`, created (value 0, `fresh` = true) if absent. Invalidates other Slot pointers.
    Slot& insert(const Key& k, bool& fresh);
    void erase(Slot* s) noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    template <class F>
    void for_each(F&& f) const {
        for (const auto& s : slots_)
            if (s.used()) f(s.key, s.value);
    }

private:
    void grow();
    [[nodiscard]] std::size_t home(const Key& k) const noexcept { return Key::hash(k) >> shift_; }
    std::vector<Slot> slots_;
    std::size_t size_ = 0;
    int shift_ = 64;
};

class Rib {
public:
    using Changes = std::vector<BestChange>;

    // Adj-RIB-In: replaces the peer's path to `prefix` with from.path_id (implicit withdraw, RFC
    // 4271 §9; RFC 7911 §3: per Path Identifier).
    void update(const PathSource& from, const Prefix& prefix, std::shared_ptr<const PathAttributes> attrs,
                const IpAddress& next_hop, Changes& out);
    // The same for every prefix of one UPDATE: the path is interned once.
    void update(const PathSource& from, std::span<const Prefix> prefixes, std::shared_ptr<const PathAttributes> attrs,
                const IpAddress& next_hop, Changes& out);
    void withdraw(const IpAddress& peer, const Prefix& prefix, Changes& out, std::uint32_t path_id = 0);
    // The session went down: every path of the peer leaves at once.
    void drop_peer(const IpAddress& peer, Changes& out);
    // The peer's paths, sorted (a scan of the table: for rare events, such as a graceful restart
    // marking them stale).
    [[nodiscard]] std::vector<PathKey> paths_of(const IpAddress& peer) const;

    // Locally originated routes (a podCIDR): ORIGIN IGP, empty AS_PATH.
    void originate(const Prefix& prefix, const IpAddress& next_hop, Changes& out);
    // The same, with `base`'s communities and large communities (origin IGP, empty AS_PATH).
    void originate(const Prefix& prefix, const IpAddress& next_hop, const PathAttributes& base, Changes& out);
    void withdraw_local(const Prefix& prefix, Changes& out);

    // Every path to `prefix`, copied; nullopt when the prefix is not in the Loc-RIB.
    [[nodiscard]] std::optional<RibEntry> find(const Prefix& prefix) const;
    // The best path to `prefix` (valid until the next mutation), or null.
    [[nodiscard]] const Path* best(const Prefix& prefix) const;
    // The best path's next hop and its multipath siblings', sorted; empty when absent.
    [[nodiscard]] std::vector<IpAddress> next_hops(const Prefix& prefix) const;
    [[nodiscard]] bool contains(const Prefix& prefix) const { return best(prefix) != nullptr; }
    // Every prefix of the Loc-RIB, in no particular order.
    void for_each_prefix(const std::function<void(const Prefix&)>& f) const;
    // Sorted.
    [[nodiscard]] std::vector<Prefix> prefixes() const;
    [[nodiscard]] std::size_t prefix_count() const noexcept { return v4_.size() + v6_.size(); }
    [[nodiscard]] std::size_t adj_rib_in_count(const IpAddress& peer) const;
    [[nodiscard]] AttributeStore& attributes() noexcept { return store_; }
    [[nodiscard]] std::size_t path_count() const noexcept { return paths_.size(); }

private:
    // A prefix with more than one path: its PathIds and the current selection over them.
    struct Multi {
        std::vector<PathId> paths;
        Selection selection;
    };
    static constexpr std::uint32_t kMultiBit = 0x80000000u;

    // Puts `id` (or, with kNoPath, removes the path of the given source) and reselects. Takes over
    // the caller's reference to `id`.
    struct Source {
        const IpAddress& peer;
        std::uint32_t path_id;
        bool local;
    };
    void apply(const Prefix& prefix, const Source& src, PathId id, Changes& out);
    template <class Table, class Key>
    void apply_in(Table& table, const Key& k, const Prefix& prefix, const Source& src, PathId id, Changes& out);
    [[nodiscard]] std::uint32_t value_of(const Prefix& prefix) const;  // kNoPath when absent
    [[nodiscard]] const Path& best_of(std::uint32_t value) const;
    [[nodiscard]] std::vector<IpAddress> next_hops_of(std::uint32_t value) const;
    [[nodiscard]] RibEntry entry_of(std::uint32_t value) const;
    [[nodiscard]] bool from_source(PathId id, const Source& src) const;
    [[nodiscard]] bool from_peer(PathId id, const IpAddress& peer) const;
    [[nodiscard]] std::uint32_t add_multi(Multi m);
    void select(Multi& m) const;
    void count(const Path& p, int delta);

    AttributeStore store_;
    PathStore paths_;
    PrefixTable<Key4> v4_;
    PrefixTable<Key6> v6_;
    std::vector<Multi> multi_;
    std::vector<std::uint32_t> multi_free_;
    std::unordered_map<IpAddress, std::size_t> adj_rib_in_;  // per peer: prefixes held
};

}  // namespace kroute::bgp
