#!/usr/bin/env bash
# End-to-end: a 3-node cluster peered with a BIRD 2 "top of rack" router (namespace tor,
# 172.18.0.3, AS 65001) on the nodes' switch, every node with --peer-router-ips and
# --advertise-cluster-ip --advertise-external-ip. Asserts that
#  - BIRD learns every node's podCIDR, each from its own node, next hop that node's address, AS
#    path 64512, and no node relays another's podCIDR;
#  - the nodes install what BIRD sends only where the import policy allows it: 198.51.100.0/24 via
#    the router in every node's kernel; BIRD's default route and its piece of node2's podCIDR refused;
#  - a Service created through the API gets its cluster IP announced by every node (BIRD holds a
#    path from each), and its external IP (externalTrafficPolicy Local) only by the node of its ready
#    endpoint (an EndpointSlice); the endpoint gone, the external IP is withdrawn; the Service gone,
#    the cluster IP too; the other nodes never install the service routes;
#  - node annotations (path prepend, communities) set with kubectl reach BIRD without a restart.
#  - kroutectl neighbor shows the session's capabilities, timers and the last NOTIFICATION sent;
#  - node3 runs with --bgp-graceful-shutdown: SIGTERMed, it announces its podCIDR again with the
#    GRACEFUL_SHUTDOWN community, BIRD shows (65535,0) while node3 waits, then the route goes.
# With the argument advertise-only, the nodes run beside another CNI (--enable-cni=false
# --enable-ibgp=false): no conflist, no bridge, no node mesh, the router learns the same.
# Runs as root; re-executes itself inside the no-route sandbox.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/sandbox.sh"
e2e_reexec e2e-tor "$@"
[[ ${1:-} == --inside ]] && shift
MODE=${1:-full}  # full, or advertise-only (kube-router's --enable-cni=false --enable-ibgp=false)

KR_BIN=${KR_BIN:-$repo/build/bin}
source "$repo/scripts/lib/cluster.sh"
TOR_IP=172.18.0.3
KR_KROUTE_FLAGS+=(--peer-router-ips "$TOR_IP" --peer-router-asns 65001 --advertise-cluster-ip --advertise-external-ip)
# Beside another CNI: no conflist, no mesh of nodes, no packet filter rules of kroute's; it only
# announces the node's podCIDR and services to the router and installs what the router sends.
[[ $MODE == advertise-only ]] && KR_KROUTE_FLAGS+=(--enable-cni=false --enable-ibgp=false --enable-pod-egress=false)
bird_pid=
tor_down() {
    [[ -z $bird_pid ]] || { kill "$bird_pid" 2>/dev/null || true; wait "$bird_pid" 2>/dev/null || true; }
    cluster_down
}
trap tor_down EXIT
nodes="1 2 3"

step() { printf '== %s\n' "$*"; }
birdc_tor() { birdc -s "$KR_DIR/tor.ctl" "$@"; }

step "a 3-node cluster and a BIRD router on its switch"
underlay_up
apiserver_up
attach tor "$TOR_IP"
{
    cat <<CONF
router id $TOR_IP;
log "$KR_DIR/tor.log" all;
timeformat protocol iso long;
protocol device { }
protocol static s4 {
  ipv4;
  route 198.51.100.0/24 blackhole;
  route 10.244.2.0/25 blackhole;
  route 0.0.0.0/0 blackhole;
}
template bgp node {
  local $TOR_IP as 65001;
  hold time 9; keepalive time 3; connect retry time 1;
  ipv4 { import all; export where source = RTS_STATIC; };
}
CONF
    for n in $nodes; do echo "protocol bgp node$n from node { neighbor $(node_ip "$n") as 64512; }"; done
} >"$KR_DIR/tor.conf"
ip netns exec tor bird -f -c "$KR_DIR/tor.conf" -s "$KR_DIR/tor.ctl" -P "$KR_DIR/tor.pid" </dev/null >"$KR_DIR/tor.out" 2>&1 &
bird_pid=$!
wait_for 10 "BIRD's control socket" birdc_tor show status
GSHUT_TIME=4
for n in $nodes; do
    # node3, last: RFC 8326 graceful shutdown when it is stopped (the last step).
    [[ $n == 3 ]] && KR_KROUTE_FLAGS+=(--bgp-graceful-shutdown --bgp-graceful-shutdown-time "${GSHUT_TIME}s")
    node_up "$n"
done
for n in $nodes; do register_node "$n"; done

