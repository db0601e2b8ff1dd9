#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, then runs a simulated 3-node
# cluster in network namespaces (fake API server, kroute on every node, pods wired by the real CNI
# plugins) and shows pods pinging across nodes over routes kroute learned by BGP. Exits 0 only if
# every check held; removes everything it created, also when interrupted.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} != --inside ]]; then
    [[ $EUID -eq 0 ]] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }
    "$repo/scripts/install-deps.sh"
    echo "== building"
    "$repo/scripts/build.sh"
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-demo.XXXXXX")
    trap 'rm -rf "$KR_DIR"' EXIT
    trap 'exit 130' INT TERM
    export KR_DIR
    run_in_sandbox "$repo/scripts/demo.sh" --inside
    exit $?
fi

# --- inside the sandbox ---------------------------------------------------------------------
KR_BIN=$repo/build/bin
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
start=$SECONDS
nodes="1 2 3"

echo "== underlay switch and fake API server (172.18.0.2:6443)"
underlay_up
apiserver_up

echo "== nodes 1-3: kroute starts, then the nodes register and get their podCIDRs"
for n in $nodes; do node_up "$n"; done
for n in $nodes; do register_node "$n"; done
kubectl_api get nodes -o wide || kubectl_api get nodes

for n in $nodes; do
    wait_for 30 "node$n's conflist" test -s "$KR_DIR/node$n/net.d/10-kuberouter.conflist"
done
echo "== 2 pods per node, wired by the real CNI plugins (bridge, host-local, portmap)"
for n in $nodes; do for m in 1 2; do pod_up "$n" "$m"; done; done
for pod in $(printf '%s\n' "${!KR_POD_IP[@]}" | sort); do echo "   $pod  ${KR_POD_IP[$pod]}"; done

echo "== waiting for BGP to converge"
for n in $nodes; do wait_for 60 "node$n's routes" routes_converged "$n" "$nodes"; done

for n in $nodes; do
    echo
    echo "--- node$n: ip route"
    ip -n "node$n" route show | sed 's/proto 52/proto kroute(52)/'
    echo "--- node$n: kroutectl neighbors"
    kroutectl_on "$n" neighbors
done

echo
echo "== every pod pings a pod on every other node"
failures=0
for src in $(printf '%s\n' "${!KR_POD_IP[@]}" | sort); do
    src_node=${src#pod_}; src_node=${src_node%_*}
    for dst in $(printf '%s\n' "${!KR_POD_IP[@]}" | sort); do
        dst_node=${dst#pod_}; dst_node=${dst_node%_*}
        [[ $src_node != "$dst_node" ]] || continue
        if ip netns exec "$src" ping -c1 -W2 -q "${KR_POD_IP[$dst]}" >/dev/null; then
            printf '   %-8s %-12s -> %-8s %-12s ok\n' "$src" "${KR_POD_IP[$src]}" "$dst" "${KR_POD_IP[$dst]}"
        else
            printf '   %-8s %-12s -> %-8s %-12s FAILED\n' "$src" "${KR_POD_IP[$src]}" "$dst" "${KR_POD_IP[$dst]}"
            failures=$((failures + 1))
        fi
    done
done
((failures == 0)) || kr_fail "$failures pings failed"

echo "== source addresses seen by the receiving pods (no NAT inside the cluster)"
for dst in $(printf '%s\n' "${!KR_POD_IP[@]}" | sort); do
    seen=$(pod_sources "$dst" | sort | tr '\n' ' ')
    echo "   $dst saw: $seen"
    for s in $seen; do
        [[ $s == 10.244.* ]] || kr_fail "$dst saw source $s: traffic was NATed"
    done
    dst_node=${dst#pod_}; dst_node=${dst_node%_*}
    for src in "${!KR_POD_IP[@]}"; do
        src_node=${src#pod_}; src_node=${src_node%_*}
        [[ $src_node == "$dst_node" ]] && continue
        [[ " $seen " == *" ${KR_POD_IP[$src]} "* ]] || kr_fail "$dst never saw ${KR_POD_IP[$src]} ($src)"
    done
done

echo
echo "== adding node4 through the API server (kubectl apply), with kroute running on it"
node_up 4
register_node 4
nodes="1 2 3 4"
for n in $nodes; do wait_for 60 "node$n to learn the routes with node4" routes_converged "$n" "$nodes"; done
for n in 1 2 3; do echo "   node$n: $(kernel_routes "$n" | grep 10.244.4.0)"; done
wait_for 30 "node4's conflist" test -s "$KR_DIR/node4/net.d/10-kuberouter.conflist"
pod_up 4 1
ip netns exec pod_1_1 ping -c1 -W2 -q "${KR_POD_IP[pod_4_1]}" >/dev/null || kr_fail "pod_1_1 cannot reach pod_4_1"
echo "   pod_1_1 -> pod_4_1 (${KR_POD_IP[pod_4_1]}) ok"

echo "== deleting node4 (kubectl delete node node4)"
kubectl_api delete node node4
nodes="1 2 3"
for n in $nodes; do wait_for 30 "node$n to drop node4's route" routes_converged "$n" "$nodes"; done
for n in $nodes; do echo "   node$n: $(kernel_routes "$n" | tr '\n' ';')"; done
pod_down 4 1
stop_daemon node4

echo
echo "== demo passed in $((SECONDS - start)) s: 3 nodes, 6 pods, every cross-node ping with the pod's own source address, node4 added and removed"
