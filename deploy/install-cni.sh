#!/bin/sh
# The DaemonSet's install-cni init container: copies the reference CNI plugins kroute's conflist
# names (Debian's containernetworking-plugins, in /usr/lib/cni) to the host's /opt/cni/bin when it
# lacks them. A plugin already there (from the container runtime's packages, say) is left alone.
set -eu
src=/usr/lib/cni
dest=/host/opt/cni/bin
for p in bridge host-local portmap loopback; do
    if [ -x "$dest/$p" ]; then
        echo "$p: already on the host"
    else
        cp "$src/$p" "$dest/.$p.tmp"
        mv "$dest/.$p.tmp" "$dest/$p"
        echo "$p: installed"
    fi
done
