#!/usr/bin/env bash
# A BGP session over IPv6 with BIRD 2 as an external router, in namespaces of its own inside the
# no-route sandbox: kroute is node n1 in "kr" (10.0.0.1 and fd00::1), BIRD in "rt" (10.0.0.2 and
# fd00::2, AS 65001), one eBGP session between fd00::1 and fd00::2 carrying both families.
# 1. Established over IPv6, both families negotiated.
# 2. BIRD's 2001:db8:2::/48 reaches kroute in MP_REACH_NLRI with its global and link-local next
#    hops (RFC 2545), AS path [65001]; kroute keeps the link-local one (a directly connected eBGP
#    router, as BIRD itself chooses) and installs it on the session's interface:
#    `2001:db8:2::/48 via fe80::... dev eth0 proto 52`.
# 3. kroute's IPv4 podCIDR reaches BIRD over the IPv6 session (IPv4 NLRI over an IPv6 transport, RFC
#    4760) with AS path 64512 and, extended next hops being negotiated (BIRD's `extended next hop
#    on`), the session's own IPv6 address fd00::1 as next hop (RFC 8950).
# 4. BIRD's IPv4 route 198.51.100.0/24 comes over the IPv6 session with an IPv6 next hop (RFC 8950,
#    `extended next hop on`): kroute installs it `via inet6 <BIRD's link-local> dev eth0` and an
#    IPv4 ping through it reaches BIRD's namespace.
# 5. BIRD withdraws its IPv6 route: it leaves kroute.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-bird-v6.XXXXXX")
    export KR_DIR
    rc=0
    run_in_sandbox "$0" --inside || rc=$?
    if ((rc != 0)); then
        for f in "$KR_DIR"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
    fi
    rm -rf "$KR_DIR"
    exit "$rc"
fi
source "$repo/tests/interop/lib.sh"
command -v bird >/dev/null || fail "bird2 is not installed: scripts/install-deps.sh installs it"

lan_up kr:10.0.0.1 rt:10.0.0.2
ip -n kr addr add fd00::1/64 dev eth0 nodad
ip -n rt addr add fd00::2/64 dev eth0 nodad
wait_for 5 "IPv6 on the LAN" ip netns exec kr ping -6 -c1 -W1 fd00::2
# BIRD's link-local address, once out of duplicate address detection (BIRD sends it as next hop).
rt_ll_ready() { ip -n rt -6 addr show dev eth0 scope link | grep -v tentative | grep -q 'inet6 fe80'; }
wait_for 10 "rt's link-local address" rt_ll_ready
rt_ll=$(ip -n rt -6 -j addr show dev eth0 scope link | jq -r '.[0].addr_info[] | select(.family=="inet6") | .local')
cat >"$KR_DIR/nodes.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                           {"type": "InternalIP", "address": "fd00::1"}]}}]}
JSON
bird_conf() {  # with_v6_route: 1 or 0
    local route=""
    (($1)) && route="route 2001:db8:2::/48 blackhole;"
    cat >"$KR_DIR/rt.conf" <<CONF
router id 10.0.0.2;
log "$KR_DIR/rt.log" all;
protocol device { }
protocol direct { ipv4; ipv6; interface "eth0"; }
protocol static s6 { ipv6; $route }
protocol static s4 { ipv4; route 198.51.100.0/24 blackhole; }
protocol bgp kroute {
  local fd00::2 as 65001;
  neighbor fd00::1 as 64512;
  hold time 9; keepalive time 3; connect retry time 1;
  ipv4 { import all; export where proto = "s4"; extended next hop on; };
  ipv6 { import all; export where source = RTS_STATIC; };
}
CONF
}

