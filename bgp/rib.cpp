#include "bgp/rib.hpp"

#include <algorithm>

namespace kroute::bgp {

std::shared_ptr<const PathAttributes> AttributeStore::intern(PathAttributes attrs) {
    if (auto it = sets_.find(attrs); it != sets_.end()) {
        if (auto live = it->second.lock()) return live;
        sets_.erase(it);
    }
    if (sets_.size() >= sweep_at_) sweep();
    auto shared = std::make_shared<const PathAttributes>(attrs);
    sets_.emplace(std::move(attrs), shared);
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

void Rib::update(const PathSource& from, const Prefix& prefix, std::shared_ptr<const PathAttributes> attrs,
                 const IpAddress& next_hop, Changes& out) {
    Path p{.attributes = std::move(attrs), .next_hop = next_hop, .peer_address = from.address,
           .peer_router_id = from.router_id, .peer_as = from.asn, .ebgp = from.ebgp, .local = false};
    adj_rib_in_[from.address].insert(prefix);
    apply(prefix, from.address, false, std::move(p), out);
}

void Rib::withdraw(const IpAddress& peer, const Prefix& prefix, Changes& out) {
    auto it = adj_rib_in_.find(peer);
    if (it == adj_rib_in_.end() || it->second.erase(prefix) == 0) return;  // RFC 4271 §9: ignore unknown
    apply(prefix, peer, false, std::nullopt, out);
}

void Rib::drop_peer(const IpAddress& peer, Changes& out) {
    auto it = adj_rib_in_.find(peer);
    if (it == adj_rib_in_.end()) return;
    std::vector<Prefix> prefixes(it->second.begin(), it->second.end());
    adj_rib_in_.erase(it);
    std::sort(prefixes.begin(), prefixes.end());  // deterministic change order
    for (const auto& p : prefixes) apply(p, peer, false, std::nullopt, out);
}

void Rib::originate(const Prefix& prefix, const IpAddress& next_hop, Changes& out) {
    PathAttributes a;
    a.origin = Origin::kIgp;
    a.as_path = std::vector<AsPathSegment>{};
    Path p{.attributes = store_.intern(std::move(a)), .next_hop = next_hop, .peer_address = {},
           .peer_router_id = 0, .peer_as = 0, .ebgp = false, .local = true};
    local_.insert(prefix);
    apply(prefix, IpAddress{}, true, std::move(p), out);
}

void Rib::withdraw_local(const Prefix& prefix, Changes& out) {
    if (local_.erase(prefix) == 0) return;
    apply(prefix, IpAddress{}, true, std::nullopt, out);
}

const RibEntry* Rib::find(const Prefix& prefix) const {
    auto it = loc_rib_.find(prefix);
    return it == loc_rib_.end() ? nullptr : &it->second;
}

std::size_t Rib::adj_rib_in_count(const IpAddress& peer) const {
    auto it = adj_rib_in_.find(peer);
    return it == adj_rib_in_.end() ? 0 : it->second.size();
}

void Rib::apply(const Prefix& prefix, const IpAddress& key, bool local, std::optional<Path> path, Changes& out) {
    auto [it, fresh] = loc_rib_.try_emplace(prefix);
    RibEntry& e = it->second;
    std::optional<Path> old_best;
    if (const Path* b = e.best()) old_best = *b;
    auto old_hops = e.next_hops();

    auto same = [&](const Path& p) { return p.local == local && (local || p.peer_address == key); };
    auto pos = std::find_if(e.paths.begin(), e.paths.end(), same);
    if (path) {
        if (pos != e.paths.end()) {
            *pos = std::move(*path);
        } else {
            e.paths.push_back(std::move(*path));
        }
    } else if (pos != e.paths.end()) {
        e.paths.erase(pos);
    }

    e.selection = select_best(e.paths);
    std::optional<Path> new_best;
    if (const Path* b = e.best()) new_best = *b;
    auto new_hops = e.next_hops();
    if (e.paths.empty()) loc_rib_.erase(it);

    if (old_best == new_best && old_hops == new_hops) return;
    out.push_back(BestChange{prefix, std::move(old_best), std::move(new_best), std::move(old_hops),
                             std::move(new_hops)});
}

}  // namespace kroute::bgp
