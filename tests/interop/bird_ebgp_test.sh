#!/usr/bin/env bash
# eBGP interop with BIRD 2 as an external router (AS 65001), in namespaces of its own inside the
# no-route sandbox. One LAN (a bridge in namespace "sw"): kroute as node n1 in "kr" (10.0.0.1),
# BIRD in "rt" (10.0.0.2), a second kroute as node n2 in "n2" (10.0.0.3, iBGP with n1 only).
# 1. With the right TCP MD5 password (--peer-router-passwords, base64): kroute and BIRD come up
#    over eBGP. BIRD announces a default route, a piece of n2's podCIDR, a piece of the service
#    range, an operator-rejected prefix (--peer-router-import-reject) and a legitimate prefix with
#    communities: kroute's RIB holds only the legitimate one from BIRD, AS path and communities
#    intact. BIRD receives exactly n1's podCIDR (not n2's, which n1 holds), AS path "64512", next
#    hop 10.0.0.1.
# 2. A wrong password never comes up.
# 3. Max-prefix (--peer-router-max-prefixes 3): BIRD's 5 prefixes close the session with Cease /
#    Maximum Number of Prefixes Reached (RFC 4486), kroute drops its routes and waits.
# Every daemon runs with its own config, control socket, pid and log files in the test's directory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-bird-ebgp.XXXXXX")
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

readonly PASSWORD=kroute-ebgp-md5
readonly WRONG_PASSWORD=not-the-password

make_lan() {  # a bridge in "sw", one veth per namespace, created from inside "sw"
    ip netns add sw
    ip -n sw link set lo up
    ip -n sw link add br0 type bridge
    ip -n sw link set br0 up
    local ns_addr ns addr
    for ns_addr in kr:10.0.0.1 rt:10.0.0.2 n2:10.0.0.3; do
        ns=${ns_addr%%:*}
        addr=${ns_addr#*:}
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n sw link add "p-$ns" type veth peer name eth0 netns "$ns"
        ip -n sw link set "p-$ns" master br0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
    wait_for 5 "the LAN (kr to rt)" ip netns exec kr ping -c1 -W1 10.0.0.2
    wait_for 5 "the LAN (kr to n2)" ip netns exec kr ping -c1 -W1 10.0.0.3
}

write_nodes() {
    cat >"$KR_DIR/nodes.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}},
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2", "resourceVersion": "2"},
  "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.3"}]}}]}
JSON
}

start_node() {  # name namespace [extra kroute flags...]
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$KR_BIN/kroute" --nodes-file "$KR_DIR/nodes.json" --hostname-override "$name" \
        --no-fib --enable-cni=false --cni-conf-file "$KR_DIR/$name.conflist" --health-port 0 \
        --api-socket "$KR_DIR/$name.sock" --bgp-holdtime 9s --bgp-keepalive-time 3s --bgp-connect-retry-time 1s \
        "$@" </dev/null >>"$KR_DIR/kroute-$name.log" 2>&1 &
    pids+=("$!")
    last_pid=$!
}

start_n1() {  # password
    start_node n1 kr --peer-router-ips 10.0.0.2 --peer-router-asns 65001 \
        --peer-router-passwords "$(printf %s "$1" | base64)" --peer-router-import-reject 203.0.113.0/24
    n1_pid=$last_pid
}

