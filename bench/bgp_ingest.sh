#!/usr/bin/env bash
# BGP ingest benchmark (kroute issue 3, "Figures to reach"): one feeder (bench/bgp_feeder) sends the
# same pre-encoded table of N IPv4 prefixes to each receiver in turn — kroute, BIRD 2, GoBGP, FRR
# bgpd without zebra — and we measure, side by side in one run:
#   ingest_ms    from the feeder's first UPDATE until the receiver's RIB holds all N prefixes
#   withdraw_ms  from the first withdrawal UPDATE until the RIB is empty (with -w)
#   bytes_per_route  (VmHWM after the feed - VmRSS before it) / N
# The RIB is polled every ~50 ms (kroute: kroutectl status rib_prefixes; BIRD: birdc show route
# count; GoBGP: gobgp global rib summary; FRR: vtysh show bgp summary json, pfxRcd).
#
# The session is iBGP (AS 64512) for every receiver by default: the feeder is a second Node in
# kroute's --nodes-file; BIRD, GoBGP and FRR get the same iBGP session. With -e it is eBGP: the
# feeder is AS 65001 (first in every AS_PATH), kroute takes it as --peer-router-ips (so its external
# import policy runs on every path), BIRD, GoBGP and FRR as an external neighbour.
#
# Everything runs on loopback addresses (127.0.0.10-14) and high ports, in the root namespace:
# nothing touches the kernel's routes (kroute --no-fib, BIRD without a kernel protocol, GoBGP
# without zebra, bgpd -Z). Every wait has a deadline; every process started is killed by PID.
#
# Output: one JSON line per run and receiver, then one summary line per receiver (medians, min,
# max, ratio of medians to BIRD's).
#
# Usage: bench/bgp_ingest.sh [-n PREFIXES] [-p PER_UPDATE] [-k ATTR_SETS] [-r REPEATS] [-w] [-e]
#                            [-R "kroute bird gobgp frr"] [-o OUT.jsonl]
# Env: KR_BIN (kroute, kroutectl; default build/bin), FEEDER (default: bgp_feeder next to them or
# in build-bench/bin), DEADLINE (seconds per wait, default 600), KEEP_LOGS=1.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

N=1000000 P=180 K=2000 R=3 WITHDRAW=0 EBGP=0 RECEIVERS="kroute bird gobgp frr" OUT=""
while getopts "n:p:k:r:weR:o:" opt; do
    case $opt in
    n) N=$OPTARG ;; p) P=$OPTARG ;; k) K=$OPTARG ;; r) R=$OPTARG ;; w) WITHDRAW=1 ;; e) EBGP=1 ;;
    R) RECEIVERS=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,25p' "$0" >&2; exit 2 ;;
    esac
done
KR_BIN=${KR_BIN:-$repo/build/bin}
if [[ -z ${FEEDER:-} ]]; then
    FEEDER=$KR_BIN/bgp_feeder
    [[ -x $FEEDER ]] || FEEDER=$repo/build-bench/bin/bgp_feeder
fi
DEADLINE=${DEADLINE:-600}
[[ -x $FEEDER ]] || { echo "no feeder at $FEEDER: build the bgp_feeder target" >&2; exit 2; }
for tool in jq birdc bird gobgpd gobgp vtysh /usr/lib/frr/bgpd; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y bird2 frr gobgpd jq)" >&2; exit 2; }
done

ASN=64512
FEED_AS=$ASN
((EBGP)) && FEED_AS=65001
SESSION=ibgp
((EBGP)) && SESSION=ebgp
FEED_ADDR=127.0.0.10
NEXT_HOP=192.0.2.1  # TEST-NET-1 (RFC 5737): GoBGP treats loopback next hops as invalid
declare -A ADDR=([kroute]=127.0.0.11 [bird]=127.0.0.12 [gobgp]=127.0.0.13 [frr]=127.0.0.14)
declare -A PORT=([kroute]=11790 [bird]=11791 [gobgp]=11792 [frr]=11793)
GOBGP_API=127.0.0.1:50151

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kroute-bgp-ingest.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    [[ ${KEEP_LOGS:-0} == 1 ]] && echo "logs kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
log() { echo "bgp_ingest: $*" >&2; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# wait_until SECONDS WHAT CMD...: poll CMD every 50 ms until it succeeds; fail past the deadline.
wait_until() {
    local limit=$(($(now_ms) + $1 * 1000)) what=$2
    shift 2
    until "$@"; do
        (($(now_ms) < limit)) || { log "timed out waiting for $what"; return 1; }
        sleep 0.05
    done
}

# ---- receivers: start_X DIR (sets RPID), count_X DIR (prints the RIB's prefix count) ----
start_kroute() {
    local d=$1
    local feeder_node="" ext=()
    if ((EBGP)); then
        ext=(--peer-router-ips "$FEED_ADDR" --peer-router-asns "$FEED_AS")
    else
        feeder_node=',
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bench-feeder", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "'"$FEED_ADDR"'"}]}}'
    fi
    cat >"$d/nodes.json" <<JSON
{"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bench-kroute", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "${ADDR[kroute]}"}]}}$feeder_node]}
JSON
    local logf=/dev/null
    [[ ${KEEP_LOGS:-0} == 1 ]] && logf=$d/kroute.log
    "$KR_BIN/kroute" --nodes-file "$d/nodes.json" --hostname-override bench-kroute --no-fib \
        --enable-cni=false --health-port 0 --cluster-asn $ASN --bgp-port "${PORT[kroute]}" \
        --bgp-connect-retry-time 5s --api-socket "$d/kroute.sock" "${ext[@]}" </dev/null >"$logf" 2>&1 &
    RPID=$!
}
# The Loc-RIB also holds kroute's own podCIDR, which it originates: not part of the feed.
count_kroute() {
    "$KR_BIN/kroutectl" --socket "$1/kroute.sock" status -o json 2>/dev/null | jq -e '.rib_prefixes - (.pod_cidrs | length)'
}

