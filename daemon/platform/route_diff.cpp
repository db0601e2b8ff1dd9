#include "daemon/platform/route_diff.hpp"

#include <algorithm>

namespace kroute::daemon {

FibRoute normalized(FibRoute route) {
    auto& hops = route.next_hops;
    const Family family = route.prefix.family();
    std::erase_if(hops, [family](const IpAddress& a) { return a.family() != family; });
    std::sort(hops.begin(), hops.end());
    hops.erase(std::unique(hops.begin(), hops.end()), hops.end());
    return route;
}

bool installable(const FibRoute& route) {
    if (route.next_hops.empty()) return false;
    return std::all_of(route.next_hops.begin(), route.next_hops.end(), [&](const IpAddress& a) {
        return a.family() == route.prefix.family() && !a.is_unspecified();
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

KernelState split_kernel(const std::vector<KernelRoute>& dump, std::uint8_t protocol, std::uint32_t table) {
    KernelState state;
    for (const auto& kr : dump) {
        if (kr.table != table) continue;
        if (kr.protocol == protocol)
            state.ours.insert_or_assign(kr.route.prefix, normalized(kr.route));
        else
            state.foreign.emplace(kr.route.prefix, kr.protocol);  // first one wins; any one blocks
    }
    return state;
}

bool apply_event(KernelState& state, EventKind kind, const KernelRoute& kr, std::uint8_t protocol,
                 std::uint32_t table) {
    if (kr.table != table) return false;
    const Prefix& p = kr.route.prefix;
    if (kr.protocol == protocol) {
        if (kind == EventKind::kDelRoute) return state.ours.erase(p) > 0;
        FibRoute r = normalized(kr.route);
        auto it = state.ours.find(p);
        if (it != state.ours.end() && it->second == r) return false;
        state.ours.insert_or_assign(p, std::move(r));
        return true;
    }
    auto it = state.foreign.find(p);
    if (kind == EventKind::kDelRoute) {
        // Only the protocol we recorded: another protocol's route may still hold the prefix, and
        // the next full dump corrects that case.
        if (it == state.foreign.end() || it->second != kr.protocol) return false;
        state.foreign.erase(it);
        return true;
    }
    if (it != state.foreign.end()) return false;
    state.foreign.emplace(p, kr.protocol);
    return true;
}

PrefixAction decide(const DiffInput& in, const Prefix& p) {
    using Kind = PrefixAction::Kind;
    auto d = in.desired.find(p);
    auto k = in.kernel.ours.find(p);
    const bool have_ours = k != in.kernel.ours.end();
    if (d != in.desired.end()) {
        if (have_ours && k->second == d->second) return {};
        if (!in.kernel.foreign.empty()) {
            if (auto f = in.kernel.foreign.find(p); f != in.kernel.foreign.end()) return {Kind::kOccupied, nullptr, f->second};
        }
        return {Kind::kReplace, &d->second};
    }
    if (have_ours && (in.sweep || in.withdrawn.contains(p))) return {Kind::kRemove, &k->second};
    return {};
}

RouteDiff diff_routes(const DiffInput& in, std::span<const Prefix> candidates) {
    RouteDiff diff;
    for (const auto& p : candidates) {
        const PrefixAction a = decide(in, p);
        switch (a.kind) {
            case PrefixAction::Kind::kNone: break;
            case PrefixAction::Kind::kReplace: diff.replace.push_back(*a.route); break;
            case PrefixAction::Kind::kRemove: diff.remove.push_back(*a.route); break;
            case PrefixAction::Kind::kOccupied: diff.occupied.push_back({p, a.occupier}); break;
        }
    }
    return diff;
}

std::vector<Prefix> all_prefixes(const DiffInput& in) {
    std::vector<Prefix> all;
    all.reserve(in.desired.size() + in.kernel.ours.size() + in.withdrawn.size());
    for (const auto& [p, r] : in.desired) all.push_back(p);
    for (const auto& [p, r] : in.kernel.ours) all.push_back(p);
    for (const auto& p : in.withdrawn) all.push_back(p);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
}

RouteDiff diff_all(const DiffInput& in) { return diff_routes(in, all_prefixes(in)); }

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
