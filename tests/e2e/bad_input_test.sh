#!/usr/bin/env bash
# End-to-end bad input (issue 7), a 3-node cluster peered with two ExaBGP 4.2 routers on its
# switch: rtra (172.18.0.4, AS 65002) and rtrb (172.18.0.5, AS 65003, --peer-router-max-prefixes
# 5), one pod per node, pods pinging every other node's pod every 20 ms through each fault; no ping
# may be lost. "Other sessions untouched" means: on every node, every other session (the iBGP ones
# to the other nodes and the other router's) is still Established, with the same flap counter and
# the same up-since time (now - uptime_seconds, within 2 s) as before the fault.
#  1. rtra sends malformed UPDATEs (ExaBGP's `attribute [ code flags value ]`, the cases of
#     tests/interop/exabgp_test.sh): on every node the treat-as-withdraw cases (RFC 7606 §7.1,
#     §7.4, §7.8, wrong flags §3 c) are in neither the RIB nor the kernel, the attribute-discard
#     cases (§7.5-7.7, §7.9) and an unknown optional transitive attribute in both (LOCAL_PREF and
#     ORIGINATOR_ID from the eBGP peer not on the path), kroute logs both kinds (at least 4 of
#     each), rtra's last_error stays empty, and rtra's own session stays Established with
#     its flap counter and uptime untouched, as every other session; then an MP_REACH_NLRI too
#     short to locate its NLRI (§7.11) resets rtra's session on every node with an UPDATE Message
#     Error NOTIFICATION (last_notification_sent code 3), that route is in no RIB, every other
#     session is untouched; once rtra withdraws it, rtra's session is Established again.
#  2. rtrb, allowed 5 prefixes and sending 3, announces 4 more: on every node rtrb's session alone
#     goes down with a Cease / Maximum Number of Prefixes Reached NOTIFICATION (code 6 subcode 1),
#     neighbors JSON shows max_prefix_state, rtrb's routes leave the RIB and the kernel, every
#     other session is untouched; rtrb withdraws the 4, and after --peer-router-max-prefix-restart
#     (15 s) its session is up again with its 3 prefixes.
#  3. malformed Node objects through the API server (kubectl apply --validate=false): node5 with a
#     spec.podCIDR that is not a CIDR (10.244.300.0/24, its kroute running and waiting), one with
#     an InternalIP that is no address, one with a kube-router.io/pod-cidr annotation that is no
#     CIDR, one whose spec.podCIDRs is a string, and node3, already up, annotated with a bad
#     kube-router.io/pod-cidr: each logged on every node as "skipping a malformed node: node NAME:
#     FIELD ..."; a node with no InternalIP (valid podCIDR) is listed but never peered; then a
#     relist (the node watches refused with 410): node3, malformed in the list, keeps its last
#     usable version ("keeping its last usable version"), not taken for deleted; through all of it,
#     on every node the routes are unchanged, no session is added, removed or reset; then node3's
#     annotation removed, node4 registered (good) is learned by every node, and node5's podCIDR
#     patched to a valid one gets node5 learned by every node.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-bad-input "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
command -v exabgp >/dev/null || kr_fail "exabgp is not installed: scripts/install-deps.sh installs it"
RTRA=172.18.0.4 RTRB=172.18.0.5 MAXP=5 MAXP_RESTART=15
KR_KROUTE_FLAGS+=(--peer-router-ips "$RTRA,$RTRB" --peer-router-asns "65002,65003"
                  --peer-router-max-prefixes "0,$MAXP" --peer-router-max-prefix-restart "${MAXP_RESTART}s")
step() { printf '== %s\n' "$*"; }

