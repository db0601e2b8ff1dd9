#!/usr/bin/env bash
# BGP mesh benchmark (kroute issue 3, "Figures to reach"), side by side with BIRD (and GoBGP):
#
#   full  N speakers of one kind, each its own process on its own loopback address
#         (127.X.0.1..N), in an iBGP full mesh, each announcing one /24. Measures the time from the
#         first launch until every speaker has N-1 sessions Established and N prefixes in its RIB,
#         and each process's memory then (VmRSS; its private part, RssAnon; and its proportional
#         share, Pss, since most of a small daemon's RSS is shared library pages that the N
#         processes share, each counted once per process in VmRSS).
#   star  one receiver on 127.X.255.1 with N-1 peers played by bench/mesh_peers (one process, one
#         bgp::Speaker per peer, each announcing one /24): one node of an N-node full mesh. Measures
#         the time from the receiver's launch until all N-1 sessions are Established and all N-1
#         prefixes are in its RIB, and the memory per session: (VmRSS then - VmRSS of the same
#         receiver idle, with no peer) / (N-1).
#   first kroute with one peer that is a plain TCP listener: the time from exec to the first
#         connection attempt (accepted by the listener), several times.
#
# Everything runs on loopback (127.X.0.0/16, a new X for each run) in the root namespace, on port 11800 (11801 for `first`); nothing
# touches the kernel's routes (kroute --no-fib; BIRD and GoBGP without a kernel protocol). Every
# wait has a deadline; every process started is killed by PID.
#
# Usage: bench/bgp_mesh.sh [-m full|star|first] [-n N] [-r REPEATS] [-R "kroute bird gobgp"] [-o OUT.jsonl]
# Env: KR_BIN (kroute, kroutectl, mesh_peers; default build/bin), DEADLINE (s per wait, default 300).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

MODE=full N=100 R=1 RECEIVERS="kroute bird" OUT=""
while getopts "m:n:r:R:o:" opt; do
    case $opt in
    m) MODE=$OPTARG ;; n) N=$OPTARG ;; r) R=$OPTARG ;; R) RECEIVERS=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,24p' "$0" >&2; exit 2 ;;
    esac
