#!/usr/bin/env bash
# End-to-end, the overlay: a dual-stack 4-node cluster in two subnets (node1, node2 on
# 172.18.0.0/16; node3, node4 on 172.19.0.0/16) joined by a router namespace that forwards but
# knows no pod routes; kroute with --enable-overlay --overlay-type subnet. Asserts that
#  - each node routes the podCIDRs of its own subnet's nodes directly (via their address), and
#    those of the other subnet's through kroute-vxlan / kroute-vxlan6 (via their VTEP, onlink);
#  - the VXLAN devices have the VNIs, local addresses and MTUs (underlay - 50 / - 70) they should,
#    one forwarding entry per node behind them and none for the others; the conflist's MTU fits;
#  - pods reach each other over IPv4 and IPv6 across the router, their own source addresses kept,
#    full-sized packets with DF set pass, and the router forwarded VXLAN (UDP 4789) to carry them;
#  - a deleted node's route and overlay entries leave every node;
#  - kube-bridge exists with the pods' MTU before the first pod;
#  - --cleanup-config removes the VXLAN devices and the bridge.
# The node namespaces' FORWARD policy is DROP (scripts/lib/cluster.sh): kroute's rules let pods through.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-overlay "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
KR_DUALSTACK=1
KR_SUBNET_B="3 4"
KR_OVERLAY=subnet
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
nodes="1 2 3 4"

step() { printf '== %s\n' "$*"; }

step "two subnets, a router between them, 4 dual-stack nodes with the overlay"
underlay_up
router_up
apiserver_up
for n in $nodes; do node_up "$n"; done
for n in $nodes; do register_node "$n"; done

step "routes: direct within a subnet, through VXLAN across"
for n in $nodes; do wait_for 60 "node$n's routes" routes_converged "$n" "$nodes"; done
kernel_routes 1
kernel_routes6 1
[[ -z $(ip -n rtr route show | grep 10.244) ]] || kr_fail "the router learned pod routes"

step "the VXLAN devices and their entries"
for n in $nodes; do
    link=$(ip -n "node$n" -d -j link show kroute-vxlan)
    jq -e --arg local "$(node_ip "$n")" '.[0] | .mtu == 1450 and .linkinfo.info_data.id == 4096 and
            .linkinfo.info_data.port == 4789 and .linkinfo.info_data.local == $local and
            .linkinfo.info_data.learning == false and .operstate != "DOWN"' <<<"$link" >/dev/null ||
        kr_fail "node$n kroute-vxlan: $link"
    link6=$(ip -n "node$n" -d -j link show kroute-vxlan6)
    jq -e --arg local "$(node_ip6 "$n")" '.[0] | .mtu == 1430 and .linkinfo.info_data.id == 6096 and
            .linkinfo.info_data.local6 == $local' <<<"$link6" >/dev/null || kr_fail "node$n kroute-vxlan6: $link6"
    [[ $(ip -n "node$n" -j link show kube-bridge | jq '.[0].mtu') == 1430 ]] ||
        kr_fail "node$n kube-bridge MTU: $(ip -n "node$n" link show kube-bridge)"
    conf="$KR_DIR/node$n/net.d/10-kuberouter.conflist"
    [[ $(jq -r '.plugins[] | select(.type=="bridge") | .mtu' "$conf") == 1430 ]] ||
        kr_fail "node$n conflist MTU $(jq -r '.plugins[0].mtu' "$conf"), not 1500 - 70"
    fdb=$(ip netns exec "node$n" bridge fdb show dev kroute-vxlan | grep ' dst ' | awk '{print $3}' | sort | tr '\n' ' ')
    want=$(for j in $nodes; do if via_overlay "$n" "$j"; then node_ip "$j"; fi; done | sort | tr '\n' ' ')
    [[ $fdb == "$want" ]] || kr_fail "node$n kroute-vxlan fdb dst '$fdb', want '$want'"
    fdb6=$(ip netns exec "node$n" bridge fdb show dev kroute-vxlan6 | grep ' dst ' | awk '{print $3}' | sort | tr '\n' ' ')
    want6=$(for j in $nodes; do if via_overlay "$n" "$j"; then node_ip6 "$j"; fi; done | sort | tr '\n' ' ')
    [[ $fdb6 == "$want6" ]] || kr_fail "node$n kroute-vxlan6 fdb dst '$fdb6', want '$want6'"
done

