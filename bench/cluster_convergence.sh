#!/usr/bin/env bash
# Convergence of a simulated cluster (scripts/lib/cluster.sh) in network namespaces:
#  - start: from the moment every Node has its podCIDR until every node's kernel holds exactly
#    the other nodes' routes;
#  - add: a new node registered through the API until every node holds its route;
#  - delete: `kubectl delete node` until its route is gone from every node (also counted from
#    kubectl's return, i.e. after the API server's write);
#  - route restore: one of node1's kroute routes deleted by hand until it is back;
#  - link flap: node1's eth0 down (the kernel flushes its routes) and up, until all are back;
#  - podCIDR: TRIES times, a node's podCIDR patched through the API (timed from kubectl's return)
#    until every other node's kernel routes the new one; median and worst;
#  - peak RSS (VmHWM) of the kroute processes.
# The last four poll every ~20 ms (each poll reads every node's table: resolution ~10 ms per node).
# One JSON line per measurement. Usage: bench/cluster_convergence.sh [NODES] [REPEATS] (env TRIES, default 20)
# Run as root; uses the no-route sandbox. Build first (scripts/build.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
nodes=${1:-3}
repeats=${2:-3}
if [[ ${3:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    for ((r = 1; r <= repeats; r++)); do
        KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-bench.XXXXXX")
        export KR_DIR
        run_in_sandbox "$0" "$nodes" "$r" --inside
        rm -rf "$KR_DIR"
    done
    exit 0
fi

KR_BIN=${KR_BIN:-$repo/build/bin}
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
now_ms() { date +%s%3N; }
TRIES=${TRIES:-20}
# poll_ms DEADLINE_S CMD...: CMD every ~20 ms until it succeeds; prints the ms it took.
poll_ms() {
    local deadline=$1; shift
    local t0 t
    t0=$(now_ms)
    until "$@"; do
        t=$(now_ms)
        ((t - t0 < deadline * 1000)) || { echo "timeout: $*" >&2; return 1; }
        sleep 0.02
    done
    echo $(($(now_ms) - t0))
}
# routed_everywhere CIDR VIA EXCEPT "NODES": every node but EXCEPT routes CIDR via VIA.
routed_everywhere() {
    local cidr=$1 via=$2 except=$3 n
    for n in $4; do
        [[ $n == "$except" ]] && continue
        ip -n "node$n" -4 route show proto "$KR_PROTO" "$cidr" | grep -q "via $via " || return 1
    done
}
all_converged() {
    local n
    for n in $1; do routes_converged "$n" "$1" || return 1; done
}

list=$(seq -s ' ' 1 "$nodes")
underlay_up
apiserver_up
for n in $list; do node_up "$n"; done
t0=$(now_ms)
for n in $list; do register_node "$n"; done
t_registered=$(now_ms)
wait_for 120 "convergence" all_converged "$list"
t_converged=$(now_ms)

extra=$((nodes + 1))
node_up "$extra"
t1=$(now_ms)
register_node "$extra"
wait_for 120 "node add" all_converged "$list $extra"
t_added=$(now_ms)

t2=$(now_ms)
kubectl_api delete node "node$extra" >/dev/null
delete_after_api_ms=$(poll_ms 60 all_converged "$list")
t_deleted=$(now_ms)
ip -n node1 route del "$(pod_cidr 2)"
restore_ms=$(poll_ms 60 routes_converged 1 "$list")
ip -n node1 link set eth0 down
ip -n node1 link set eth0 up
flap_ms=$(poll_ms 60 routes_converged 1 "$list")
cidr_ms=()
for ((i = 1; i <= TRIES; i++)); do
    k=$(( (i % nodes) + 1 ))
    cidr="10.244.$((100 + i)).0/24"
    kubectl_api patch node "node$k" --type=merge -p "{\"spec\":{\"podCIDR\":\"$cidr\",\"podCIDRs\":[\"$cidr\"]}}" >/dev/null
    cidr_ms+=("$(poll_ms 60 routed_everywhere "$cidr" "$(node_ip "$k")" "$k" "$list")")
done
sorted=$(printf '%s\n' "${cidr_ms[@]}" | sort -n)
cidr_median=$(sed -n "$(( (TRIES + 1) / 2 ))p" <<<"$sorted")
cidr_worst=$(tail -1 <<<"$sorted")

rss_max=0
for n in $list; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/${KR_PIDS[node$n]}/status")
    ((hwm > rss_max)) && rss_max=$hwm
done
printf '{"bench":"cluster_convergence","nodes":%d,"run":%d,"register_ms":%d,"converge_after_registered_ms":%d,"node_add_ms":%d,"node_delete_ms":%d,"node_delete_after_api_ms":%d,"route_restore_ms":%d,"link_flap_restore_ms":%d,"podcidr_tries":%d,"podcidr_median_ms":%d,"podcidr_worst_ms":%d,"kroute_peak_rss_kib":%d}\n' \
    "$nodes" "$2" "$((t_registered - t0))" "$((t_converged - t_registered))" "$((t_added - t1))" \
    "$((t_deleted - t2))" "$delete_after_api_ms" "$restore_ms" "$flap_ms" "$TRIES" "$cidr_median" "$cidr_worst" "$rss_max"