start_bird() {
    cat >"$KR_DIR/bird.conf" <<CONF
router id 10.0.0.2;
log "$KR_DIR/bird.log" all;
protocol device { }
protocol static s4 {
  ipv4;
  route 0.0.0.0/0 blackhole;        # a default route: refused
  route 10.244.2.128/25 blackhole;  # inside n2's podCIDR, the cluster's pod CIDRs: refused
  route 10.96.10.0/24 blackhole;    # inside the service range 10.96.0.0/12: refused
  route 203.0.113.0/24 blackhole;   # --peer-router-import-reject: refused
  route 198.51.100.0/24 blackhole;  # legitimate
}
protocol bgp kroute {
  local 10.0.0.2 as 65001;
  neighbor 10.0.0.1 as 64512;
  hold time 9; keepalive time 3; connect retry time 1;
  password "$PASSWORD";
  ipv4 {
    import all;
    export filter {
      if source != RTS_STATIC then reject;
      if net = 198.51.100.0/24 then {
        bgp_community.add((65001, 100));
        bgp_community.add((65001, 200));
      }
      accept;
    };
  };
}
CONF
    setsid ip netns exec rt bird -f -c "$KR_DIR/bird.conf" -s "$KR_DIR/bird.ctl" -P "$KR_DIR/bird.pid" \
        </dev/null >>"$KR_DIR/bird.out.log" 2>&1 &
    pids+=("$!")
    wait_for 10 "BIRD's control socket" birdc -s "$KR_DIR/bird.ctl" show status
}
birdc_() { birdc -s "$KR_DIR/bird.ctl" "$@"; }

ctl_n1() { "$KR_BIN/kroutectl" --socket "$KR_DIR/n1.sock" "$@"; }
state_of() {  # peer address -> its state at n1
    ctl_n1 neighbors -o json | jq -r --arg a "$1" '.[] | select(.address==$a) | .state'
}
established() { [[ $(state_of "$1") == Established ]]; }
rib_has() {  # prefix from
    ctl_n1 rib -o json | jq -e --arg p "$1" --arg f "$2" \
        'any(.[]; .prefix==$p and any(.paths[]; .from==$f and .best))' >/dev/null
}
rejected_from() {  # peer count
    [[ $(ctl_n1 neighbors -o json | jq -r --arg a "$1" '.[] | select(.address==$a) | .prefixes_rejected') == "$2" ]]
}
bird_has_kroute_route() { birdc_ show route protocol kroute | grep -q '^10\.244\.1\.0/24'; }

echo "bird: $(bird --version 2>&1)"
make_lan
write_nodes
start_bird
start_node n2 n2
start_n1 "$PASSWORD"

wait_for 20 "n1 Established with BIRD over eBGP (MD5)" established 10.0.0.2
wait_for 20 "n1 Established with n2" established 10.0.0.3
wait_for 20 "n1's RIB to hold 198.51.100.0/24 from BIRD" rib_has 198.51.100.0/24 10.0.0.2
wait_for 20 "n1's RIB to hold n2's 10.244.2.0/24" rib_has 10.244.2.0/24 10.0.0.3
wait_for 20 "BIRD to learn 10.244.1.0/24 from kroute" bird_has_kroute_route
# BIRD may hold an UPDATE for its 3 s poll (docs/testing.md): give every refusal time to show.
wait_for 10 "n1 to have refused BIRD's 4 other prefixes" rejected_from 10.0.0.2 4
sleep 1

rib=$(ctl_n1 rib -o json)
echo "n1's RIB: $(jq -c '[.[] | {prefix, from: [.paths[].from]}]' <<<"$rib")"
[[ $(jq -r '[.[].prefix] | sort | join(" ")' <<<"$rib") == "10.244.1.0/24 10.244.2.0/24 198.51.100.0/24" ]] ||
    fail "n1's RIB holds other prefixes than its own, n2's and BIRD's legitimate one"
from_bird=$(jq -c '[.[] | .paths[] | select(.from=="10.0.0.2")]' <<<"$rib")
[[ $(jq length <<<"$from_bird") == 1 ]] || fail "more than one path from BIRD: $from_bird"
legit=$(jq -c '.[] | select(.prefix=="198.51.100.0/24") | .paths[0]' <<<"$rib")
[[ $(jq -c .as_path <<<"$legit") == "[65001]" ]] || fail "AS path of 198.51.100.0/24 is not [65001]: $legit"
[[ $(jq -c '.communities | sort' <<<"$legit") == '["65001:100","65001:200"]' ]] ||
    fail "communities of 198.51.100.0/24 are not 65001:100 65001:200: $legit"
