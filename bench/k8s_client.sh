#!/usr/bin/env bash
# Kubernetes client benchmark (kroute issue 4, "Figures to reach"): bench/k8s_client.cpp with the
# repository's fixture and binaries. 5000 copies of the kubeadm fixture's Node: parsed into the
# cache in process (and the cache's heap per node), listed from the fake API server over TLS by
# kroute's node watcher and, side by side, by client-go (kubectl); then node changes PATCHed
# through the API timed to the watcher's event. Loopback only; the server is killed by PID.
#
# Usage: bench/k8s_client.sh [-n NODES] [-r REPEATS] [-m CHANGES]
# Env: KR_BIN (k8s_client_bench, fake-apiserver; default build/bin), KUBECTL (default: on PATH).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
KR_BIN=${KR_BIN:-$repo/build/bin}
N=5000 R=3 M=200
while getopts "n:r:m:" opt; do
    case $opt in
    n) N=$OPTARG ;; r) R=$OPTARG ;; m) M=$OPTARG ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
    esac
done
kubectl=${KUBECTL:-$(command -v kubectl || true)}
[[ -n $kubectl ]] || { echo "missing kubectl (scripts/install-deps.sh)" >&2; exit 2; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); client-go anchor: $("$kubectl" version --client 2>/dev/null | head -1)"
exec "$KR_BIN/k8s_client_bench" --fake-apiserver "$KR_BIN/fake-apiserver" \
    --fixture "$repo/tests/data/k8s/node-kubeadm-flannel-k8s1.json" --kubectl "$kubectl" -n "$N" -r "$R" -m "$M"