step "BIRD learns every podCIDR from its own node"
bird_has() { birdc_tor show route "$1" | grep -q via; }
bird_lacks() { ! bird_has "$1"; }
bird_paths_are() { [[ $(bird_paths "$1") == "$2" ]]; }
node_has_route() { ip -n "node$1" route show "$2" proto "$KR_PROTO" | grep -q "via $3"; }
node_pod_routes() { [[ $(ip -n "node$1" route show proto "$KR_PROTO" | grep -c '^10.244') == "$2" ]]; }
bird_paths() {  # prefix: the next hops of BIRD's paths for it, sorted, one line
    birdc_tor show route "$1" all | awk '/via/ {for (i = 1; i <= NF; i++) if ($i == "via") print $(i+1)}' | sort | tr '\n' ' '
}
for n in $nodes; do
    wait_for 30 "BIRD's route to $(pod_cidr "$n")" bird_has "$(pod_cidr "$n")"
    [[ $(bird_paths "$(pod_cidr "$n")") == "$(node_ip "$n") " ]] ||
        kr_fail "BIRD's paths to $(pod_cidr "$n"): '$(bird_paths "$(pod_cidr "$n")")', want only node$n's"
    birdc_tor show route "$(pod_cidr "$n")" all | grep -qE 'BGP\.as_path: 64512$' || kr_fail "AS path of $(pod_cidr "$n")"
done

step "the nodes install BIRD's routes where the import policy allows"
for n in $nodes; do
    wait_for 20 "node$n's route to 198.51.100.0/24" node_has_route "$n" 198.51.100.0/24 "$TOR_IP"
    [[ -z $(ip -n "node$n" route show default proto "$KR_PROTO") ]] || kr_fail "node$n installed BIRD's default route"
    [[ -z $(ip -n "node$n" route show 10.244.2.0/25 proto "$KR_PROTO") ]] || kr_fail "node$n installed a piece of node2's podCIDR"
    if [[ $MODE == full ]]; then
        wait_for 20 "node$n's routes to the other nodes" node_pod_routes "$n" 2
    else
        node_pod_routes "$n" 0 || kr_fail "node$n installed pod routes in advertise-only mode"
        [[ ! -e $KR_DIR/node$n/net.d/10-kuberouter.conflist ]] || kr_fail "node$n wrote a conflist with --enable-cni=false"
        ! ip -n "node$n" link show kube-bridge >/dev/null 2>&1 || kr_fail "node$n made kube-bridge with --enable-cni=false"
        [[ $(kroutectl_on "$n" neighbors -o json | jq length) == 1 ]] || kr_fail "node$n has sessions beside the router's"
    fi
done
rejected=$(kroutectl_on 1 neighbors -o json | jq --arg a "$TOR_IP" '.[] | select(.address==$a) | .prefixes_rejected')
[[ $rejected == 2 ]] || kr_fail "node1 refused $rejected of BIRD's routes, not 2 (the default and 10.244.2.0/25)"

step "a Service's cluster IP from every node, its external IP from the node of its endpoint"
cat >"$KR_DIR/web.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: LoadBalancer
  selector:
    app: web
  ports:
  - port: 80
    protocol: TCP
  externalIPs:
  - 192.0.2.10
  externalTrafficPolicy: Local
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abcde
  namespace: default
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- port: 80
  protocol: TCP
endpoints:
- addresses:
  - 10.244.2.5
  conditions:
    ready: true
  nodeName: node2
YAML
kubectl_api apply --validate=false -f "$KR_DIR/web.yaml" >/dev/null
cluster_ip=$(kubectl_api get service web -o jsonpath='{.spec.clusterIP}')
[[ $cluster_ip == 10.* ]] || kr_fail "the Service got no cluster IP: '$cluster_ip'"
all_nodes="$(for n in $nodes; do node_ip "$n"; done | sort | tr '\n' ' ')"
wait_for 20 "BIRD's paths to $cluster_ip/32 from every node" bird_paths_are "$cluster_ip/32" "$all_nodes"
wait_for 20 "BIRD's path to 192.0.2.10/32" bird_has 192.0.2.10/32
[[ $(bird_paths 192.0.2.10/32) == "$(node_ip 2) " ]] || kr_fail "192.0.2.10/32 from '$(bird_paths 192.0.2.10/32)', want only node2"
for n in $nodes; do
    [[ -z $(ip -n "node$n" route show "$cluster_ip" proto "$KR_PROTO") ]] || kr_fail "node$n installed a service route"
done

step "the endpoint gone: the external IP withdrawn; the Service gone: the cluster IP too"
kubectl_api delete endpointslice web-abcde >/dev/null
wait_for 20 "192.0.2.10/32 to leave BIRD" bird_lacks 192.0.2.10/32
[[ $(bird_paths "$cluster_ip/32") == "$all_nodes" ]] || kr_fail "the cluster IP lost paths with the endpoint"
kubectl_api delete service web >/dev/null
wait_for 20 "$cluster_ip/32 to leave BIRD" bird_lacks "$cluster_ip/32"
[[ $(bird_paths "$(pod_cidr 1)") == "$(node_ip 1) " ]] || kr_fail "podCIDR routes disturbed"

step "node annotations applied live: node1 prepends its AS twice and adds a community"
session_since() { birdc_tor show protocols node1 | awk '$1 == "node1" {print $4, $5, $6}'; }
since=$(session_since)
kubectl_api annotate node node1 kube-router.io/path-prepend.as=64512 kube-router.io/path-prepend.repeat-n=2 \
    kube-router.io/node.bgp.communities=64512:100 >/dev/null
