#!/usr/bin/env bash
# Load (issue 7): kroute watching 5000 Nodes (copies of a real kubeadm Node object, 4.5 KB of JSON
# each) on the fake API server, --enable-ibgp=false (no sessions are dialled) and --no-fib, while
# a driver makes RATE changes a second (default 10) for DURATION seconds (default 60; 600 under
# scripts/test.sh --long): a label changed on a node, and every tenth change a node deleted and
# created again. Asserts: kroute keeps up (its node count follows the deletions and re-creations,
# and a last node created at the end is known within 5 s), and its memory stays flat (RSS at the
# end within 10 % + 8 MB of its RSS once the 5000 nodes were listed). Inside the no-route sandbox,
# on its loopback. Prints the figures (docs/reliability.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/standalone.sh"
standalone_reexec watch-load "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
DURATION=${DURATION:-60}
RATE=${RATE:-10}
N=5000

fixture=$repo/tests/data/k8s/node-kubeadm-flannel-k8s1.json
node_json() {  # I: the fixture renamed node-I, with its own uid, podCIDR and InternalIP
    jq -c --arg n "node-$1" --arg uid "00000000-0000-4000-8000-$(printf '%012d' "$1")" \
        --arg cidr "10.$(($1 / 256)).$(($1 % 256)).0/24" --arg ip "10.255.$(($1 / 250)).$(($1 % 250 + 1))" \
        '.metadata.name = $n | .metadata.uid = $uid | .metadata.labels["kubernetes.io/hostname"] = $n
         | .spec.podCIDR = $cidr | .spec.podCIDRs = [$cidr]
         | .status.addresses = [{type: "InternalIP", address: $ip}, {type: "Hostname", address: $n}]' "$fixture"
}
# All N at once (jq once, not N times): the fixture with a per-index rename.
jq -c --argjson n "$N" '. as $f | {apiVersion: "v1", kind: "List", metadata: {}, items: [range(0; $n) as $i |
    $f | .metadata.name = "node-\($i)" | .metadata.uid = "00000000-0000-4000-8000-\($i)"
    | .metadata.labels["kubernetes.io/hostname"] = "node-\($i)"
    | .spec.podCIDR = "10.\($i / 256 | floor).\($i % 256).0/24" | .spec.podCIDRs = [.spec.podCIDR]
    | .status.addresses = [{type: "InternalIP", address: "10.255.\($i / 250 | floor).\($i % 250 + 1)"}, {type: "Hostname", address: "node-\($i)"}]]}' \
    "$fixture" >"$KR_DIR/nodes.json"
echo "   $N nodes, $(($(stat -c %s "$KR_DIR/nodes.json") / 1024 / 1024)) MB of JSON"

ip addr add 10.255.0.1/32 dev lo  # node-0's address (this sandbox namespace's own), for its BGP listener
mkdir -p "$KR_DIR/api"
"$KR_BIN/fake-apiserver" --listen 127.0.0.1 --port 0 --token load-token --cert-dir "$KR_DIR/api" \
    --nodes "$KR_DIR/nodes.json" --quiet </dev/null >"$KR_DIR/api.log" 2>&1 &
pids+=($!)
wait_for 30 "the fake API server" test -s "$KR_DIR/api/port"
port=$(cat "$KR_DIR/api/port")
api() {  # METHOD PATH [BODY]
    curl -fsS --cacert "$KR_DIR/api/ca.crt" -H "Authorization: Bearer load-token" -X "$1" \
        -H "Content-Type: application/merge-patch+json" "https://127.0.0.1:$port$2" ${3:+--data-binary "$3"} >/dev/null
}

"$KR_BIN/kroute" --kubeconfig "$KR_DIR/api/kubeconfig" --hostname-override node-0 --no-fib --enable-cni=false \
    --enable-ibgp=false --health-port 0 --api-socket "$KR_DIR/kroute.sock" --set-node-network-unavailable=false \
    </dev/null >"$KR_DIR/kroute.log" 2>&1 &
kpid=$!
pids+=("$kpid")
known() { "$KR_BIN/kroutectl" --socket "$KR_DIR/kroute.sock" status -o json | jq .nodes_known; }
rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$kpid/status"; }
t0=$SECONDS
until [[ $(known 2>/dev/null || echo 0) == "$N" ]]; do ((SECONDS - t0 < 60)) || fail "kroute did not list $N nodes"; sleep 0.2; done
listed_rss=$(rss)
echo "   listed $N nodes in about $((SECONDS - t0)) s; RSS $((listed_rss / 1024)) MB"

# The changes: RATE a second, paced by the clock (curl's own time included).
changes=0 recreated=0 peak=$listed_rss
t1=$SECONDS
end=$((SECONDS + DURATION))
while ((SECONDS < end)); do
    for ((k = 0; k < RATE; k++)); do
        i=$(((changes * 7919) % N))
        if ((changes % 10 == 9)); then
            api DELETE "/api/v1/nodes/node-$i"
            api POST "/api/v1/nodes" "$(node_json "$i")"
            recreated=$((recreated + 1))
        else
            api PATCH "/api/v1/nodes/node-$i" "{\"metadata\":{\"labels\":{\"load\":\"c$changes\"}}}"
        fi
        changes=$((changes + 1))
    done
    kill -0 "$kpid" 2>/dev/null || fail "kroute died under the watch load"
    r=$(rss)
    ((r > peak)) && peak=$r
    sleep_to=$((t1 + changes / RATE))
    while ((SECONDS < sleep_to)); do sleep 0.05; done
done
rate=$(awk -v c="$changes" -v s=$((SECONDS - t1)) 'BEGIN {printf "%.1f", c / s}')
# Keeping up: a node created now is known within 5 s, and the count is whole.
api POST "/api/v1/nodes" "$(node_json $N)"
t2=$SECONDS
wait_for 5 "kroute to know the node created last" test "$(known)" == $((N + 1))
end_rss=$(rss)
echo "ok: $changes changes ($rate a second; $recreated nodes deleted and re-created) over ${DURATION} s; the last node known after $((SECONDS - t2)) s"
echo "   kroute RSS: $((listed_rss / 1024)) MB listed, peak $((peak / 1024)) MB, $((end_rss / 1024)) MB at the end"
((end_rss <= listed_rss + listed_rss / 10 + 8192)) || fail "kroute's memory grew: $listed_rss KiB -> $end_rss KiB"
echo "PASS watch_load_test"