step "pods reach each other over IPv4 and IPv6, across the router through the overlay"
[[ $(ip netns exec node1 cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 1) == 1 ]] ||
    kr_fail "br_netfilter is loaded but bridge-nf-call-iptables is not 1"
for n in $nodes; do pod_up "$n" 1; done
before=$(router_vxlan_packets)
for n in $nodes; do
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        ip netns exec "pod_${n}_1" ping -4 -c1 -W2 -q "${KR_POD_IP[pod_${j}_1]}" >/dev/null ||
            kr_fail "pod_${n}_1 -> pod_${j}_1 over IPv4"
        # A fresh IPv6 address may still be in duplicate address detection for a moment.
        wait_for 10 "pod_${n}_1 -> pod_${j}_1 over IPv6" \
            ip netns exec "pod_${n}_1" ping -6 -c1 -W1 -q "${KR_POD_IP6[pod_${j}_1]}"
    done
done
after=$(router_vxlan_packets)
((after > before)) || kr_fail "the router forwarded no VXLAN packets ($before -> $after)"
# Source addresses kept: pod_3_1 saw pod_1_1 itself.
[[ " $(pod_sources pod_3_1 | tr '\n' ' ') " == *" ${KR_POD_IP[pod_1_1]} "* ]] ||
    kr_fail "pod_3_1 saw sources '$(pod_sources pod_3_1 | tr '\n' ' ')', not pod_1_1's ${KR_POD_IP[pod_1_1]}"
# Full-sized packets at the pods' MTU (1430) with DF: they fit the VXLAN device, no fragments.
ip netns exec pod_1_1 ping -4 -c1 -W2 -q -M do -s $((1430 - 28)) "${KR_POD_IP[pod_3_1]}" >/dev/null ||
    kr_fail "a 1430-byte IPv4 packet with DF did not cross the overlay"
ip netns exec pod_1_1 ping -6 -c1 -W2 -q -M do -s $((1430 - 48)) "${KR_POD_IP6[pod_3_1]}" >/dev/null ||
    kr_fail "a 1430-byte IPv6 packet did not cross the overlay"
# TCP too (the FORWARD DROP policy lets only kroute's rules through).
tcp_echo_up pod_4_1 8080
wait_for 10 "pod_1_1 -> pod_4_1 TCP" tcp_ask pod_1_1 "${KR_POD_IP[pod_4_1]}" 8080
[[ $(tcp_ask pod_1_1 "${KR_POD_IP[pod_4_1]}" 8080) == "${KR_POD_IP[pod_1_1]}" ]] || kr_fail "TCP across the overlay"

step "a deleted node leaves the routes and the overlay entries"
kubectl_api delete node node4 >/dev/null
for n in 1 2 3; do wait_for 20 "node$n without node4" routes_converged "$n" "1 2 3"; done
for n in 1 2; do
    wait_for 10 "node$n's fdb without node4" \
        bash -c "! ip netns exec node$n bridge fdb show dev kroute-vxlan | grep -q '$(node_ip 4)'"
    ! ip -n "node$n" neigh show dev kroute-vxlan | grep -q '10.244.4.0' || kr_fail "node$n neighbour of node4 left"
    ! ip netns exec "node$n" bridge fdb show dev kroute-vxlan6 | grep -q "$(node_ip6 4)" ||
        kr_fail "node$n IPv6 fdb of node4 left"
done

step "--cleanup-config removes the VXLAN devices"
stop_daemon node1
ip netns exec node1 "$KR_BIN/kroute" --cleanup-config --route-protocol "$KR_PROTO" \
    --cni-conf-file "$KR_DIR/node1/net.d/10-kuberouter.conflist" >"$KR_DIR/cleanup.log" 2>&1 ||
    kr_fail "cleanup failed: $(cat "$KR_DIR/cleanup.log")"
! ip -n node1 link show kroute-vxlan >/dev/null 2>&1 || kr_fail "kroute-vxlan left after cleanup"
! ip -n node1 link show kroute-vxlan6 >/dev/null 2>&1 || kr_fail "kroute-vxlan6 left after cleanup"
! ip -n node1 link show kube-bridge >/dev/null 2>&1 || kr_fail "kube-bridge left after cleanup"
ip -n node1 link show eth0 >/dev/null || kr_fail "cleanup removed the underlay"
[[ -z $(kernel_routes 1) && -z $(kernel_routes6 1) ]] || kr_fail "routes left after cleanup"

echo "PASS overlay_test"
