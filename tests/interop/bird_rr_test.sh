#!/usr/bin/env bash
# Route reflection (RFC 4456) with BIRD 2, kroute in both roles, in namespaces of its own inside the
# no-route sandbox; one LAN, iBGP in AS 64512, roles from kube-router's Node annotations.
# 1. kroute as reflector: n1 (kroute, 10.0.0.1, kube-router.io/rr.server=10.0.0.1) with clients n2
#    and n3 (BIRD, 10.0.0.2 and 10.0.0.3, kube-router.io/rr.client) that peer with n1 only. n2's
#    podCIDR reaches n3 through n1 with ORIGINATOR_ID 10.0.0.2, CLUSTER_LIST (10.0.0.1) and the
#    next hop unchanged, and the other way round.
# 2. kroute as client: BIRD n2 is the reflector (rr client towards n1 and n4), n1 and n4 are
#    kroute nodes annotated rr.client that peer with n2 only. n4's podCIDR reaches n1 through BIRD,
#    and kroute's prefix ownership accepts it (the reflected path names n4 as originator and next
#    hop), while BIRD announcing n4's podCIDR as its own would still be refused.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-bird-rr.XXXXXX")
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

# bird_conf name address podcidr rr(0|1) neighbor...: iBGP towards each neighbor.
bird_conf() {
    local name=$1 addr=$2 cidr=$3 rr=$4 n protos="" rrline=""
    shift 4
    ((rr)) && rrline="rr client; rr cluster id 10.0.0.2;"
    for n in "$@"; do
        protos+="protocol bgp p${n//./_} {
  local $addr as 64512; neighbor $n as 64512;
  direct; hold time 9; keepalive time 3; connect retry time 1; $rrline
  ipv4 { import all; export all; };
}
"
    done
    cat >"$KR_DIR/$name.conf" <<CONF
router id $addr;
log "$KR_DIR/$name.log" all;
protocol device { }
protocol static s4 { ipv4; route $cidr blackhole; }
$protos
CONF
}
bird_attr() {  # name prefix protocol attribute -> its value in "show route all"
    birdc_at "$1" show route "$2" protocol "$3" all | sed -n "s/^[[:space:]]*BGP\.$4: //p" | head -1
}

echo "bird: $(bird --version 2>&1)"
lan_up kr:10.0.0.1 b2:10.0.0.2 b3:10.0.0.3 k4:10.0.0.4

echo "== 1. kroute reflects between two BIRD clients"
client='{"kube-router.io/rr.client": "10.0.0.1"}'
nodes_file "$(node_json n1 10.0.0.1 10.244.1.0/24 '{"kube-router.io/rr.server": "10.0.0.1"}')" \
    "$(node_json n2 10.0.0.2 10.244.2.0/24 "$client")" "$(node_json n3 10.0.0.3 10.244.3.0/24 "$client")"
bird_conf n2 10.0.0.2 10.244.2.0/24 0 10.0.0.1
bird_conf n3 10.0.0.3 10.244.3.0/24 0 10.0.0.1
bird_up n2 b2
b2_pid=$bird_pid
bird_up n3 b3
b3_pid=$bird_pid
kroute_node n1 kr
n1_pid=$node_pid
wait_for 20 "n1 Established with n2" node_established n1 10.0.0.2
wait_for 20 "n1 Established with n3" node_established n1 10.0.0.3
[[ $(neighbor_field n1 10.0.0.2 route_reflector_client) == true ]] || fail "n1 does not treat n2 as its client"
wait_for 20 "n3 to learn n2's 10.244.2.0/24 through n1" bird_has n3 10.244.2.0/24 p10_0_0_1
wait_for 20 "n2 to learn n3's 10.244.3.0/24 through n1" bird_has n2 10.244.3.0/24 p10_0_0_1
[[ $(bird_attr n3 10.244.2.0/24 p10_0_0_1 originator_id) == 10.0.0.2 ]] ||
    fail "ORIGINATOR_ID of the reflected 10.244.2.0/24 is not 10.0.0.2: $(birdc_at n3 show route 10.244.2.0/24 all)"
[[ $(bird_attr n3 10.244.2.0/24 p10_0_0_1 cluster_list) == 10.0.0.1 ]] ||
    fail "CLUSTER_LIST of the reflected 10.244.2.0/24 is not (10.0.0.1): $(birdc_at n3 show route 10.244.2.0/24 all)"
[[ $(bird_attr n3 10.244.2.0/24 p10_0_0_1 next_hop) == 10.0.0.2 ]] ||
    fail "next hop of the reflected 10.244.2.0/24 is not n2's 10.0.0.2"
wait_for 20 "n3 to learn n1's own 10.244.1.0/24" bird_has n3 10.244.1.0/24 p10_0_0_1
echo "ok: n1 reflects n2's and n3's podCIDRs with ORIGINATOR_ID, CLUSTER_LIST 10.0.0.1, next hop unchanged"
stop_pid "$n1_pid"
stop_pid "$b2_pid"
stop_pid "$b3_pid"
rm -f "$KR_DIR"/n2.ctl "$KR_DIR"/n3.ctl "$KR_DIR"/n1.sock

echo "== 2. kroute as a client of BIRD's reflector"
client='{"kube-router.io/rr.client": "10.0.0.2"}'
nodes_file "$(node_json n1 10.0.0.1 10.244.1.0/24 "$client")" \
    "$(node_json n2 10.0.0.2 10.244.2.0/24 '{"kube-router.io/rr.server": "10.0.0.2"}')" \
    "$(node_json n3 10.0.0.3 10.244.3.0/24 "$client")" "$(node_json n4 10.0.0.4 10.244.4.0/24 "$client")"
bird_conf n2 10.0.0.2 10.244.2.0/24 1 10.0.0.1 10.0.0.4
bird_up n2 b2
kroute_node n1 kr
kroute_node n4 k4
wait_for 20 "n1 Established with BIRD's reflector" node_established n1 10.0.0.2
wait_for 20 "n4 Established with BIRD's reflector" node_established n4 10.0.0.2
[[ -z $(neighbor_field n1 10.0.0.4 state) ]] || fail "n1, a client, peers with n4, another client"
wait_for 20 "n1 to learn n4's 10.244.4.0/24 reflected by BIRD" node_rib_has n1 10.244.4.0/24 10.0.0.2
path=$(kctl n1 rib 10.244.4.0/24 -o json | jq -c '.[0].paths[0]')
[[ $(jq -r '.next_hops[0]' <<<"$path") == 10.0.0.4 ]] || fail "the reflected path's next hop is not n4: $path"
echo "ok: kroute accepts n4's podCIDR reflected by BIRD (prefix ownership follows ORIGINATOR_ID): $path"
wait_for 20 "n4 to learn n1's 10.244.1.0/24 reflected by BIRD" node_rib_has n4 10.244.1.0/24 10.0.0.2
# BIRD now announces a piece of n4's podCIDR as its own: not n4's path, so refused.
sed -i 's|route 10.244.2.0/24 blackhole;|route 10.244.2.0/24 blackhole; route 10.244.4.128/25 blackhole;|' "$KR_DIR/n2.conf"
birdc_at n2 configure >/dev/null
wait_for 20 "n1 to refuse BIRD's 10.244.4.128/25" field_is n1 10.0.0.2 prefixes_rejected 1
node_rib_lacks n1 10.244.4.128/25 || fail "n1 accepted a piece of n4's podCIDR originated by the reflector"
echo "ok: a piece of n4's podCIDR originated by the reflector itself is refused"