done
KR_BIN=${KR_BIN:-$repo/build/bin}
DEADLINE=${DEADLINE:-300}
ASN=64512 PORT=11800
for tool in jq birdc bird gobgpd gobgp python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 2; }
done
# A node with 999 sessions needs more than the default 1024 descriptors (kroute raises its own soft
# limit to the hard one; BIRD, GoBGP and mesh_peers inherit this).
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kroute-bgp-mesh.XXXXXX")
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    [[ ${KEEP_LOGS:-0} == 1 ]] && echo "logs kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
log() { echo "bgp_mesh: $*" >&2; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
emit() { echo "$1"; [[ -n $OUT ]] && echo "$1" >>"$OUT"; true; }

# Each run and receiver gets addresses of its own: the previous run's connections linger in
# TIME_WAIT on theirs, and BIRD will not bind a listening socket over them.
NET=20  # second octet, advanced by next_net()
next_net() { NET=$((NET + 1)); }
full_addr() { echo "127.$NET.0.$1"; }       # speaker 1..N (N <= 250)
star_peer_addr() { echo "127.$NET.$(($1 / 250)).$(($1 % 250 + 1))"; }  # as mesh_peers --net numbers them
star_self() { echo "127.$NET.255.1"; }
pod_cidr() { echo "10.$(($1 / 256)).$(($1 % 256)).0/24"; }

# ---- kroute ----
# nodes_json FILE ADDR... : one Node per address, node-I with the /24 of pod_cidr I (from 0).
nodes_json() {
    local f=$1 i=0 a sep=""
    shift
    { echo '{"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": ['
      for a in "$@"; do
          printf '%s{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-%d"}, "spec": {"podCIDR": "%s"}, "status": {"addresses": [{"type": "InternalIP", "address": "%s"}]}}\n' \
              "$sep" "$i" "$(pod_cidr "$i")" "$a"
          sep=","
          i=$((i + 1))
      done
      echo ']}'; } >"$f"
}
start_kroute() {  # DIR NAME NODES_FILE PORT
    "$KR_BIN/kroute" --nodes-file "$3" --hostname-override "$2" --no-fib --enable-cni=false --health-port 0 \
        --cluster-asn $ASN --bgp-port "$4" --api-socket "$1/$2.sock" </dev/null >"$1/$2.log" 2>&1 &
    RPID=$!
}
# converged_kroute DIR NAME PEERS PREFIXES
converged_kroute() {
    "$KR_BIN/kroutectl" --socket "$1/$2.sock" status -o json 2>/dev/null |
        jq -e --argjson p "$3" --argjson r "$4" '.peers_established == $p and .rib_prefixes == $r' >/dev/null
}

# ---- BIRD ----
# bird_conf FILE SELF_ADDR SELF_INDEX|-1 PEER_ADDR...
bird_conf() {
    local f=$1 self=$2 idx=$3 a i=0
    shift 3
    {
        echo "router id $self;"
        echo "log \"$f.log\" { warning, error, fatal };"
        echo "protocol device { }"
        [[ $idx -ge 0 ]] && echo "protocol static own { ipv4; route $(pod_cidr "$idx") blackhole; }"
        echo "template bgp mesh { local $self port $PORT as $ASN; strict bind yes; ipv4 { import all; export all; }; }"
        for a in "$@"; do
            echo "protocol bgp p$i from mesh { neighbor $a port $PORT as $ASN; }"
            i=$((i + 1))
        done
    } >"$f"
}
start_bird() {  # DIR NAME CONF
    bird -f -c "$3" -s "$1/$2.ctl" -P "$1/$2.pid" </dev/null >"$1/$2.out" 2>&1 &
    RPID=$!
}
converged_bird() {  # DIR NAME PEERS PREFIXES
    local est routes
    est=$(birdc -s "$1/$2.ctl" show protocols 2>/dev/null | grep -c Established || true)
    ((est == $3)) || return 1
    routes=$(birdc -s "$1/$2.ctl" show route count 2>/dev/null |
        awk '/routes for .* table master4/ {for (i = 1; i < NF; i++) if ($(i + 1) == "networks") print $i}')
    [[ ${routes:-0} == "$4" ]]
}

# ---- GoBGP (star only) ----
gobgp_conf() {  # FILE SELF_ADDR PEER_ADDR...
    local f=$1 self=$2 a
    shift 2
    {
        printf '[global.config]\n  as = %d\n  router-id = "%s"\n  port = %d\n  local-address-list = ["%s"]\n' \
            $ASN "$self" $PORT "$self"
        for a in "$@"; do
            printf '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "%s"\n    peer-as = %d\n' "$a" $ASN
            printf '  [neighbors.transport.config]\n    local-address = "%s"\n    remote-port = %d\n' "$self" $PORT
        done
    } >"$f"
}
start_gobgp() {  # DIR NAME CONF
    gobgpd -f "$3" --api-hosts 127.0.0.1:50152 --log-level error </dev/null >"$1/$2.out" 2>&1 &
    RPID=$!
}
converged_gobgp() {  # DIR NAME PEERS PREFIXES
    local est routes
    est=$(gobgp -p 50152 neighbor 2>/dev/null | grep -c Establ || true)
    ((est == $3)) || return 1
    # GoBGP 3.10 prints "Destination: N, Path: M".
    routes=$(gobgp -p 50152 global rib summary 2>/dev/null | sed -n 's/^Destination: \([0-9]*\),.*/\1/p')
    [[ ${routes:-0} == "$4" ]]
}

# ---- full mesh ----
run_full() {  # RECEIVER RUN
    local kind=$1 run=$2 d="$WORK/full-$1-$2" i j t0 addrs=() pids=()
    mkdir -p "$d"
    next_net
    for ((i = 1; i <= N; i++)); do addrs+=("$(full_addr "$i")"); done
    if [[ $kind == kroute ]]; then
        nodes_json "$d/nodes.json" "${addrs[@]}"
    else
        for ((i = 1; i <= N; i++)); do
            local others=()
            for ((j = 1; j <= N; j++)); do ((j != i)) && others+=("$(full_addr "$j")"); done
            bird_conf "$d/s$i.conf" "$(full_addr "$i")" $((i - 1)) "${others[@]}"
        done
    fi
    t0=$(now_ms)
    for ((i = 1; i <= N; i++)); do
        if [[ $kind == kroute ]]; then start_kroute "$d" "node-$((i - 1))" "$d/nodes.json" $PORT
        else start_bird "$d" "s$i" "$d/s$i.conf"; fi
        pids+=("$RPID")
        PIDS+=("$RPID")
    done
    local pending=() done_ms=0 limit=$(($(now_ms) + DEADLINE * 1000))
    for ((i = 1; i <= N; i++)); do pending+=("$i"); done
    while ((${#pending[@]})); do
        (($(now_ms) < limit)) || { log "$kind full mesh: ${#pending[@]} speaker(s) not converged"; return 1; }
        local still=()
        for i in "${pending[@]}"; do
            if [[ $kind == kroute ]]; then converged_kroute "$d" "node-$((i - 1))" $((N - 1)) "$N" || still+=("$i")
            else converged_bird "$d" "s$i" $((N - 1)) "$N" || still+=("$i"); fi
        done
        pending=("${still[@]+"${still[@]}"}")
        done_ms=$(now_ms)
        ((${#pending[@]})) && sleep 0.1
    done
    local rss=() anon=() pss=() p
    for p in "${pids[@]}"; do
        rss+=("$(kib "$p" VmRSS)"); anon+=("$(kib "$p" RssAnon)")
        pss+=("$(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup")")
    done
    local version
    if [[ $kind == kroute ]]; then version=$("$KR_BIN/kroute" --version | head -1); else version=$(bird --version 2>&1 | head -1); fi
    emit "$(jq -cn --arg r "$kind" --arg v "$version" --argjson run "$run" --argjson n "$N" \
        --argjson ms $((done_ms - t0)) --argjson rss "[$(IFS=,; echo "${rss[*]}")]" \
        --argjson anon "[$(IFS=,; echo "${anon[*]}")]" --argjson pss "[$(IFS=,; echo "${pss[*]}")]" \
        '{bench: "bgp_mesh", mode: "full", receiver: $r, version: $v, run: $run, speakers: $n, converged_ms: $ms,
          rss_kib_median: ($rss | sort | .[length / 2 | floor]), rss_kib_max: ($rss | max),
          anon_kib_median: ($anon | sort | .[length / 2 | floor]), anon_kib_max: ($anon | max),
          pss_kib_median: ($pss | sort | .[length / 2 | floor]), pss_kib_max: ($pss | max)}')"
    stop_all
}

# ---- one node of a large mesh ----
run_star() {  # RECEIVER RUN
    local kind=$1 run=$2 d="$WORK/star-$1-$2" i self addrs=() peers=()
    mkdir -p "$d"
    next_net
    self=$(star_self)
    for ((i = 0; i < N - 1; i++)); do peers+=("$(star_peer_addr "$i")"); done
    # Idle first: the same receiver with no peer, for the memory per session.
    local idle_rss
    case $kind in
    kroute) nodes_json "$d/idle.json" "$self"; start_kroute "$d" idle "$d/idle.json" $PORT ;;
    bird) bird_conf "$d/idle.conf" "$self" -1; start_bird "$d" idle "$d/idle.conf" ;;
    gobgp) gobgp_conf "$d/idle.toml" "$self"; start_gobgp "$d" idle "$d/idle.toml" ;;
    esac
    PIDS+=("$RPID")
    sleep 2
    idle_rss=$(kib "$RPID" VmRSS)
    stop_all

    "$KR_BIN/mesh_peers" --count $((N - 1)) --net "$NET" --target "$self" --port $PORT --asn $ASN --seconds "$DEADLINE" \
        --next-hop 192.0.2.1 \
        >"$d/peers.out" 2>"$d/peers.err" &
    PIDS+=("$!")
    local limit=$(($(now_ms) + 60000))
    until grep -q listening "$d/peers.out" 2>/dev/null; do
        (($(now_ms) < limit)) || { log "mesh_peers did not start: $(cat "$d/peers.err")"; return 1; }
        sleep 0.1
    done
    local t0 want
    case $kind in
    kroute)
        # The peers' /24s follow mesh_peers' numbering (10.0.0.0/24 is its speaker 0); the
        # receiver's own podCIDR lies outside them.
        python3 - "$d/nodes.json" "$self" "${peers[@]}" <<'PY'
import json, sys
path, me, peers = sys.argv[1], sys.argv[2], sys.argv[3:]
def node(name, cidr, addr):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"podCIDR": cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": addr}]}}
items = [node("receiver", "10.255.255.0/24", me)]
items += [node("peer-%d" % i, "10.%d.%d.0/24" % (i // 256, i % 256), a) for i, a in enumerate(peers)]
json.dump({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": items}, open(path, "w"))
PY
        want=$N  # N-1 learned + its own
        t0=$(now_ms)
        start_kroute "$d" receiver "$d/nodes.json" $PORT
        ;;
    bird)
        bird_conf "$d/r.conf" "$self" -1 "${peers[@]}"
        want=$((N - 1))
        t0=$(now_ms)
        start_bird "$d" r "$d/r.conf"
        ;;
    gobgp)
        gobgp_conf "$d/r.toml" "$self" "${peers[@]}"
        want=$((N - 1))
        t0=$(now_ms)
        start_gobgp "$d" r "$d/r.toml"
        ;;
    esac
    local rpid=$RPID
    PIDS+=("$rpid")
    local name=r
    [[ $kind == kroute ]] && name=receiver
    limit=$(($(now_ms) + DEADLINE * 1000))
    until "converged_$kind" "$d" "$name" $((N - 1)) "$want"; do
        (($(now_ms) < limit)) || { log "$kind did not converge with $((N - 1)) peers"; return 1; }
        sleep 0.1
    done
    local ms=$(($(now_ms) - t0)) rss hwm version
    rss=$(kib "$rpid" VmRSS)
    hwm=$(kib "$rpid" VmHWM)
    case $kind in
    kroute) version=$("$KR_BIN/kroute" --version | head -1) ;;
    bird) version=$(bird --version 2>&1 | head -1) ;;
    gobgp) version="GoBGP $(gobgpd --version 2>&1 | awk '{print $NF}')" ;;
    esac
    emit "$(jq -cn --arg r "$kind" --arg v "$version" --argjson run "$run" --argjson n "$N" --argjson ms "$ms" \
        --argjson idle "$idle_rss" --argjson rss "$rss" --argjson hwm "$hwm" \
        '{bench: "bgp_mesh", mode: "star", receiver: $r, version: $v, run: $run, nodes: $n, converged_ms: $ms,
          idle_rss_kib: $idle, rss_kib: $rss, hwm_kib: $hwm,
          bytes_per_session: ((($rss - $idle) * 1024) / ($n - 1) | floor)}')"
    stop_all
}

# ---- time to the first connection attempt ----
run_first() {  # RUN
    local run=$1 d="$WORK/first-$1" self=127.0.0.31 peer=127.0.0.30 port=11801
    mkdir -p "$d"
    nodes_json "$d/nodes.json" "$self" "$peer"
    : >"$d/listener.out"
    python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8); s.settimeout(30)
print("ready", flush=True)
c, _ = s.accept(); print("accepted %d" % int(time.time() * 1000), flush=True)
' "$peer" $port >"$d/listener.out" &
    PIDS+=("$!")
    local limit=$(($(now_ms) + 10000))
    until grep -q ready "$d/listener.out"; do (($(now_ms) < limit)) || return 1; sleep 0.05; done
    local t0
    t0=$(now_ms)
    start_kroute "$d" node-0 "$d/nodes.json" $port
    PIDS+=("$RPID")
    limit=$(($(now_ms) + 10000))
    until grep -q accepted "$d/listener.out"; do (($(now_ms) < limit)) || { log "no connection attempt"; return 1; }; sleep 0.01; done
    local t1
    t1=$(awk '/accepted/ {print $2}' "$d/listener.out")
    emit "$(jq -cn --argjson run "$run" --argjson ms $((t1 - t0)) '{bench: "bgp_mesh", mode: "first", receiver: "kroute", run: $run, first_connect_ms: $ms}')"
    stop_all
}

for ((run = 1; run <= R; run++)); do
    case $MODE in
    full) for k in $RECEIVERS; do [[ $k == gobgp ]] && continue; log "run $run/$R: $k, full mesh of $N"; run_full "$k" "$run"; done ;;
    star) for k in $RECEIVERS; do log "run $run/$R: $k, one node of a $N-node mesh"; run_star "$k" "$run"; done ;;
    first) run_first "$run" ;;
    *) echo "bgp_mesh: unknown mode $MODE" >&2; exit 2 ;;
    esac
done
