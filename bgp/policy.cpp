#include "bgp/policy.hpp"

#include <cstdio>
#include <algorithm>
#include <charconv>

namespace kroute::bgp {
namespace {

std::optional<std::uint64_t> parse_number(std::string_view s, std::uint64_t max) {
    std::uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        auto at = s.find(sep, start);
        out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) return out;
        start = at + 1;
    }
}

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

template <class T>
bool has(const std::vector<T>& v, const T& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

template <class T>
bool any_of_in(const std::vector<T>& wanted, const std::vector<T>& present) {
    return std::any_of(wanted.begin(), wanted.end(), [&](const T& x) { return has(present, x); });
}

template <class T>
bool all_of_in(const std::vector<T>& wanted, const std::vector<T>& present) {
    return std::all_of(wanted.begin(), wanted.end(), [&](const T& x) { return has(present, x); });
}

// set, then remove, then add; the result sorted and unique (a canonical set, which also lets the
// attribute store share it between paths).
template <class T>
void edit_set(std::vector<T>& values, const std::optional<std::vector<T>>& set, const std::vector<T>& remove,
              const std::vector<T>& add) {
    if (!set && remove.empty() && add.empty()) return;
    if (set) values = *set;
    std::erase_if(values, [&](const T& x) { return has(remove, x); });
    values.insert(values.end(), add.begin(), add.end());
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
}

}  // namespace

void prepend_as(PathAttributes& a, std::uint32_t asn) {  // RFC 4271 §5.1.2 b
    if (!a.as_path) a.as_path = std::vector<AsPathSegment>{};
    auto& segs = *a.as_path;
    if (segs.empty() || segs.front().type != AsPathSegment::kAsSequence || segs.front().asns.size() >= 255) {
        segs.insert(segs.begin(), AsPathSegment{AsPathSegment::kAsSequence, {asn}});
    } else {
        segs.front().asns.insert(segs.front().asns.begin(), asn);
    }
}

// ---- prefix lists ----

std::string PrefixRange::check() const {
    const int len = prefix.length();
    const int max = prefix.address().max_prefix_length();
    // FRR (lib/plist.c) refuses the same: "make sure: len < ge <= le".
    if (ge && (*ge <= len || *ge > max))
        return "ge " + std::to_string(*ge) + " must be above " + std::to_string(len) + " and at most " +
               std::to_string(max);
    if (le && (*le < len || *le > max))
        return "le " + std::to_string(*le) + " must be between " + std::to_string(len) + " and " + std::to_string(max);
    if (ge && le && *ge > *le) return "ge " + std::to_string(*ge) + " is above le " + std::to_string(*le);
    return {};
}

Expected<PrefixRange, std::string> PrefixRange::parse(std::string_view text) {
    auto w = words(text);
    if (w.empty()) return unexpected(std::string{"empty prefix-list entry"});
    auto p = Prefix::parse(w[0]);
    if (!p) return unexpected("'" + std::string{w[0]} + "' is not a prefix (host bits must be zero)");
    PrefixRange r{*p, std::nullopt, std::nullopt};
    for (std::size_t i = 1; i < w.size(); i += 2) {
        const std::string kw{w[i]};
        if (kw != "ge" && kw != "le") return unexpected("'" + kw + "' is neither ge nor le");
        if (i + 1 >= w.size()) return unexpected("'" + kw + "' needs a prefix length");
        auto n = parse_number(w[i + 1], 128);
        if (!n) return unexpected("'" + std::string{w[i + 1]} + "' is not a prefix length");
        if (kw == "ge") {
            if (r.ge || r.le) return unexpected("'" + std::string{text} + "': ge comes once, before le");
            r.ge = static_cast<int>(*n);
        } else {
            if (r.le) return unexpected("'" + std::string{text} + "': le comes once");
            r.le = static_cast<int>(*n);
        }
    }
    if (auto why = r.check(); !why.empty()) return unexpected("'" + std::string{text} + "': " + why);
    return r;
}