# router_up NAME IP ASN ROUTES...: ExaBGP in namespace NAME peering with nodes 1-5, announcing
# ROUTES (prefixes, next hop itself) from its configuration; lines appended to $KR_DIR/NAME.cmds
# are API commands (announce/withdraw), read by a `tail -F` helper.
router_up() {
    local name=$1 ip=$2 asn=$3 n p
    shift 3
    attach "$name" "$ip"
    : >"$KR_DIR/$name.cmds"
    printf '#!/bin/sh\nexec tail -n +1 -F %s\n' "$KR_DIR/$name.cmds" >"$KR_DIR/$name.api.sh"
    chmod 755 "$KR_DIR" "$KR_DIR/$name.api.sh"
    chmod 644 "$KR_DIR/$name.cmds"
    {
        printf 'process cmds {\n  run %s;\n  encoder text;\n}\n' "$KR_DIR/$name.api.sh"
        for n in 1 2 3 4 5; do
            printf 'neighbor %s {\n  router-id %s;\n  local-address %s;\n  local-as %s;\n  peer-as 64512;\n  hold-time 9;\n' \
                "$(node_ip "$n")" "$ip" "$ip" "$asn"
            printf '  api { processes [ cmds ]; }\n  static {\n'
            for p in "$@"; do printf '    route %s next-hop %s;\n' "$p" "$ip"; done
            printf '  }\n}\n'
        done
    } >"$KR_DIR/$name.conf"
    setsid ip netns exec "$name" env exabgp.daemon.user=root exabgp.daemon.daemonize=false \
        exabgp.log.destination=stdout exabgp.api.pipename="$name" exabgp.cache.attributes=false \
        exabgp "$KR_DIR/$name.conf" </dev/null >"$KR_DIR/$name.log" 2>&1 &
    KR_PIDS[$name]=$!
}
router_cmd() { printf '%s\n' "$2" >>"$KR_DIR/$1.cmds"; }

# What one node says of one session: "address state flaps up_since" (up_since = now - uptime).
session_line() {
    kroutectl_on "$1" neighbor "$2" -o json |
        jq -r --argjson now "$(date +%s)" '"\(.address) \(.state) \(.counters.flaps) \($now - .uptime_seconds)"'
}
# sessions N [EXCEPT]: session_line for each of node N's sessions but EXCEPT's, sorted.
sessions() {
    local a
    for a in $(kroutectl_on "$1" neighbors -o json | jq -r '.[].address'); do
        [[ $a == "${2:-}" ]] || session_line "$1" "$a"
    done | sort
}
# sessions_untouched N BEFORE [EXCEPT]: the same sessions as in BEFORE, all Established, neither
# flapped nor re-established since.
sessions_untouched() {
    local n=$1 before=$2 now
    now=$(sessions "$n" "${3:-}")
    awk -v before="$before" -v now="$now" 'BEGIN {
        nb = split(before, b, "\n"); nn = split(now, a, "\n");
        if (nb != nn) { print "sessions before: " nb ", now: " nn; exit 1 }
        for (i = 1; i <= nb; i++) {
            split(b[i], x, " "); split(a[i], y, " ");
            if (x[1] != y[1] || y[2] != "Established" || x[3] != y[3] || x[4] - y[4] > 2 || y[4] - x[4] > 2) {
                print "was \"" b[i] "\", now \"" a[i] "\""; exit 1
            }
        }
    }' || kr_fail "node$n: a session was disturbed (address state flaps up-since)"$'\n'"before:"$'\n'"$before"$'\n'"now:"$'\n'"$now"
}
neighbor_field() {  # node peer key: one key of `kroutectl neighbor PEER -o json` (a jq path)
    kroutectl_on "$1" neighbor "$2" -o json | jq -r "$3"
}
established() { [[ $(neighbor_field "$1" "$2" .state) == Established ]]; }
not_established() { ! established "$@"; }
rib_has() {  # node prefix from: the best path to prefix comes from `from`
    kroutectl_on "$1" rib -o json | jq -e --arg p "$2" --arg f "$3" 'any(.[]; .prefix==$p and any(.paths[]; .from==$f and .best))' >/dev/null
}
rib_lacks() { ! kroutectl_on "$1" rib -o json | jq -e --arg p "$2" 'any(.[]; .prefix==$p)' >/dev/null; }
path_of() { kroutectl_on "$1" rib "$2" -o json | jq -c '.[0].paths[0] // empty'; }
kernel_has() { ip -n "node$1" route show "$2" proto "$KR_PROTO" | grep -q "via $3"; }
# The nodes' pod routes only (the routers' routes are installed too).
pod_routes() { kernel_routes "$1" | grep '^10\.244\.' || true; }
pod_routes_converged() { [[ "$(pod_routes "$1")" == "$(expected_routes "$1" "$2")" ]]; }

