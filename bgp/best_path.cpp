#include "bgp/best_path.hpp"

#include <algorithm>
#include <functional>
#include <map>

namespace kroute::bgp {

std::uint32_t Path::local_pref() const noexcept { return attributes->local_pref.value_or(kDefaultLocalPref); }

std::size_t Path::as_path_length() const noexcept {
    if (!attributes->as_path) return 0;
    std::size_t n = 0;
    for (const auto& seg : *attributes->as_path) n += seg.type == AsPathSegment::kAsSet ? 1 : seg.asns.size();
    return n;
}

Origin Path::origin() const noexcept { return attributes->origin.value_or(Origin::kIncomplete); }

std::uint32_t Path::med() const noexcept { return attributes->med.value_or(0); }

std::uint32_t Path::neighbor_as() const noexcept {
    if (!attributes->as_path) return 0;
    for (const auto& seg : *attributes->as_path) {
        if (seg.type == AsPathSegment::kAsSequence && !seg.asns.empty()) return seg.asns.front();
        if (!seg.asns.empty()) return 0;  // starts with an AS_SET: no single neighbour AS
    }
    return 0;
}

std::uint32_t Path::router_id() const noexcept { return attributes->originator_id.value_or(peer_router_id); }

std::string_view to_string(Reason r) noexcept {
    switch (r) {
        case Reason::kOnlyPath: return "only path";
        case Reason::kLocal: return "locally originated";
        case Reason::kLocalPref: return "local-pref";
        case Reason::kAsPathLength: return "as-path length";
        case Reason::kOrigin: return "origin";
        case Reason::kMed: return "med";
        case Reason::kEbgpOverIbgp: return "ebgp over ibgp";
        case Reason::kRouterId: return "router-id";
        case Reason::kClusterListLength: return "cluster-list length";
        case Reason::kPeerAddress: return "peer address";
        case Reason::kPathId: return "path id";
    }
    return "unknown";
}

std::string_view loss_to_string(Reason r) noexcept {
    switch (r) {
        case Reason::kOnlyPath: return "";
        case Reason::kLocal: return "not locally originated";
        case Reason::kLocalPref: return "lower LOCAL_PREF";
        case Reason::kAsPathLength: return "longer AS_PATH";
        case Reason::kOrigin: return "higher ORIGIN";
        case Reason::kMed: return "higher MED";
        case Reason::kEbgpOverIbgp: return "eBGP preferred over iBGP";
        case Reason::kRouterId: return "higher router id";
        case Reason::kClusterListLength: return "longer CLUSTER_LIST";
        case Reason::kPeerAddress: return "higher peer address";
        case Reason::kPathId: return "higher path id";
    }
    return "unknown";
}

Verdict compare(const Path& a, const Path& b) {  // RFC 4271 §9.1.1, §9.1.2.2 (no IGP cost step)
    if (a.local != b.local) return {a.local, Reason::kLocal};
    if (a.local_pref() != b.local_pref()) return {a.local_pref() > b.local_pref(), Reason::kLocalPref};
    if (a.as_path_length() != b.as_path_length()) return {a.as_path_length() < b.as_path_length(), Reason::kAsPathLength};
    if (a.origin() != b.origin()) return {a.origin() < b.origin(), Reason::kOrigin};
    if (a.med() != b.med() && a.neighbor_as() == b.neighbor_as()) return {a.med() < b.med(), Reason::kMed};
    if (a.ebgp != b.ebgp) return {a.ebgp, Reason::kEbgpOverIbgp};
    if (a.router_id() != b.router_id()) return {a.router_id() < b.router_id(), Reason::kRouterId};
    if (a.attributes->cluster_list.size() != b.attributes->cluster_list.size())  // RFC 4456 §9
        return {a.attributes->cluster_list.size() < b.attributes->cluster_list.size(), Reason::kClusterListLength};
    if (a.peer_address != b.peer_address) return {a.peer_address < b.peer_address, Reason::kPeerAddress};
    return {a.path_id <= b.path_id, Reason::kPathId};  // several paths from one ADD-PATH peer
}

namespace {

// Where each eliminated candidate went out (explain()); null when nobody asks.
using LostAt = std::vector<std::optional<Reason>>;

// Drops the candidates `out(i)` says, recording `reason` for them (and in `last` if any went).
template <class Out>
void eliminate(std::vector<std::size_t>& c, const Out& out, Reason reason, Reason& last, LostAt* lost) {
    const auto before = c.size();
    std::erase_if(c, [&](std::size_t i) {
        if (!out(i)) return false;
        if (lost) (*lost)[i] = reason;
        return true;
    });
    if (c.size() != before) last = reason;
}

// Keeps the candidates with the best key.
template <class Get, class Key, class Better>
void keep_best(const Get& at, std::vector<std::size_t>& c, Key key, Better better, Reason reason, Reason& last,
               LostAt* lost) {
    if (c.size() < 2) return;
    auto best = key(at(c.front()));
    for (auto i : c) {
        auto k = key(at(i));
        if (better(k, best)) best = k;
    }
    eliminate(c, [&](std::size_t i) { return key(at(i)) != best; }, reason, last, lost);
}

// `at(i)` is the i-th of `n` paths.
template <class Get>
std::optional<Selection> select(std::size_t n, const Get& at, LostAt* lost = nullptr) {
    if (n == 0) return std::nullopt;
    if (n == 1) return Selection{0, Reason::kOnlyPath, {0}};
    std::vector<std::size_t> c(n);
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = i;
    Reason last = Reason::kOnlyPath;

    keep_best(at, c, [](const Path& p) { return p.local; }, std::greater<>{}, Reason::kLocal, last, lost);
    keep_best(at, c, [](const Path& p) { return p.local_pref(); }, std::greater<>{}, Reason::kLocalPref, last, lost);
    keep_best(at, c, [](const Path& p) { return p.as_path_length(); }, std::less<>{}, Reason::kAsPathLength, last, lost);
    keep_best(at, c, [](const Path& p) { return p.origin(); }, std::less<>{}, Reason::kOrigin, last, lost);

    // (c) per neighbouring AS, drop the paths whose MED is not that AS's lowest.
    if (c.size() > 1) {
        std::map<std::uint32_t, std::uint32_t> lowest;
        for (auto i : c) {
            auto [it, fresh] = lowest.try_emplace(at(i).neighbor_as(), at(i).med());
            if (!fresh) it->second = std::min(it->second, at(i).med());
        }
        eliminate(c, [&](std::size_t i) { return at(i).med() != lowest[at(i).neighbor_as()]; }, Reason::kMed, last,
                  lost);
    }
    keep_best(at, c, [](const Path& p) { return p.ebgp; }, std::greater<>{}, Reason::kEbgpOverIbgp, last, lost);

    Selection sel;
    // Multipath: what is left differs only in the tie-breaks below; require one MED as well, since
    // survivors from different neighbour ASes may still differ in it.
    const auto multipath_candidates = c;

    keep_best(at, c, [](const Path& p) { return p.router_id(); }, std::less<>{}, Reason::kRouterId, last, lost);
    // RFC 4456 §9: then the shorter CLUSTER_LIST.
    keep_best(at, c, [](const Path& p) { return p.attributes->cluster_list.size(); }, std::less<>{},
              Reason::kClusterListLength, last, lost);
    keep_best(at, c, [](const Path& p) { return p.peer_address; }, std::less<>{}, Reason::kPeerAddress, last, lost);
    keep_best(at, c, [](const Path& p) { return p.path_id; }, std::less<>{}, Reason::kPathId, last, lost);

    sel.best = c.front();
    sel.reason = last;
    for (auto i : multipath_candidates) {
        if (at(i).med() == at(sel.best).med()) sel.multipath.push_back(i);
    }
    return sel;
}

}  // namespace

std::optional<Selection> select_best(std::span<const Path> paths) {
    return select(paths.size(), [paths](std::size_t i) -> const Path& { return paths[i]; });
}

std::optional<Selection> select_best_of(std::span<const Path* const> paths) {
    return select(paths.size(), [paths](std::size_t i) -> const Path& { return *paths[i]; });
}

std::optional<Explanation> explain(std::span<const Path> paths) {
    LostAt lost(paths.size());
    auto sel = select(paths.size(), [paths](std::size_t i) -> const Path& { return paths[i]; }, &lost);
    if (!sel) return std::nullopt;
    return Explanation{std::move(*sel), std::move(lost)};
}

}  // namespace kroute::bgp
