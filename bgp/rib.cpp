#include "bgp/rib.hpp"

#include "bgp/attributes.hpp"

#include <algorithm>
#include <bit>

namespace kroute::bgp {

// ---- AttributeStore ----

std::shared_ptr<const PathAttributes> AttributeStore::intern(PathAttributes attrs) {
    const std::size_t h = hash_value(attrs);
    auto [first, last] = sets_.equal_range(h);
    for (auto it = first; it != last; ++it) {
        auto live = it->second.lock();
        if (!live) {  // a dead twin: reuse its entry rather than chain another behind it
            auto shared = std::make_shared<const PathAttributes>(std::move(attrs));
            it->second = shared;
            return shared;
        }
        if (*live == attrs) return live;
    }
    if (sets_.size() >= sweep_at_) sweep();
    auto shared = std::make_shared<const PathAttributes>(std::move(attrs));
    sets_.emplace(h, shared);
    return shared;
}

std::size_t AttributeStore::size() {
    sweep();
    return sets_.size();
}

void AttributeStore::sweep() {
    std::erase_if(sets_, [](const auto& kv) { return kv.second.expired(); });
    sweep_at_ = std::max<std::size_t>(1024, sets_.size() * 2);  // amortised O(1) per intern
}

// ---- PathStore ----

namespace {

std::size_t path_hash(const Path& p) noexcept {
    std::size_t h = std::hash<const void*>{}(p.attributes.get());
    auto mix = [&h](std::size_t v) { h = (h ^ v) * 0x100000001b3ull; };
    mix(std::hash<IpAddress>{}(p.next_hop));
    mix(std::hash<IpAddress>{}(p.peer_address));
    mix(p.peer_router_id);
    mix(p.peer_as);
    mix(static_cast<std::size_t>(p.ebgp) << 1 | static_cast<std::size_t>(p.local));
    mix(p.path_id);
    return h;
}

// Identity for interning: the attributes are interned already, so their pointer stands for them.
bool same_path(const Path& a, const Path& b) noexcept {
    return a.attributes == b.attributes && a.next_hop == b.next_hop && a.peer_address == b.peer_address &&
           a.peer_router_id == b.peer_router_id && a.peer_as == b.peer_as && a.ebgp == b.ebgp && a.local == b.local;
}

}  // namespace

PathId PathStore::intern(Path path) {
    const std::size_t h = path_hash(path);
    auto [first, last] = index_.equal_range(h);
    for (auto it = first; it != last; ++it) {
        if (same_path(slots_[it->second].path, path)) {
            ++slots_[it->second].refs;
            return it->second;
        }
    }
    PathId id;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
    } else {
        id = static_cast<PathId>(slots_.size());
        slots_.emplace_back();
    }
    slots_[id] = Slot{std::move(path), 1, h};
    index_.emplace(h, id);
    return id;
}

void PathStore::unref(PathId id) {
    Slot& s = slots_[id];
    if (--s.refs != 0) return;
    auto [first, last] = index_.equal_range(s.hash);
    for (auto it = first; it != last; ++it) {
        if (it->second == id) {
            index_.erase(it);
            break;
        }
    }
    s.path = Path{};  // lets the attribute set go
    free_.push_back(id);
}

// ---- PrefixTable ----

template <class Key>
typename PrefixTable<Key>::Slot* PrefixTable<Key>::find(const Key& k) noexcept {
    if (slots_.empty()) return nullptr;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(k);; i = (i + 1) & mask) {
        Slot& s = slots_[i];
        if (!s.used()) return nullptr;
        if (s.key == k) return &s;
    }
}

template <class Key>
typename PrefixTable<Key>::Slot& PrefixTable<Key>::insert(const Key& k, bool& fresh) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(k);; i = (i + 1) & mask) {
        Slot& s = slots_[i];
        if (!s.used()) {
            s.key = k;
            s.value = 0;
            ++size_;
            fresh = true;
            return s;
        }
        if (s.key == k) {
            fresh = false;
            return s;
        }
    }
}