nodes="1 2 3"
step "a 3-node cluster, a pod on each node, two ExaBGP routers on the switch"
echo "   $(exabgp --version 2>&1 | head -1)"
underlay_up
apiserver_up
router_up rtra "$RTRA" 65002 198.51.109.0/24
router_up rtrb "$RTRB" 65003 203.0.113.0/27 203.0.113.32/27 203.0.113.64/27
for n in $nodes; do node_up "$n"; done
for n in $nodes; do register_node "$n"; done
for n in $nodes; do
    wait_for 60 "node$n's pod routes" pod_routes_converged "$n" "$nodes"
    wait_for 60 "node$n Established with rtra" established "$n" "$RTRA"
    wait_for 60 "node$n Established with rtrb" established "$n" "$RTRB"
    wait_for 20 "node$n's route to 198.51.109.0/24 from rtra" kernel_has "$n" 198.51.109.0/24 "$RTRA"
    wait_for 20 "node$n's route to 203.0.113.64/27 from rtrb" kernel_has "$n" 203.0.113.64/27 "$RTRB"
done
for n in $nodes; do pod_up "$n" 1; done
for n in $nodes; do for j in $nodes; do
    [[ $j == "$n" ]] || wait_for 10 "pod_${n}_1 -> pod_${j}_1" ip netns exec "pod_${n}_1" ping -c1 -W1 -q "${KR_POD_IP[pod_${j}_1]}"
done; done

step "1. rtra sends malformed UPDATEs: RFC 7606 treat-as-withdraw and attribute discard, no session reset"
declare -A before=()
for n in $nodes; do before[$n]=$(sessions "$n"); done
routes_before=$(for n in $nodes; do pod_routes "$n"; done)
pings_start "$nodes" 30
sleep 3
while read -r p attr; do
    router_cmd rtra "announce route $p next-hop $RTRA $attr"
done <<'CASES'
198.51.100.0/24 attribute [ 0xf0 0xc0 0x12345678 ]
198.51.101.0/24 attribute [ 0x08 0xc0 0xffff ]
198.51.102.0/24 attribute [ 0x06 0x40 0x01 ]
198.51.103.0/24 local-preference 300
198.51.104.0/24 attribute [ 0x04 0x80 0x0001 ]
198.51.105.0/24 attribute [ 0x07 0xc0 0x0102 ]
198.51.106.0/24 attribute [ 0x09 0x80 0x0a000005 ]
198.51.107.0/24 attribute [ 0x01 0x40 0x07 ]
198.51.108.0/24 attribute [ 0x04 0x40 0x00000001 ]
198.51.110.0/24 attribute [ 0x06 0xc0 0x ]
198.51.112.0/24
CASES
kept="198.51.100.0/24 198.51.102.0/24 198.51.103.0/24 198.51.105.0/24 198.51.106.0/24 198.51.110.0/24"
refused="198.51.101.0/24 198.51.104.0/24 198.51.107.0/24 198.51.108.0/24"
for n in $nodes; do
    # 198.51.112.0/24, well formed, went last: once a node has it, it has seen every case.
    wait_for 30 "node$n to hold 198.51.112.0/24 from rtra" rib_has "$n" 198.51.112.0/24 "$RTRA"
