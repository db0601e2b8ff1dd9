#!/usr/bin/env bash
# Prints the path of Debian's own kubectl (package kubernetes-client, v1.20), unpacked under
# DIR without installing it: installing would replace a newer /usr/bin/kubectl of another package.
# Usage: kubectl-debian.sh DIR
set -euo pipefail
dir=$1
bin="$dir/root/usr/bin/kubectl"
if [[ ! -x $bin ]]; then
    mkdir -p "$dir"
    (cd "$dir" && apt-get download -qq kubernetes-client >/dev/null 2>&1) ||
        { apt-get update -qq && (cd "$dir" && apt-get download -qq kubernetes-client >/dev/null); }
    dpkg-deb -x "$dir"/kubernetes-client_*.deb "$dir/root"
fi
echo "$bin"
