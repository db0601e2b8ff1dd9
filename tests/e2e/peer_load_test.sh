#!/usr/bin/env bash
# Load (issue 7): one kroute with 999 iBGP peers (a node of a 1000-node mesh; --nodes-file,
# --no-fib), played by bench/mesh_peers on loopback inside the no-route sandbox. The peers connect
# (each announcing its node's podCIDR), then for DURATION seconds (default 60; 600 under
# scripts/test.sh --long) FLAPS of them a second (default 10) drop their session and come back 1-5 s
# later, then all of them leave at once. Asserts: kroute never stops answering, every session comes
# up, every flap is followed (its routes go and come back), and once everyone has left the RIB holds
# only the node's own podCIDR and kroute's memory is back near its baseline (its RSS with its 999
# peers configured and none connected). Prints the memory figures (docs/reliability.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/standalone.sh"
standalone_reexec peer-load "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
DURATION=${DURATION:-60}
FLAPS=${FLAPS:-10}
PEERS=999
NET=88
ulimit -n "$(ulimit -Hn)"
self=127.$NET.255.1
{
    echo '{"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": ['
    printf '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-self"}, "spec": {"podCIDR": "10.250.0.0/24"}, "status": {"addresses": [{"type": "InternalIP", "address": "%s"}]}}\n' "$self"
    for ((i = 0; i < PEERS; i++)); do
        printf ',{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-%d"}, "spec": {"podCIDR": "10.%d.%d.0/24"}, "status": {"addresses": [{"type": "InternalIP", "address": "127.%d.%d.%d"}]}}\n' \
            "$i" $((i / 256)) $((i % 256)) "$NET" $((i / 250)) $((i % 250 + 1))
    done
    echo ']}'
} >"$KR_DIR/nodes.json"

"$KR_BIN/kroute" --nodes-file "$KR_DIR/nodes.json" --hostname-override node-self --no-fib --enable-cni=false \
    --health-port 0 --bgp-port 11850 --bgp-connect-retry-time 5s --api-socket "$KR_DIR/kroute.sock" \
    </dev/null >"$KR_DIR/kroute.log" 2>&1 &
kpid=$!
pids+=("$kpid")
status() { "$KR_BIN/kroutectl" --socket "$KR_DIR/kroute.sock" status -o json; }
rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$kpid/status"; }
wait_for 30 "kroute with its $PEERS peers configured" bash -c "[[ \$('$KR_BIN/kroutectl' --socket '$KR_DIR/kroute.sock' status -o json | jq .peers_total) == $PEERS ]]"
sleep 3
base=$(rss)

"$KR_BIN/mesh_peers" --count "$PEERS" --target "$self" --port 11850 --net "$NET" --seconds $((DURATION + 60)) \
    --flaps-per-second 0 </dev/null >"$KR_DIR/peers.log" 2>&1 &
ppid=$!
pids+=("$ppid")
all_up() { status | jq -e --argjson n "$PEERS" '.peers_established == $n and .rib_prefixes == $n + 1'; }
wait_for 120 "all $PEERS sessions Established and their routes in the RIB" all_up
up_rss=$(rss)
kill "$ppid"; wait "$ppid" 2>/dev/null || true

# Flapping: a fresh mesh_peers that flaps, for DURATION seconds, then leaves.
"$KR_BIN/mesh_peers" --count "$PEERS" --target "$self" --port 11850 --net "$NET" --seconds "$DURATION" \
    --flaps-per-second "$FLAPS" </dev/null >"$KR_DIR/peers.log" 2>&1 &
ppid=$!
pids+=("$ppid")
peak=$up_rss
min_up=$PEERS
t0=$SECONDS
while kill -0 "$ppid" 2>/dev/null; do
    kill -0 "$kpid" 2>/dev/null || fail "kroute died under load"
    s=$(status) || fail "kroute stopped answering its debug API under load"
    r=$(rss)
    ((r > peak)) && peak=$r
    est=$(jq .peers_established <<<"$s")
    ((SECONDS - t0 > 20 && est < min_up)) && min_up=$est
    sleep 2
done
flaps=$(grep '^{' "$KR_DIR/peers.log" | tail -n 1 | jq .flaps)
((flaps >= DURATION * FLAPS / 2)) || fail "only $flaps flaps happened"
# Everyone left: only the node's own podCIDR stays.
gone() { status | jq -e '.peers_established == 0 and .rib_prefixes == 1'; }
wait_for 60 "every peer gone and its routes with it" gone
sleep 5
end=$(rss)
kill -0 "$kpid" 2>/dev/null || fail "kroute died"
echo "ok: $PEERS peers connected, $flaps flaps in ${DURATION} s (at least $min_up sessions up while flapping), then all left"
echo "   kroute RSS: baseline $((base / 1024)) MB, all up $((up_rss / 1024)) MB, peak $((peak / 1024)) MB, after all left $((end / 1024)) MB"
# Back near the baseline: what the sessions took is given back (the allocator may keep a little).
((end <= base + base / 4 + 4096)) || fail "kroute's RSS did not come back: $end KiB after, baseline $base KiB"
echo "PASS peer_load_test"
