#!/usr/bin/env bash
# Graceful Restart (RFC 4724) with BIRD 2, both roles, in namespaces of its own inside the no-route
# sandbox. kroute is node n1 in "kr" (10.0.0.1, 10.244.1.0/24) with its FIB on (kernel routes in
# "kr"); BIRD is node n2 in "rt" (10.0.0.2, announcing its podCIDR 10.244.2.0/24 and 198.51.100.0/24),
# iBGP in AS 64512, both with graceful restart on.
# 1. BIRD restarts (SIGKILL: no NOTIFICATION) and comes back in recovery mode (bird -R) without
#    198.51.100.0/24: while it is away kroute keeps both routes, stale, in its RIB and the kernel;
#    after BIRD's End-of-RIB 10.244.2.0/24 is fresh and 198.51.100.0/24 is gone.
# 2. kroute restarts (SIGTERM with --bgp-graceful-restart: the connection closes without a
#    NOTIFICATION): BIRD keeps 10.244.1.0/24 throughout, and kroute's kernel route to 10.244.2.0/24
#    never leaves; the new kroute finds its routes in the kernel, restarts with the R bit, and ends
#    its deferral on BIRD's End-of-RIB, not on a timer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-bird-gr.XXXXXX")
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

bird_conf() {  # with_198: 1 = also announce 198.51.100.0/24
    local extra=""
    (($1)) && extra="route 198.51.100.0/24 blackhole;"
    cat >"$KR_DIR/n2.conf" <<CONF
router id 10.0.0.2;
log "$KR_DIR/n2.log" all;
protocol device { }
protocol static s4 { ipv4; route 10.244.2.0/24 blackhole; $extra }
protocol bgp kroute {
  local 10.0.0.2 as 64512;
  neighbor 10.0.0.1 as 64512;
  direct; hold time 9; keepalive time 3; connect retry time 1;
  graceful restart on; graceful restart time 60;
  ipv4 { import all; export all; next hop self; };
}
CONF
}
both_from_bird() { node_rib_has n1 10.244.2.0/24 10.0.0.2 && node_rib_has n1 198.51.100.0/24 10.0.0.2; }
bird_not_stale() { ! birdc_at n2 show route 10.244.1.0/24 all | grep -qi stale; }
kernel_has() { ip -n kr route show "$1" proto 52 | grep -q "via 10.0.0.2"; }
kroute_gr() { kroute_node n1 kr --fib --bgp-graceful-restart --bgp-graceful-restart-time 30s; }

echo "bird: $(bird --version 2>&1)"
lan_up kr:10.0.0.1 rt:10.0.0.2
nodes_file "$(node_json n1 10.0.0.1 10.244.1.0/24)" "$(node_json n2 10.0.0.2 10.244.2.0/24)"
bird_conf 1
bird_up n2 rt
kroute_gr
wait_for 20 "n1 Established with BIRD" node_established n1 10.0.0.2
wait_for 20 "n1 to learn 10.244.2.0/24 and 198.51.100.0/24 from BIRD" both_from_bird
wait_for 10 "the kernel route to 10.244.2.0/24 in kr" kernel_has 10.244.2.0/24
wait_for 20 "BIRD to learn 10.244.1.0/24" bird_has n2 10.244.1.0/24 kroute
[[ $(neighbor_field n1 10.0.0.2 graceful_restart) == true ]] || fail "graceful restart not negotiated with BIRD"
birdc_at n2 show protocols all kroute | grep -q 'Graceful restart' ||
    fail "BIRD does not list graceful restart among kroute's capabilities"
echo "ok: up, graceful restart negotiated both ways"

# 1. BIRD restarts.
kill -KILL "$bird_pid"
stop_pid "$bird_pid"
wait_for 10 "n1 to see BIRD gone" field_is_not n1 10.0.0.2 state Established
for _ in $(seq 1 15); do  # 3 s, well past the moment a plain session would have dropped them
    node_rib_has n1 10.244.2.0/24 10.0.0.2 || fail "the restarting BIRD's 10.244.2.0/24 left kroute's RIB"
    kernel_has 10.244.2.0/24 || fail "the restarting BIRD's 10.244.2.0/24 left the kernel"
    sleep 0.2
done
[[ $(neighbor_field n1 10.0.0.2 prefixes_stale) == 2 ]] || fail "kroute does not count BIRD's 2 routes as stale"
echo "ok: BIRD away: its 2 routes stay in kroute's RIB and the kernel, stale"
rm -f "$KR_DIR/n2.ctl"
bird_conf 0
bird_up n2 rt -R
wait_for 30 "n1 Established with the restarted BIRD" node_established n1 10.0.0.2
wait_for 30 "198.51.100.0/24 (not announced again) to leave n1" node_rib_lacks n1 198.51.100.0/24
wait_for 10 "n1's stale count to reach 0" field_is n1 10.0.0.2 prefixes_stale 0
node_rib_has n1 10.244.2.0/24 10.0.0.2 || fail "10.244.2.0/24 is gone after BIRD's restart"
kernel_has 10.244.2.0/24 || fail "the kernel route to 10.244.2.0/24 is gone after BIRD's restart"
grep -q 'End-of-RIB: removing 1 stale IPv4 route' "$KR_DIR/kroute-n1.log" ||
    fail "kroute did not log the stale route removed at End-of-RIB"
echo "ok: BIRD back (recovery mode): 10.244.2.0/24 refreshed, 198.51.100.0/24 removed at its End-of-RIB"

# 2. kroute restarts; BIRD must keep 10.244.1.0/24 all along and kr's kernel route must stay.
wait_for 20 "BIRD to learn 10.244.1.0/24 again" bird_has n2 10.244.1.0/24 kroute
kill -TERM "$node_pid"
stop_pid "$node_pid"
grep -q 'keep our routes' "$KR_DIR/kroute-n1.log" || fail "kroute did not stop for a graceful restart"
for _ in $(seq 1 15); do
    bird_has n2 10.244.1.0/24 kroute || fail "BIRD dropped 10.244.1.0/24 while kroute restarts"
    kernel_has 10.244.2.0/24 || fail "kroute's kernel route to 10.244.2.0/24 left with kroute"
    sleep 0.2
done
echo "ok: kroute away: BIRD keeps 10.244.1.0/24, the kernel keeps 10.244.2.0/24"
t0=$SECONDS
kroute_gr
wait_for 20 "the restarted n1 Established with BIRD" node_established n1 10.0.0.2
deadline=$((SECONDS + 20))
until grep -q 'graceful restart: End-of-RIB received from every peer' "$KR_DIR/kroute-n1.log"; do
    bird_has n2 10.244.1.0/24 kroute || fail "BIRD dropped 10.244.1.0/24 during kroute's recovery"
    kernel_has 10.244.2.0/24 || fail "the kernel route to 10.244.2.0/24 left during kroute's recovery"
    ((SECONDS < deadline)) || fail "kroute's deferral did not end on BIRD's End-of-RIB"
    sleep 0.2
done
grep -q 'graceful restart: restarting with the forwarding state kept' "$KR_DIR/kroute-n1.log" ||
    fail "the restarted kroute did not see its kernel routes as kept forwarding state"
wait_for 10 "BIRD's stale mark on 10.244.1.0/24 to go" bird_not_stale
bird_has n2 10.244.1.0/24 kroute || fail "BIRD lost 10.244.1.0/24 after kroute's restart"
echo "ok: kroute back: deferral ended on BIRD's End-of-RIB after $((SECONDS - t0)) s; routes never left"
