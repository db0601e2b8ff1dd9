#!/usr/bin/env bash
# End-to-end: a 3-node cluster in network namespaces (the demo's), asserting that
#  - every node writes its conflist for its podCIDR and dataDir, accepted by the real CNI plugins;
#  - `ip route show proto 52` on each node is exactly the other nodes' podCIDRs via their IPs;
#  - the routes came over BGP: `kroutectl rib` shows each podCIDR learned from that node's session,
#    `kroutectl neighbors` shows every session Established;
#  - pods ping across nodes with their own source address;
#  - a node added through the API joins the mesh, a deleted one leaves it;
#  - a kroute that hangs (SIGSTOP, its Node object left in place) keeps its routes on the others
#    until the hold time passes, then they go; a kroute stopped with SIGTERM sends Cease and its
#    routes go at once; a route deleted behind kroute's back comes back.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
nodes="1 2 3"

step() { printf '== %s\n' "$*"; }

step "cluster up"
underlay_up
apiserver_up
for n in $nodes; do node_up "$n"; done
for n in $nodes; do register_node "$n"; done

step "conflists"
for n in $nodes; do
    conf="$KR_DIR/node$n/net.d/10-kuberouter.conflist"
    wait_for 30 "node$n's conflist" test -s "$conf"
    [[ $(jq -r '.plugins[] | select(.type=="bridge") | .ipam.ranges[0][0].subnet' "$conf") == "$(pod_cidr "$n")" ]] ||
        kr_fail "node$n conflist subnet"
    [[ $(jq -r '.plugins[] | select(.type=="bridge") | .ipam.dataDir' "$conf") == "$KR_DIR/node$n/ipam" ]] ||
        kr_fail "node$n conflist dataDir"
    [[ $(jq -r '.plugins[] | select(.type=="bridge") | .bridge' "$conf") == kube-bridge ]] || kr_fail "bridge name"
    [[ $(jq -r '.plugins[] | select(.type=="bridge") | .mtu' "$conf") == 1500 ]] || kr_fail "mtu (auto from eth0)"
    [[ $(jq -r '.plugins[1].type' "$conf") == portmap ]] || kr_fail "portmap plugin"
    [[ $(ip netns exec "node$n" cat /proc/sys/net/ipv4/ip_forward) == 1 ]] || kr_fail "node$n ip_forward not set by kroute"
    wait_for 10 "node$n's kube-bridge" ip -n "node$n" link show kube-bridge
    [[ $(ip -n "node$n" -j link show kube-bridge | jq '.[0].mtu') == 1500 ]] || kr_fail "node$n kube-bridge MTU"
done

step "routes converge to exactly the other nodes' podCIDRs"
for n in $nodes; do wait_for 60 "node$n's routes" routes_converged "$n" "$nodes"; done

step "the routes came over BGP"
for n in $nodes; do
    kroutectl_on "$n" neighbors -o json >"$KR_DIR/nb$n.json"
    [[ $(jq '[.[] | select(.state=="Established")] | length' "$KR_DIR/nb$n.json") == 2 ]] ||
        kr_fail "node$n: not 2 Established sessions: $(cat "$KR_DIR/nb$n.json")"
    kroutectl_on "$n" rib -o json >"$KR_DIR/rib$n.json"
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        from=$(jq -r --arg p "$(pod_cidr "$j")" '.[] | select(.prefix==$p) | .paths[] | select(.best) | .from' "$KR_DIR/rib$n.json")
        [[ $from == "$(node_ip "$j")" ]] || kr_fail "node$n: $(pod_cidr "$j") best path from '$from', not node$j's session"
        nh=$(jq -r --arg p "$(pod_cidr "$j")" '.[] | select(.prefix==$p) | .paths[] | select(.best) | .next_hops[0]' "$KR_DIR/rib$n.json")
        [[ $nh == "$(node_ip "$j")" ]] || kr_fail "node$n: next hop $nh"
    done
    st=$(kroutectl_on "$n" status -o json)
    [[ $(jq -r .node <<<"$st") == "node$n" && $(jq -r .asn <<<"$st") == 64512 &&
       $(jq -r .peers_established <<<"$st") == 2 && $(jq -r .rib_prefixes <<<"$st") == 3 &&
       $(jq -r .fib_routes <<<"$st") == 2 && $(jq -r .router_id <<<"$st") == "$(node_ip "$n")" ]] ||
        kr_fail "node$n status: $st"
    [[ $(kroutectl_on "$n" routes -o json | jq '[.[] | select(.state=="ok")] | length') == 2 ]] ||
        kr_fail "node$n kroutectl routes"
    [[ $(ip netns exec "node$n" curl -sf "http://$(node_ip "$n"):20244/healthz") == OK ]] || kr_fail "node$n /healthz"
done