echo "bird: $(bird --version 2>&1)"
bird_conf 1
bird_up rt rt
kroute_node n1 kr --fib --enable-ipv6 --peer-router-ips fd00::2 --peer-router-asns 65001
wait_for 30 "kroute Established with BIRD over IPv6" node_established n1 fd00::2
birdc_at rt show protocols all kroute | grep -q 'Neighbor address: fd00::1' || fail "BIRD's session is not the IPv6 one"
echo "ok: eBGP over IPv6 (fd00::1 <-> fd00::2) Established"

wait_for 20 "kroute to learn 2001:db8:2::/48 from BIRD" node_rib_has n1 2001:db8:2::/48 fd00::2
path=$(kctl n1 rib 2001:db8:2::/48 -o json | jq -c '.[0].paths[0]')
[[ $(jq -r '.next_hops[0]' <<<"$path") == "$rt_ll" ]] || fail "the IPv6 next hop is not BIRD's link-local $rt_ll: $path"
[[ $(jq -c .as_path <<<"$path") == "[65001]" ]] || fail "the AS path is not [65001]: $path"
kernel_has_ll() { ip -n kr -6 route show 2001:db8:2::/48 proto 52 | grep -q "via $rt_ll dev eth0"; }
wait_for 10 "2001:db8:2::/48 via $rt_ll dev eth0 in kr's kernel" kernel_has_ll
ip netns exec kr ping -6 -c1 -W2 "$rt_ll%eth0" >/dev/null || fail "BIRD's link-local next hop does not answer"
echo "ok: BIRD's IPv6 route in MP_REACH_NLRI: next hop $rt_ll (link-local, on eth0), AS path [65001], installed"

bird_learned_v4() { birdc_at rt show route 10.244.1.0/24 protocol kroute all | grep -q 'BGP.next_hop: fd00::1'; }
wait_for 20 "BIRD to learn 10.244.1.0/24 with next hop fd00::1 over the IPv6 session" bird_learned_v4
birdc_at rt show route 10.244.1.0/24 protocol kroute all | grep -qE 'BGP\.as_path: 64512$' ||
    fail "BIRD's AS path for 10.244.1.0/24 is not 64512: $(birdc_at rt show route 10.244.1.0/24 all)"
echo "ok: kroute's IPv4 podCIDR reaches BIRD over the IPv6 session with its IPv6 next hop fd00::1 (RFC 8950), AS path 64512"

ip -n rt addr add 198.51.100.1/32 dev lo
wait_for 20 "kroute to learn 198.51.100.0/24 from BIRD" node_rib_has n1 198.51.100.0/24 fd00::2
path=$(kctl n1 rib 198.51.100.0/24 -o json | jq -c '.[0].paths[0]')
[[ $(jq -r '.next_hops[0]' <<<"$path") == "$rt_ll" ]] || fail "198.51.100.0/24's next hop is not BIRD's link-local $rt_ll: $path"
kernel_has_v4_via_v6() { ip -n kr route show 198.51.100.0/24 proto 52 | grep -q "via inet6 $rt_ll dev eth0"; }
wait_for 10 "198.51.100.0/24 via inet6 $rt_ll dev eth0 in kr's kernel" kernel_has_v4_via_v6
ip netns exec kr ping -c1 -W2 198.51.100.1 >/dev/null || fail "no IPv4 ping through the route via an IPv6 next hop"
echo "ok: BIRD's IPv4 route with an IPv6 next hop (RFC 8950) installed via inet6 $rt_ll dev eth0, and it forwards"

bird_conf 0
birdc_at rt configure >/dev/null
wait_for 20 "2001:db8:2::/48 to leave kroute after BIRD withdrew it" node_rib_lacks n1 2001:db8:2::/48
wait_for 10 "2001:db8:2::/48 to leave kr's kernel" bash -c "[[ -z \$(ip -n kr -6 route show 2001:db8:2::/48 proto 52) ]]"
node_established n1 fd00::2 || fail "the session went down"
echo "ok: BIRD's IPv6 withdrawal (MP_UNREACH_NLRI) removes the route from kroute"
