#!/usr/bin/env bash
# BFD interop with BIRD 2 (Debian's bird2), in namespaces of its own inside the no-route sandbox:
# tests/interop/bfd_peer (a bgp::Speaker whose iBGP peer has BFD on: 100 ms / 100 ms / x3) in "kr"
# and BIRD with `protocol bfd` and `bfd on` on its BGP protocol in "rt", over a veth.
# 1. BFD comes Up on both sides (RFC 5880 handshake, RFC 5881 single hop, TTL 255), BGP is
#    Established and kroute's side has BIRD's route.
# 2. Everything BIRD sends is dropped (an nftables output rule inside "rt"): kroute's BFD goes
#    Down with "Control Detection Time Expired" within a generous bound (detection time 300 ms,
#    BGP's hold time 9 s), and the BGP session and BIRD's route go with it, logged as "BFD down".
# 3. The rule is removed: BFD comes Up again and so does BGP.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-bfd.XXXXXX")
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
command -v nft >/dev/null || fail "nftables is not installed: scripts/install-deps.sh installs it"
[[ -x $KR_BIN/bfd_peer ]] || fail "$KR_BIN/bfd_peer is not built"

start_bird() {
    # `error wait time 1,5`: BIRD otherwise waits 60 s before it talks BGP again after an error.
    cat >"$KR_DIR/bird.conf" <<CONF
router id 10.0.0.2;
log "$KR_DIR/bird.log" all;
protocol device { }
protocol bfd {
  interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
}
protocol static s4 { ipv4; route 10.244.2.0/24 blackhole; }
protocol bgp kroute {
  local 10.0.0.2 as 64512;
  neighbor 10.0.0.1 as 64512;
  direct; bfd on;
  hold time 9; keepalive time 3; connect retry time 1; error wait time 1, 5;
  ipv4 { import all; export all; next hop self; };
}
CONF
    setsid ip netns exec rt bird -f -c "$KR_DIR/bird.conf" -s "$KR_DIR/bird.ctl" -P "$KR_DIR/bird.pid" \
        </dev/null >>"$KR_DIR/bird.out.log" 2>&1 &
    bird_pid=$!
    pids+=("$bird_pid")
    wait_for 10 "BIRD's control socket" birdc -s "$KR_DIR/bird.ctl" show status
}
birdc_() { birdc -s "$KR_DIR/bird.ctl" "$@"; }

start_bfd_peer() {
    setsid ip netns exec kr "$KR_BIN/bfd_peer" --local 10.0.0.1 --peer 10.0.0.2 --asn 64512 \
        --originate 10.244.1.0/24 --tx-ms 100 --rx-ms 100 --multiplier 3 --timeout 80 \
        </dev/null >"$KR_DIR/events.txt" 2>"$KR_DIR/bfd_peer.log" &
    peer_pid=$!
    pids+=("$peer_pid")
}

# The last line of a kind in the event file / the log, as the test waits for them.
last_bgp() { grep '^bgp ' "$KR_DIR/events.txt" | tail -n 1; }
last_route() { grep '^route ' "$KR_DIR/events.txt" | tail -n 1; }
bgp_is() { [[ $(last_bgp) == "bgp $1" ]]; }
bgp_is_not() { [[ -n $(last_bgp) && $(last_bgp) != "bgp $1" ]]; }
route_is() { [[ $(last_route) == "route $1 10.244.2.0/24" ]]; }
# How often kroute's session went Up (from Down or Init), or from Up to Down.
bfd_lines() {
    local from='(Down|Init)'
    [[ $1 == Down ]] && from=Up
    grep -Ec "bfd 10\.0\.0\.2: $from -> $1 " "$KR_DIR/bfd_peer.log" || true
}
bfd_went() { (($(bfd_lines "$1") >= $2)); }
bird_bfd_up() { birdc_ show bfd sessions | grep -Eq '^10\.0\.0\.1 +eth0 +Up'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "bird: $(bird --version 2>&1)"
make_link
start_bird
start_bfd_peer

wait_for 20 "kroute's BFD session Up" bfd_went Up 1
wait_for 20 "BIRD's BFD session Up" bird_bfd_up
wait_for 30 "BGP Established" bgp_is Established
wait_for 20 "BIRD's route 10.244.2.0/24 on kroute's side" route_is +
grep -q "bfd 10.0.0.2: added (tx 100 ms, rx 100 ms, multiplier 3" "$KR_DIR/bfd_peer.log" ||
    fail "the BFD session's parameters are not in the log"
echo "ok: BFD Up on both sides (RFC 5881 single hop), BGP Established, route from BIRD"

# Cut: nothing leaves BIRD's namespace any more (BFD, BGP, ARP all go).
ip netns exec rt nft -f - <<'NFT'
table inet bfdcut {
  chain out { type filter hook output priority 0; policy drop; }
}
NFT
cut_at=$(now_ms)
# Generous bound for a 300 ms detection time, and well below BGP's own 9 s hold time.
wait_for 3 "kroute's BFD session Down after the cut" bfd_went Down 1
bfd_ms=$(($(now_ms) - cut_at))
grep -q "bfd 10.0.0.2: Up -> Down (Control Detection Time Expired)" "$KR_DIR/bfd_peer.log" ||
    fail "BFD went Down for another reason: $(grep 'bfd 10.0.0.2: Up -> Down' "$KR_DIR/bfd_peer.log")"
wait_for 3 "the BGP session dropped after BFD Down" bgp_is_not Established
wait_for 3 "BIRD's route withdrawn" route_is -
bgp_ms=$(($(now_ms) - cut_at))
grep -q "peer 10.0.0.2 AS64512 (bfd-test): BFD down (Control Detection Time Expired), closing the session" \
    "$KR_DIR/bfd_peer.log" || fail "no 'BFD down' line in the log"
((bgp_ms < 5000)) || fail "BGP went down after ${bgp_ms} ms: that is not BFD's doing"
echo "ok: traffic from BIRD cut: BFD Down after ${bfd_ms} ms, BGP session and route gone after ${bgp_ms} ms"

ip netns exec rt nft delete table inet bfdcut
wait_for 20 "kroute's BFD session Up again" bfd_went Up 2
wait_for 40 "BGP Established again" bgp_is Established
wait_for 20 "BIRD's route back" route_is +
echo "ok: traffic restored: BFD Up and BGP Established again"

stop_pid "$peer_pid"
stop_pid "$bird_pid"