[[ $(jq -c .next_hops <<<"$legit") == '["10.0.0.2"]' ]] || fail "next hop of 198.51.100.0/24 is not BIRD: $legit"
echo "ok: kroute accepted only 198.51.100.0/24 from BIRD, AS path [65001] and communities intact;" \
    "refused the default route, 10.244.2.128/25, 10.96.10.0/24 and 203.0.113.0/24"

routes=$(birdc_ show route protocol kroute)
echo "BIRD from kroute: $(grep -E '^[0-9]' <<<"$routes" | tr -s ' ' | tr '\n' ';')"
[[ $(grep -cE '^[0-9]' <<<"$routes") == 1 ]] || fail "BIRD learned more than one prefix from kroute: $routes"
detail=$(birdc_ show route 10.244.1.0/24 protocol kroute all)
grep -qE 'BGP\.as_path: 64512$' <<<"$detail" || fail "BIRD's AS path for 10.244.1.0/24 is not 64512: $detail"
grep -qE 'BGP\.next_hop: 10\.0\.0\.1$' <<<"$detail" || fail "BIRD's next hop for 10.244.1.0/24 is not 10.0.0.1: $detail"
# (BIRD shows BGP.local_pref on every route it imports, sent or not: that kroute sends no
# LOCAL_PREF over eBGP is asserted in tests/bgp/io/speaker_test.cpp.)
echo "ok: BIRD received exactly 10.244.1.0/24 (not n2's 10.244.2.0/24), AS path 64512, next hop 10.0.0.1"

stop_pid "$n1_pid"
start_n1 "$WRONG_PASSWORD"
wait_for 20 "n1 (restarted) Established with n2" established 10.0.0.3
deadline=$((SECONDS + 8))
while ((SECONDS < deadline)); do
    [[ $(state_of 10.0.0.2) != Established ]] || fail "a wrong MD5 password came up with BIRD"
    sleep 0.2
done
echo "ok: a wrong MD5 password never comes up with BIRD"
if grep -q -e "$PASSWORD" -e "$WRONG_PASSWORD" "$KR_DIR"/kroute-*.log; then fail "a password in kroute's log"; fi
if ctl_n1 config -o json | grep -q -e "$WRONG_PASSWORD" -e "$(printf %s "$WRONG_PASSWORD" | base64)"; then
    fail "a password in kroutectl config"
fi
echo "ok: no password in the logs or in kroutectl config"

# 3. Max-prefix: BIRD sends 5 prefixes (1 accepted, 4 refused: all count), the limit is 3.
stop_pid "$n1_pid"
start_node n1 kr --peer-router-ips 10.0.0.2 --peer-router-asns 65001 \
    --peer-router-passwords "$(printf %s "$PASSWORD" | base64)" --peer-router-import-reject 203.0.113.0/24 \
    --peer-router-max-prefixes 3 --peer-router-max-prefix-restart 30s
n1_pid=$last_pid
bird_saw_max_prefix() { birdc_ show protocols all kroute | grep -q 'Received: Maximum number of prefixes reached'; }
wait_for 30 "BIRD to receive Cease / Maximum Number of Prefixes Reached" bird_saw_max_prefix
max_state=$(ctl_n1 neighbors -o json | jq -r '.[] | select(.address=="10.0.0.2") | .max_prefix_state')
[[ $max_state == *"limit 3 exceeded"* ]] || fail "kroutectl does not show the max-prefix state: '$max_state'"
[[ $(state_of 10.0.0.2) != Established ]] || fail "the session with BIRD is up despite the limit"
rib_has 198.51.100.0/24 10.0.0.2 && fail "BIRD's route stayed after the limit closed the session"
grep -qE '[45] prefixes exceed its limit of 3' "$KR_DIR/kroute-n1.log" || fail "kroute did not log the limit"
echo "ok: over the limit of 3, kroute sent Cease/1 to BIRD, dropped its routes and holds the session down ($max_state)"