done
sleep 2
for n in $nodes; do
    for p in $kept; do
        rib_has "$n" "$p" "$RTRA" || kr_fail "node$n: $p (a case that keeps the route) is not in the RIB"
        kernel_has "$n" "$p" "$RTRA" || kr_fail "node$n: $p (kept) is not in the kernel"
    done
    for p in $refused; do
        rib_lacks "$n" "$p" || kr_fail "node$n: $p (treat-as-withdraw) is in the RIB: $(path_of "$n" "$p")"
        [[ -z $(ip -n "node$n" route show "$p" proto "$KR_PROTO") ]] || kr_fail "node$n: $p (treat-as-withdraw) is in the kernel"
    done
    [[ $(path_of "$n" 198.51.103.0/24 | jq -r .local_pref) == null ]] || kr_fail "node$n kept LOCAL_PREF from an eBGP peer"
    [[ $(path_of "$n" 198.51.106.0/24 | jq -r .originator_id) == null ]] || kr_fail "node$n kept ORIGINATOR_ID from an eBGP peer"
    [[ $(neighbor_field "$n" "$RTRA" .last_error) == "" ]] ||
        kr_fail "node$n recorded an error on rtra's session: $(neighbor_field "$n" "$RTRA" .last_error)"
    (($(grep -c 'UPDATE treated as withdraw' "$KR_DIR/node$n/kroute.log") >= 4)) ||
        kr_fail "node$n logged fewer than 4 UPDATEs treated as withdraw"
    (($(grep -c 'discarded (RFC 7606 attribute discard)' "$KR_DIR/node$n/kroute.log") >= 4)) ||
        kr_fail "node$n logged fewer than 4 attribute discards"
    sessions_untouched "$n" "${before[$n]}"  # rtra's own session included
done
echo "   every node: 4 treat-as-withdraw cases refused, 6 kept, rtra's session untouched"

step "1b. rtra sends an MP_REACH_NLRI too short to locate its NLRI: an UPDATE Message Error on rtra's session only"
for n in $nodes; do before[$n]=$(sessions "$n" "$RTRA"); done
router_cmd rtra "announce route 198.51.111.0/24 next-hop $RTRA attribute [ 0x0e 0x80 0x0001 ]"
sent_update_error() { [[ $(neighbor_field "$1" "$RTRA" .last_notification_sent.code) == 3 ]]; }
for n in $nodes; do wait_for 30 "node$n to reset rtra's session with an UPDATE Message Error" sent_update_error "$n"; done
router_cmd rtra "withdraw route 198.51.111.0/24 next-hop $RTRA"
for n in $nodes; do
    echo "   node$n: $(neighbor_field "$n" "$RTRA" .last_error)"
    [[ $(neighbor_field "$n" "$RTRA" .last_error) == *"sent UPDATE Message Error"* ]] ||
        kr_fail "node$n's last error on rtra's session: $(neighbor_field "$n" "$RTRA" .last_error)"
    (($(neighbor_field "$n" "$RTRA" .counters.flaps) >= 1)) || kr_fail "node$n counts no flap of rtra's session"
    rib_lacks "$n" 198.51.111.0/24 || kr_fail "node$n holds the route with the malformed MP_REACH_NLRI"
done
pings_check "$nodes"
for n in $nodes; do
    sessions_untouched "$n" "${before[$n]}" "$RTRA"
    wait_for 60 "node$n Established with rtra again (the bad route withdrawn)" established "$n" "$RTRA"
    wait_for 20 "node$n's route to 198.51.109.0/24 from rtra again" kernel_has "$n" 198.51.109.0/24 "$RTRA"
    rib_lacks "$n" 198.51.111.0/24 || kr_fail "node$n holds 198.51.111.0/24 after rtra's session came back"
done
[[ $(for n in $nodes; do pod_routes "$n"; done) == "$routes_before" ]] || kr_fail "pod routes changed during fault 1"

