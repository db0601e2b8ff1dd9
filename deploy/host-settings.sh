#!/bin/sh
# The DaemonSet's privileged init container: the host settings kroute's unprivileged container
# cannot make. The pod is in the host's network namespace, so these are the host's sysctls;
# kroute checks them when it starts and writes only one that is not set (it cannot: /proc/sys is
# read-only there).
set -eu
echo 1 >/proc/sys/net/ipv4/ip_forward
echo "net.ipv4.ip_forward = 1"
# IPv6 forwarding only with kroute's --enable-ipv6: it also stops the host from taking router
# advertisements (accept_ra 1), which a host configured by SLAAC needs.
if [ "${KROUTE_ENABLE_IPV6:-false}" = true ]; then
    if [ -d /proc/sys/net/ipv6 ]; then
        echo 1 >/proc/sys/net/ipv6/conf/all/forwarding
        echo "net.ipv6.conf.all.forwarding = 1"
    else
        echo "the kernel has no IPv6: IPv6 forwarding not enabled"
    fi
fi
# `ip route` on the host prints "proto kroute" for kroute's routes (route protocol 52).
cp /etc/kroute/rt_protos /host/etc/iproute2/rt_protos.d/.kroute.conf.tmp
mv /host/etc/iproute2/rt_protos.d/.kroute.conf.tmp /host/etc/iproute2/rt_protos.d/kroute.conf
echo "/etc/iproute2/rt_protos.d/kroute.conf: $(cat /etc/kroute/rt_protos)"
