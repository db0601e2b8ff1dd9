#!/usr/bin/env bash
# End-to-end, the metrics and /healthz: a 2-node cluster (fake API server, kroute writing the
# kernel in each node's namespace) with --metrics-port. Asserts that
#  - a real scrape passes `promtool check metrics` (Debian's prometheus package) without a word,
#    with the peers up and again with one down;
#  - the values say what is true: the peer Established, its UPDATEs and prefix, the route installed,
#    the nodes listed;
#  - the values move: a route deleted by hand is put back and kroute_fib_repairs_total counts it;
#    the API server ending the watch counts in kroute_k8s_watch_restarts_total{reason="closed"};
#    the peer stopped drops kroute_bgp_peer_up to 0 and counts one kroute_bgp_peer_flaps_total;
#  - /healthz answers 200 throughout.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-metrics "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
source "$repo/scripts/lib/cluster.sh"
KR_KROUTE_FLAGS+=(--health-port 20244 --metrics-port 20245)
trap cluster_down EXIT
command -v promtool >/dev/null || kr_fail "no promtool: scripts/install-deps.sh installs Debian's prometheus"

step() { printf '== %s\n' "$*"; }

scrape() { ip netns exec "node$1" curl -sf --max-time 10 "http://127.0.0.1:20245/metrics"; }
healthz() { ip netns exec "node$1" curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:20244/healthz"; }
# metric NODE SERIES: the value of the first sample whose line starts with SERIES (a name, or a
# name and the start of its labels, e.g. 'kroute_bgp_peer_up{peer="172.18.0.12"'); empty if none.
metric() {
    scrape "$1" | awk -v s="$2" 'substr($0, 1, length(s)) == s { print $NF; exit }'
}
# is NODE SERIES OP VALUE: the sample compares so (integers).
is() {
    local v
    v=$(metric "$1" "$2")
    [[ -n $v ]] && (("${v%.*}" $3 $4))
}
# promtool's verdict on a scrape: it must exit 0 and say nothing.
promtool_clean() {
    local out rc=0
    scrape "$1" >"$KR_DIR/scrape.txt" || kr_fail "node$1: the scrape failed"
    out=$(promtool check metrics <"$KR_DIR/scrape.txt" 2>&1) || rc=$?
    ((rc == 0)) && [[ -z $out ]] || kr_fail "promtool check metrics (exit $rc) on node$1's scrape: $out"
}

peer2="kroute_bgp_peer_up{peer=\"$(node_ip 2)\""
step "two nodes with --metrics-port 20245"
underlay_up
apiserver_up
for n in 1 2; do node_up "$n"; done
for n in 1 2; do register_node "$n"; done
for n in 1 2; do wait_for 60 "node$n's routes" routes_converged "$n" "1 2"; done
wait_for 30 "node1's metrics to show node2's session up" is 1 "$peer2" == 1
wait_for 30 "node1's metrics to show the route installed" is 1 "kroute_fib_routes_installed " == 1

step "promtool check metrics: clean"
promtool_clean 1
promtool_clean 2
[[ $(healthz 1) == 200 && $(healthz 2) == 200 ]] || kr_fail "/healthz: $(healthz 1) $(healthz 2)"
[[ $(ip netns exec node1 curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:20245/nothing) == 404 ]] ||
    kr_fail "a path other than --metrics-path answered"

step "the values are what the cluster is"
label="{peer=\"$(node_ip 2)\",asn=\"64512\",description=\"node2\"}"
is 1 "kroute_bgp_peer_state$label" == 6 || kr_fail "node1: no 'kroute_bgp_peer_state$label 6' in $(scrape 1 | grep peer_state)"
is 1 "kroute_bgp_peer_prefixes_accepted$label" == 1 || kr_fail "node1: node2's prefix not counted"
is 1 "kroute_bgp_peer_prefixes_sent$label" == 1 || kr_fail "node1: its own prefix not counted as sent"
is 1 "kroute_bgp_peer_updates_received_total$label" ">=" 2 || kr_fail "node1: UPDATEs from node2 (a route, End-of-RIB)"
is 1 "kroute_bgp_peer_updates_sent_total$label" ">=" 2 || kr_fail "node1: UPDATEs to node2"
is 1 "kroute_bgp_peer_flaps_total$label" == 0 || kr_fail "node1: a flap before any"
is 1 "kroute_fib_routes_desired " == 1 || kr_fail "node1: desired routes"
is 1 'kroute_k8s_lists_total{resource="nodes"}' ">=" 1 || kr_fail "node1: no LIST of nodes counted"
is 1 'kroute_build_info{version="' == 1 || kr_fail "node1: no build info"
is 1 "process_resident_memory_bytes " ">" 1000000 || kr_fail "node1: process metrics"

step "a route deleted by hand is repaired, and counted"
repairs=$(metric 1 "kroute_fib_repairs_total ")
[[ -n $repairs ]] || kr_fail "no kroute_fib_repairs_total"
ip -n node1 route del "$(pod_cidr 2)" proto "$KR_PROTO"
wait_for 20 "node1 to put the route back" routes_converged 1 "1 2"
wait_for 20 "kroute_fib_repairs_total to count it" is 1 "kroute_fib_repairs_total " == $((repairs + 1))

step "a watch ended by the API server is restarted, and counted"
closed='kroute_k8s_watch_restarts_total{resource="nodes",reason="closed"}'
restarts=$(metric 1 "$closed")
[[ -n $restarts ]] || kr_fail "no $closed"
wait_for 20 "node1's watch to be open" bash -c "[[ \$(ip netns exec api curl -sf --cacert '$KR_DIR/api/ca.crt' \
    -H 'Authorization: Bearer $KR_TOKEN' https://$KR_API_IP:6443/fake/faults | jq .open_watches) -ge 2 ]]"
fake_faults '{"drop_watches":true}' >/dev/null || kr_fail "cannot reach the fake API server's /fake/faults"
wait_for 20 "$closed to count it" is 1 "$closed" ">" "$restarts"
is 1 'kroute_k8s_relists_total{resource="nodes"}' == 0 || kr_fail "a clean end of the watch made kroute relist"

step "a peer stopped: kroute_bgp_peer_up drops, a flap is counted"
stop_daemon node2
wait_for 30 "node1 to see node2's session down" is 1 "$peer2" == 0
is 1 "kroute_bgp_peer_flaps_total$label" == 1 || kr_fail "node1: flaps $(metric 1 "kroute_bgp_peer_flaps_total$label"), not 1"
is 1 "kroute_bgp_peer_state$label" "<" 6 || kr_fail "node1: node2 still Established"
promtool_clean 1
[[ $(healthz 1) == 200 ]] || kr_fail "/healthz on node1 with a peer down: $(healthz 1)"

echo "PASS metrics_test"
