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
