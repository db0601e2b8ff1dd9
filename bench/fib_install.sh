#!/usr/bin/env bash
# Kernel routes benchmark (kroute issue 3, "Figures to reach"), two modes:
#
# -m install (default): N IPv4 routes into the kernel and out again, side by side in one run.
#   bgp_feeder sends the same pre-encoded table (bench/feed.hpp) over eBGP (feeder AS 65001) to
#     kroute    with its FIB on (route protocol 52);
#     bird      BIRD 2 with `protocol kernel` exporting everything to the main table (learn off,
#               one path per prefix so no merge paths; scan time 600 s so no periodic scan of a
#               million routes lands inside a measurement);
#     frr       FRR bgpd + zebra (proto bgp, 186);
#   and, as the floor, bench/kernel_routes writes the same prefixes itself:
#     kernel    64 requests per sendmsg, no NLM_F_ACK (only errors answered);
#     kernel-ack  128 per sendmsg, every request acked (kroute's batching, without libnl);
#     kernel-1  one request per round trip, each acked.
#   Each receiver runs in a namespace of its own ("rx"), joined by a veth to the feeder's ("feed"):
#   feeder 10.0.0.1/24, receiver 10.0.0.2/24, NEXT_HOP 10.0.0.1 (connected). Both namespaces are
#   made fresh for every run. Measured:
#     install_ms   from the feeder's first UPDATE (kernel_*: the first sendmsg) until the rx
#                  namespace's main table holds all N routes of that receiver's protocol;
#     withdraw_ms  from the first withdrawal UPDATE (the first delete) until none is left.
#   The count is followed by `kernel_routes watch` in the rx namespace: a baseline dump, then every
#   route notification (exact, ~1 ms; falls back to dumps every 100 ms if the kernel drops
#   notifications, reported as "method"); the final counts are checked with a dump.
#
# -m reconcile: kroute holding N routes (default 100,000) in its FIB, --routes-sync-period PERIOD
#   (default 5 s), nothing changing: the process's CPU time (utime + stime of /proc/PID/stat) over
#   a window of WINDOW seconds (default 60), divided by the number of reconciles in it. The
#   reconciles are counted as the CPU bursts of kroute's busiest thread (the FIB writer), sampled
#   every 0.1 s; their CPU is reported too, and the other threads' as the idle baseline.
#
# Runs as root; re-executes itself inside the no-route sandbox (scripts/lib/sandbox.sh), where every
# namespace is created (and deleted at the end, by trap and by the sandbox's private /run/netns);
# nothing is added to the root namespace. Every wait has a deadline; every process is killed by
# PID. Output: one JSON line per run and receiver, then one summary line per receiver (medians,
# min, max, ratio of medians to BIRD's).
#
# Usage: bench/fib_install.sh [-m install|reconcile] [-n ROUTES] [-p PER_UPDATE] [-k ATTR_SETS]
#            [-r REPEATS] [-R "kernel kernel-ack kernel-1 kroute bird frr"] [-P PERIOD_S]
#            [-W WINDOW_S] [-o OUT.jsonl]
# Env: KR_BIN (kroute, kroutectl, bgp_feeder, kernel_routes; default build/bin), DEADLINE (seconds
# per wait, default 600), KEEP_LOGS=1, KROUTE_EXTRA_FLAGS (more kroute flags, e.g. "-v 3").
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

MODE=install N="" P=180 K=2000 R=3 RECEIVERS="kernel kernel-ack kernel-1 kroute bird frr" OUT="" PERIOD=5 WINDOW=60
while getopts "m:n:p:k:r:R:P:W:o:" opt; do
    case $opt in
    m) MODE=$OPTARG ;; n) N=$OPTARG ;; p) P=$OPTARG ;; k) K=$OPTARG ;; r) R=$OPTARG ;;
    R) RECEIVERS=$OPTARG ;; P) PERIOD=$OPTARG ;; W) WINDOW=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,41p' "$0" >&2; exit 2 ;;
    esac
done
[[ $MODE == install || $MODE == reconcile ]] || { echo "-m install or -m reconcile" >&2; exit 2; }
[[ -n $N ]] || { [[ $MODE == install ]] && N=1000000 || N=100000; }

