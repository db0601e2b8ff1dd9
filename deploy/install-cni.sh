#!/bin/sh
# Init container: copies the reference CNI plugins onto the host when missing, and names kroute's
# route protocol for iproute2 so that `ip route` on the host prints "proto kroute".
set -eu
for p in bridge host-local portmap loopback; do
    if [ ! -x "/host/opt/cni/bin/$p" ]; then
        cp "/usr/lib/cni/$p" "/host/opt/cni/bin/.$p.tmp" && mv "/host/opt/cni/bin/.$p.tmp" "/host/opt/cni/bin/$p"
    fi
done
cp /etc/kroute/rt_protos /host/etc/iproute2/rt_protos.d/kroute.conf
