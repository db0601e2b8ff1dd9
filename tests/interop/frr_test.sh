#!/usr/bin/env bash
# Interop with FRR bgpd (Debian's frr), in namespaces of its own inside the no-route sandbox:
# 1. kroute (--nodes-file, --no-fib) and bgpd over iBGP in AS 64512 on a veth: both Established,
#    kroute's best path for 10.244.2.0/24 comes from bgpd, bgpd learns 10.244.1.0/24.
# 2. TCP MD5 (RFC 2385) with tests/interop/md5_peer: the right password comes up, a wrong one and
#    none never do.
# 3. eBGP over IPv6 (kroute fd00::1, bgpd fd00::2 AS 65002): bgpd's IPv6 route in with next hop
#    fd00::2, kroute's IPv4 podCIDR out over the IPv6 transport with next hop 10.0.0.1.
# bgpd runs without zebra (-Z), with its own config, pid file and vty socket directory in the
# test's directory (never /etc/frr or /var/run/frr).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-frr.XXXXXX")
    export KR_DIR
    rc=0
    run_in_sandbox "$0" --inside || rc=$?
    if ((rc != 0)); then
        for f in "$KR_DIR"/*.log "$KR_DIR"/frr/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 30 "$f"; }; done
    fi
    rm -rf "$KR_DIR"
    exit "$rc"
fi
source "$repo/tests/interop/lib.sh"
bgpd=/usr/lib/frr/bgpd
[[ -x $bgpd ]] && command -v vtysh >/dev/null || fail "frr is not installed: scripts/install-deps.sh installs it"

start_frr() {  # [password]
    local pw=""
    [[ -n ${1:-} ]] && pw=" neighbor 10.0.0.1 password $1"
    # bgpd drops to the frr user (root is not in the frrvty group): its directory must be its own.
    mkdir -p "$KR_DIR/frr"
    chmod 755 "$KR_DIR"
    chown frr:frr "$KR_DIR/frr"
    cat >"$KR_DIR/frr/bgpd.conf" <<CONF
frr defaults traditional
hostname rt
log file $KR_DIR/frr/bgpd.log
router bgp 64512
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.0.1 remote-as 64512
 neighbor 10.0.0.1 timers 3 9
 neighbor 10.0.0.1 timers connect 1
$pw
 address-family ipv4 unicast
  network 10.244.2.0/24
 exit-address-family
CONF
    rm -f "$KR_DIR/frr/bgpd.vty"
    setsid ip netns exec rt "$bgpd" -Z -u frr -g frr -P 0 -l 10.0.0.2 -f "$KR_DIR/frr/bgpd.conf" \
        -i "$KR_DIR/frr/bgpd.pid" --vty_socket "$KR_DIR/frr" </dev/null >>"$KR_DIR/bgpd.out.log" 2>&1 &
    frr_pid=$!
    pids+=("$frr_pid")
    wait_for 10 "bgpd's vty socket" vtysh_ -c 'show bgp summary json'
}
vtysh_() { vtysh --config_dir "$KR_DIR/frr" --vty_socket "$KR_DIR/frr" -d bgpd "$@"; }
frr_learned() {
    vtysh_ -c 'show bgp ipv4 unicast json' |
        jq -e '.routes["10.244.1.0/24"][] | select(.valid and .bestpath) | .nexthops[] | select(.ip == "10.0.0.1")'
}

echo "frr: $($bgpd --version 2>&1 | head -n1)"
make_link
start_frr
start_kroute
wait_for 20 "kroute Established with bgpd" kroute_established
wait_for 20 "kroute's best path for 10.244.2.0/24 from 10.0.0.2" kroute_best_from 10.244.2.0/24 10.0.0.2
wait_for 20 "bgpd to learn 10.244.1.0/24 from kroute" frr_learned
echo "ok: kroute and FRR bgpd over iBGP, routes both ways"
stop_pid "$kroute_pid"
stop_pid "$frr_pid"

start_frr "right-secret"
[[ $(md5_peer right-secret 15) == Established ]] || fail "MD5 with the right password did not come up"
echo "ok: TCP MD5 with the right password: Established"
[[ $(md5_peer wrong-secret 6 || true) == "not Established" ]] || fail "MD5 with a wrong password came up"
[[ $(md5_peer "" 4 || true) == "not Established" ]] || fail "no password against bgpd's MD5 came up"
echo "ok: TCP MD5 with a wrong password or none: never Established"
if grep -q -e right-secret -e wrong-secret "$KR_DIR/md5_peer.log"; then fail "a password in md5_peer's log"; fi

# 3. An eBGP session over IPv6 (kroute fd00::1 AS 64512, bgpd fd00::2 AS 65002): bgpd's IPv6
#    route reaches kroute with next hop fd00::2, kroute's IPv4 podCIDR reaches bgpd over the IPv6
#    transport with its IPv4 next hop 10.0.0.1.
stop_pid "$frr_pid"
ip -n kr addr add fd00::1/64 dev eth0 nodad
ip -n rt addr add fd00::2/64 dev eth0 nodad
wait_for 5 "IPv6 on the link" ip netns exec kr ping -6 -c1 -W1 fd00::2
cat >"$KR_DIR/frr/bgpd.conf" <<CONF
frr defaults traditional
hostname rt
log file $KR_DIR/frr/bgpd.log
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor fd00::1 remote-as 64512
 neighbor fd00::1 timers 3 9
 neighbor fd00::1 timers connect 1
 address-family ipv4 unicast
  neighbor fd00::1 activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:3::/48
  neighbor fd00::1 activate
 exit-address-family
CONF
rm -f "$KR_DIR/frr/bgpd.vty"
setsid ip netns exec rt "$bgpd" -Z -u frr -g frr -P 0 -l fd00::2 -f "$KR_DIR/frr/bgpd.conf" \
    -i "$KR_DIR/frr/bgpd.pid" --vty_socket "$KR_DIR/frr" </dev/null >>"$KR_DIR/bgpd.out.log" 2>&1 &
frr_pid=$!
pids+=("$frr_pid")
wait_for 10 "bgpd's vty socket" vtysh_ -c 'show bgp summary json'
cat >"$KR_DIR/nodes.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                           {"type": "InternalIP", "address": "fd00::1"}]}}]}
JSON
kroute_node n1 kr --peer-router-ips fd00::2 --peer-router-asns 65002
wait_for 30 "kroute Established with bgpd over IPv6" node_established n1 fd00::2
wait_for 20 "kroute to learn 2001:db8:3::/48 from bgpd" node_rib_has n1 2001:db8:3::/48 fd00::2
v6=$(kctl n1 rib 2001:db8:3::/48 -o json | jq -c '.[0].paths[0]')
[[ $(jq -r '.next_hops[0]' <<<"$v6") == fd00::2 ]] || fail "the IPv6 next hop is not fd00::2: $v6"
[[ $(jq -c .as_path <<<"$v6") == "[65002]" ]] || fail "the AS path is not [65002]: $v6"
frr_learned_v4_over_v6() {
    vtysh_ -c 'show bgp ipv4 unicast json' |
        jq -e '.routes["10.244.1.0/24"][] | select(.valid and .bestpath) | .nexthops[] | select(.ip == "10.0.0.1")'
}
wait_for 20 "bgpd to learn 10.244.1.0/24 (next hop 10.0.0.1) over the IPv6 session" frr_learned_v4_over_v6
echo "ok: eBGP over IPv6 with bgpd: its IPv6 route in (next hop fd00::2), kroute's IPv4 podCIDR out (next hop 10.0.0.1)"
