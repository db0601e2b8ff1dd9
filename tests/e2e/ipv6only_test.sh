#!/usr/bin/env bash
# End-to-end, IPv6-only: a 3-node cluster in network namespaces whose Node objects carry only an
# IPv6 InternalIP and an IPv6 podCIDR, kroute with --enable-ipv4=false --enable-ipv6 (the nodes
# reach the fake API server over an IPv4 management address, which kroute does not route). Asserts
#  - the conflists hold the IPv6 range only, and the real CNI plugins give pods IPv6 addresses;
#  - the iBGP sessions run between the nodes' IPv6 addresses, with router ids generated from them;
#  - `ip -6 route show proto 52` on each node is exactly the other nodes' podCIDRs via their IPv6
#    address, and kroute installs no IPv4 route;
#  - pods ping every other node's pod over IPv6 with their own source address;
#  - a deleted node's routes leave every other node.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-v6 "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
KR_IPV6ONLY=1
source "$repo/scripts/lib/cluster.sh"
trap cluster_down EXIT
nodes="1 2 3"

step() { printf '== %s\n' "$*"; }

step "a 3-node IPv6-only cluster up"
underlay_up
apiserver_up
for n in $nodes; do node_up "$n"; done
for n in $nodes; do register_node "$n"; done

step "conflists with the IPv6 range only"
for n in $nodes; do
    conf="$KR_DIR/node$n/net.d/10-kuberouter.conflist"
    wait_for 30 "node$n's conflist" test -s "$conf"
    [[ $(jq -c '[.plugins[0].ipam.ranges[][].subnet]' "$conf") == "[\"$(pod_cidr6 "$n")\"]" ]] ||
        kr_fail "node$n conflist ranges: $(jq -c .plugins[0].ipam.ranges "$conf")"
    [[ $(ip netns exec "node$n" cat /proc/sys/net/ipv6/conf/all/forwarding) == 1 ]] ||
        kr_fail "node$n IPv6 forwarding not set by kroute"
done

step "IPv6 sessions, generated router ids, IPv6 routes only"
for n in $nodes; do wait_for 60 "node$n's routes" routes_converged "$n" "$nodes"; done
for n in $nodes; do
    status=$(kroutectl_on "$n" status -o json)
    [[ $(jq -r .node_address <<<"$status") == "$(node_ip6 "$n")" ]] || kr_fail "node$n's address: $status"
    rid=$(jq -r .router_id <<<"$status")
    [[ $rid =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || kr_fail "node$n's router id '$rid' is not a 32-bit id"
    peers=$(kroutectl_on "$n" neighbors -o json | jq -r '[.[] | select(.state=="Established") | .address] | sort | join(" ")')
    want=$(for j in $nodes; do [[ $j == "$n" ]] || node_ip6 "$j"; done | sort | paste -sd' ')
    [[ $peers == "$want" ]] || kr_fail "node$n's Established sessions: '$peers', not the other nodes' IPv6 addresses '$want'"
    [[ -z $(ip -n "node$n" -4 route show proto 52) ]] || kr_fail "node$n has IPv4 routes of kroute's"
done
rids=$(for n in $nodes; do kroutectl_on "$n" status -o json | jq -r .router_id; done | sort -u | wc -l)
[[ $rids == 3 ]] || kr_fail "the router ids are not distinct"

step "pods get IPv6 addresses and reach each other"
for n in $nodes; do pod_up "$n" 1; done
for n in $nodes; do
    [[ ${KR_POD_IP6[pod_${n}_1]} == fd00:244:$n::* ]] || kr_fail "pod_${n}_1 address ${KR_POD_IP6[pod_${n}_1]}"
    [[ -z $(jq -r '.ips[] | select(.address | contains(".")) | .address' "$KR_DIR/pod_${n}_1.json") ]] ||
        kr_fail "pod_${n}_1 got an IPv4 address"
done
for n in $nodes; do
    for j in $nodes; do
        [[ $j == "$n" ]] && continue
        # A fresh IPv6 address may still be in duplicate address detection for a moment.
        wait_for 10 "pod_${n}_1 -> pod_${j}_1 over IPv6" \
            ip netns exec "pod_${n}_1" ping -6 -c1 -W1 -q "${KR_POD_IP6[pod_${j}_1]}"
    done
done
seen=$(ipv6_source_seen pod_1_1 pod_3_1)
[[ $seen == "${KR_POD_IP6[pod_3_1]}" ]] || kr_fail "pod_1_1 saw IPv6 source '$seen', not pod_3_1's ${KR_POD_IP6[pod_3_1]}"

step "a deleted node's routes leave every node"
kubectl_api delete node node3 >/dev/null
for n in 1 2; do wait_for 20 "node$n without node3's routes" routes_converged "$n" "1 2"; done

echo "PASS ipv6only_test"
