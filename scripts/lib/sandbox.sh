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
