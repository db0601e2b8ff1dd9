# shellcheck shell=bash
# Sourced. A simulated Kubernetes cluster in network namespaces, for the demo and the end-to-end
# tests. Must run inside run_in_sandbox (scripts/lib/sandbox.sh): it creates namespaces freely.
#
#  sw: bridge br0 ── veth ── api   (eth0 172.18.0.2/16: fake-apiserver on :6443)
#                 ── veth ── nodeN (eth0 172.18.0.(10+N)/16: kroute; kube-bridge 10.244.N.1/24 made by
#                                   the CNI bridge plugin) ── veth ── pod_N_M (10.244.N.x)
#
# With KR_DUALSTACK=1 every node also has fd00:18::(10+N)/64 on eth0, IPv6 podCIDR
# fd00:244:N::/64 (after the IPv4 one), and kroute runs with --enable-ipv6.
# With KR_IPV6ONLY=1 (which implies KR_DUALSTACK's addresses on eth0) the Node objects carry only
# the IPv6 InternalIP and the IPv6 podCIDR, and kroute runs with --enable-ipv4=false --enable-ipv6:
# an IPv6-only cluster, whose nodes reach the (IPv4) fake API server over a management address.
#
# Two subnets (the overlay's scenario): the nodes listed in KR_SUBNET_B sit on a second switch sw2
# (172.19.0.(10+N)/16, fd00:19::(10+N)/64); router_up joins both switches through namespace rtr
# (172.18.0.1 and 172.19.0.1, fd00:18::1 and fd00:19::1), which forwards and knows no pod routes,
# and every namespace attached after it has its default route through rtr. With KR_OVERLAY=subnet
# or full kroute runs with --enable-overlay --overlay-type KR_OVERLAY, and expected_routes expects
# the nodes behind the overlay via their VTEP (their podCIDR's network address).
#
# Required variables: KR_BIN (kroute binaries), KR_DIR (a scratch directory of the caller's).

KR_PROTO=${KR_PROTO:-52}
KR_API_IP=172.18.0.2
KR_TOKEN=kroute-demo-token
KR_KROUTE_FLAGS=(--bgp-holdtime 9s --bgp-keepalive-time 3s --bgp-connect-retry-time 1s
                 --route-protocol "$KR_PROTO")
declare -A KR_PIDS=()   # name -> PID of a daemon we started
declare -A KR_POD_IP=() # pod_N_M -> its address
declare -A KR_POD_IP6=() # pod_N_M -> its IPv6 address (KR_DUALSTACK=1)
KR_IPV6ONLY=${KR_IPV6ONLY:-0}
((KR_IPV6ONLY)) && KR_DUALSTACK=1
KR_DUALSTACK=${KR_DUALSTACK:-0}
((KR_DUALSTACK)) && KR_KROUTE_FLAGS+=(--enable-ipv6)
((KR_IPV6ONLY)) && KR_KROUTE_FLAGS+=(--enable-ipv4=false)
KR_SUBNET_B=${KR_SUBNET_B:-}
KR_OVERLAY=${KR_OVERLAY:-}
[[ -z $KR_OVERLAY ]] || KR_KROUTE_FLAGS+=(--enable-overlay --overlay-type "$KR_OVERLAY")
KR_ROUTED=0

kr_log() { printf '%s\n' "$*"; }
kr_fail() { printf 'FAIL: %s\n' "$*" >&2; return 1; }

