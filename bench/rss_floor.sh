#!/usr/bin/env bash
# Memory floor benchmark (kroute issue 3, "under 5 MB RSS each"): how much of a process's VmRSS
# the libraries it loads account for before it does anything, side by side with an idle kroute and
# an idle BIRD. Each process is started alone, left to settle for SETTLE seconds, then its VmRSS,
# RssAnon (private) and RssFile (file pages: libraries and the binary, shared with every process
# that maps them) are read, with the five largest mappings by resident size.
#
#   floor-libc       bench/rss_floor_0: the C library only
#   floor-runtime    bench/rss_floor_1: + the C++ runtime, Asio (an idle io_context) and spdlog
#   floor-httplib    bench/rss_floor_2: + cpp-httplib, Debian's shared build, linked to OpenSSL
#   kroute           kroute --nodes-file (one node, no peer) --no-fib --health-port 0, as bgp_mesh.sh runs it
#   bird             BIRD 2 with a device protocol and one BGP peer that never answers
#
# Runs on loopback (127.44.0.1, port 11850) in the root namespace, changes nothing in the kernel;
# every process is killed by PID. One JSON line per process.
# Usage: bench/rss_floor.sh [-o OUT.jsonl]   Env: KR_BIN (default build/bin), SETTLE (default 2)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
KR_BIN=${KR_BIN:-$repo/build/bin}
SETTLE=${SETTLE:-2}
OUT=""
while getopts "o:" opt; do
    case $opt in o) OUT=$OPTARG ;; *) sed -n '2,17p' "$0" >&2; exit 2 ;; esac
done
for tool in jq bird; do command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 2; }; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kroute-rss-floor.XXXXXX")
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
# The five largest mappings by Rss, as "name KiB".
top_mappings() {
    awk '/^[0-9a-f]+-[0-9a-f]+ /{n = ($6 == "" ? "[anon]" : $6); sub(".*/", "", n)} /^Rss:/{r[n] += $2}
         END {for (n in r) print r[n], n}' "/proc/$1/smaps" | sort -rn | head -5 |
        jq -R 'split(" ") | {(.[1]): (.[0] | tonumber)}' | jq -sc 'add'
}
measure() {  # NAME CMD...
    local name=$1
    shift
    "$@" </dev/null >"$WORK/$name.log" 2>&1 &
    PID=$!
    sleep "$SETTLE"
    kill -0 "$PID" 2>/dev/null || { echo "rss_floor: $name exited early:" >&2; cat "$WORK/$name.log" >&2; exit 1; }
    local line
    line=$(jq -cn --arg p "$name" --argjson rss "$(kib "$PID" VmRSS)" --argjson anon "$(kib "$PID" RssAnon)" \
        --argjson file "$(kib "$PID" RssFile)" --argjson top "$(top_mappings "$PID")" \
        '{bench: "rss_floor", process: $p, vmrss_kib: $rss, rss_anon_kib: $anon, rss_file_kib: $file, largest_kib: $top}')
    echo "$line"
    [[ -n $OUT ]] && echo "$line" >>"$OUT"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

cat >"$WORK/nodes.json" <<'JSON'
{"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-0"}, "spec": {"podCIDR": "10.0.0.0/24"},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.44.0.1"}]}}]}
JSON
cat >"$WORK/bird.conf" <<'CONF'
router id 127.44.0.2;
protocol device { }
protocol bgp p { local 127.44.0.2 port 11850 as 64512; neighbor 127.44.0.3 port 11850 as 64512; ipv4 { import all; export all; }; }
CONF

measure floor-libc "$KR_BIN/rss_floor_0"
measure floor-runtime "$KR_BIN/rss_floor_1"
measure floor-httplib "$KR_BIN/rss_floor_2"
measure kroute "$KR_BIN/kroute" --nodes-file "$WORK/nodes.json" --hostname-override node-0 --no-fib --enable-cni=false \
    --health-port 0 --bgp-port 11850 --api-socket "$WORK/kroute.sock"
measure bird bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid"