step "2. rtrb, allowed $MAXP prefixes, sends 7: its session alone goes down (Cease / max-prefix)"
for n in $nodes; do before[$n]=$(sessions "$n" "$RTRB"); done
pings_start "$nodes" 25
sleep 3
extra="203.0.113.96/27 203.0.113.128/27 203.0.113.160/27 203.0.113.192/27"
for p in $extra; do router_cmd rtrb "announce route $p next-hop $RTRB"; done
for n in $nodes; do wait_for 30 "node$n to close rtrb's session for its prefixes" not_established "$n" "$RTRB"; done
for n in $nodes; do
    state=$(kroutectl_on "$n" neighbors -o json | jq -r --arg a "$RTRB" '.[] | select(.address==$a) | .max_prefix_state')
    echo "   node$n: max_prefix_state \"$state\""
    [[ $state == "limit $MAXP exceeded"* ]] || kr_fail "node$n's max_prefix_state for rtrb: '$state'"
    [[ $(neighbor_field "$n" "$RTRB" '"\(.last_notification_sent.code)/\(.last_notification_sent.subcode)"') == 6/1 ]] ||
        kr_fail "node$n sent rtrb no Cease / Maximum Number of Prefixes Reached: $(neighbor_field "$n" "$RTRB" .last_notification_sent)"
    rib_lacks "$n" 203.0.113.0/27 || kr_fail "node$n still holds rtrb's routes"
    [[ -z $(ip -n "node$n" route show root 203.0.113.0/24 proto "$KR_PROTO") ]] || kr_fail "node$n's kernel still has rtrb's routes"
done
for p in $extra; do router_cmd rtrb "withdraw route $p next-hop $RTRB"; done
pings_check "$nodes"
for n in $nodes; do sessions_untouched "$n" "${before[$n]}" "$RTRB"; done
# Down for the restart interval, then up again with the 3 prefixes rtrb still announces.
for n in $nodes; do
    wait_for $((MAXP_RESTART + 30)) "node$n Established with rtrb after the restart interval" established "$n" "$RTRB"
    wait_for 20 "node$n's route to 203.0.113.64/27 from rtrb again" kernel_has "$n" 203.0.113.64/27 "$RTRB"
    [[ $(neighbor_field "$n" "$RTRB" .max_prefix_state) == "" ]] || kr_fail "node$n still reports rtrb past its max-prefix"
done
[[ $(for n in $nodes; do pod_routes "$n"; done) == "$routes_before" ]] || kr_fail "pod routes changed during fault 2"

step "3. malformed Node objects in the API server: logged and skipped on every node, nothing else changes"
node_up 4
node_up 5
for n in $nodes; do before[$n]=$(sessions "$n"); done
pings_start "$nodes" 25
sleep 3
cat >"$KR_DIR/malformed.yaml" <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: node5
spec:
  podCIDR: 10.244.300.0/24
status:
  addresses:
  - type: InternalIP
    address: 172.18.0.15
---
apiVersion: v1
kind: Node
metadata:
  name: badip
spec:
  podCIDR: 10.244.60.0/24
status:
  addresses:
  - type: InternalIP
    address: 172.18.0.300
---
apiVersion: v1
kind: Node
metadata:
  name: badannotation
  annotations:
    kube-router.io/pod-cidr: 10.244.61.0/33
spec:
  podCIDR: 10.244.61.0/24
status:
  addresses:
  - type: InternalIP
    address: 172.18.0.61
---
apiVersion: v1
kind: Node
metadata:
  name: badtype
spec:
  podCIDRs: 10.244.62.0/24
status:
  addresses:
  - type: InternalIP
    address: 172.18.0.62
---
apiVersion: v1
kind: Node
metadata:
  name: noip
spec:
  podCIDR: 10.244.63.0/24
status:
  addresses:
  - type: Hostname
    address: noip