bool PrefixRange::matches(const Prefix& route) const noexcept {
    if (route.family() != prefix.family() || !prefix.contains(route)) return false;
    const int lo = ge.value_or(prefix.length());
    const int hi = le.value_or(ge ? prefix.address().max_prefix_length() : prefix.length());
    return route.length() >= lo && route.length() <= hi;
}

std::string PrefixRange::to_string() const {
    std::string s = prefix.to_string();
    if (ge) s += " ge " + std::to_string(*ge);
    if (le) s += " le " + std::to_string(*le);
    return s;
}

bool matches(const PrefixList& list, const Prefix& route) noexcept {
    return std::any_of(list.begin(), list.end(), [&](const PrefixRange& r) { return r.matches(route); });
}

// ---- actions and policies ----

bool PolicyAction::modifies() const noexcept {
    return accept && (set_communities || !remove_communities.empty() || !add_communities.empty() ||
                      set_large_communities || !remove_large_communities.empty() ||
                      !add_large_communities.empty() || prepend_count > 0 || set_local_pref || set_med);
}

std::string check(const Policy& policy) {
    auto check_action = [](const PolicyAction& a) -> std::string {
        if (a.prepend_count < 0 || a.prepend_count > kMaxPrepend)
            return "prepend count " + std::to_string(a.prepend_count) + " is out of 0-" + std::to_string(kMaxPrepend);
        if (a.prepend_count > 0 && (a.prepend_asn == 0 || a.prepend_asn == kAsTrans))
            return "prepend AS " + std::to_string(a.prepend_asn) + " is reserved (RFC 7607, RFC 6793)";
        return {};
    };
    for (const auto& t : policy.terms) {
        if (t.match.prefixes) {
            for (const auto& r : *t.match.prefixes) {
                if (auto why = r.check(); !why.empty()) return "term " + t.name + ": " + r.to_string() + ": " + why;
            }
        }
        if (auto why = check_action(t.action); !why.empty()) return "term " + t.name + ": " + why;
    }
    if (auto why = check_action(policy.default_action); !why.empty()) return "default action: " + why;
    return {};
}

bool matches(const PolicyMatch& m, const Prefix& route, const PathAttributes& attrs) {
    if (m.prefixes && !matches(*m.prefixes, route)) return false;
    if (!m.any_community.empty() && !any_of_in(m.any_community, attrs.communities)) return false;
    if (!all_of_in(m.all_communities, attrs.communities)) return false;
    if (!m.any_large_community.empty() && !any_of_in(m.any_large_community, attrs.large_communities)) return false;
    return all_of_in(m.all_large_communities, attrs.large_communities);
}

PolicyDecision decide(const Policy& policy, const Prefix& route, const PathAttributes& attrs) {
    for (const auto& t : policy.terms) {
        if (matches(t.match, route, attrs)) return PolicyDecision{&t.action, &t};
    }
    return PolicyDecision{&policy.default_action, nullptr};
}

void modify(const PolicyAction& a, PathAttributes& attrs) {
    edit_set(attrs.communities, a.set_communities, a.remove_communities, a.add_communities);
    edit_set(attrs.large_communities, a.set_large_communities, a.remove_large_communities, a.add_large_communities);
    for (int i = 0; i < a.prepend_count; ++i) prepend_as(attrs, a.prepend_asn);
    if (a.set_local_pref) attrs.local_pref = *a.set_local_pref;
    if (a.set_med) attrs.med = *a.set_med;
}

bool may_modify(const Policy& policy) noexcept {
    return policy.default_action.modifies() ||
           std::any_of(policy.terms.begin(), policy.terms.end(), [](const PolicyTerm& t) { return t.action.modifies(); });
}

