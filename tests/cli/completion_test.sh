#!/usr/bin/env bash
# `kroutectl completion bash`: the script sources cleanly in bash, registers itself for kroutectl,
# and completes commands, options, neighbor actions, and the addresses and prefixes a running
# kroute has (here a stand-in kroutectl function answers for it). No root, no network.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
KR_BIN=${KR_BIN:-$repo/build/bin}
[[ -x $KR_BIN/kroutectl ]] || { echo "completion_test: no $KR_BIN/kroutectl (build it, or set KR_BIN)" >&2; exit 1; }

script=$("$KR_BIN/kroutectl" completion bash)
bash -n <(printf '%s\n' "$script") || { echo "FAIL: the script does not parse"; exit 1; }
if command -v shellcheck >/dev/null; then
    printf '%s\n' "$script" | shellcheck -s bash - || { echo "FAIL: shellcheck"; exit 1; }
fi
# shellcheck source=/dev/null
source <(printf '%s\n' "$script")
[[ $(complete -p kroutectl) == "complete -F _kroutectl kroutectl" ]] || { echo "FAIL: not registered: $(complete -p kroutectl)"; exit 1; }

# The running kroute, as kroutectl -o json prints it; records the socket it was asked on (in a
# file: completion asks it from a subshell).
asked=$(mktemp)
trap 'rm -f "$asked"' EXIT
kroutectl() {
    local args=("$@")
    [[ ${args[0]} == --socket ]] && echo "${args[1]}" >"$asked"
    case " ${args[*]} " in
        *" neighbors -o json "*) printf '[\n  {\n    "address": "192.0.2.1",\n    "asn": 65001\n  },\n  {\n    "address": "192.0.2.17",\n    "asn": 64512\n  }\n]\n' ;;
        *" rib -o json "*) printf '[\n  {\n    "paths": [],\n    "prefix": "10.244.1.0/24"\n  },\n  {\n    "paths": [],\n    "prefix": "10.244.2.0/24"\n  }\n]\n' ;;
        *) return 1 ;;
    esac
}

failed=0
# expect WANT WORD...: completing the command line WORD... (the last one being completed).
expect() {
    local want=$1; shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _kroutectl
    local got="${COMPREPLY[*]}"
    if [[ $got == "$want" ]]; then
        echo "ok: ${*} -> ${got:-(nothing)}"
    else
        echo "FAIL: ${*} -> '$got', want '$want'"
        failed=1
    fi
}

expect "status neighbors neighbor rib routes node config completion" kroutectl ""
expect "neighbors neighbor node" kroutectl n
expect "neighbors neighbor" kroutectl neighbor
expect "rib routes" kroutectl r
expect "--socket -o --output --help" kroutectl -
expect "table json" kroutectl -o ""
expect "json" kroutectl neighbors --output j
expect "-o --output --help --message" kroutectl neighbor 192.0.2.1 shutdown -
expect "192.0.2.1 192.0.2.17" kroutectl neighbor ""
expect "192.0.2.1 192.0.2.17" kroutectl neighbor 192.0.2.1
expect "192.0.2.17" kroutectl -o json neighbor 192.0.2.17
expect "reset soft-reset shutdown enable" kroutectl neighbor 192.0.2.1 ""
expect "soft-reset shutdown" kroutectl neighbor 192.0.2.1 s
expect "in out" kroutectl neighbor 192.0.2.1 soft-reset ""
expect "" kroutectl neighbor 192.0.2.1 reset ""
expect "" kroutectl neighbor 192.0.2.1 shutdown --message ""
expect "10.244.1.0/24 10.244.2.0/24" kroutectl rib ""
expect "10.244.2.0/24" kroutectl rib 10.244.2
expect "" kroutectl rib 10.244.2.0/24 ""
expect "bash" kroutectl completion ""
expect "" kroutectl status ""
# --socket goes with the question to kroute.
expect "192.0.2.1 192.0.2.17" kroutectl --socket /run/other/kroute.sock neighbor ""
[[ $(cat "$asked") == /run/other/kroute.sock ]] || { echo "FAIL: kroute asked on '$(cat "$asked")', not --socket's"; failed=1; }
# No kroute answering: nothing, quietly.
unset -f kroutectl
kroutectl() { return 1; }
expect "" kroutectl neighbor ""
# The real binary refuses another shell.
if "$KR_BIN/kroutectl" completion zsh >/dev/null 2>&1; then
    echo "FAIL: kroutectl completion zsh succeeded"
    failed=1
fi

((failed == 0)) || exit 1
echo "completion_test: all passed"
