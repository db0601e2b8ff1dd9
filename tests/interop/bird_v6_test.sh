#!/usr/bin/env bash
# A BGP session over IPv6 with BIRD 2 as an external router, in namespaces of its own inside the
# no-route sandbox: kroute is node n1 in "kr" (10.0.0.1 and fd00::1), BIRD in "rt" (10.0.0.2 and
# fd00::2, AS 65001), one eBGP session between fd00::1 and fd00::2 carrying both families.
# 1. Established over IPv6, both families negotiated.
# 2. BIRD's 2001:db8:2::/48 reaches kroute in MP_REACH_NLRI, next hop fd00::2, AS path [65001].
# 3. kroute's IPv4 podCIDR reaches BIRD over the IPv6 session with its IPv4 next hop 10.0.0.1 and
#    AS path 64512 (IPv4 NLRI over an IPv6 transport, RFC 4760).
# 4. BIRD withdraws its IPv6 route: it leaves kroute.
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
protocol bgp kroute {
  local fd00::2 as 65001;
  neighbor fd00::1 as 64512;
  hold time 9; keepalive time 3; connect retry time 1;
  ipv4 { import all; export none; };
  ipv6 { import all; export where source = RTS_STATIC; };
}
CONF
}

echo "bird: $(bird --version 2>&1)"
bird_conf 1
bird_up rt rt
kroute_node n1 kr --peer-router-ips fd00::2 --peer-router-asns 65001
wait_for 30 "kroute Established with BIRD over IPv6" node_established n1 fd00::2
birdc_at rt show protocols all kroute | grep -q 'Neighbor address: fd00::1' || fail "BIRD's session is not the IPv6 one"
echo "ok: eBGP over IPv6 (fd00::1 <-> fd00::2) Established"

wait_for 20 "kroute to learn 2001:db8:2::/48 from BIRD" node_rib_has n1 2001:db8:2::/48 fd00::2
path=$(kctl n1 rib 2001:db8:2::/48 -o json | jq -c '.[0].paths[0]')
[[ $(jq -r '.next_hops[0]' <<<"$path") == fd00::2 ]] || fail "the IPv6 next hop is not fd00::2: $path"
[[ $(jq -c .as_path <<<"$path") == "[65001]" ]] || fail "the AS path is not [65001]: $path"
echo "ok: BIRD's IPv6 route in MP_REACH_NLRI: next hop fd00::2, AS path [65001]"

bird_learned_v4() { birdc_at rt show route 10.244.1.0/24 protocol kroute all | grep -q 'BGP.next_hop: 10.0.0.1'; }
wait_for 20 "BIRD to learn 10.244.1.0/24 with next hop 10.0.0.1 over the IPv6 session" bird_learned_v4
birdc_at rt show route 10.244.1.0/24 protocol kroute all | grep -qE 'BGP\.as_path: 64512$' ||
    fail "BIRD's AS path for 10.244.1.0/24 is not 64512: $(birdc_at rt show route 10.244.1.0/24 all)"
echo "ok: kroute's IPv4 podCIDR reaches BIRD over the IPv6 session, next hop 10.0.0.1, AS path 64512"

bird_conf 0
birdc_at rt configure >/dev/null
wait_for 20 "2001:db8:2::/48 to leave kroute after BIRD withdrew it" node_rib_lacks n1 2001:db8:2::/48
node_established n1 fd00::2 || fail "the session went down"
echo "ok: BIRD's IPv6 withdrawal (MP_UNREACH_NLRI) removes the route from kroute"
