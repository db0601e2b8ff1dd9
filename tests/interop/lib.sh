# Sourced by the interop scripts, inside the no-route sandbox (run_in_sandbox, as root). Two
# namespaces joined by a veth: "kr" (10.0.0.1/24, kroute or md5_peer) and "rt" (10.0.0.2/24, the
# real router). Every daemon is started detached and killed by its PID; the sandbox's PID and
# mount namespaces take whatever is left and every namespace name with them.
KR_BIN=${KR_BIN:-$repo/build/bin}
fail() { echo "FAIL: $*" >&2; exit 1; }
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap cleanup EXIT
# Stops one daemon by PID and forgets it.
stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    pids=("${keep[@]}")
}

wait_for() {  # seconds what cmd...: polls every 0.2 s, bounded
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out waiting for $what"
        sleep 0.2
    done
}

make_link() {
    ip netns add kr
    ip netns add rt
    ip -n kr link set lo up
    ip -n rt link set lo up
    ip -n kr link add eth0 type veth peer name eth0 netns rt
    ip -n kr addr add 10.0.0.1/24 dev eth0
    ip -n rt addr add 10.0.0.2/24 dev eth0
    ip -n kr link set eth0 up
    ip -n rt link set eth0 up
    wait_for 5 "the veth" ip netns exec kr ping -c1 -W1 10.0.0.2
}

# kroute in "kr" as node n1 (10.0.0.1, 10.244.1.0/24); the router is node n2 (10.0.0.2,
# 10.244.2.0/24), so kroute peers with it over iBGP in AS 64512.
start_kroute() {
    cat >"$KR_DIR/nodes.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}},
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2", "resourceVersion": "2"},
  "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}}]}
JSON
    setsid ip netns exec kr "$KR_BIN/kroute" --nodes-file "$KR_DIR/nodes.json" --hostname-override n1 --no-fib \
        --enable-cni=false --cni-conf-file "$KR_DIR/10-kuberouter.conflist" --health-port 0 \
        --api-socket "$KR_DIR/sock" --bgp-holdtime 9s --bgp-keepalive-time 3s --bgp-connect-retry-time 1s \
        </dev/null >"$KR_DIR/kroute.log" 2>&1 &
    kroute_pid=$!
    pids+=("$kroute_pid")
}

ctl() { "$KR_BIN/kroutectl" --socket "$KR_DIR/sock" "$@"; }
kroute_established() {
    [[ $(ctl neighbors -o json | jq -r '.[] | select(.address=="10.0.0.2") | .state') == Established ]]
}
kroute_best_from() {  # prefix -> the best path's peer
    [[ $(ctl rib -o json | jq -r --arg p "$1" '.[] | select(.prefix==$p) | .paths[] | select(.best) | .from') == "$2" ]]
}

# md5_peer in "kr" (10.0.0.1) with the given password; prints Established or not, exit 0 when up.
md5_peer() {  # password timeout
    ip netns exec kr "$KR_BIN/md5_peer" --local 10.0.0.1 --peer 10.0.0.2 --asn 64512 --password "$1" \
        --timeout "$2" </dev/null 2>>"$KR_DIR/md5_peer.log"
}

# --- Several namespaces on one LAN, several kroute and BIRD instances (bird_gr_test.sh,
# bird_rr_test.sh). Names: kroute node NAME has $KR_DIR/NAME.sock and kroute-NAME.log; BIRD
# instance NAME has $KR_DIR/NAME.conf (written by the test), NAME.ctl, NAME.log.