if [[ ${FIB_BENCH_INSIDE:-} != 1 ]]; then
    ((EUID == 0)) || { echo "run as root (network namespaces)" >&2; exit 2; }
    source "$repo/scripts/lib/sandbox.sh"
    export FIB_BENCH_INSIDE=1
    if [[ -n $OUT ]]; then
        touch "$OUT"
        OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
    fi
    args=(-m "$MODE" -n "$N" -p "$P" -k "$K" -r "$R" -R "$RECEIVERS" -P "$PERIOD" -W "$WINDOW")
    [[ -z $OUT ]] || args+=(-o "$OUT")
    rc=0
    run_in_sandbox "$0" "${args[@]}" || rc=$?
    exit "$rc"
fi

KR_BIN=${KR_BIN:-$repo/build/bin}
FEEDER=$KR_BIN/bgp_feeder
KR=$KR_BIN/kernel_routes
DEADLINE=${DEADLINE:-600}
for f in "$KR_BIN/kroute" "$FEEDER" "$KR"; do
    [[ -x $f ]] || { echo "missing $f: build the kroute, bgp_feeder and kernel_routes targets" >&2; exit 2; }
done
for tool in jq ip bird birdc vtysh /usr/lib/frr/bgpd /usr/lib/frr/zebra; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y bird2 frr jq iproute2)" >&2; exit 2; }
done

ASN=64512 FEED_AS=65001
FEED_ADDR=10.0.0.1 RX_ADDR=10.0.0.2
declare -A PROTO=([kroute]=52 [bird]=12 [frr]=186 [kernel]=99 [kernel-ack]=99 [kernel-1]=99)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kroute-fib-install.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    ip netns del rx 2>/dev/null || true
    ip netns del feed 2>/dev/null || true
    [[ ${KEEP_LOGS:-0} == 1 ]] && echo "logs kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
log() { echo "fib_install: $*" >&2; }

wait_until() {  # SECONDS WHAT CMD...: poll CMD every 50 ms until it succeeds; fail past the deadline
    local limit=$(($(now_ms) + $1 * 1000)) what=$2
    shift 2
    until "$@"; do
        (($(now_ms) < limit)) || { log "timed out waiting for $what"; return 1; }
        sleep 0.05
    done
}
event_t() {  # FILE EVENT: prints its t_ms once it is there
    jq -r --arg e "$2" 'select(.event == $e) | .t_ms' "$1" 2>/dev/null | head -1 | grep .
}
failed_in() { grep -q '"event":"error"' "$1" 2>/dev/null; }
has_event() {  # FILE EVENT [FILE...]: true once FILE has EVENT; exits if any file reports an error
    local f=$1 e=$2
    shift 2
    for g in "$f" "$@"; do failed_in "$g" && { log "$(basename "$g"): $(grep '"event":"error"' "$g" | head -1)"; exit 1; }; done
    event_t "$f" "$e" >/dev/null
}
stop_pid() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
kcount() { ip netns exec rx "$KR" --proto "$1" count | jq -r .count; }

# Two fresh namespaces and a veth between them, made from inside them (nothing in the root one).
make_namespaces() {
    ip netns del rx 2>/dev/null || true
    ip netns del feed 2>/dev/null || true
    ip netns add feed
    ip netns add rx
    ip -n feed link set lo up
    ip -n rx link set lo up
    ip -n feed link add eth0 type veth peer name eth0 netns rx
    ip -n feed addr add $FEED_ADDR/24 dev eth0
    ip -n rx addr add $RX_ADDR/24 dev eth0
    ip -n feed link set eth0 up
    ip -n rx link set eth0 up
    ip netns exec rx sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    wait_until 10 "the veth" ip netns exec feed ping -c1 -W1 -q $RX_ADDR >/dev/null
}

# ---- receivers: start_X DIR [extra kroute flags] (sets RPID) ----
start_kroute() {
    local d=$1
    shift
    cat >"$d/nodes.json" <<JSON
{"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bench-kroute", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "$RX_ADDR"}]}}]}
JSON
    setsid ip netns exec rx "$KR_BIN/kroute" --nodes-file "$d/nodes.json" --hostname-override bench-kroute \
        --enable-cni=false --health-port 0 --cluster-asn $ASN --peer-router-ips $FEED_ADDR \
        --peer-router-asns $FEED_AS --api-socket "$d/kroute.sock" ${KROUTE_EXTRA_FLAGS:-} "$@" </dev/null >"$d/kroute.log" 2>&1 &
    RPID=$!
}
ready_kroute() { "$KR_BIN/kroutectl" --socket "$1/kroute.sock" status -o json >/dev/null 2>&1; }