in_subnet_b() { [[ " $KR_SUBNET_B " == *" $1 "* ]]; }
node_ip() { if in_subnet_b "$1"; then echo "172.19.0.$((10 + $1))"; else echo "172.18.0.$((10 + $1))"; fi; }
pod_cidr() { echo "10.244.$1.0/24"; }
node_ip6() { if in_subnet_b "$1"; then echo "fd00:19::$((10 + $1))"; else echo "fd00:18::$((10 + $1))"; fi; }
pod_cidr6() { echo "fd00:244:$1::/64"; }
node_switch() { if in_subnet_b "$1"; then echo sw2; else echo sw; fi; }
# Whether node J's pod traffic from node N goes through the overlay.
via_overlay() {
    [[ $KR_OVERLAY == full ]] && return 0
    [[ $KR_OVERLAY == subnet && $(node_switch "$1") != $(node_switch "$2") ]]
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds or time runs out.
wait_for() {
    local seconds=$1 what=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            kr_fail "timed out after ${seconds}s waiting for: $what"
            return 1
        fi
        sleep 0.2
    done
}

underlay_up() {
    local sw
    for sw in sw ${KR_SUBNET_B:+sw2}; do
        ip netns add "$sw"
        ip -n "$sw" link set lo up
        ip -n "$sw" link add br0 type bridge
        ip -n "$sw" link set br0 up
    done
}

# attach NS IP [IP6 [SWITCH]]: a namespace with eth0 on an underlay switch (sw by default).
attach() {
    local ns=$1 ip=$2 ip6=${3:-} sw=${4:-sw}
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$sw" link add "v-$ns" type veth peer name eth0 netns "$ns"
    ip -n "$sw" link set "v-$ns" master br0 up
    ip -n "$ns" addr add "$ip/16" dev eth0
    [[ -z $ip6 ]] || ip -n "$ns" addr add "$ip6/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    if ((KR_ROUTED)); then
        local gw=172.18.0.1 gw6=fd00:18::1
        [[ $sw == sw2 ]] && gw=172.19.0.1 gw6=fd00:19::1
        ip -n "$ns" route add default via "$gw"
        [[ -z $ip6 ]] || ip -n "$ns" -6 route add default via "$gw6"
    fi
}

# router_up: the router between the two switches (before the namespaces it must route for). It
# counts the VXLAN packets it forwards (nft counter "vxlan"), so a test can tell the overlay
# carried the pods' traffic.
router_up() {
    ip netns add rtr
    ip -n rtr link set lo up
    local i=0 sw
    for sw in sw sw2; do
        ip -n "$sw" link add "v-rtr" type veth peer name "eth$i" netns rtr
        ip -n "$sw" link set v-rtr master br0 up
        ip -n rtr link set "eth$i" up
        i=$((i + 1))
    done
    ip -n rtr addr add 172.18.0.1/16 dev eth0
    ip -n rtr addr add 172.19.0.1/16 dev eth1
    ip -n rtr addr add fd00:18::1/64 dev eth0 nodad
    ip -n rtr addr add fd00:19::1/64 dev eth1 nodad
    ip netns exec rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip netns exec rtr nft -f - <<'NFT'
table inet kroute_rtr {
    counter vxlan { }
    chain forward { type filter hook forward priority 0; udp dport 4789 counter name vxlan; }
}
NFT
    KR_ROUTED=1
}

# The number of VXLAN packets rtr has forwarded.
router_vxlan_packets() {
    ip netns exec rtr nft -j list counter inet kroute_rtr vxlan | jq -r '.nftables[] | select(.counter) | .counter.packets'
}

apiserver_up() {
    attach api "$KR_API_IP"
    mkdir -p "$KR_DIR/api" "$KR_DIR/home"
    ip netns exec api "$KR_BIN/fake-apiserver" --listen "$KR_API_IP" --port 6443 --token "$KR_TOKEN" \
        --cert-dir "$KR_DIR/api" </dev/null >"$KR_DIR/api/log" 2>&1 &
    KR_PIDS[api]=$!
    wait_for 20 "the fake API server" test -s "$KR_DIR/api/kubeconfig"
    wait_for 20 "the API server to answer" kubectl_api get nodes
}

# outside_up: a host beyond the cluster on the underlay (172.18.0.250), recording the source of every
# ping it receives: pod egress must reach it masqueraded to the node's address.
KR_OUTSIDE_IP=172.18.0.250
outside_up() {
    attach outside "$KR_OUTSIDE_IP"
    ip netns exec outside nft -f - <<'NFT'
table inet kroute_seen {
    set sources { type ipv4_addr; flags dynamic; }
    chain input { type filter hook input priority 0; icmp type echo-request add @sources { ip saddr }; }
}
NFT
}

# kubectl as an operator would use it, from the control-plane namespace.
kubectl_api() {
    HOME="$KR_DIR/home" ip netns exec api "${KUBECTL:-kubectl}" --kubeconfig "$KR_DIR/api/kubeconfig" "$@"
}

# fake_faults JSON: POSTs to the fake API server's /fake/faults (tests/fake-apiserver/README.md),
# from the control-plane namespace; prints its report.
fake_faults() {
    ip netns exec api curl -sf --max-time 10 --cacert "$KR_DIR/api/ca.crt" -H "Authorization: Bearer $KR_TOKEN" \
        -H 'Content-Type: application/json' -X POST -d "$1" "https://$KR_API_IP:6443/fake/faults"
}

# register_node N: what kubelet does (a Node with its InternalIP, no podCIDR, its Ready condition,
# and NetworkUnavailable=True as on clouds whose route controller the CNI replaces), then what
# kube-controller-manager --allocate-node-cidrs does (spec.podCIDR(s) patched in).
register_node() {
    local n=$1
    cat >"$KR_DIR/node$n.yaml" <<YAML
apiVersion: v1
kind: Node
metadata:
  name: node$n
  labels:
    kubernetes.io/hostname: node$n
status:
  addresses:
$( ((KR_IPV6ONLY)) || printf '  - type: InternalIP\n    address: %s\n' "$(node_ip "$n")")
$( ((KR_DUALSTACK)) && printf '  - type: InternalIP\n    address: %s\n' "$(node_ip6 "$n")")
  - type: Hostname
    address: node$n
  conditions:
  - type: Ready
    status: "True"
    reason: KubeletReady
  - type: NetworkUnavailable
    status: "True"
    reason: NoRouteCreated
YAML
    kubectl_api apply --validate=false -f "$KR_DIR/node$n.yaml" >/dev/null
    local first cidrs
    first=$(pod_cidr "$n")
    ((KR_IPV6ONLY)) && first=$(pod_cidr6 "$n")
    cidrs="\"$first\""
    ((KR_DUALSTACK && !KR_IPV6ONLY)) && cidrs+=",\"$(pod_cidr6 "$n")\""
    kubectl_api patch node "node$n" --type=merge \
        -p "{\"spec\":{\"podCIDR\":\"$first\",\"podCIDRs\":[$cidrs]}}" >/dev/null
}

# node_up N: the node's namespace and its kroute (which waits for its Node object by itself).
node_up() {
    local n=$1 dir="$KR_DIR/node$1"
    attach "node$n" "$(node_ip "$n")" "$( ((KR_DUALSTACK)) && node_ip6 "$n")" "$(node_switch "$n")"
    # As on hosts with Docker or a hardened firewall: only kroute's own ACCEPT rules let pods through.
    ip netns exec "node$n" iptables -P FORWARD DROP
    ((KR_DUALSTACK)) && ip netns exec "node$n" ip6tables -P FORWARD DROP
    mkdir -p "$dir/net.d" "$dir/ipam" "$dir/cni-cache"
    kroute_start "$n"
}

kroute_start() {
    local n=$1 dir="$KR_DIR/node$1"
    setsid ip netns exec "node$n" "$KR_BIN/kroute" --kubeconfig "$KR_DIR/api/kubeconfig" \
        --hostname-override "node$n" \
        --cni-conf-file "$dir/net.d/10-kuberouter.conflist" --cni-ipam-data-dir "$dir/ipam" \
        --api-socket "$dir/kroute.sock" "${KR_KROUTE_FLAGS[@]}" \
        </dev/null >>"$dir/kroute.log" 2>&1 &
    KR_PIDS[node$n]=$!
}

kroutectl_on() {
    local n=$1; shift
    "$KR_BIN/kroutectl" --socket "$KR_DIR/node$n/kroute.sock" "$@"
}

# pod_up N M: a pod namespace wired by the real CNI plugins with the conflist kroute wrote,
# executed in the node's namespace as kubelet would.
# A third argument is the pod's portMappings (JSON), as kubelet passes hostPorts to portmap.
pod_up() {
    local n=$1 pod="pod_$1_$2" dir="$KR_DIR/node$1"
    local ports=()
    [[ -z ${3:-} ]] || ports=(--port-mappings "$3")
    ip netns add "$pod"
    ip netns exec "node$n" "$KR_BIN/kroute-cni-exec" add --conflist "$dir/net.d/10-kuberouter.conflist" \
        --netns "/run/netns/$pod" --container-id "$pod" --cache-dir "$dir/cni-cache" "${ports[@]}" >"$KR_DIR/$pod.json"
    local ip
    if ! ((KR_IPV6ONLY)); then
        ip=$(jq -r '[.ips[] | select(.address | contains("."))][0].address' "$KR_DIR/$pod.json")
        KR_POD_IP[$pod]=${ip%/*}
    fi
    if ((KR_DUALSTACK)); then
        ip=$(jq -r '[.ips[] | select(.address | contains(":"))][0].address' "$KR_DIR/$pod.json")
        KR_POD_IP6[$pod]=${ip%/*}
    fi
    # Record the source address of every ping the pod receives (no tcpdump needed).
    ip netns exec "$pod" nft -f - <<NFT
table inet kroute_seen {
    set sources { type ipv4_addr; flags dynamic; }
    chain input { type filter hook input priority 0; icmp type echo-request add @sources { ip saddr }; }
}
NFT
}

# tcp_echo_up POD PORT: a TCP server in POD that answers each connection with the peer address it
# sees, then closes (socat, in the background; its PID in KR_PIDS[tcp_POD]).
tcp_echo_up() {
    local pod=$1 port=$2
    # shellcheck disable=SC2016  # $SOCAT_PEERADDR is for socat's shell
    ip netns exec "$pod" socat "TCP-LISTEN:$port,reuseaddr,fork" SYSTEM:'echo $SOCAT_PEERADDR' </dev/null >/dev/null 2>&1 &
    KR_PIDS[tcp_$pod]=$!
}

# tcp_ask NS ADDR PORT: connects from NS and prints what the server said (the address it saw).
tcp_ask() {
    ip netns exec "$1" socat -T 3 - "TCP:$2:$3,connect-timeout=3" </dev/null
}

pod_down() {
    local n=$1 pod="pod_$1_$2" dir="$KR_DIR/node$1"
    ip netns exec "node$n" "$KR_BIN/kroute-cni-exec" del --conflist "$dir/net.d/10-kuberouter.conflist" \
        --netns "/run/netns/$pod" --container-id "$pod" --cache-dir "$dir/cni-cache" >/dev/null || true
    ip netns del "$pod" 2>/dev/null || true
}

# pings_start "NODES" SECONDS: every pod_N_1 pings every other one's, every 20 ms, for SECONDS.
pings_start() {
    local nodes=$1 secs=$2 n j
    for n in $nodes; do
        for j in $nodes; do
            [[ $j == "$n" ]] && continue
            ip netns exec "pod_${n}_1" ping -q -i 0.02 -W 1 -c $((secs * 50)) "${KR_POD_IP[pod_${j}_1]}" \
                </dev/null >"$KR_DIR/ping_${n}_$j" 2>&1 &
            KR_PIDS[ping_${n}_$j]=$!
        done
    done
}
# pings_check "NODES": waits for every ping and fails on any loss; prints the totals.
pings_check() {
    local nodes=$1 n j sent=0 lost=0 s r
    for n in $nodes; do
        for j in $nodes; do
            [[ $j == "$n" ]] && continue
            wait "${KR_PIDS[ping_${n}_$j]}" || true
            unset "KR_PIDS[ping_${n}_$j]"
            s=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$KR_DIR/ping_${n}_$j")
            r=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$KR_DIR/ping_${n}_$j")
            [[ -n $s && -n $r ]] || kr_fail "pod_${n}_1 -> pod_${j}_1: no ping summary: $(cat "$KR_DIR/ping_${n}_$j")"
            ((s > 0)) || kr_fail "pod_${n}_1 -> pod_${j}_1 sent nothing"
            sent=$((sent + s))
            lost=$((lost + s - r))
            ((s == r)) || kr_fail "pod_${n}_1 -> pod_${j}_1: $((s - r)) of $s pings lost"
        done
    done
    echo "   $sent pings every 20 ms, $lost lost"
}

# The kroute routes of node N, one "prefix via nexthop" per line, sorted; a route through the
# overlay also names its device and its onlink flag.
kernel_routes() {
    ip -n "node$1" -4 route show proto "$KR_PROTO" |
        awk '{ out = $1 " " $2 " " $3; for (i = 4; i <= NF; i++) { if ($i == "dev" && $(i+1) ~ /^kroute-vxlan/) out = out " dev " $(i+1); if ($i == "onlink") out = out " onlink" } print out }' | sort
}

# What kernel_routes must print on node N when the nodes in "$2" (a list) are up.
expected_routes() {
    local n=$1 j
    for j in $2; do
        [[ $j == "$n" ]] && continue
        if via_overlay "$n" "$j"; then
            echo "$(pod_cidr "$j") via 10.244.$j.0 dev kroute-vxlan onlink"
        else
            echo "$(pod_cidr "$j") via $(node_ip "$j")"
        fi
    done | sort
}

routes_converged() {
    local n=$1 nodes=$2
    if ((KR_IPV6ONLY)); then
        [[ -z "$(kernel_routes "$n")" ]] || return 1
    else
        [[ "$(kernel_routes "$n")" == "$(expected_routes "$n" "$nodes")" ]] || return 1
    fi
    ((KR_DUALSTACK)) || return 0
    [[ "$(kernel_routes6 "$n")" == "$(expected_routes6 "$n" "$nodes")" ]]
}

# The same for IPv6 (KR_DUALSTACK=1).
kernel_routes6() {
    ip -n "node$1" -6 route show proto "$KR_PROTO" |
        awk '{ out = $1 " " $2 " " $3; for (i = 4; i <= NF; i++) { if ($i == "dev" && $(i+1) ~ /^kroute-vxlan/) out = out " dev " $(i+1); if ($i == "onlink") out = out " onlink" } print out }' | sort
}
expected_routes6() {
    local n=$1 j
    for j in $2; do
        [[ $j == "$n" ]] && continue
        if via_overlay "$n" "$j"; then
            echo "$(pod_cidr6 "$j") via fd00:244:$j:: dev kroute-vxlan6 onlink"
        else
            echo "$(pod_cidr6 "$j") via $(node_ip6 "$j")"
        fi
    done | sort
}

pod_sources() {
    ip netns exec "$1" nft -j list set inet kroute_seen sources | jq -r '.nftables[] | select(.set) | .set.elem // [] | .[]'
}

# ipv6_source_seen TO FROM: FROM pings TO over IPv6 once; prints the source address TO saw (an
# nftables dynamic set in TO, as pod_up records IPv4 sources).
ipv6_source_seen() {
    local to=$1 from=$2
    ip netns exec "$to" nft -f - <<'NFT'
table ip6 kroute_seen6 {
    set sources { type ipv6_addr; flags dynamic; }
    chain input { type filter hook input priority 0; icmpv6 type echo-request add @sources { ip6 saddr }; }
}
NFT
    ip netns exec "$from" ping -6 -c1 -W2 -q "${KR_POD_IP6[$to]}" >/dev/null
    ip netns exec "$to" nft -j list set ip6 kroute_seen6 sources | jq -r '.nftables[] | select(.set) | .set.elem // [] | .[]'
}

stop_daemon() {
    local name=$1 sig=${2:-TERM}
    local pid=${KR_PIDS[$name]:-}
    [[ -n $pid ]] || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "KR_PIDS[$name]"
}

cluster_down() {
    local name ns
    for name in "${!KR_PIDS[@]}"; do
        [[ $name == api ]] || stop_daemon "$name"
    done
    stop_daemon api
    for ns in $(ip netns list | awk '{print $1}'); do
        ip netns del "$ns" 2>/dev/null || true
    done
}
