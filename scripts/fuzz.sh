#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: fuzzes kroute's parsers of outside input with libFuzzer +
# ASan + UBSan, SECONDS each (default 30), every target unless some are named:
#   bgp_message    BGP messages under every session context (tests/fuzz/fuzz_bgp_message.cpp)
#   watch_events   a watch stream: framing, watch events, Node/Service/EndpointSlice objects
#   nodes_file     the --nodes-file content (NodeList / List JSON) into the node cache
#   kubeconfig     a kubeconfig's YAML
#   cni_template   the CNI conflist template, rendered twice
# Builds the clang fuzz build into build-fuzz-clang/ (KROUTE_FUZZ=ON; the main build stays g++).
# For each target: replays its seed corpus (tests/fuzz/corpus/TARGET/) and every saved crasher
# (tests/fuzz/crashers/TARGET/), which must all pass, then fuzzes. A crash fails the run and is
# saved in tests/fuzz/crashers/TARGET/, so that every later run replays it until it is fixed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-30}
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2; }
shift || true
all_targets=(bgp_message watch_events nodes_file kubeconfig cni_template)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target $t (${all_targets[*]})" >&2; exit 2; }
done
build=${KROUTE_FUZZ_BUILD_DIR:-$repo/build-fuzz-clang}

"$repo/scripts/install-deps.sh"
t0=$SECONDS
cmake -S "$repo" -B "$build" -G Ninja -Wno-dev -DKROUTE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
if ! cmake --build "$build" --target "${targets[@]/#/fuzz_}" -j "$(nproc)" >"$build/build.log" 2>&1; then
    tail -n 60 "$build/build.log" >&2
    echo "fuzz: build FAILED (log: $build/build.log)" >&2
    exit 1
fi
echo "fuzz: built ${targets[*]} in $((SECONDS - t0)) s"

failed=0
for t in "${targets[@]}"; do
    bin=$build/bin/fuzz_$t
    corpus=$repo/tests/fuzz/corpus/$t
    crashers=$repo/tests/fuzz/crashers/$t
    log=$build/fuzz_$t.log
    mkdir -p "$crashers"

    # Replay: each file is run once (file arguments, no fuzzing); any crash fails here.
    replay=("$corpus"/*)
    seeds=${#replay[@]}
    for f in "$crashers"/*; do
        [[ -f $f ]] && replay+=("$f")
    done
    if ! "$bin" "${replay[@]}" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz $t: replaying the corpus and crashers FAILED at $(grep '^Running: ' "$log" | tail -n 1) (log: $log)" >&2
        failed=1
        continue
    fi
    echo "fuzz $t: replayed ${#replay[@]} inputs ($seeds seeds, $((${#replay[@]} - seeds)) crashers)"

    # Fuzz. New inputs go to a work corpus in the build dir (kept between runs), never into the
    # repo's seed corpus; crash/timeout/oom inputs go straight into the crashers directory.
    # -max_len covers extended BGP messages (RFC 8654) and sizeable JSON. One process; `timeout`
    # bounds a hung run.
    work=$build/corpus-work-$t
    mkdir -p "$work"
    t1=$SECONDS
    if ! timeout $((secs + 120)) "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
            -print_final_stats=1 -artifact_prefix="$crashers/" "$work" "$corpus" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz $t: CRASH (the input is saved in tests/fuzz/crashers/$t/; full log: $log)" >&2
        failed=1
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz $t: no crash in $((SECONDS - t1)) s: ${runs:-?} inputs (${rate:-?}/s), work corpus $(ls "$work" | wc -l) files"
done
exit "$failed"