start_bird() {
    local d=$1
    cat >"$d/bird.conf" <<CONF
router id $RX_ADDR;
log "$d/bird.log" { warning, error, fatal };
protocol device { }
protocol kernel {
    ipv4 { import none; export all; };
    learn off;
    scan time 600;  # no periodic scan of a million routes inside a measurement
}
protocol bgp feeder {
    local $RX_ADDR as $ASN;
    neighbor $FEED_ADDR as $FEED_AS;
    passive on;
    ipv4 { import all; export none; };
}
CONF
    setsid ip netns exec rx bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" </dev/null >"$d/bird.out" 2>&1 &
    RPID=$!
}
ready_bird() { birdc -s "$1/bird.ctl" show protocols >/dev/null 2>&1; }

# zebra (as user frr, in a directory of its own) and bgpd talking to it over a socket in that
# directory; never /etc/frr or /var/run/frr. bgpd without -l (which implies -n, no kernel routes).
start_frr() {
    local d=$1
    mkdir -p "$d/frr"
    chown frr:frr "$d/frr"
    chmod 755 "$d"
    cat >"$d/frr/zebra.conf" <<CONF
hostname bench-zebra
log file $d/frr/zebra.log warnings
CONF
    cat >"$d/frr/bgpd.conf" <<CONF
frr defaults traditional
hostname bench-frr
log file $d/frr/bgpd.log warnings
!
router bgp $ASN
 bgp router-id $RX_ADDR
 no bgp ebgp-requires-policy
 neighbor $FEED_ADDR remote-as $FEED_AS
 neighbor $FEED_ADDR passive
 address-family ipv4 unicast
  neighbor $FEED_ADDR activate
 exit-address-family
!
CONF
    chown frr:frr "$d/frr"/*.conf
    setsid ip netns exec rx /usr/lib/frr/zebra -u frr -g frr -z "$d/frr/zserv.api" -f "$d/frr/zebra.conf" \
        -i "$d/frr/zebra.pid" --vty_socket "$d/frr" -P 0 </dev/null >"$d/zebra.out" 2>&1 &
    ZPID=$!
    PIDS+=("$ZPID")
    wait_until 30 "zebra's socket" test -S "$d/frr/zserv.api"
    setsid ip netns exec rx /usr/lib/frr/bgpd -u frr -g frr -z "$d/frr/zserv.api" -p 179 -f "$d/frr/bgpd.conf" \
        -i "$d/frr/bgpd.pid" --vty_socket "$d/frr" -P 0 </dev/null >"$d/bgpd.out" 2>&1 &
    RPID=$!
}
ready_frr() { vtysh --config_dir "$1/frr" --vty_socket "$1/frr" -d bgpd -c 'show bgp summary json' >/dev/null 2>&1; }

version_of() {
    case $1 in
    kroute) "$KR_BIN/kroute" --version 2>/dev/null | head -1 ;;
    bird) bird --version 2>&1 | head -1 ;;
    frr) /usr/lib/frr/zebra --version 2>&1 | head -1 ;;
    kernel*) echo "linux $(uname -r)" ;;
    esac
}

# one_install RECEIVER RUN: prints one JSON line.
one_install() {
    local rx=$1 run=$2 d=$WORK/$1-$2 proto=${PROTO[$1]}
    mkdir -p "$d"
    chmod 755 "$d"
    make_namespaces
    local watch_pid t0 t1 t2 t3 method_in method_out extra='{}'
    case $rx in
    kernel*) ;;
    kroute) start_kroute "$d" --bgp-connect-retry-time 5s ;;
    *) "start_$rx" "$d" ;;
    esac
    if [[ $rx != kernel* ]]; then
        local rpid=$RPID
        PIDS+=("$rpid")
        wait_until 60 "$rx to answer" "ready_$rx" "$d"
    fi
    ip netns exec rx "$KR" --proto "$proto" --deadline $((DEADLINE * 3)) watch --target "$N" --then-zero \
        </dev/null >"$d/watch.jsonl" 2>"$d/watch.err" &
    watch_pid=$!
    PIDS+=("$watch_pid")
    wait_until 60 "the watcher" has_event "$d/watch.jsonl" ready

    if [[ $rx == kernel* ]]; then
        local batch=64 ack=errors
        [[ $rx == kernel-ack ]] && batch=128 ack=all
        [[ $rx == kernel-1 ]] && batch=1 ack=all
        # Install, then (once the watcher saw all N) delete: the same prefixes the feeder sends.
        ip netns exec rx "$KR" --proto "$proto" --deadline $((DEADLINE * 3)) write -n "$N" --via $FEED_ADDR \
            --batch $batch --ack $ack --keep </dev/null >"$d/write.jsonl" 2>"$d/write.err" ||
            { log "kernel_routes write: $(cat "$d/write.jsonl" "$d/write.err" | tail -2)"; exit 1; }
        wait_until "$DEADLINE" "$N routes of protocol $proto" has_event "$d/watch.jsonl" reached
        t0=$(event_t "$d/write.jsonl" first_write)
        t1=$(event_t "$d/watch.jsonl" reached)
        [[ $(kcount "$proto") == "$N" ]] || { log "$rx: the dump disagrees with the watcher"; exit 1; }
        ip netns exec rx "$KR" --proto "$proto" --deadline $((DEADLINE * 3)) write -n "$N" --via $FEED_ADDR \
            --batch $batch --ack $ack --delete-only </dev/null >"$d/delete.jsonl" 2>"$d/delete.err" || true
        wait_until "$DEADLINE" "no routes of protocol $proto" has_event "$d/watch.jsonl" empty
        t2=$(event_t "$d/delete.jsonl" first_delete)
        t3=$(event_t "$d/watch.jsonl" empty)
        extra=$(jq -sc '{own_install_ms: (map(select(.event == "installed")) | .[0].ms),
                         own_delete_ms: (map(select(.event == "deleted")) | .[-1].ms),
                         sendmsgs: (map(select(.event == "installed")) | .[0].sendmsgs),
                         batch: (map(select(.event == "installed")) | .[0].batch), ack: (map(select(.event == "installed")) | .[0].ack)}' \
            "$d/write.jsonl" "$d/delete.jsonl")
    else
        ip netns exec feed "$FEEDER" --peer $RX_ADDR --port 179 --local $FEED_ADDR --next-hop $FEED_ADDR \
            --local-as $FEED_AS --peer-as $ASN -n "$N" -p "$P" -k "$K" --withdraw-trigger "$d/withdraw" \
            --stop-trigger "$d/stop" --deadline $((DEADLINE * 3)) </dev/null >"$d/feeder.jsonl" 2>"$d/feeder.err" &
        local fpid=$!
        PIDS+=("$fpid")
        wait_until "$DEADLINE" "the feeder's first UPDATE to $rx" has_event "$d/feeder.jsonl" first_update "$d/watch.jsonl"
        t0=$(event_t "$d/feeder.jsonl" first_update)
        wait_until "$DEADLINE" "$rx: $N routes of protocol $proto in the kernel" has_event "$d/watch.jsonl" reached "$d/feeder.jsonl"
        t1=$(event_t "$d/watch.jsonl" reached)
        local sent_ms=$(($(event_t "$d/feeder.jsonl" sent_all) - t0))
        [[ $(kcount "$proto") == "$N" ]] || { log "$rx: the dump disagrees with the watcher"; exit 1; }
        touch "$d/withdraw"
        wait_until "$DEADLINE" "the feeder's first withdrawal" has_event "$d/feeder.jsonl" first_withdraw
        t2=$(event_t "$d/feeder.jsonl" first_withdraw)
        wait_until "$DEADLINE" "$rx to remove every route" has_event "$d/watch.jsonl" empty "$d/feeder.jsonl"
        t3=$(event_t "$d/watch.jsonl" empty)
        touch "$d/stop"
        stop_pid "$fpid"
        stop_pid "$rpid"
        [[ $rx == frr ]] && stop_pid "$ZPID"
        extra=$(jq -nc --argjson s "$sent_ms" '{feeder_sent_ms: $s}')
    fi
    method_in=$(jq -r 'select(.event == "reached") | .method' "$d/watch.jsonl")
    method_out=$(jq -r 'select(.event == "empty") | .method' "$d/watch.jsonl")
    stop_pid "$watch_pid"
    jq -nc --arg rx "$rx" --arg version "$(version_of "$rx")" --argjson run "$run" --argjson n "$N" \
        --argjson p "$P" --argjson k "$K" --argjson proto "$proto" --argjson install $((t1 - t0)) \
        --argjson withdraw $((t3 - t2)) --arg mi "$method_in" --arg mo "$method_out" \
        --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson extra "$extra" \
        '{bench:"fib_install", receiver:$rx, version:$version, run:$run, routes:$n, per_update:$p,
          attribute_sets:$k, proto:$proto, install_ms:$install, withdraw_ms:$withdraw,
          count_method:{install:$mi, withdraw:$mo}, loadavg:$load} + $extra'
    ip netns del rx
    ip netns del feed
    [[ ${KEEP_LOGS:-0} == 1 ]] || rm -rf "$d"
}

# CPU ticks (utime + stime) of a process or a thread's stat file.
ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "$1" 2>/dev/null || echo 0; }

# one_reconcile RUN: kroute with N routes and --routes-sync-period PERIOD, WINDOW seconds of nothing.
one_reconcile() {
    local run=$1 d=$WORK/reconcile-$1 proto=52
    mkdir -p "$d"
    make_namespaces
    # Hold 30 s (the feeder's KEEPALIVEs come every 20 s), connect-retry 1 s: the stale sweep is
    # enabled 31 s after the start (the feeder sends no End-of-RIB) and its extra reconcile is
    # over before the window opens.
    start_kroute "$d" --routes-sync-period "${PERIOD}s" --bgp-holdtime 30s --bgp-keepalive-time 10s \
        --bgp-connect-retry-time 1s
    local rpid=$RPID
    PIDS+=("$rpid")
    wait_until 60 "kroute to answer" ready_kroute "$d"
    ip netns exec feed "$FEEDER" --peer $RX_ADDR --port 179 --local $FEED_ADDR --next-hop $FEED_ADDR \
        --local-as $FEED_AS --peer-as $ASN -n "$N" -p "$P" -k "$K" --stop-trigger "$d/stop" \
        --deadline $((DEADLINE * 3 + WINDOW)) </dev/null >"$d/feeder.jsonl" 2>"$d/feeder.err" &
    local fpid=$!
    PIDS+=("$fpid")
    wait_until "$DEADLINE" "$N routes of protocol $proto" eval '[[ $(kcount $proto) == "$N" ]]'
    wait_until 120 "kroute's stale sweep" grep -q "stale sweep enabled" "$d/kroute.log"
    sleep $((PERIOD + 2))
    # The window: sample every 0.1 s the process's ticks and each thread's.
    local hz samples=$d/samples
    hz=$(getconf CLK_TCK)
    : >"$samples"
    local end=$(($(now_ms) + WINDOW * 1000)) start_ticks end_ticks t0 t1
    t0=$(now_ms)
    start_ticks=$(ticks "/proc/$rpid/stat")
    while (($(now_ms) < end)); do
        local line="" tid
        for tid in /proc/"$rpid"/task/*; do line+=" ${tid##*/}:$(ticks "$tid/stat")"; done
        echo "$line" >>"$samples"
        sleep 0.1
    done
    end_ticks=$(ticks "/proc/$rpid/stat")
    t1=$(now_ms)
    [[ $(kcount $proto) == "$N" ]] || { log "kroute lost routes during the window"; exit 1; }
    local writes
    writes=$("$KR_BIN/kroutectl" --socket "$d/kroute.sock" status -o json | jq '.fib_errors')
    # The busiest thread (the FIB writer): its bursts are the reconciles.
    jq -nc --argjson hz "$hz" --argjson total $((end_ticks - start_ticks)) --argjson window_ms $((t1 - t0)) \
        --argjson n "$N" --argjson period "$PERIOD" --argjson run "$run" --arg version "$(version_of kroute)" \
        --argjson fib_errors "${writes:-null}" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --rawfile s "$samples" '
      [$s | split("\n")[] | select(length > 0) | [splits(" +") | select(length > 0) | split(":") | {(.[0]): (.[1] | tonumber)}] | add] as $rows
      | ($rows[0] | keys) as $tids
      | ($tids | map({tid: ., cpu: ($rows[-1][.] - $rows[0][.])}) | max_by(.cpu)) as $w
      | [range(1; $rows | length) | $rows[.][$w.tid] - $rows[. - 1][$w.tid]] as $d
      # bursts: runs of samples in which the writer used CPU
      | (reduce range(0; $d | length) as $i ({bursts: [], cur: 0};
           if $d[$i] > 0 then .cur += $d[$i] else (if .cur > 0 then .bursts += [.cur] else . end) | .cur = 0 end)
         | if .cur > 0 then .bursts += [.cur] else . end | .bursts) as $all
      # a reconcile is a burst of at least a quarter of the median one (and 2 ticks): single ticks
      # are 1 s wake-ups of the writer and KEEPALIVEs
      | ($all | sort | .[length / 2 | floor] // 0) as $med
      | [$all[] | select(. >= 2 and . * 4 >= $med)] as $b
      | ($b | length) as $reconciles
      | {bench: "fib_reconcile", receiver: "kroute", version: $version, run: $run, routes: $n, period_s: $period,
         window_ms: $window_ms, reconciles: $reconciles,
         cpu_ms_total: ($total * 1000 / $hz),
         cpu_ms_per_reconcile: (if $reconciles > 0 then ($total * 1000 / $hz / $reconciles | round) else null end),
         writer_cpu_ms_per_reconcile: ($b | map(. * 1000 / $hz) | sort | {min: min, median: .[length / 2 | floor], max: max}),
         other_cpu_ms: (($total - ($b | add // 0)) * 1000 / $hz), fib_errors: $fib_errors, loadavg: $load}'
    touch "$d/stop"
    stop_pid "$fpid"
    stop_pid "$rpid"
    ip netns del rx
    ip netns del feed
    [[ ${KEEP_LOGS:-0} == 1 ]] || rm -rf "$d"
}

results=$WORK/results.jsonl
: >"$results"
emit() { tee -a "$results" <"$WORK/line"; [[ -z $OUT ]] || cat "$WORK/line" >>"$OUT"; }
if [[ $MODE == reconcile ]]; then
    for ((run = 1; run <= R; run++)); do
        log "run $run/$R: kroute reconcile (N=$N, period ${PERIOD}s, window ${WINDOW}s)"
        one_reconcile "$run" >"$WORK/line"  # not in $(...): a failure must reach the EXIT trap
        emit
    done
    jq -sc 'def median: sort | .[length / 2 | floor];
      {bench: "fib_reconcile_summary", routes: .[0].routes, period_s: .[0].period_s, runs: length,
       cpu_ms_per_reconcile: {median: (map(.cpu_ms_per_reconcile) | median), min: (map(.cpu_ms_per_reconcile) | min),
                              max: (map(.cpu_ms_per_reconcile) | max)}}' "$results" | tee -a "${OUT:-/dev/null}"
    exit 0
fi

for ((run = 1; run <= R; run++)); do
    for rx in $RECEIVERS; do
        log "run $run/$R: $rx (N=$N, P=$P, load $(cut -d' ' -f1 /proc/loadavg))"
        one_install "$rx" "$run" >"$WORK/line"
        emit
    done
done

jq -sc '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def stats(f): [.[] | f | select(. != null)] | {median: median, min: min, max: max};
  group_by(.receiver) | map({receiver: .[0].receiver, version: .[0].version, routes: .[0].routes, runs: length,
      install_ms: stats(.install_ms), withdraw_ms: stats(.withdraw_ms)}) as $s
  | ($s | map(select(.receiver == "bird")) | .[0]) as $b
  | $s[] | . + {bench: "fib_install_summary",
      install_ratio_to_bird: (if $b and $b.install_ms.median > 0 then (.install_ms.median / $b.install_ms.median * 100 | round / 100) else null end),
      withdraw_ratio_to_bird: (if $b and $b.withdraw_ms.median > 0 then (.withdraw_ms.median / $b.withdraw_ms.median * 100 | round / 100) else null end)}
' "$results" | tee -a "${OUT:-/dev/null}"
