#!/usr/bin/env bash
# RFC 7606 revised error handling against crafted UPDATEs from ExaBGP 4.2 (Debian's exabgp), in
# namespaces of its own inside the no-route sandbox. One LAN: kroute as node n1 in "kr"
# (10.0.0.1), ExaBGP as an external router in "rt" (10.0.0.2, AS 65002) sending one route per
# case, and a second ExaBGP as node n3 in "n3" (10.0.0.3, iBGP) that records what kroute passes on.
# ExaBGP's generic `attribute [ code flags value ]` writes any attribute as given, so each case is
# one deliberately malformed attribute on a route of its own:
#   198.51.100.0/24  unknown optional transitive attribute 0xf0 -> accepted, passed on to n3 with the
#                    Partial bit set (RFC 4271 §5: flags 0xc0 become 0xe0)
#   198.51.101.0/24  COMMUNITIES of 2 octets (not a multiple of 4) -> treat-as-withdraw (RFC 7606 §7.8)
#   198.51.102.0/24  ATOMIC_AGGREGATE of 1 octet -> attribute discard (§7.6): route kept
#   198.51.103.0/24  LOCAL_PREF from an external peer -> ignored (RFC 4271 §5.1.5, RFC 7606 §7.5)
#   198.51.104.0/24  MULTI_EXIT_DISC of 2 octets -> treat-as-withdraw (§7.4)
#   198.51.105.0/24  AGGREGATOR of 2 octets -> attribute discard (§7.7): route kept
#   198.51.106.0/24  ORIGINATOR_ID from an external peer -> attribute discard (§7.9): route kept
#   198.51.107.0/24  ORIGIN with value 7 -> treat-as-withdraw (§7.1)
#   198.51.108.0/24  MULTI_EXIT_DISC flagged well-known transitive (wrong flags) -> malformed (§3 c),
#                    hence treat-as-withdraw as for MED (§7.4)
#   198.51.110.0/24  ATOMIC_AGGREGATE flagged optional (wrong flags) -> malformed (§3 c), hence
#                    attribute discard as for ATOMIC_AGGREGATE (§7.6): route kept
# Then one case that must reset the session: an MP_REACH_NLRI too short to locate its NLRI (§7.11):
# an UPDATE Message Error NOTIFICATION, that route absent, the other peer's session untouched.
# Through all of the first group the session stays Established: none of these may reset it (§2, §3). ExaBGP adds
# its own ORIGIN, AS_PATH and NEXT_HOP to every route, so cases that need those well-known
# attributes themselves malformed or missing (§7.2-7.3, §3 d) cannot be crafted with it; the
# codec tests in tests/bgp/ cover them at byte level, from our own vectors.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-exabgp.XXXXXX")
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
command -v exabgp >/dev/null || fail "exabgp is not installed: scripts/install-deps.sh installs it"

lan_up kr:10.0.0.1 rt:10.0.0.2 n3:10.0.0.3
nodes_file "$(node_json n1 10.0.0.1 10.244.1.0/24)" "$(node_json n3 10.0.0.3 10.244.3.0/24)"

# exabgp_up name namespace config: ExaBGP in the foreground, its runtime files in $KR_DIR/name.
exabgp_up() {
    local name=$1 ns=$2
    mkdir -p "$KR_DIR/$name"
    setsid ip netns exec "$ns" env exabgp.daemon.user=root exabgp.daemon.daemonize=false \
        exabgp.log.destination=stdout exabgp.api.pipename="$name" exabgp.cache.attributes=false \
        exabgp "$3" </dev/null >"$KR_DIR/$name.log" 2>&1 &
    exa_pid=$!
    pids+=("$exa_pid")
}

cat >"$KR_DIR/sender.conf" <<'CONF'
neighbor 10.0.0.1 {
  router-id 10.0.0.2;
  local-address 10.0.0.2;
  local-as 65002;
  peer-as 64512;
  hold-time 9;
  static {
    route 198.51.100.0/24 next-hop 10.0.0.2 attribute [ 0xf0 0xc0 0x12345678 ];
    route 198.51.101.0/24 next-hop 10.0.0.2 attribute [ 0x08 0xc0 0xffff ];
    route 198.51.102.0/24 next-hop 10.0.0.2 attribute [ 0x06 0x40 0x01 ];
    route 198.51.103.0/24 next-hop 10.0.0.2 local-preference 300;
    route 198.51.104.0/24 next-hop 10.0.0.2 attribute [ 0x04 0x80 0x0001 ];
    route 198.51.105.0/24 next-hop 10.0.0.2 attribute [ 0x07 0xc0 0x0102 ];
    route 198.51.106.0/24 next-hop 10.0.0.2 attribute [ 0x09 0x80 0x0a000005 ];
    route 198.51.107.0/24 next-hop 10.0.0.2 attribute [ 0x01 0x40 0x07 ];
    route 198.51.108.0/24 next-hop 10.0.0.2 attribute [ 0x04 0x40 0x00000001 ];
    route 198.51.110.0/24 next-hop 10.0.0.2 attribute [ 0x06 0xc0 0x ];
    route 198.51.109.0/24 next-hop 10.0.0.2;
  }
}
CONF
# The receiver's helper appends every message ExaBGP gives it (JSON, one per line) to
# n3-updates.json; it keeps its stdout open, or ExaBGP takes it for dead.
cat >"$KR_DIR/record.sh" <<SH
#!/bin/sh
while IFS= read -r line; do printf '%s\n' "\$line" >>"$KR_DIR/n3-updates.json"; done
SH
chmod 755 "$KR_DIR" "$KR_DIR/record.sh"  # ExaBGP runs its helper as an unprivileged user
: >"$KR_DIR/n3-updates.json"
chmod 666 "$KR_DIR/n3-updates.json"
cat >"$KR_DIR/receiver.conf" <<CONF
process record {
  run $KR_DIR/record.sh;
  encoder json;
}
neighbor 10.0.0.1 {
  router-id 10.0.0.3;
  local-address 10.0.0.3;
  local-as 64512;
  peer-as 64512;
  hold-time 9;
  api {
    processes [ record ];
    receive { parsed; update; }
  }
}
CONF

