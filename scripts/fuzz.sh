#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: fuzzes the BGP message codec (tests/fuzz/fuzz_bgp_message.cpp) with
# libFuzzer + ASan + UBSan for SECONDS (default 30). Builds the clang fuzz build into
# build-fuzz-clang/ (KROUTE_FUZZ=ON; the main build stays g++), replays the seed corpus
# (tests/fuzz/corpus/bgp_message/, the captured vectors) and every saved crasher
# (tests/data/bgp/crashers/), which must all pass, then fuzzes. A crash fails the run and is saved
# in tests/data/bgp/crashers/, so every later run replays it until the codec is fixed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-30}
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
build=${KROUTE_FUZZ_BUILD_DIR:-$repo/build-fuzz-clang}
corpus=$repo/tests/fuzz/corpus/bgp_message
crashers=$repo/tests/data/bgp/crashers
bin=$build/bin/fuzz_bgp_message
log=$build/fuzz_bgp_message.log

"$repo/scripts/install-deps.sh"
t0=$SECONDS
cmake -S "$repo" -B "$build" -G Ninja -Wno-dev -DKROUTE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
if ! cmake --build "$build" --target fuzz_bgp_message -j "$(nproc)" >"$build/build.log" 2>&1; then
    tail -n 60 "$build/build.log" >&2
    echo "fuzz: build FAILED (log: $build/build.log)" >&2
    exit 1
fi
echo "fuzz: built in $((SECONDS - t0)) s"

# Replay: each file is run once (file arguments, no fuzzing); any crash fails here.
replay=("$corpus"/*)
seeds=${#replay[@]}
for f in "$crashers"/*; do
    [[ -f $f && $f != *.md ]] && replay+=("$f")
done
if ! "$bin" "${replay[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: replaying the corpus and crashers FAILED at $(grep '^Running: ' "$log" | tail -n 1) (log: $log)" >&2
    exit 1
fi
echo "fuzz: replayed ${#replay[@]} inputs ($seeds seeds, $((${#replay[@]} - seeds)) crashers)"

# Fuzz. New inputs go to a work corpus in the build dir (kept between runs), never into the repo's
# seed corpus; crash/timeout/oom inputs go straight into the crashers directory. -max_len covers
# extended messages (RFC 8654) past 4096 octets. One process; `timeout` bounds a hung run.
work=$build/corpus-work
mkdir -p "$work" "$crashers"
t1=$SECONDS
if ! timeout $((secs + 120)) "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$crashers/" "$work" "$corpus" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: CRASH (the input is saved in tests/data/bgp/crashers/; full log: $log)" >&2
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
echo "fuzz: no crash in $((SECONDS - t1)) s: ${runs:-?} inputs (${rate:-?}/s), work corpus $(ls "$work" | wc -l) files"
