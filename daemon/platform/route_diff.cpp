#include "daemon/platform/route_diff.hpp"

#include <algorithm>

namespace kroute::daemon {

namespace {
// Next hops the kernel can install for a prefix of this family: its own, and for IPv4 also IPv6
// ones (RFC 8950 next hops, as RTA_VIA); the kernel has no IPv6 route via an IPv4 gateway.
bool usable_hop_family(Family prefix, Family hop) { return hop == prefix || prefix == Family::kIpv4; }
}  // namespace

FibRoute normalized(FibRoute route) {
    auto& hops = route.next_hops;
    const Family family = route.prefix.family();
    std::erase_if(hops, [family](const IpAddress& a) { return !usable_hop_family(family, a.family()); });
    std::sort(hops.begin(), hops.end());
    hops.erase(std::unique(hops.begin(), hops.end()), hops.end());
    return route;
}

bool installable(const FibRoute& route) {
    if (route.next_hops.empty()) return false;
    return std::all_of(route.next_hops.begin(), route.next_hops.end(), [&](const IpAddress& a) {
        return usable_hop_family(route.prefix.family(), a.family()) && !a.is_unspecified();
    });
}

std::string describe(const FibRoute& route) {
    std::string out = route.prefix.to_string();
    const char* sep = " via ";
    for (const auto& hop : route.next_hops) {
        out += sep;
        out += hop.to_string();
        sep = ", ";
    }
    return out;
}

void load_kernel(RouteTable& table, const std::vector<KernelRoute>& dump, std::uint8_t protocol, std::uint32_t table_id) {
    for (auto& [p, slot] : table) {
        slot.ours.reset();
        slot.foreign.reset();
    }
    for (const auto& kr : dump) {
        if (kr.table != table_id) continue;
        RouteSlot& slot = table[kr.route.prefix];
        if (kr.protocol == protocol)
            slot.ours = normalized(kr.route);
        else if (!slot.foreign)
            slot.foreign = kr.protocol;  // first one wins; any one blocks
    }
    std::erase_if(table, [](const auto& entry) { return entry.second.empty(); });
}

RouteMap ours_of(const RouteTable& table) {
    RouteMap out;
    for (const auto& [p, slot] : table)
        if (slot.ours) out.emplace(p, *slot.ours);
    return out;
}

bool apply_event(RouteTable& table, EventKind kind, const KernelRoute& kr, std::uint8_t protocol, std::uint32_t table_id) {
    if (kr.table != table_id) return false;
    const Prefix& p = kr.route.prefix;
    auto it = table.find(p);
    if (kind == EventKind::kDelRoute) {
        if (it == table.end()) return false;
        RouteSlot& slot = it->second;
        bool changed = false;
        if (kr.protocol == protocol) {
            changed = slot.ours.has_value();
            slot.ours.reset();
        } else if (slot.foreign == kr.protocol) {
            // Only the protocol we recorded: another protocol's route may still hold the prefix,
            // and the next full dump corrects that case.
            slot.foreign.reset();
            changed = true;
        }
        if (slot.empty()) table.erase(it);
        return changed;
    }
    if (it == table.end()) it = table.try_emplace(p).first;
    RouteSlot& slot = it->second;
    if (kr.protocol == protocol) {
        FibRoute r = normalized(kr.route);
        if (slot.ours == r) return false;
        slot.ours = std::move(r);
        return true;
    }
    if (slot.foreign) return false;
    slot.foreign = kr.protocol;
    return true;
}

PrefixAction decide(const RouteSlot& slot, bool sweep) {
    using Kind = PrefixAction::Kind;
    if (slot.desired) {
        if (slot.ours == slot.desired) return {};
        if (slot.foreign) return {Kind::kOccupied, nullptr, *slot.foreign};
        return {Kind::kReplace, &*slot.desired};
    }
    if (slot.ours && (sweep || slot.withdrawn)) return {Kind::kRemove, &*slot.ours};
    return {};
}

std::vector<Prefix> sorted_prefixes(const RouteTable& table) {
    std::vector<Prefix> all;
    all.reserve(table.size());
    for (const auto& [p, slot] : table) all.push_back(p);
    std::sort(all.begin(), all.end());
    return all;
}

RouteDiff diff_routes(const RouteTable& table, bool sweep, std::span<const Prefix> candidates) {
    RouteDiff diff;
    for (const auto& p : candidates) {
        auto it = table.find(p);
        if (it == table.end()) continue;
        const PrefixAction a = decide(it->second, sweep);
        switch (a.kind) {
            case PrefixAction::Kind::kNone: break;
            case PrefixAction::Kind::kReplace: diff.replace.push_back(*a.route); break;
            case PrefixAction::Kind::kRemove: diff.remove.push_back(*a.route); break;
            case PrefixAction::Kind::kOccupied: diff.occupied.push_back({p, a.occupier}); break;
        }
    }
    return diff;
}

RouteDiff diff_all(const RouteTable& table, bool sweep) { return diff_routes(table, sweep, sorted_prefixes(table)); }

std::chrono::milliseconds retry_delay(unsigned failures) noexcept {
    constexpr std::chrono::milliseconds kFirst{250};
    constexpr std::chrono::milliseconds kMax{30'000};
    if (failures <= 1) return kFirst;
    const unsigned shift = std::min(failures - 1, 8u);  // 250 ms << 8 > 30 s already
    return std::min(kFirst * (1u << shift), kMax);
}

bool ErrorMemo::record(const Prefix& prefix, int error) {
    auto [it, inserted] = errors_.try_emplace(prefix, error);
    if (inserted) return true;
    if (it->second == error) return false;
    it->second = error;
    return true;
}

bool ErrorMemo::clear(const Prefix& prefix) { return errors_.erase(prefix) > 0; }

}  // namespace kroute::daemon