step "every node's NetworkUnavailable condition is False, set by kroute, the other conditions kept"
network_ready() {
    kubectl_api get node "node$1" -o json |
        jq -e '([.status.conditions[] | select(.type=="NetworkUnavailable" and .status=="False" and .reason=="KrouteIsUp")] | length == 1)
               and ([.status.conditions[] | select(.type=="Ready" and .reason=="KubeletReady")] | length == 1)' >/dev/null
}
for n in $nodes; do wait_for 20 "node$n NetworkUnavailable=False" network_ready "$n"; done

step "pods ping across nodes with their own source address"
for n in $nodes; do pod_up "$n" 1; done
for n in $nodes; do
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        ip netns exec "pod_${n}_1" ping -c1 -W2 -q "${KR_POD_IP[pod_${j}_1]}" >/dev/null ||
            kr_fail "pod_${n}_1 -> pod_${j}_1"
        ip netns exec "pod_${n}_1" ping -c1 -W2 -q "$(node_ip "$j")" >/dev/null || kr_fail "pod_${n}_1 -> node$j"
    done
done
for n in $nodes; do
    seen=$(pod_sources "pod_${n}_1" | sort | tr '\n' ' ')
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        [[ " $seen " == *" ${KR_POD_IP[pod_${j}_1]} "* ]] || kr_fail "pod_${n}_1 saw [$seen], not pod_${j}_1's address"
    done
    for s in $seen; do [[ $s == 10.244.* ]] || kr_fail "pod_${n}_1 saw NATed source $s"; done
done

step "TCP to a remote pod sees the client pod's address; a hostPort reaches its pod from another node"
tcp_echo_up pod_2_1 80
wait_for 5 "the TCP server in pod_2_1" tcp_ask pod_1_1 "${KR_POD_IP[pod_2_1]}" 80
[[ $(tcp_ask pod_1_1 "${KR_POD_IP[pod_2_1]}" 80) == "${KR_POD_IP[pod_1_1]}" ]] ||
    kr_fail "pod_2_1 saw TCP from '$(tcp_ask pod_1_1 "${KR_POD_IP[pod_2_1]}" 80)', not pod_1_1"
pod_up 3 2 '[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]'
tcp_echo_up pod_3_2 80
wait_for 5 "hostPort 8080 on node3" tcp_ask pod_1_1 "$(node_ip 3)" 8080
# portmap keeps a remote pod's source (it masquerades only hairpin traffic from its own subnet).
[[ $(tcp_ask pod_1_1 "$(node_ip 3)" 8080) == "${KR_POD_IP[pod_1_1]}" ]] || kr_fail "hostPort: source not pod_1_1's"
[[ -n $(tcp_ask node2 "$(node_ip 3)" 8080) ]] || kr_fail "hostPort from node2"

step "the pod MTU end to end: a DF ping of exactly 1500 bytes passes, one byte more does not"
ip netns exec pod_1_1 ping -M do -s 1472 -c1 -W2 -q "${KR_POD_IP[pod_2_1]}" >/dev/null || kr_fail "1500-byte DF ping"
! ip netns exec pod_1_1 ping -M do -s 1473 -c1 -W2 -q "${KR_POD_IP[pod_2_1]}" >/dev/null 2>&1 ||
    kr_fail "a 1501-byte DF ping passed: the pod MTU is not 1500"

step "FORWARD drops on every node: kroute's own rules let pods through, first in FORWARD"
for n in $nodes; do
    ip netns exec "node$n" iptables -S FORWARD | grep -qx -- '-P FORWARD DROP' || kr_fail "node$n FORWARD policy not DROP"
    [[ $(ip netns exec "node$n" iptables -S FORWARD | sed -n 2p) == "-A FORWARD -m comment --comment kroute -j KROUTE-FORWARD" ]] ||
        kr_fail "node$n: kroute's jump is not first in FORWARD: $(ip netns exec "node$n" iptables -S FORWARD)"
done

step "pod egress to a host outside the cluster is masqueraded to the node's address; pod to pod is not"
outside_up
for n in $nodes; do
    ip netns exec "pod_${n}_1" ping -c1 -W2 -q "$KR_OUTSIDE_IP" >/dev/null || kr_fail "pod_${n}_1 -> outside"
done
seen=$(pod_sources outside | sort | tr '\n' ' ')
[[ $seen == "$(for n in $nodes; do node_ip "$n"; done | sort | tr '\n' ' ')" ]] ||
    kr_fail "outside saw [$seen], not the three nodes' addresses"

step "the source check can fail: a MASQUERADE on node2 shows up as node2's address"
ip netns exec node2 nft -f - <<'NFT'
table ip kroute_e2e_nat {
    chain post { type nat hook postrouting priority 100; oifname "eth0" masquerade; }
}
NFT
ip netns exec pod_2_1 ping -c1 -W2 -q "${KR_POD_IP[pod_1_1]}" >/dev/null
pod_sources pod_1_1 | grep -qx "$(node_ip 2)" || kr_fail "the planted MASQUERADE was not detected"
ip netns exec node2 nft delete table ip kroute_e2e_nat

