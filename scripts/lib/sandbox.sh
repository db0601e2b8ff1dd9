# shellcheck shell=bash
# Sourced. run_in_sandbox CMD...: runs CMD inside a network namespace with no routes at all (only
# lo), in a private mount namespace whose /run/netns is a fresh tmpfs, and in a PID namespace of
# its own. A command that forgets `ip netns exec` then fails with "Network is unreachable" instead
# of sending traffic off the machine; when CMD ends (even by a crash), the PID namespace takes
# every daemon with it and the tmpfs every namespace name. See docs/testing.md.

run_in_sandbox() {
    local name="kr_sandbox_$$_${RANDOM}"
    ip netns add "$name"
    ip -n "$name" link set lo up
    local rc=0
    # shellcheck disable=SC2016
    ip netns exec "$name" unshare --mount --propagation private --pid --fork --mount-proc \
        sh -c 'mount -t tmpfs netns /run/netns && exec "$@"' sandbox "$@" || rc=$?
    ip netns del "$name" 2>/dev/null || true
    return "$rc"
}

# e2e_reexec TAG ARGS...: the preamble of a test script that builds a cluster. Outside the sandbox
# (ARGS not starting with --inside) it makes a scratch KR_DIR, runs the calling script with
# --inside in the sandbox, prints the daemons' last log lines if it failed, removes KR_DIR and
# exits with the script's status. Inside, it returns and the script goes on.
e2e_reexec() {
    local tag=$1; shift
    [[ ${1:-} == --inside ]] && return 0
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-$tag.XXXXXX")
    export KR_DIR
    local rc=0 f
    run_in_sandbox "$0" --inside "$@" || rc=$?
    if ((rc != 0)); then
        for f in "$KR_DIR"/node*/kroute.log "$KR_DIR"/api/log; do
            [[ -f $f ]] && { echo "--- last lines of $f"; tail -n 30 "$f"; }
        done
    fi
    rm -rf "$KR_DIR"
    exit "$rc"
}
