#!/usr/bin/env bash
# End-to-end faults (issue 7), a 3-node cluster with graceful restart on (restart time 20 s), one
# pod per node, pods pinging every other node's pod every 20 ms while faults are injected; every
# ping sent must be answered unless the fault is meant to cut traffic:
#  1. the API server unreachable from the nodes (packets dropped) for API_DOWN seconds (default 120;
#     scripts/test.sh --long: 600): no route removed, no ping lost; a node registered meanwhile is
#     learned by every node once the API server is back;
#  2. kroute SIGKILLed on a node and started again: no ping lost, on that node or any other, and
#     the restarted kroute's table is whole again;
#  3. a node's kroute killed for good (SIGKILL): its routes stay on the other nodes for its restart
#     time (the peers keep them stale) and leave when it ends, no sooner;
#  4. a kroute stopped with SIGTERM: it leaves without a Cease (graceful restart), so the others
#     keep its routes until its restart time ends (with graceful restart off, cluster_test.sh
#     shows the Cease and the routes leaving at once);
#  5. /etc/cni/net.d read-only, then full, while the node's podCIDR changes: a clear error, the old
#     conflist intact, and the new one written once the directory is writable again.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-faults "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
API_DOWN=${API_DOWN:-120}
RESTART_S=20
KR_KROUTE_FLAGS+=(--bgp-graceful-restart --bgp-graceful-restart-time "${RESTART_S}s")
step() { printf '== %s\n' "$*"; }

step "a 3-node cluster with graceful restart, a pod on each node"
underlay_up
apiserver_up
for n in 1 2 3; do node_up "$n"; done
for n in 1 2 3; do register_node "$n"; done
for n in 1 2 3; do wait_for 60 "node$n's routes" routes_converged "$n" "1 2 3"; done
for n in 1 2 3; do pod_up "$n" 1; done
for n in 1 2 3; do for j in 1 2 3; do
    [[ $j == "$n" ]] || wait_for 10 "pod_${n}_1 -> pod_${j}_1" ip netns exec "pod_${n}_1" ping -c1 -W1 -q "${KR_POD_IP[pod_${j}_1]}"
done; done

step "1. the API server unreachable from the nodes for ${API_DOWN} s: no route removed, no ping lost"
before=$(for n in 1 2 3; do kernel_routes "$n"; done)
pings_start "1 2 3" $((API_DOWN + 10))
sleep 3
ip netns exec api nft -f - <<'NFT'
table inet kroute_partition {
    chain input {
        type filter hook input priority -10;
        ip saddr { 172.18.0.11, 172.18.0.12, 172.18.0.13 } tcp dport 6443 drop;
    }
    chain output {
        type filter hook output priority -10;
        ip daddr { 172.18.0.11, 172.18.0.12, 172.18.0.13 } tcp sport 6443 drop;
    }
}
NFT
# Meanwhile a fourth node joins: registered through the API server (which node4 reaches), its
# kroute up; nodes 1-3 cannot learn it yet.
node_up 4
register_node 4
sleep "$API_DOWN"
now=$(for n in 1 2 3; do kernel_routes "$n"; done)
[[ $now == "$before" ]] || kr_fail "routes changed while the API server was away: before $before, now $now"
ip netns exec api nft delete table inet kroute_partition
pings_check "1 2 3"
for n in 1 2 3 4; do wait_for 90 "node$n to learn node4 after the API server came back" routes_converged "$n" "1 2 3 4"; done
grep -qiE "watch|list" "$KR_DIR/node1/kroute.log" || kr_fail "node1 logged nothing about its API connection"
pod_up 4 1
wait_for 10 "pod_4_1 -> pod_1_1" ip netns exec pod_4_1 ping -c1 -W1 -q "${KR_POD_IP[pod_1_1]}"

step "2. kroute SIGKILLed on node2 and started again: no ping lost anywhere"
pings_start "1 2 3 4" 20
sleep 3
stop_daemon node2 KILL
sleep 2
kroute_start 2
all_up() { [[ $(kroutectl_on "$1" status -o json | jq .peers_established) == "$2" ]]; }
wait_for 30 "node2's kroute back with its sessions" all_up 2 3
pings_check "1 2 3 4"
for n in 1 2 3 4; do wait_for 30 "node$n's routes after node2's restart" routes_converged "$n" "1 2 3 4"; done
no_stale() { [[ $(kroutectl_on "$1" neighbors -o json | jq '[.[].prefixes_stale] | add') == 0 ]]; }
for n in 1 3 4; do wait_for 30 "node$n to have no stale route left" no_stale "$n"; done

