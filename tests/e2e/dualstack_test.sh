#!/usr/bin/env bash
# End-to-end, dual-stack: a 5-node cluster in network namespaces whose nodes have an IPv4 and an
# IPv6 InternalIP and an IPv4 and an IPv6 podCIDR, kroute with --enable-ipv6. Asserts that
#  - every conflist, rendered from deploy/configmap.yaml's cni-conf.json (--cni-conf-template,
#    with a key kroute does not know added), holds both ranges and the unknown key, and the real
#    CNI plugins give each pod an address of each;
#  - `ip -4/-6 route show proto 52` on each node is exactly the other nodes' podCIDRs of that
#    family via their address of that family, learned over the one (IPv4) BGP session per pair;
#  - pods ping every other node's pod over IPv4 and over IPv6, with their own source address;
#  - a deleted node's IPv4 and IPv6 routes leave every other node.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-ds "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
KR_DUALSTACK=1
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
nodes="1 2 3 4 5"

# The DaemonSet's template, as the ConfigMap mounts it: the block under "cni-conf.json: |".
awk '/^  cni-conf.json: \|/ { on = 1; next } on && /^    / { print substr($0, 5); next } on { exit }' \
    "$repo/deploy/configmap.yaml" | jq '.plugins[0].kroute_test_marker = "kept"' >"$KR_DIR/cni-conf.json" ||
    kr_fail "deploy/configmap.yaml's cni-conf.json is not JSON"
KR_KROUTE_FLAGS+=(--cni-conf-template "$KR_DIR/cni-conf.json")

step() { printf '== %s\n' "$*"; }

step "a 5-node dual-stack cluster up"
underlay_up
apiserver_up
for n in $nodes; do node_up "$n"; done
for n in $nodes; do register_node "$n"; done

step "conflists with both ranges"
for n in $nodes; do
    conf="$KR_DIR/node$n/net.d/10-kuberouter.conflist"
    wait_for 30 "node$n's dual-stack conflist" jq -e '.plugins[0].ipam.ranges | length == 2' "$conf"
    [[ $(jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$conf") == "$(pod_cidr "$n")" &&
       $(jq -r '.plugins[0].ipam.ranges[1][0].subnet' "$conf") == "$(pod_cidr6 "$n")" ]] ||
        kr_fail "node$n conflist ranges: $(jq -c .plugins[0].ipam.ranges "$conf")"
    [[ $(jq -r '.plugins[0].kroute_test_marker' "$conf") == kept && $(jq -r '.plugins[0].hairpinMode' "$conf") == true &&
       $(jq -r '.plugins[1].snat' "$conf") == true ]] || kr_fail "node$n conflist lost the template's keys"
    [[ $(ip netns exec "node$n" cat /proc/sys/net/ipv6/conf/all/forwarding) == 1 ]] ||
        kr_fail "node$n IPv6 forwarding not set by kroute"
done

step "IPv4 and IPv6 routes converge to exactly the other nodes' podCIDRs"
for n in $nodes; do wait_for 60 "node$n's routes" routes_converged "$n" "$nodes"; done
for n in $nodes; do
    kroutectl_on "$n" rib -o json >"$KR_DIR/rib$n.json"
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        from=$(jq -r --arg p "$(pod_cidr6 "$j")" '.[] | select(.prefix==$p) | .paths[] | select(.best) | .from' "$KR_DIR/rib$n.json")
        [[ $from == "$(node_ip "$j")" ]] || kr_fail "node$n: $(pod_cidr6 "$j") from '$from', not node$j's IPv4 session"
    done
    [[ $(kroutectl_on "$n" neighbors -o json | jq '[.[] | select(.state=="Established")] | length') == 4 ]] ||
        kr_fail "node$n: not 4 sessions (one per node, both families on it)"
done

step "pods get an address of each family and reach each other over both"
for n in $nodes; do pod_up "$n" 1; done
for n in $nodes; do
    [[ ${KR_POD_IP[pod_${n}_1]} == 10.244.$n.* && ${KR_POD_IP6[pod_${n}_1]} == fd00:244:$n::* ]] ||
        kr_fail "pod_${n}_1 addresses ${KR_POD_IP[pod_${n}_1]} ${KR_POD_IP6[pod_${n}_1]}"
done
# A fresh IPv6 address may still be in duplicate address detection for a moment.
for n in $nodes; do
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        wait_for 10 "pod_${n}_1 -> pod_${j}_1 over IPv6" \
            ip netns exec "pod_${n}_1" ping -6 -c1 -W1 -q "${KR_POD_IP6[pod_${j}_1]}"
        ip netns exec "pod_${n}_1" ping -4 -c1 -W2 -q "${KR_POD_IP[pod_${j}_1]}" >/dev/null ||
            kr_fail "pod_${n}_1 -> pod_${j}_1 over IPv4"
    done
done
# The IPv6 source seen by pod_1_1 is the sender pod's own (routed, not NATed).
seen=$(ipv6_source_seen pod_1_1 pod_3_1)
[[ $seen == "${KR_POD_IP6[pod_3_1]}" ]] || kr_fail "pod_1_1 saw IPv6 source '$seen', not pod_3_1's ${KR_POD_IP6[pod_3_1]}"

step "a deleted node's routes of both families leave every node"
kubectl_api delete node node5 >/dev/null
for n in 1 2 3 4; do wait_for 20 "node$n without node5's routes" routes_converged "$n" "1 2 3 4"; done

echo "PASS dualstack_test"