step "a route deleted behind kroute's back comes back"
ip -n node1 route del "$(pod_cidr 2)"
wait_for 5 "node1's route to node2 back" routes_converged 1 "$nodes"

step "a link flap flushes node1's routes; they are back once the link is up"
ip -n node1 link set eth0 down
[[ -z $(kernel_routes 1) ]] || kr_fail "the kernel kept routes through a down link: $(kernel_routes 1)"
ip -n node1 link set eth0 up
wait_for 5 "node1's routes back after the flap" routes_converged 1 "$nodes"
for n in 2 3; do routes_converged "$n" "$nodes" || kr_fail "node$n lost routes over node1's flap"; done

step "node4 joins through the API server and leaves when deleted"
node_up 4
register_node 4
for n in 1 2 3 4; do wait_for 60 "node$n converged with node4" routes_converged "$n" "1 2 3 4"; done
kubectl_api delete node node4 >/dev/null
for n in $nodes; do wait_for 30 "node$n without node4" routes_converged "$n" "$nodes"; done
stop_daemon node4

step "a podCIDR change: the conflist follows and the other nodes' routes move"
kubectl_api patch node node3 --type=merge -p '{"spec":{"podCIDR":"10.244.33.0/24","podCIDRs":["10.244.33.0/24"]}}' >/dev/null
wait_for 30 "node3's conflist to follow" grep -q '"10.244.33.0/24"' "$KR_DIR/node3/net.d/10-kuberouter.conflist"
moved() { [[ "$(kernel_routes "$1" | grep "via $(node_ip 3)")" == "10.244.33.0/24 via $(node_ip 3)" ]]; }
for n in 1 2; do wait_for 30 "node$n to move node3's route" moved "$n"; done
kubectl_api patch node node3 --type=merge -p "{\"spec\":{\"podCIDR\":\"$(pod_cidr 3)\",\"podCIDRs\":[\"$(pod_cidr 3)\"]}}" >/dev/null
for n in $nodes; do wait_for 30 "node$n back to the first podCIDRs" routes_converged "$n" "$nodes"; done

step "a hung kroute (SIGSTOP): its routes stay until the hold time (9 s) passes, then go"
kill -STOP "${KR_PIDS[node3]}"
stopped_at=$SECONDS
sleep 3
for n in 1 2; do routes_converged "$n" "$nodes" || kr_fail "node$n dropped node3's route before the hold time"; done
for n in 1 2; do wait_for 20 "node$n drops node3's route" routes_converged "$n" "1 2"; done
((SECONDS - stopped_at >= 6)) || kr_fail "node3's routes left after $((SECONDS - stopped_at)) s, before the hold time"
echo "   node3's routes left after about $((SECONDS - stopped_at)) s (hold time 9 s)"
kill -CONT "${KR_PIDS[node3]}"
for n in $nodes; do wait_for 60 "node$n converged after node3 resumed" routes_converged "$n" "$nodes"; done

step "kroute stopped with SIGTERM: Cease, its routes leave the others at once"
stop_daemon node2 TERM
for n in 1 3; do wait_for 3 "node$n drops node2's route after Cease" routes_converged "$n" "1 3"; done
grep -q "Cease" "$KR_DIR/node1/kroute.log" || kr_fail "node1 did not log the Cease"

step "kroute restarted on node2: the mesh heals, and its kernel routes were left in place"
[[ -n "$(kernel_routes 2)" ]] || kr_fail "kroute removed node2's routes on exit"
kroute_start 2
for n in $nodes; do wait_for 60 "node$n converged after node2 restarted" routes_converged "$n" "$nodes"; done

step "--cleanup-config removes kroute's routes, rules and conflist, and nothing else"
stop_daemon node1
ip netns exec node1 "$KR_BIN/kroute" --cleanup-config --route-protocol "$KR_PROTO" \
    --cni-conf-file "$KR_DIR/node1/net.d/10-kuberouter.conflist" >"$KR_DIR/cleanup.log" 2>&1 ||
    kr_fail "cleanup failed: $(cat "$KR_DIR/cleanup.log")"
[[ -z $(kernel_routes 1) ]] || kr_fail "routes left after cleanup: $(kernel_routes 1)"
! ip netns exec node1 iptables-save | grep -q KROUTE || kr_fail "kroute chains left: $(ip netns exec node1 iptables-save | grep KROUTE)"
ip netns exec node1 iptables -S FORWARD | grep -qx -- '-P FORWARD DROP' || kr_fail "cleanup touched the FORWARD policy"
[[ ! -e $KR_DIR/node1/net.d/10-kuberouter.conflist ]] || kr_fail "conflist left after cleanup"
! ip -n node1 link show kube-bridge >/dev/null 2>&1 || kr_fail "kube-bridge left after cleanup"
ip -n node1 route show | grep -q "dev eth0 proto kernel" || kr_fail "cleanup removed the kernel's own routes"

echo "PASS cluster_test"