step "3. node4's kroute killed for good: its routes stay for the restart time (${RESTART_S} s), then go"
killed_at=$SECONDS
stop_daemon node4 KILL
sleep $((RESTART_S - 5))
for n in 1 2 3; do routes_converged "$n" "1 2 3 4" || kr_fail "node$n dropped node4's route before its restart time"; done
for n in 1 2 3; do wait_for 30 "node$n to drop node4's route after its restart time" routes_converged "$n" "1 2 3"; done
echo "   node4's routes left after about $((SECONDS - killed_at)) s (restart time ${RESTART_S} s)"
kubectl_api delete node node4 >/dev/null

step "4. node3's kroute stopped with SIGTERM: no Cease, its routes kept for the restart time"
stopped_at=$SECONDS
stop_daemon node3 TERM
sleep 3
for n in 1 2; do
    routes_converged "$n" "1 2 3" || kr_fail "node$n dropped node3's route at once: graceful restart not honoured"
    err=$(kroutectl_on "$n" neighbors -o json | jq -r --arg a "$(node_ip 3)" '.[] | select(.address==$a) | .last_error')
    [[ $err != *Cease* ]] || kr_fail "node$n got a Cease from a gracefully restarting node3: $err"
done
for n in 1 2; do wait_for $((RESTART_S + 20)) "node$n to drop node3's route after its restart time" routes_converged "$n" "1 2"; done
((SECONDS - stopped_at >= RESTART_S - 3)) || kr_fail "node3's routes left after $((SECONDS - stopped_at)) s, before the restart time"
echo "   node3's routes left after about $((SECONDS - stopped_at)) s"

step "5. node1's conflist directory read-only, then full: a clear error, the old conflist kept, then the new one"
# `ip netns exec` gave kroute a mount namespace of its own: the faults are mounted in there.
in_kroute() { nsenter --target "${KR_PIDS[node1]}" --mount -- "$@"; }
conf_dir="$KR_DIR/node1/net.d"
conf="$conf_dir/10-kuberouter.conflist"
old=$(in_kroute cat "$conf")
in_kroute mount --bind "$conf_dir" "$conf_dir"
in_kroute mount -o remount,bind,ro "$conf_dir"
kubectl_api patch node node1 --type=merge -p '{"spec":{"podCIDR":"10.244.21.0/24","podCIDRs":["10.244.21.0/24"]}}' >/dev/null
wait_for 20 "node1 to say it cannot write the conflist" grep -q "Read-only file system" "$KR_DIR/node1/kroute.log"
[[ $(in_kroute cat "$conf") == "$old" ]] || kr_fail "the conflist changed on a read-only directory"
in_kroute umount "$conf_dir"
in_kroute mount -t tmpfs -o size=64k tmpfs "$conf_dir"
printf '%s\n' "$old" | in_kroute tee "$conf" >/dev/null
in_kroute dd if=/dev/zero of="$conf_dir/filler" bs=4k count=64 2>/dev/null || true  # fills it
kubectl_api patch node node1 --type=merge -p '{"spec":{"podCIDR":"10.244.22.0/24","podCIDRs":["10.244.22.0/24"]}}' >/dev/null
wait_for 20 "node1 to say the directory is full" grep -q "No space left on device" "$KR_DIR/node1/kroute.log"
[[ $(in_kroute cat "$conf") == "$old" ]] || kr_fail "the conflist changed (or was truncated) on a full directory"
in_kroute rm -f "$conf_dir/filler"
wait_for 20 "node1's conflist for 10.244.22.0/24 once there is room (retried)" \
    in_kroute jq -e '.plugins[0].ipam.ranges[0][0].subnet == "10.244.22.0/24"' "$conf"
in_kroute umount "$conf_dir"
grep "node1/net.d" "$KR_DIR/node1/kroute.log" | grep -E "Read-only|No space" | head -n 2 | sed 's/^/   /'

echo "PASS faults_test"
