#!/usr/bin/env bash
# Convergence of a simulated cluster (scripts/lib/cluster.sh) in network namespaces:
#  - start: from the moment every Node has its podCIDR until every node's kernel holds exactly
#    the other nodes' routes;
#  - add: a new node registered through the API until every node holds its route;
#  - delete: `kubectl delete node` until its route is gone from every node;
#  - peak RSS (VmHWM) of the kroute processes.
# One JSON line per measurement. Usage: bench/cluster_convergence.sh [NODES] [REPEATS]
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
wait_for 120 "node delete" all_converged "$list"
t_deleted=$(now_ms)

rss_max=0
for n in $list; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/${KR_PIDS[node$n]}/status")
    ((hwm > rss_max)) && rss_max=$hwm
done
printf '{"bench":"cluster_convergence","nodes":%d,"run":%d,"register_ms":%d,"converge_after_registered_ms":%d,"node_add_ms":%d,"node_delete_ms":%d,"kroute_peak_rss_kib":%d}\n' \
    "$nodes" "$2" "$((t_registered - t0))" "$((t_converged - t_registered))" "$((t_added - t1))" \
    "$((t_deleted - t2))" "$rss_max"
