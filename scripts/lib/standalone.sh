# shellcheck shell=bash
# Sourced by a test that runs its own daemons in the no-route sandbox (scripts/lib/sandbox.sh)
# rather than a cluster (scripts/lib/cluster.sh). `standalone_reexec TAG "$@"` outside the sandbox
# makes a scratch KR_DIR, runs the calling script inside with --inside, shows the last lines of
# every KR_DIR/*.log if it failed, removes KR_DIR and exits with the script's status; inside it
# returns. The script then has fail, wait_for, and a pids array whose processes an EXIT trap ends.
# shellcheck source=scripts/lib/sandbox.sh
source "$(dirname "${BASH_SOURCE[0]}")/sandbox.sh"

standalone_reexec() {
    local tag=$1; shift
    [[ ${1:-} == --inside ]] && return 0
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-$tag.XXXXXX")
    export KR_DIR
    local rc=0 f
    run_in_sandbox "$0" --inside "$@" || rc=$?
    if ((rc != 0)); then
        for f in "$KR_DIR"/*.log; do [[ -f $f ]] && { echo "--- last lines of $f"; tail -n 30 "$f"; }; done
    fi
    rm -rf "$KR_DIR"
    exit "$rc"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds or time runs out.
wait_for() {
    local seconds=$1 what=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out after ${seconds}s waiting for: $what"
        sleep 0.2
    done
}

pids=()
standalone_cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap standalone_cleanup EXIT