start_bird() {
    local d=$1
    cat >"$d/bird.conf" <<CONF
router id ${ADDR[bird]};
log "$d/bird.log" { warning, error, fatal };
protocol device { }
protocol bgp feeder {
    local ${ADDR[bird]} port ${PORT[bird]} as $ASN;
    neighbor $FEED_ADDR as $FEED_AS;
    passive on;$( ((EBGP)) && printf '\n    multihop;  # the TEST-NET next hop is on no connected network: resolved recursively (unreachable), as for iBGP')
    ipv4 { import all; export none; };
}
CONF
    bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" </dev/null >"$d/bird.out" 2>&1 &
    RPID=$!
}
count_bird() {
    birdc -s "$1/bird.ctl" show route count 2>/dev/null |
        awk '/routes for .* table master4/ {for (i = 1; i < NF; i++) if ($(i + 1) == "networks") {print $i; f = 1}} END {exit !f}'
}

start_gobgp() {
    local d=$1
    cat >"$d/gobgpd.toml" <<CONF
[global.config]
  as = $ASN
  router-id = "${ADDR[gobgp]}"
  port = ${PORT[gobgp]}
  local-address-list = ["${ADDR[gobgp]}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$FEED_ADDR"
    peer-as = $FEED_AS
  [neighbors.transport.config]
    passive-mode = true
CONF
    gobgpd -f "$d/gobgpd.toml" -t toml --api-hosts "$GOBGP_API" --pprof-disable -l warn \
        </dev/null >"$d/gobgpd.out" 2>&1 &
    RPID=$!
}
count_gobgp() {
    gobgp -u "${GOBGP_API%:*}" -p "${GOBGP_API#*:}" global rib summary -a ipv4 2>/dev/null |
        awk -F'[:,]' '/Destination/ {gsub(/ /, "", $2); print $2; f = 1} END {exit !f}'
}

start_frr() {
    local d=$1
    cat >"$d/bgpd.conf" <<CONF
frr defaults traditional
hostname bench-frr
log file $d/bgpd.log warnings
!
router bgp $ASN
 bgp router-id ${ADDR[frr]}
 no bgp ebgp-requires-policy
 neighbor $FEED_ADDR remote-as $FEED_AS$( ((EBGP)) && printf '\n neighbor %s disable-connected-check' "$FEED_ADDR")
 neighbor $FEED_ADDR passive
 address-family ipv4 unicast
  neighbor $FEED_ADDR activate
 exit-address-family
!
CONF
    /usr/lib/frr/bgpd -Z -n -S -l "${ADDR[frr]}" -p "${PORT[frr]}" -f "$d/bgpd.conf" -i "$d/bgpd.pid" \
        --vty_socket "$d" -P 0 </dev/null >"$d/bgpd.out" 2>&1 &
    RPID=$!
}
count_frr() {
    vtysh --vty_socket "$1" -d bgpd -c 'show bgp summary json' 2>/dev/null |
        jq -e --arg p "$FEED_ADDR" '.ipv4Unicast.peers[$p].pfxRcd // 0'
}

ready() { "count_$1" "$2" >/dev/null; }
count_is() { local c; c=$("count_$1" "$2") && [[ $c == "$3" ]]; }
feeder_event() {  # feeder_event FILE EVENT: prints its t_ms once it is there
    jq -r --arg e "$2" 'select(.event == $e) | .t_ms' "$1" 2>/dev/null | head -1 | grep .
}
feeder_failed() { grep -q '"event":"error"' "$1" 2>/dev/null; }
has_event() { feeder_event "$1" "$2" >/dev/null || { feeder_failed "$1" && { log "feeder: $(cat "$1" | tail -1)"; exit 1; }; false; }; }

stop_pid() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# one_run RECEIVER RUN: prints one JSON line.
one_run() {
    local rx=$1 run=$2 d=$WORK/$1-$2
    mkdir -p "$d"
    "start_$rx" "$d"
    local rpid=$RPID
    PIDS+=("$rpid")
    wait_until 60 "$rx to answer" ready "$rx" "$d"
    sleep 0.5
    local rss_before hwm_before
    rss_before=$(kib "$rpid" VmRSS)
    hwm_before=$(kib "$rpid" VmHWM)

    "$FEEDER" --peer "${ADDR[$rx]}" --port "${PORT[$rx]}" --local "$FEED_ADDR" --next-hop $NEXT_HOP --local-as $FEED_AS --peer-as $ASN \
        -n "$N" -p "$P" -k "$K" --withdraw-trigger "$d/withdraw" --stop-trigger "$d/stop" \
        --deadline $((DEADLINE * 3)) </dev/null >"$d/feeder.jsonl" 2>"$d/feeder.err" &
    local fpid=$!
    PIDS+=("$fpid")
    wait_until "$DEADLINE" "the feeder's first UPDATE to $rx" has_event "$d/feeder.jsonl" first_update
    local t0 t1 ingest_ms hwm
    t0=$(feeder_event "$d/feeder.jsonl" first_update)
    wait_until "$DEADLINE" "$rx to hold $N prefixes" count_is "$rx" "$d" "$N"
    t1=$(now_ms)
    ingest_ms=$((t1 - t0))
    hwm=$(kib "$rpid" VmHWM)
    local sent_ms
    sent_ms=$(($(feeder_event "$d/feeder.jsonl" sent_all) - t0))

    local withdraw_ms=null
    if ((WITHDRAW)); then
        touch "$d/withdraw"
        wait_until "$DEADLINE" "the feeder's first withdrawal" has_event "$d/feeder.jsonl" first_withdraw
        local t2
        t2=$(feeder_event "$d/feeder.jsonl" first_withdraw)
        wait_until "$DEADLINE" "$rx to withdraw everything" count_is "$rx" "$d" 0
        withdraw_ms=$(($(now_ms) - t2))
    fi
    touch "$d/stop"
    stop_pid "$fpid"
    stop_pid "$rpid"
    local version
    case $rx in
    kroute) version=$("$KR_BIN/kroute" --version 2>/dev/null | head -1) ;;
    bird) version=$(bird --version 2>&1 | head -1) ;;
    gobgp) version=$(gobgpd --version 2>&1 | head -1) ;;
    frr) version=$(/usr/lib/frr/bgpd --version 2>&1 | head -1) ;;
    esac
    jq -nc --arg rx "$rx" --arg version "$version" --arg session "$SESSION" --argjson run "$run" --argjson n "$N" --argjson p "$P" \
        --argjson k "$K" --argjson ingest "$ingest_ms" --argjson sent "$sent_ms" --argjson withdraw "$withdraw_ms" \
        --argjson rss_before "$rss_before" --argjson hwm_before "$hwm_before" --argjson hwm "$hwm" \
        '{bench:"bgp_ingest", receiver:$rx, version:$version, run:$run, prefixes:$n, per_update:$p,
          attribute_sets:$k, session:$session, ingest_ms:$ingest, feeder_sent_ms:$sent, withdraw_ms:$withdraw,
          rss_before_kib:$rss_before, hwm_before_kib:$hwm_before, hwm_after_kib:$hwm,
          bytes_per_route:((($hwm - $rss_before) * 1024 / $n) | floor)}'
    [[ ${KEEP_LOGS:-0} == 1 ]] || rm -rf "$d"
}