echo "exabgp: $(exabgp --version 2>&1 | head -1)"
kroute_node n1 kr --peer-router-ips 10.0.0.2 --peer-router-asns 65002
exabgp_up sender rt "$KR_DIR/sender.conf"
sender_pid=$exa_pid
exabgp_up receiver n3 "$KR_DIR/receiver.conf"
wait_for 30 "kroute Established with the ExaBGP sender" node_established n1 10.0.0.2
wait_for 30 "kroute Established with the ExaBGP receiver (n3)" node_established n1 10.0.0.3
wait_for 20 "kroute to hold the control route 198.51.109.0/24" node_rib_has n1 198.51.109.0/24 10.0.0.2
sleep 2  # every case was in the same burst; give the last UPDATEs time

path_of() { kctl n1 rib "$1" -o json | jq -c '.[0].paths[0] // empty'; }
for p in 198.51.100.0/24 198.51.102.0/24 198.51.103.0/24 198.51.105.0/24 198.51.106.0/24 198.51.110.0/24; do
    node_rib_has n1 "$p" 10.0.0.2 || fail "$p (a case that keeps the route) is not in kroute's RIB"
done
for p in 198.51.101.0/24 198.51.104.0/24 198.51.107.0/24 198.51.108.0/24; do
    node_rib_lacks n1 "$p" || fail "$p (treat-as-withdraw) is in kroute's RIB: $(path_of "$p")"
done
[[ $(path_of 198.51.103.0/24 | jq -r .local_pref) == null ]] || fail "LOCAL_PREF from an eBGP peer was kept"
[[ $(path_of 198.51.106.0/24 | jq -r .originator_id) == null ]] || fail "ORIGINATOR_ID from an eBGP peer was kept"
node_established n1 10.0.0.2 || fail "a malformed attribute reset the session"
[[ $(neighbor_field n1 10.0.0.2 last_error) == "" ]] || fail "kroute recorded an error: $(neighbor_field n1 10.0.0.2 last_error)"
[[ $(grep -c 'UPDATE treated as withdraw' "$KR_DIR/kroute-n1.log") -ge 4 ]] ||
    fail "kroute logged fewer than 4 UPDATEs treated as withdraw"
[[ $(grep -c 'discarded (RFC 7606 attribute discard)' "$KR_DIR/kroute-n1.log") -ge 4 ]] ||
    fail "kroute logged fewer than 4 attribute discards"
echo "ok: RFC 7606: 4 treat-as-withdraw cases refused, 5 attribute-discard/ignore cases kept without the" \
    "attribute, session Established throughout"

# What n3 got: the unknown optional transitive attribute, now with the Partial bit.
n3_has_partial() { grep -q '198.51.100.0/24' "$KR_DIR/n3-updates.json" 2>/dev/null && grep -qi 'attribute-0xf0-0xe0' "$KR_DIR/n3-updates.json"; }
wait_for 20 "n3 to receive 198.51.100.0/24 with attribute 0xf0 flagged Partial" n3_has_partial
grep -io '"attribute-0xf0-0x[0-9a-f]*": *"[^"]*"' "$KR_DIR/n3-updates.json" | head -1 | grep -qi '0x12345678' ||
    fail "attribute 0xf0 lost its value on the way: $(grep -io 'attribute-0xf0[^,]*' "$KR_DIR/n3-updates.json" | head -1)"
echo "ok: the unknown optional transitive attribute is passed on unchanged, Partial bit set (flags 0xe0)"

# Session reset, where RFC 7606 still requires it: an MP_REACH_NLRI too short to locate its NLRI
# (§7.11, §5.3). kroute answers with an UPDATE Message Error NOTIFICATION; n3's session is untouched.
cat >"$KR_DIR/sender2.conf" <<'CONF'
neighbor 10.0.0.1 {
  router-id 10.0.0.2;
  local-address 10.0.0.2;
  local-as 65002;
  peer-as 64512;
  hold-time 9;
  static {
    route 198.51.111.0/24 next-hop 10.0.0.2 attribute [ 0x0e 0x80 0x0001 ];
  }
}
CONF
stop_pid "$sender_pid"
exabgp_up sender2 rt "$KR_DIR/sender2.conf"
sent_update_error() { [[ $(neighbor_field n1 10.0.0.2 last_error) == *"sent UPDATE Message Error"* ]]; }
wait_for 30 "kroute to reset the session with an UPDATE Message Error" sent_update_error
echo "kroute: $(neighbor_field n1 10.0.0.2 last_error)"
node_rib_lacks n1 198.51.111.0/24 || fail "the route with the malformed MP_REACH_NLRI is in kroute's RIB"
node_established n1 10.0.0.3 || fail "the other peer's session went down"
echo "ok: an MP_REACH_NLRI whose NLRI cannot be located resets that session only (RFC 7606 §7.11)"
