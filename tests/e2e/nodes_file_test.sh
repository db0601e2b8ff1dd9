#!/usr/bin/env bash
# kroute without Kubernetes: two instances in one namespace (127.0.0.1 and 127.0.0.2), Nodes from
# a JSON file as `kubectl get nodes -o json` prints it, --no-fib. Asserts that the sessions come
# up, each learns the other's podCIDR, a change to the file (a new podCIDR) reaches the peer, a
# broken file changes nothing, and --no-fib leaves the kernel alone (no routes, no sysctl). n1's
# metrics (--metrics-addr, --metrics-path; no FIB, no API server) pass `promtool check metrics`.
# Runs as root inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/standalone.sh"
standalone_reexec nodes-file "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}

# The sandbox has only lo: 127.0.0.2 is on it already (127/8).
nodes_json() {  # $1 = node2's podCIDR
    cat <<JSON
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}},
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2", "resourceVersion": "2"},
  "spec": {"podCIDR": "$1", "podCIDRs": ["$1"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.2"}]}}]}
JSON
}
nodes_json 10.244.2.0/24 >"$KR_DIR/nodes.json"
forward_before=$(cat /proc/sys/net/ipv4/ip_forward)

metrics_flags=(--metrics-port 20245 --metrics-addr 127.0.0.1 --metrics-path /m)
for n in 1 2; do
    "$KR_BIN/kroute" --nodes-file "$KR_DIR/nodes.json" --hostname-override "n$n" --no-fib --bgp-port 1790 \
        --bgp-holdtime 9s --bgp-keepalive-time 3s --bgp-connect-retry-time 1s --health-port 0 --mtu 1500 \
        --cni-conf-file "$KR_DIR/n$n/10-kuberouter.conflist" --api-socket "$KR_DIR/n$n.sock" \
        $( ((n == 1)) && echo "${metrics_flags[@]}") </dev/null >"$KR_DIR/n$n.log" 2>&1 &
    pids+=($!)
done

ctl() { "$KR_BIN/kroutectl" --socket "$KR_DIR/n$1.sock" "${@:2}"; }
best_from() {  # node prefix -> the best path's peer
    ctl "$1" rib -o json | jq -r --arg p "$2" '.[] | select(.prefix==$p) | .paths[] | select(.best) | .from'
}
learned() { [[ $(best_from "$1" "$2") == "$3" ]]; }

wait_for 30 "n1 to learn n2's podCIDR" learned 1 10.244.2.0/24 127.0.0.2
wait_for 30 "n2 to learn n1's podCIDR" learned 2 10.244.1.0/24 127.0.0.1
[[ $(ctl 1 status -o json | jq .peers_established) == 1 ]] || fail "n1 not established"
[[ $(ctl 1 routes -o json | jq -r '.[0].state') == no-fib ]] || fail "kroutectl routes with --no-fib"
[[ $(jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$KR_DIR/n2/10-kuberouter.conflist") == 10.244.2.0/24 ]] ||
    fail "n2's conflist"
echo "ok: both nodes learned each other's podCIDR over BGP from the nodes file"

curl -sf --max-time 10 http://127.0.0.1:20245/m >"$KR_DIR/scrape.txt" || fail "no metrics on 127.0.0.1:20245/m"
lint=$(promtool check metrics <"$KR_DIR/scrape.txt" 2>&1) || fail "promtool check metrics: $lint"
[[ -z $lint ]] || fail "promtool check metrics: $lint"
grep -qx 'kroute_bgp_peer_up{peer="127.0.0.2",asn="64512",description="n2"} 1' "$KR_DIR/scrape.txt" ||
    fail "n1's metrics: n2 not up: $(grep peer_up "$KR_DIR/scrape.txt")"
! grep -q '^kroute_fib_routes_installed\|^kroute_k8s_' "$KR_DIR/scrape.txt" || fail "--no-fib, no API server: yet FIB or k8s metrics"
[[ $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:20245/metrics) == 404 ]] || fail "/metrics answered despite --metrics-path /m"
echo "ok: n1's metrics pass promtool"

nodes_json 10.244.22.0/24 >"$KR_DIR/nodes.json.tmp" && mv "$KR_DIR/nodes.json.tmp" "$KR_DIR/nodes.json"
wait_for 30 "n1 to learn n2's new podCIDR" learned 1 10.244.22.0/24 127.0.0.2
wait_for 30 "n1 to forget n2's old podCIDR" test -z "$(best_from 1 10.244.2.0/24)"
wait_for 30 "n2's conflist to follow" grep -q 10.244.22.0/24 "$KR_DIR/n2/10-kuberouter.conflist"
echo "ok: a changed file is followed"

echo '{"kind": "List", "items": [' >"$KR_DIR/nodes.json.tmp" && mv "$KR_DIR/nodes.json.tmp" "$KR_DIR/nodes.json"
sleep 2
learned 1 10.244.22.0/24 127.0.0.2 || fail "a broken nodes file changed the routes"
grep -q "nodes.json" "$KR_DIR/n1.log" || fail "the broken file was not logged"
echo "ok: a broken file is logged and changes nothing"

[[ -z $(ip route show proto 52) ]] || fail "--no-fib installed routes"
[[ $(cat /proc/sys/net/ipv4/ip_forward) == "$forward_before" ]] || fail "--no-fib changed ip_forward"
echo "ok: --no-fib left the kernel alone"
echo "PASS nodes_file_test"