prepended() { birdc_tor show route "$(pod_cidr 1)" all | grep -qE 'BGP\.as_path: 64512 64512 64512$'; }
wait_for 20 "BIRD to see node1's prepended AS path" prepended
birdc_tor show route "$(pod_cidr 1)" all | grep -q 'BGP.community: (64512,100)' ||
    kr_fail "node1's community missing: $(birdc_tor show route "$(pod_cidr 1)" all)"
birdc_tor show route "$(pod_cidr 2)" all | grep -qE 'BGP\.as_path: 64512$' || kr_fail "node2's AS path changed too"
[[ -n $since && $(session_since) == "$since" ]] || kr_fail "node1's session to BIRD was reset (up since '$since', now '$(session_since)')"

step "kroutectl: a session shut down with a message BIRD shows, then enabled; a soft reset keeps it"
kroutectl_on 1 neighbor "$TOR_IP" soft-reset out >/dev/null || kr_fail "soft-reset out refused"
[[ $(session_since) == "$since" ]] || kr_fail "soft reset out reset the session"
kroutectl_on 1 neighbor "$TOR_IP" shutdown --message "rack 7 maintenance" >/dev/null || kr_fail "shutdown refused"
bird_down() { ! birdc_tor show protocols node1 | grep -q Established; }
wait_for 10 "BIRD to see node1 go" bird_down
birdc_tor show protocols all node1 | grep -q "rack 7 maintenance" ||
    kr_fail "BIRD did not get the shutdown message: $(birdc_tor show protocols all node1)"
wait_for 10 "node1's podCIDR to leave BIRD" bird_lacks "$(pod_cidr 1)"
sleep 2  # BIRD keeps dialling: kroute must stay down
bird_down || kr_fail "the session came back while shut down"
[[ $(kroutectl_on 1 neighbors -o json | jq -r --arg a "$TOR_IP" '.[] | select(.address==$a) | .admin_shutdown') == "rack 7 maintenance" ]] ||
    kr_fail "kroutectl neighbors does not show the shutdown"
kroutectl_on 1 neighbor "$TOR_IP" enable >/dev/null || kr_fail "enable refused"
bird_up() { birdc_tor show protocols node1 | grep -q Established; }
wait_for 20 "node1's session back" bird_up
wait_for 20 "node1's podCIDR back at BIRD" bird_has "$(pod_cidr 1)"
! kroutectl_on 1 neighbor "$TOR_IP" bounce >/dev/null 2>&1 || kr_fail "an unknown action was accepted"

step "kroutectl neighbor: capabilities, timers, the last NOTIFICATION sent"
detail=$(kroutectl_on 1 neighbor "$TOR_IP" -o json)
jq -e '.capabilities.four_octet_as.negotiated == true and .capabilities.four_octet_as.received == 65001
       and .capabilities.route_refresh.negotiated == true
       and (.capabilities.multiprotocol.negotiated | index("ipv4-unicast")) != null
       and .timers.peer_hold_time == 9 and .timers.negotiated_hold_time == 9 and .timers.negotiated_keepalive == 3
       and .counters.prefixes_received >= 1 and .counters.flaps >= 1
       and .last_notification_sent.code == 6 and .last_notification_sent.subcode == 2
       and .last_notification_sent.message == "rack 7 maintenance"' <<<"$detail" >/dev/null ||
    kr_fail "kroutectl neighbor $TOR_IP -o json: $detail"
kroutectl_on 1 neighbor "$TOR_IP" | grep -q "^CAPABILITY " || kr_fail "kroutectl neighbor's table has no capabilities"

step "graceful shutdown (RFC 8326): node3 SIGTERMed, BIRD sees (65535,0) on its podCIDR, then the route goes"
gshut_seen() { birdc_tor show route "$(pod_cidr 3)" all | grep -q 'BGP.community:.*(65535,0)'; }
! gshut_seen || kr_fail "node3's podCIDR has the GRACEFUL_SHUTDOWN community before the shutdown"
[[ $(kroutectl_on 3 status -o json | jq -r .bgp_graceful_shutdown) == false ]] || kr_fail "node3 says it shuts down already"
t0=$SECONDS
kill -TERM "${KR_PIDS[node3]}"
wait_for 3 "BIRD to see (65535,0) on node3's podCIDR" gshut_seen
[[ $(kroutectl_on 3 status -o json | jq -r .bgp_graceful_shutdown) == true ]] || kr_fail "node3's status does not say so"
bird_up3() { birdc_tor show protocols node3 | grep -q Established; }
bird_up3 || kr_fail "node3's session went down at once"
wait_for 15 "node3's podCIDR to leave BIRD" bird_lacks "$(pod_cidr 3)"
((SECONDS - t0 >= GSHUT_TIME - 1)) || kr_fail "node3 stopped after $((SECONDS - t0)) s, before --bgp-graceful-shutdown-time"
stop_daemon node3
grep -q "BGP graceful shutdown (RFC 8326)" "$KR_DIR/node3/kroute.log" || kr_fail "node3's log does not say it"

echo "PASS tor_test ($MODE)"
