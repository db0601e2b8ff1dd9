#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, then runs every test: the
# Catch2 unit suites (CTest; the netlink ones in network namespaces of their own), the kubectl test
# against the fake API server, the CNI plugin test, the static check of deploy/ and the
# end-to-end cluster in network namespaces (inside the no-route sandbox). `--long` adds the long runs (soak, long fuzzing).
# Run as root on Debian 12.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
long=0
for arg in "$@"; do
    case $arg in
        --long) long=1 ;;
        *) echo "usage: $0 [--long]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "test.sh: run as root (the tests create network namespaces)" >&2; exit 1; }

t0=$SECONDS
"$repo/scripts/install-deps.sh"
echo "== build"
"$repo/scripts/build.sh"
t_build=$SECONDS
export KR_BIN="$repo/build/bin"

failed=()
run() {
    local name=$1; shift
    local t=$SECONDS
    echo "== $name"
    if "$@"; then
        echo "-- $name passed ($((SECONDS - t)) s)"
    else
        echo "-- $name FAILED ($((SECONDS - t)) s)"
        failed+=("$name")
    fi
}

run "unit tests (ctest)" ctest --test-dir "$repo/build" --output-on-failure -j 2
run "fuzz: BGP messages, watch streams, nodes file, kubeconfig, CNI template (30 s each)" "$repo/scripts/fuzz.sh" 30
# CTest ran the kubectl test with the kubectl on PATH (v1.32 on the project's image); run it
# again with Debian's v1.20, which speaks the older discovery.
kubectl_120=$("$repo/scripts/lib/kubectl-debian.sh" "$repo/build/tools/kubernetes-client")
run "kubectl v1.20 (Debian) against the fake API server" \
    env KUBECTL="$kubectl_120" "$repo/tests/e2e/kubectl_test.sh"
run "real CNI plugins with kroute-cni-exec" "$repo/tests/e2e/cni_exec_test.sh"
run "kroute with --nodes-file and --no-fib" "$repo/tests/e2e/nodes_file_test.sh"
run "security: root-only debug API, passwords never shown, unconfigured BGP peers refused, listen addresses" "$repo/tests/e2e/security_test.sh"
run "deploy/: manifests, RBAC, Dockerfile and scripts (static)" "$repo/tests/deploy/deploy_test.py"
run "kroutectl completion bash, sourced in bash" "$repo/tests/cli/completion_test.sh"
run "end-to-end cluster in network namespaces" "$repo/tests/e2e/cluster_test.sh"
run "end-to-end dual-stack cluster (5 nodes, IPv4 and IPv6 pods)" "$repo/tests/e2e/dualstack_test.sh"
run "end-to-end IPv6-only cluster (3 nodes, --enable-ipv4=false)" "$repo/tests/e2e/ipv6only_test.sh"
run "end-to-end overlay: two subnets joined by a router, pods over VXLAN (IPv4 and IPv6)" "$repo/tests/e2e/overlay_test.sh"
run "end-to-end with a BIRD top-of-rack router: podCIDRs, import policy, service advertisement" "$repo/tests/e2e/tor_test.sh"
run "end-to-end advertise-only beside another CNI, with the BIRD router" "$repo/tests/e2e/tor_test.sh" advertise-only
run "end-to-end faults: API server away 2 min, kroute SIGKILLed/killed/SIGTERMed with graceful restart, CNI dir read-only/full; pings every 20 ms" \
    env API_DOWN=120 "$repo/tests/e2e/faults_test.sh"
run "end-to-end bad input: malformed UPDATEs (ExaBGP), a peer past its max-prefix, malformed Node objects; pings every 20 ms" \
    "$repo/tests/e2e/bad_input_test.sh"
run "load: 999 BGP peers connecting, flapping 10/s for 1 min and leaving" env DURATION=60 "$repo/tests/e2e/peer_load_test.sh"
run "load: a watch of 5000 nodes with 10 changes/s for 1 min" env DURATION=60 "$repo/tests/e2e/watch_load_test.sh"
run "end-to-end metrics: promtool-clean scrapes, repairs, watch restarts and flaps counted, /healthz" "$repo/tests/e2e/metrics_test.sh"
# The unit and interop suites again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (build-asan/, -O1; the benchmarks' tools left out). Every interop script runs build-asan's kroute.
asan_build() { KROUTE_BUILD_DIR="$repo/build-asan" "$repo/scripts/build.sh" -DKROUTE_SANITIZE=ON -DKROUTE_BENCH=OFF; }
run "build with ASan + UBSan" asan_build
run "unit and interop tests under ASan + UBSan (ctest)" \
    env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$repo/build-asan" --output-on-failure -j 2
if ((long)); then
    run "long fuzz: every target (600 s each)" "$repo/scripts/fuzz.sh" 600
    run "long faults: the API server away for 10 minutes" env API_DOWN=600 "$repo/tests/e2e/faults_test.sh"
    run "long load: 999 BGP peers flapping for 10 minutes" env DURATION=600 "$repo/tests/e2e/peer_load_test.sh"
    run "long load: a watch of 5000 nodes, 10 changes/s for 10 minutes" env DURATION=600 "$repo/tests/e2e/watch_load_test.sh"
    for t in "$repo"/tests/long/*.sh; do
        [[ -e $t ]] && run "long: $(basename "$t")" "$t"
    done
fi

echo
echo "build: $((t_build - t0)) s (installs included), tests: $((SECONDS - t_build)) s, total: $((SECONDS - t0)) s"
if ((${#failed[@]})); then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all tests passed"
