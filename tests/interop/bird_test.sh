#!/usr/bin/env bash
# Interop with BIRD 2 (Debian's bird2), in namespaces of its own inside the no-route sandbox:
# 1. kroute (--nodes-file, --no-fib) and BIRD over iBGP in AS 64512 on a veth: both Established,
#    kroute's best path for 10.244.2.0/24 comes from BIRD, BIRD learns 10.244.1.0/24.
# 2. TCP MD5 (RFC 2385) with tests/interop/md5_peer (a bgp::Speaker with a password): the right
#    password comes up, a wrong one and none never do.
# BIRD runs in the foreground with its own config, control socket and log in the test's directory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-bird.XXXXXX")
    export KR_DIR
    rc=0
    run_in_sandbox "$0" --inside || rc=$?
    if ((rc != 0)); then
        for f in "$KR_DIR"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 30 "$f"; }; done
    fi
    rm -rf "$KR_DIR"
    exit "$rc"
fi
source "$repo/tests/interop/lib.sh"
command -v bird >/dev/null || fail "bird2 is not installed: scripts/install-deps.sh installs it"

start_bird() {  # [password]
    local pw=""
    [[ -n ${1:-} ]] && pw="password \"$1\";"
    cat >"$KR_DIR/bird.conf" <<CONF
router id 10.0.0.2;
log "$KR_DIR/bird.log" all;
debug protocols all;
protocol device { }
protocol static s4 { ipv4; route 10.244.2.0/24 blackhole; }
protocol bgp kroute {
  local 10.0.0.2 as 64512;
  neighbor 10.0.0.1 as 64512;
  direct; hold time 9; keepalive time 3; connect retry time 1; $pw
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
bird_learned() {  # "10.244.1.0/24  unicast [kroute ...] * (100) [i]" then "via 10.0.0.1 on eth0"
    local out
    out=$(birdc_ show route 10.244.1.0/24 protocol kroute)
    [[ $out == *"10.244.1.0/24"*"[kroute "*"via 10.0.0.1 on eth0"* ]]
}

echo "bird: $(bird --version 2>&1)"
make_link
start_bird
start_kroute
wait_for 20 "kroute Established with BIRD" kroute_established
wait_for 20 "kroute's best path for 10.244.2.0/24 from 10.0.0.2" kroute_best_from 10.244.2.0/24 10.0.0.2
wait_for 20 "BIRD to learn 10.244.1.0/24 from kroute" bird_learned
echo "ok: kroute and BIRD over iBGP, routes both ways"
# Route refresh (RFC 2918) with BIRD asking: `reload in` sends ROUTE-REFRESH; with Enhanced Route
# Refresh negotiated (RFC 7313, both offer it) kroute frames its answer with BoRR and EoRR, after
# which BIRD sweeps what was not sent again: kroute's route must survive that.
birdc_ show protocols all kroute | grep -q 'Enhanced refresh' || fail "BIRD did not negotiate enhanced route refresh"
birdc_ reload in kroute >/dev/null
wait_for 10 "kroute to answer BIRD's ROUTE-REFRESH" \
    grep -q 'ROUTE-REFRESH for afi 1 safi 1: sending the table again' "$KR_DIR/kroute.log"
# BIRD's packet trace (debug protocols all): ROUTE-REFRESH out, then BoRR, the UPDATE, EoRR in.
bird_saw_err() {
    awk '/Sending ROUTE-REFRESH/ {on = 1; s = ""} on && /Got (BEGIN-OF-RR|UPDATE|END-OF-RR)/ {s = s " " $NF}
         END {exit !(s ~ /BEGIN-OF-RR.*UPDATE.*END-OF-RR/)}' "$KR_DIR/bird.log"
}
wait_for 10 "BIRD to trace BoRR, UPDATE, EoRR from kroute" bird_saw_err
sleep 1
bird_learned || fail "BIRD lost 10.244.1.0/24 after the route refresh"
kroute_established || fail "the session went down for a route refresh"
echo "ok: BIRD's ROUTE-REFRESH answered (BoRR, table, EoRR); BIRD keeps kroute's route, the session stays up"
stop_pid "$kroute_pid"
stop_pid "$bird_pid"

start_bird "right-secret"
[[ $(md5_peer right-secret 15) == Established ]] || fail "MD5 with the right password did not come up"
echo "ok: TCP MD5 with the right password: Established"
[[ $(md5_peer wrong-secret 6 || true) == "not Established" ]] || fail "MD5 with a wrong password came up"
[[ $(md5_peer "" 4 || true) == "not Established" ]] || fail "no password against BIRD's MD5 came up"
echo "ok: TCP MD5 with a wrong password or none: never Established"
if grep -q -e right-secret -e wrong-secret "$KR_DIR/md5_peer.log"; then fail "a password in md5_peer's log"; fi