results=$WORK/results.jsonl
: >"$results"
for ((run = 1; run <= R; run++)); do
    for rx in $RECEIVERS; do
        log "run $run/$R: $rx (N=$N, P=$P)"
        one_run "$rx" "$run" >"$WORK/line"  # not in $(...): a failure must reach the EXIT trap
        tee -a "$results" <"$WORK/line"
        [[ -z $OUT ]] || cat "$WORK/line" >>"$OUT"
    done
done

# Medians (and spread) per receiver, ratios of medians to BIRD's.
jq -sc '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def stats(f): [.[] | f | select(. != null)] | {median: median, min: min, max: max};
  group_by(.receiver) | map({receiver: .[0].receiver, prefixes: .[0].prefixes, per_update: .[0].per_update,
      runs: length, ingest_ms: stats(.ingest_ms), withdraw_ms: stats(.withdraw_ms),
      bytes_per_route: stats(.bytes_per_route), hwm_after_kib: stats(.hwm_after_kib)}) as $s
  | ($s | map(select(.receiver == "bird")) | .[0]) as $b
  | $s[] | . + {bench: "bgp_ingest_summary",
      ingest_ratio_to_bird: (if $b and $b.ingest_ms.median > 0 then (.ingest_ms.median / $b.ingest_ms.median * 100 | round / 100) else null end),
      withdraw_ratio_to_bird: (if $b and ($b.withdraw_ms.median // 0) > 0 then (.withdraw_ms.median / $b.withdraw_ms.median * 100 | round / 100) else null end),
      memory_ratio_to_bird: (if $b and $b.bytes_per_route.median > 0 then (.bytes_per_route.median / $b.bytes_per_route.median * 100 | round / 100) else null end)}
' "$results" | tee -a "${OUT:-/dev/null}"