# lan_up ns:addr...: a bridge in namespace "sw", one veth per namespace (eth0, addr/24).
lan_up() {
    ip netns add sw
    ip -n sw link set lo up
    ip -n sw link add br0 type bridge
    ip -n sw link set br0 up
    local ns_addr ns addr first=""
    for ns_addr in "$@"; do
        ns=${ns_addr%%:*}
        addr=${ns_addr#*:}
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n sw link add "p-$ns" type veth peer name eth0 netns "$ns"
        ip -n sw link set "p-$ns" master br0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        if [[ -z $first ]]; then first=$ns; else wait_for 5 "the LAN ($first to $addr)" ip netns exec "$first" ping -c1 -W1 "$addr"; fi
    done
}

# node_json name address podcidr [annotations-json]: one Node object, for a List in nodes.json.
node_json() {
    printf '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "%s", "resourceVersion": "1", "annotations": %s},
  "spec": {"podCIDR": "%s", "podCIDRs": ["%s"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "%s"}]}}' "$1" "${4:-{\}}" "$3" "$3" "$2"
}
# nodes_file node-json...: writes $KR_DIR/nodes.json (kind List, as kubectl prints it).
nodes_file() {
    local IFS=,
    printf '{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [%s]}\n' "$*" \
        >"$KR_DIR/nodes.json.tmp"
    mv "$KR_DIR/nodes.json.tmp" "$KR_DIR/nodes.json"
}

# kroute_node name namespace [extra flags...]: kroute for node NAME from nodes.json, fast timers;
# sets node_pid. Without --fib among the flags it runs with --no-fib.
kroute_node() {
    local name=$1 ns=$2 fib=(--no-fib) extra=() a
    shift 2
    for a in "$@"; do if [[ $a == --fib ]]; then fib=(); else extra+=("$a"); fi; done
    setsid ip netns exec "$ns" "$KR_BIN/kroute" --nodes-file "$KR_DIR/nodes.json" --hostname-override "$name" \
        "${fib[@]}" --enable-cni=false --cni-conf-file "$KR_DIR/$name.conflist" --health-port 0 \
        --api-socket "$KR_DIR/$name.sock" --bgp-holdtime 9s --bgp-keepalive-time 3s --bgp-connect-retry-time 1s \
        "${extra[@]}" </dev/null >>"$KR_DIR/kroute-$name.log" 2>&1 &
    node_pid=$!
    pids+=("$node_pid")
    wait_for 10 "kroute $name's API socket" test -S "$KR_DIR/$name.sock"
}
kctl() { local name=$1; shift; "$KR_BIN/kroutectl" --socket "$KR_DIR/$name.sock" "$@"; }
# neighbor_field node peer-address key: one key of `kroutectl neighbors -o json`.
neighbor_field() {
    kctl "$1" neighbors -o json | jq -r --arg a "$2" --arg k "$3" '.[] | select(.address==$a) | .[$k]'
}
field_is() { [[ $(neighbor_field "$1" "$2" "$3") == "$4" ]]; }      # node peer key value
field_is_not() { [[ $(neighbor_field "$1" "$2" "$3") != "$4" ]]; }
node_established() { [[ $(neighbor_field "$1" "$2" state) == Established ]]; }
# node_rib_has node prefix from: the best path to prefix comes from `from`.
node_rib_has() {
    kctl "$1" rib -o json | jq -e --arg p "$2" --arg f "$3" \
        'any(.[]; .prefix==$p and any(.paths[]; .from==$f and .best))' >/dev/null
}
node_rib_lacks() { ! kctl "$1" rib -o json | jq -e --arg p "$2" 'any(.[]; .prefix==$p)' >/dev/null; }

# bird_up name namespace [bird flags...]: BIRD with $KR_DIR/NAME.conf; sets bird_pid.
bird_up() {
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" bird -f "$@" -c "$KR_DIR/$name.conf" -s "$KR_DIR/$name.ctl" -P "$KR_DIR/$name.pid" \
        </dev/null >>"$KR_DIR/$name.out.log" 2>&1 &
    bird_pid=$!
    pids+=("$bird_pid")
    wait_for 10 "BIRD $name's control socket" birdc -s "$KR_DIR/$name.ctl" show status
}
birdc_at() { local name=$1; shift; birdc -s "$KR_DIR/$name.ctl" "$@"; }
# bird_has name prefix protocol: BIRD instance NAME holds prefix from that BGP protocol.
bird_has() { birdc_at "$1" show route "$2" protocol "$3" | grep -q "^${2//./\\.}"; }