YAML
kubectl_api apply --validate=false -f "$KR_DIR/malformed.yaml" >/dev/null
kubectl_api annotate node node3 kube-router.io/pod-cidr=10.244.3.0/33 >/dev/null
malformed=(
    'node node5: spec.podCIDR: invalid CIDR "10.244.300.0/24"'
    'node badip: status.addresses[0].address: invalid InternalIP "172.18.0.300"'
    'node badannotation: metadata.annotations["kube-router.io/pod-cidr"]: invalid CIDR "10.244.61.0/33"'
    'node badtype: spec.podCIDRs: expected an array, got string'
    'node node3: metadata.annotations["kube-router.io/pod-cidr"]: invalid CIDR "10.244.3.0/33"'
)
for n in $nodes; do
    for m in "${malformed[@]}"; do
        wait_for 20 "node$n to log '$m'" grep -qF "skipping a malformed node: $m" "$KR_DIR/node$n/kroute.log"
    done
    wait_for 20 "node$n to list noip" grep -q "node noip added: address none" "$KR_DIR/node$n/kroute.log"
done
# A relist now (every node watch refused with 410 Expired): the list has node3 malformed; the nodes
# keep its last usable version, as the watch did, rather than taking node3 for deleted.
fake_faults '{"fail_next":5,"status":410,"fail_match":"nodes?allowWatchBookmarks"}' >/dev/null
fake_faults '{"drop_watches":true}' >/dev/null
relisted() { grep -q "listed [0-9]* nodes at resourceVersion.*malformed, skipped)" "$KR_DIR/node$1/kroute.log"; }
for n in $nodes; do wait_for 30 "node$n to relist" relisted "$n"; done
sleep 3
for n in $nodes; do
    [[ $(pod_routes "$n") == "$(expected_routes "$n" "$nodes")" ]] || kr_fail "node$n's routes after the relist: $(pod_routes "$n")"
    sessions_untouched "$n" "${before[$n]}"
    ! grep -q "node node3 deleted" "$KR_DIR/node$n/kroute.log" || kr_fail "node$n took node3 for deleted"
    grep -q "node node3: keeping its last usable version" "$KR_DIR/node$n/kroute.log" || kr_fail "node$n did not say it keeps node3"
    echo "   node$n: $(grep -F "skipping a malformed node: ${malformed[0]}" "$KR_DIR/node$n/kroute.log" | head -n 1 | cut -d' ' -f3-)"
    sessions_untouched "$n" "${before[$n]}"  # none added (not even for noip), none removed or reset
done
pings_check "$nodes"
[[ $(for n in $nodes; do pod_routes "$n"; done) == "$routes_before" ]] || kr_fail "pod routes changed with the malformed nodes"
for n in $nodes; do sessions_untouched "$n" "${before[$n]}"; done
grep -q "node node5 is not in the node list" "$KR_DIR/node5/kroute.log" || kr_fail "node5's kroute did not say it waits for its Node"

step "3b. node3's annotation removed, node4 registered, node5's podCIDR fixed: each learned by every node"
kubectl_api annotate node node3 kube-router.io/pod-cidr- >/dev/null
register_node 4
for n in 1 2 3 4; do wait_for 60 "node$n to learn node4" pod_routes_converged "$n" "1 2 3 4"; done
kubectl_api patch node node5 --type=merge -p '{"spec":{"podCIDR":"10.244.5.0/24","podCIDRs":["10.244.5.0/24"]}}' >/dev/null
for n in 1 2 3 4 5; do wait_for 60 "node$n to learn node5 (podCIDR fixed)" pod_routes_converged "$n" "1 2 3 4 5"; done
for n in $nodes; do
    kroutectl_on "$n" neighbors -o json | jq -e 'all(.[]; .address != "172.18.0.61" and .address != "172.18.0.62")' >/dev/null ||
        kr_fail "node$n peers with a malformed node"
done

echo "PASS bad_input_test"