// Backward-shift deletion (Knuth 6.4 algorithm R): no tombstones, so lookups stay short after a
// full withdrawal.
template <class Key>
void PrefixTable<Key>::erase(Slot* s) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t hole = static_cast<std::size_t>(s - slots_.data());
    for (std::size_t i = (hole + 1) & mask;; i = (i + 1) & mask) {
        Slot& next = slots_[i];
        if (!next.used()) break;
        const std::size_t h = home(next.key);
        // `next` may move into the hole only if its home is not in (hole, i] (cyclically).
        const bool stays = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);
        if (stays) continue;
        slots_[hole] = next;
        hole = i;
    }
    slots_[hole] = Slot{};
    --size_;
}

template <class Key>
void PrefixTable<Key>::grow() {
    const std::size_t n = slots_.empty() ? 64 : slots_.size() * 2;
    std::vector<Slot> old(n);
    old.swap(slots_);
    shift_ = 64 - std::countr_zero(n);
    size_ = 0;
    bool fresh = false;
    for (const Slot& s : old) {
        if (s.used()) insert(s.key, fresh).value = s.value;
    }
}

template class PrefixTable<Key4>;
template class PrefixTable<Key6>;

namespace {

Key4 key4(const Prefix& p) noexcept { return Key4{p.address().v4_host_order(), static_cast<std::uint8_t>(p.length())}; }

Key6 key6(const Prefix& p) noexcept {
    const std::uint8_t* b = p.address().data();
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    for (int i = 0; i < 8; ++i) hi = hi << 8 | b[i];
    for (int i = 8; i < 16; ++i) lo = lo << 8 | b[i];
    return Key6{hi, lo, static_cast<std::uint8_t>(p.length())};
}

Prefix prefix_of(const Key4& k) { return Prefix(IpAddress::v4(k.addr), k.len); }

Prefix prefix_of(const Key6& k) {
    std::array<std::uint8_t, 16> b{};
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(k.hi >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(k.lo >> (56 - 8 * i));
    return Prefix(IpAddress::v6(b), k.len);
}

}  // namespace

// ---- RibEntry ----

const Path* RibEntry::best() const noexcept { return selection ? &paths[selection->best] : nullptr; }

std::vector<IpAddress> RibEntry::next_hops() const {
    std::vector<IpAddress> out;
    if (!selection) return out;
    for (auto i : selection->multipath) out.push_back(paths[i].next_hop);
    if (out.empty()) out.push_back(paths[selection->best].next_hop);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// ---- Rib ----

void Rib::update(const PathSource& from, const Prefix& prefix, std::shared_ptr<const PathAttributes> attrs,
                 const IpAddress& next_hop, Changes& out) {
    update(from, std::span<const Prefix>{&prefix, 1}, std::move(attrs), next_hop, out);
}

void Rib::update(const PathSource& from, std::span<const Prefix> prefixes, std::shared_ptr<const PathAttributes> attrs,
                 const IpAddress& next_hop, Changes& out) {
    if (prefixes.empty()) return;
    Path p{.attributes = std::move(attrs), .next_hop = next_hop, .peer_address = from.address,
           .peer_router_id = from.router_id, .peer_as = from.asn, .ebgp = from.ebgp, .local = false,
           .path_id = from.path_id};
    const PathId id = paths_.intern(std::move(p));
    const Source src{from.address, from.path_id, false};
    for (const auto& prefix : prefixes) {
        paths_.ref(id);
        apply(prefix, src, id, out);
    }
    paths_.unref(id);
}

void Rib::withdraw(const IpAddress& peer, const Prefix& prefix, Changes& out, std::uint32_t path_id) {
    apply(prefix, Source{peer, path_id, false}, kNoPath, out);  // RFC 4271 §9: an unknown prefix is ignored
}

std::vector<PathKey> Rib::paths_of(const IpAddress& peer) const {
    std::vector<PathKey> held;
    auto it = adj_rib_in_.find(peer);
    if (it == adj_rib_in_.end() || it->second == 0) return held;
    held.reserve(it->second);
    auto collect = [&](const auto& key, std::uint32_t value) {
        if (value & kMultiBit) {
            for (auto id : multi_[value & ~kMultiBit].paths) {
                if (from_peer(id, peer)) held.push_back(PathKey{prefix_of(key), paths_[id].path_id});
            }
        } else if (from_peer(value, peer)) {
            held.push_back(PathKey{prefix_of(key), paths_[value].path_id});
        }
    };
    v4_.for_each(collect);
    v6_.for_each(collect);
    std::sort(held.begin(), held.end());
    return held;
}

void Rib::drop_peer(const IpAddress& peer, Changes& out) {
    const auto held = paths_of(peer);  // sorted: a deterministic change order
    for (const auto& k : held) apply(k.prefix, Source{peer, k.path_id, false}, kNoPath, out);
    adj_rib_in_.erase(peer);
}

void Rib::originate(const Prefix& prefix, const IpAddress& next_hop, Changes& out) {
    originate(prefix, next_hop, PathAttributes{}, out);
}

void Rib::originate(const Prefix& prefix, const IpAddress& next_hop, const PathAttributes& base, Changes& out) {
    PathAttributes a;
    a.communities = base.communities;
    a.large_communities = base.large_communities;
    a.origin = Origin::kIgp;
    a.as_path = std::vector<AsPathSegment>{};
    Path p{.attributes = store_.intern(std::move(a)), .next_hop = next_hop, .peer_address = {},
           .peer_router_id = 0, .peer_as = 0, .ebgp = false, .local = true};
    const IpAddress none;
    apply(prefix, Source{none, 0, true}, paths_.intern(std::move(p)), out);
}

void Rib::withdraw_local(const Prefix& prefix, Changes& out) {
    const IpAddress none;
    apply(prefix, Source{none, 0, true}, kNoPath, out);
}

std::uint32_t Rib::value_of(const Prefix& prefix) const {
    if (prefix.family() == Family::kIpv4) {
        const auto* s = v4_.find(key4(prefix));
        return s ? s->value : kNoPath;
    }
    const auto* s = v6_.find(key6(prefix));
    return s ? s->value : kNoPath;
}

const Path& Rib::best_of(std::uint32_t value) const {
    if (value & kMultiBit) {
        const Multi& m = multi_[value & ~kMultiBit];
        return paths_[m.paths[m.selection.best]];
    }
    return paths_[value];
}

std::vector<IpAddress> Rib::next_hops_of(std::uint32_t value) const {
    if (!(value & kMultiBit)) return {paths_[value].next_hop};
    const Multi& m = multi_[value & ~kMultiBit];
    std::vector<IpAddress> out;
    for (auto i : m.selection.multipath) out.push_back(paths_[m.paths[i]].next_hop);
    if (out.empty()) out.push_back(paths_[m.paths[m.selection.best]].next_hop);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

RibEntry Rib::entry_of(std::uint32_t value) const {
    RibEntry e;
    if (value & kMultiBit) {
        const Multi& m = multi_[value & ~kMultiBit];
        for (auto id : m.paths) e.paths.push_back(paths_[id]);
        e.selection = m.selection;
    } else {
        e.paths.push_back(paths_[value]);
        e.selection = Selection{0, Reason::kOnlyPath, {0}};
    }
    return e;
}

std::optional<RibEntry> Rib::find(const Prefix& prefix) const {
    const auto v = value_of(prefix);
    if (v == kNoPath) return std::nullopt;
    return entry_of(v);
}

const Path* Rib::best(const Prefix& prefix) const {
    const auto v = value_of(prefix);
    return v == kNoPath ? nullptr : &best_of(v);
}

std::vector<IpAddress> Rib::next_hops(const Prefix& prefix) const {
    const auto v = value_of(prefix);
    return v == kNoPath ? std::vector<IpAddress>{} : next_hops_of(v);
}

void Rib::for_each_prefix(const std::function<void(const Prefix&)>& f) const {
    v4_.for_each([&f](const Key4& k, std::uint32_t) { f(prefix_of(k)); });
    v6_.for_each([&f](const Key6& k, std::uint32_t) { f(prefix_of(k)); });
}

std::vector<Prefix> Rib::prefixes() const {
    std::vector<Prefix> out;
    out.reserve(prefix_count());
    for_each_prefix([&out](const Prefix& p) { out.push_back(p); });
    std::sort(out.begin(), out.end());
    return out;
}

std::size_t Rib::adj_rib_in_count(const IpAddress& peer) const {
    auto it = adj_rib_in_.find(peer);
    return it == adj_rib_in_.end() ? 0 : it->second;
}

bool Rib::from_source(PathId id, const Source& src) const {
    const Path& p = paths_[id];
    return p.local == src.local && (src.local || (p.peer_address == src.peer && p.path_id == src.path_id));
}

bool Rib::from_peer(PathId id, const IpAddress& peer) const {
    const Path& p = paths_[id];
    return !p.local && p.peer_address == peer;
}

std::uint32_t Rib::add_multi(Multi m) {
    std::uint32_t i;
    if (!multi_free_.empty()) {
        i = multi_free_.back();
        multi_free_.pop_back();
        multi_[i] = std::move(m);
    } else {
        i = static_cast<std::uint32_t>(multi_.size());
        multi_.push_back(std::move(m));
    }
    return i | kMultiBit;
}

void Rib::select(Multi& m) const {
    std::vector<const Path*> ptrs;
    ptrs.reserve(m.paths.size());
    for (auto id : m.paths) ptrs.push_back(&paths_[id]);
    m.selection = *select_best_of(std::span<const Path* const>{ptrs});
}

void Rib::count(const Path& p, int delta) {
    if (p.local) return;
    auto& n = adj_rib_in_[p.peer_address];
    n = static_cast<std::size_t>(static_cast<long long>(n) + delta);
}

void Rib::apply(const Prefix& prefix, const Source& src, PathId id, Changes& out) {
    if (prefix.family() == Family::kIpv4) {
        apply_in(v4_, key4(prefix), prefix, src, id, out);
    } else {
        apply_in(v6_, key6(prefix), prefix, src, id, out);
    }
}

template <class Table, class Key>
void Rib::apply_in(Table& table, const Key& k, const Prefix& prefix, const Source& src, PathId id, Changes& out) {
    typename Table::Slot* slot = nullptr;
    if (id == kNoPath) {
        slot = table.find(k);
        if (!slot) return;
    } else {
        bool fresh = false;  // one probe for a new prefix, the common case of a table load
        slot = &table.insert(k, fresh);
        if (fresh) {
            slot->value = id;
            const Path& p = paths_[id];
            count(p, +1);
            out.push_back(BestChange{prefix, std::nullopt, p, {}, {p.next_hop}});
            return;
        }
    }
    const std::uint32_t before = slot->value;

    if (!(before & kMultiBit)) {
        if (from_source(before, src)) {
            if (id == before) {  // the same path again
                paths_.unref(id);
                return;
            }
            const Path& old = paths_[before];
            BestChange c{prefix, old, std::nullopt, {old.next_hop}, {}};
            count(old, -1);
            if (id == kNoPath) {
                table.erase(slot);
            } else {
                slot->value = id;
                c.new_best = paths_[id];
                c.new_next_hops = {paths_[id].next_hop};
                count(paths_[id], +1);
            }
            paths_.unref(before);
            out.push_back(std::move(c));
            return;
        }
        if (id == kNoPath) return;  // that source has no path here
        // A second path: the prefix gets a path list of its own.
        const Path& old = paths_[before];
        BestChange c{prefix, old, std::nullopt, {old.next_hop}, {}};
        count(paths_[id], +1);
        Multi m{{before, id}, {}};
        select(m);
        const std::uint32_t v = add_multi(std::move(m));
        slot->value = v;
        c.new_best = best_of(v);
        c.new_next_hops = next_hops_of(v);
        if (c.new_best != c.old_best || c.new_next_hops != c.old_next_hops) out.push_back(std::move(c));
        return;
    }

    const std::uint32_t mi = before & ~kMultiBit;
    BestChange c{prefix, best_of(before), std::nullopt, next_hops_of(before), {}};
    auto& list = multi_[mi].paths;
    auto pos = std::find_if(list.begin(), list.end(), [&](PathId p) { return from_source(p, src); });
    if (pos == list.end()) {
        if (id == kNoPath) return;
        list.push_back(id);
        count(paths_[id], +1);
    } else {
        if (*pos == id) {
            paths_.unref(id);
            return;
        }
        const PathId gone = *pos;
        count(paths_[gone], -1);
        if (id == kNoPath) {
            list.erase(pos);
        } else {
            *pos = id;
            count(paths_[id], +1);
        }
        paths_.unref(gone);
    }
    if (list.size() == 1) {  // back to a single path
        slot->value = list.front();
        multi_[mi] = Multi{};
        multi_free_.push_back(mi);
    } else {
        select(multi_[mi]);
    }
    c.new_best = best_of(slot->value);
    c.new_next_hops = next_hops_of(slot->value);
    if (c.new_best != c.old_best || c.new_next_hops != c.old_next_hops) out.push_back(std::move(c));
}

}  // namespace kroute::bgp