bool rejects_whatever_attributes(const Policy& policy, const Prefix& route) noexcept {
    for (const auto& t : policy.terms) {
        if (t.match.prefixes && !matches(*t.match.prefixes, route)) continue;  // can never match
        const auto& m = t.match;
        const bool on_attributes = !m.any_community.empty() || !m.all_communities.empty() ||
                                   !m.any_large_community.empty() || !m.all_large_communities.empty();
        if (!on_attributes) return !t.action.accept;  // matches every path to `route`
        if (t.action.accept) return false;            // might match, and accept
    }
    return !policy.default_action.accept;
}

bool apply(const Policy& policy, const Prefix& route, PathAttributes& attrs) {
    const PolicyDecision d = decide(policy, route, attrs);
    if (!d.accept()) return false;
    modify(*d.action, attrs);
    return true;
}

// ---- communities ----

std::optional<std::uint32_t> parse_community(std::string_view text) {
    if (text == "no-export") return kCommunityNoExport;
    if (text == "no-advertise") return kCommunityNoAdvertise;
    if (text == "no-export-subconfed") return kCommunityNoExportSubconfed;
    auto parts = split(text, ':');
    if (parts.size() == 1) {
        auto v = parse_number(parts[0], 0xFFFFFFFFu);
        if (!v) return std::nullopt;
        return static_cast<std::uint32_t>(*v);
    }
    if (parts.size() != 2) return std::nullopt;
    auto hi = parse_number(parts[0], 0xFFFF);
    auto lo = parse_number(parts[1], 0xFFFF);
    if (!hi || !lo) return std::nullopt;
    return static_cast<std::uint32_t>((*hi << 16) | *lo);
}

std::string community_to_string(std::uint32_t c) {
    switch (c) {
        case kCommunityNoExport: return "no-export";
        case kCommunityNoAdvertise: return "no-advertise";
        case kCommunityNoExportSubconfed: return "no-export-subconfed";
        default: return std::to_string(c >> 16) + ":" + std::to_string(c & 0xFFFF);
    }
}

std::optional<LargeCommunity> parse_large_community(std::string_view text) {
    auto parts = split(text, ':');
    if (parts.size() != 3) return std::nullopt;
    auto g = parse_number(parts[0], 0xFFFFFFFFu);
    auto l1 = parse_number(parts[1], 0xFFFFFFFFu);
    auto l2 = parse_number(parts[2], 0xFFFFFFFFu);
    if (!g || !l1 || !l2) return std::nullopt;
    return LargeCommunity{static_cast<std::uint32_t>(*g), static_cast<std::uint32_t>(*l1),
                          static_cast<std::uint32_t>(*l2)};
}

std::string large_community_to_string(const LargeCommunity& c) {
    return std::to_string(c.global) + ":" + std::to_string(c.local1) + ":" + std::to_string(c.local2);
}

std::string extended_community_to_string(ExtendedCommunity c) {
    const auto type = static_cast<std::uint8_t>((c >> 56) & 0xbf);  // without the non-transitive bit
    const auto subtype = static_cast<std::uint8_t>(c >> 48);
    const char* kind = subtype == 0x02 ? "rt" : subtype == 0x03 ? "soo" : nullptr;
    if (kind && type == 0x00)  // two-octet AS specific: AS (2), local (4)
        return std::string(kind) + ":" + std::to_string((c >> 32) & 0xffff) + ":" + std::to_string(c & 0xffffffffu);
    if (kind && type == 0x01)  // IPv4 address specific: address (4), local (2)
        return std::string(kind) + ":" + IpAddress::v4(static_cast<std::uint32_t>(c >> 16)).to_string() + ":" +
               std::to_string(c & 0xffff);
    if (kind && type == 0x02)  // four-octet AS specific (RFC 5668): AS (4), local (2)
        return std::string(kind) + ":" + std::to_string((c >> 16) & 0xffffffffu) + ":" + std::to_string(c & 0xffff);
    char buf[19];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(c));
    return buf;
}

}  // namespace kroute::bgp
