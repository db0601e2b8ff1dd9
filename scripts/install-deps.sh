#!/usr/bin/env bash
# Installs every Debian package kroute's build, tests and demo need; `--build-only`: only what the
# build needs (deploy/Dockerfile's build stage). Idempotent: when everything is already there it
# prints nothing and exits 0 without touching apt.
set -euo pipefail
build_only=0
case ${1:-} in
    --build-only) build_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

build_packages=(
    build-essential cmake ninja-build pkg-config
    libboost1.81-dev libnl-3-dev libnl-route-3-dev nlohmann-json3-dev libcpp-httplib-dev
    libspdlog-dev catch2 libssl-dev libcli11-dev libyaml-cpp-dev
)
packages=(
    "${build_packages[@]}"
    # the libFuzzer build (scripts/fuzz.sh)
    clang libclang-rt-14-dev
    # tests and demo
    iproute2 iputils-ping nftables iptables jq curl util-linux procps openssl socat
    containernetworking-plugins
    # the static check of deploy/ (tests/deploy/deploy_test.py)
    python3 python3-yaml shellcheck
    # promtool (tests/e2e/metrics_test.sh checks a real scrape with it)
    prometheus
    # real BGP peers for interop tests
    bird2 frr gobgpd exabgp
)

((build_only)) && packages=("${build_packages[@]}")

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# kubectl: the machine image may carry one; else Debian's kubernetes-client.
((build_only)) || command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
