#!/usr/bin/env bash
# Interop with GoBGP 3 (Debian's gobgpd) as an external router, in namespaces of its own inside the
# no-route sandbox: kroute is node n1 in "kr" (10.0.0.1 and fd00::1, 10.244.1.0/24) in AS
# 4200000001, GoBGP in "rt" (10.0.0.2 and fd00::2) in AS 4200000002: eBGP with 4-octet ASNs on
# both sides, one session over IPv4 and one over IPv6.
# 1. Both sessions Established (seen from kroute and from GoBGP).
# 2. GoBGP's 198.51.100.0/24 with standard, extended (route target) and large communities reaches
#    kroute with all of them and AS path [4200000002]; its 2001:db8:1::/48 comes over the IPv6
#    session (MP_REACH_NLRI) with next hop fd00::2.
# 3. kroute's podCIDR reaches GoBGP with AS path [4200000001] and next hop 10.0.0.1.
# 4. A withdrawal on GoBGP removes the route from kroute.
# 5. Route refresh: GoBGP's 10.244.9.0/24 is refused while it is node n9's podCIDR; when n9 leaves
#    the nodes file, kroute asks GoBGP with ROUTE-REFRESH and GoBGP's answer brings it in. (GoBGP's
#    `softresetin` re-reads its own Adj-RIB-In and sends nothing: the other direction is tested
#    with BIRD's `reload in`, in bird_test.sh.)
# gobgpd runs with its config and gRPC API (127.0.0.1:50151 inside "rt") of its own.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
    source "$repo/scripts/lib/sandbox.sh"
    KR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kroute-interop-gobgp.XXXXXX")
    export KR_DIR
    rc=0
    run_in_sandbox "$0" --inside || rc=$?
    if ((rc != 0)); then
        for f in "$KR_DIR"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
    fi
    rm -rf "$KR_DIR"
    exit "$rc"
fi
source "$repo/tests/interop/lib.sh"
command -v gobgpd >/dev/null && command -v gobgp >/dev/null ||
    fail "gobgpd is not installed: scripts/install-deps.sh installs it"

gobgp_() { ip netns exec rt gobgp -p 50151 "$@"; }

lan_up kr:10.0.0.1 rt:10.0.0.2
ip -n kr addr add fd00::1/64 dev eth0 nodad
ip -n rt addr add fd00::2/64 dev eth0 nodad
wait_for 5 "IPv6 on the LAN" ip netns exec kr ping -6 -c1 -W1 fd00::2

write_nodes() {  # n1 [n9]
    local n1='{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                           {"type": "InternalIP", "address": "fd00::1"}]}}'
    if [[ ${2:-} == n9 ]]; then nodes_file "$n1" "$(node_json n9 10.0.0.9 10.244.9.0/24)"; else nodes_file "$n1"; fi
}
write_nodes n1 n9

cat >"$KR_DIR/gobgp.toml" <<'TOML'
[global.config]
  as = 4200000002
  router-id = "10.0.0.2"
  port = 179
  local-address-list = ["10.0.0.2", "fd00::2"]
# `gobgp global rib add` takes no extended communities for IPv4 unicast: an export policy adds the
# route target to everything GoBGP sends.
[global.apply-policy.config]
  export-policy-list = ["add-rt"]
  default-export-policy = "accept-route"
[[policy-definitions]]
  name = "add-rt"
  [[policy-definitions.statements]]
    name = "rt"
    [policy-definitions.statements.actions]
      route-disposition = "accept-route"
    [policy-definitions.statements.actions.bgp-actions.set-ext-community]
      options = "add"
      [policy-definitions.statements.actions.bgp-actions.set-ext-community.set-ext-community-method]
        communities-list = ["rt:65001:100"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.0.1"
    peer-as = 4200000001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "fd00::1"
    peer-as = 4200000001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
TOML
echo "gobgp: $(gobgpd --version 2>&1 | head -1)"
setsid ip netns exec rt gobgpd -f "$KR_DIR/gobgp.toml" --api-hosts 127.0.0.1:50151 --log-level info \
    </dev/null >"$KR_DIR/gobgpd.log" 2>&1 &
pids+=("$!")
wait_for 10 "GoBGP's API" gobgp_ global

kroute_node n1 kr --cluster-asn 4200000001 --peer-router-ips 10.0.0.2,fd00::2 \
    --peer-router-asns 4200000002,4200000002
wait_for 30 "kroute Established with GoBGP over IPv4" node_established n1 10.0.0.2
wait_for 30 "kroute Established with GoBGP over IPv6" node_established n1 fd00::2
gobgp_established() { [[ $(gobgp_ neighbor "$1" -j | jq -r '.state.session_state') == 6 || \
                         $(gobgp_ neighbor | grep -c Establ) == 2 ]]; }
wait_for 10 "GoBGP to see both sessions Established" gobgp_established 10.0.0.1
echo "ok: eBGP with 4-octet ASNs, Established over IPv4 and IPv6"

gobgp_ global rib -a ipv4 add 198.51.100.0/24 nexthop 10.0.0.2 community 65001:100,65001:200 \
    large-community 4200000002:1:2
gobgp_ global rib -a ipv6 add 2001:db8:1::/48 nexthop fd00::2
wait_for 20 "kroute to learn 198.51.100.0/24 from GoBGP" node_rib_has n1 198.51.100.0/24 10.0.0.2
wait_for 20 "kroute to learn 2001:db8:1::/48 over the IPv6 session" node_rib_has n1 2001:db8:1::/48 fd00::2
path=$(kctl n1 rib 198.51.100.0/24 -o json | jq -c '.[0].paths[] | select(.best)')
echo "kroute's path: $path"
[[ $(jq -c .as_path <<<"$path") == "[4200000002]" ]] || fail "AS path is not [4200000002]: $path"
[[ $(jq -c '.communities | sort' <<<"$path") == '["65001:100","65001:200"]' ]] || fail "communities: $path"
[[ $(jq -c .large_communities <<<"$path") == '["4200000002:1:2"]' ]] || fail "large communities: $path"
[[ $(jq -c .extended_communities <<<"$path") == '["rt:65001:100"]' ]] || fail "extended communities: $path"
[[ $(jq -c .next_hops <<<"$path") == '["10.0.0.2"]' ]] || fail "next hop: $path"
v6=$(kctl n1 rib 2001:db8:1::/48 -o json | jq -c '.[0].paths[] | select(.best)')
[[ $(jq -c .next_hops <<<"$v6") == '["fd00::2"]' ]] || fail "IPv6 next hop is not fd00::2: $v6"
[[ $(jq -c .as_path <<<"$v6") == "[4200000002]" ]] || fail "IPv6 AS path: $v6"
echo "ok: GoBGP's routes reach kroute with communities, large and extended communities, 4-octet AS path; IPv6 over IPv6"

gobgp_has_ours() { gobgp_ global rib -a ipv4 -j | jq -e '."10.244.1.0/24"' >/dev/null; }
wait_for 20 "GoBGP to learn 10.244.1.0/24 from kroute" gobgp_has_ours
ours=$(gobgp_ global rib -a ipv4 -j | jq -c '."10.244.1.0/24"[0]')
echo "GoBGP's path: $ours"
jq -e '.attrs[] | select(.type == 2) | .as_paths[0].asns == [4200000001]' <<<"$ours" >/dev/null ||
    fail "GoBGP's AS path for 10.244.1.0/24 is not [4200000001]: $ours"
jq -e '.attrs[] | select(.type == 3) | .nexthop == "10.0.0.1"' <<<"$ours" >/dev/null ||
    fail "GoBGP's next hop for 10.244.1.0/24 is not 10.0.0.1: $ours"
echo "ok: kroute's podCIDR reaches GoBGP with AS path [4200000001] and next hop 10.0.0.1"

gobgp_ global rib -a ipv4 del 198.51.100.0/24 >/dev/null
wait_for 20 "198.51.100.0/24 to leave kroute after GoBGP withdrew it" node_rib_lacks n1 198.51.100.0/24
echo "ok: a withdrawal on GoBGP removes the route from kroute"

# n9 leaves the cluster: its podCIDR, refused from GoBGP while n9 was a node (an external router
# may not announce the cluster's pod CIDRs), is now allowed, and kroute, which keeps no pre-policy
# copy, asks GoBGP with ROUTE-REFRESH (RFC 2918) to send it again.
gobgp_ global rib -a ipv4 add 10.244.9.0/24 nexthop 10.0.0.2 >/dev/null
wait_for 20 "kroute to refuse GoBGP's 10.244.9.0/24 (node n9's podCIDR)" field_is n1 10.0.0.2 prefixes_rejected 1
node_rib_lacks n1 10.244.9.0/24 || fail "kroute accepted n9's podCIDR from an external router"
write_nodes n1
wait_for 20 "kroute to ask GoBGP with ROUTE-REFRESH" grep -q 'import policy changed: sending ROUTE-REFRESH' "$KR_DIR/kroute-n1.log"
wait_for 20 "GoBGP's answer to bring 10.244.9.0/24 into kroute" node_rib_has n1 10.244.9.0/24 10.0.0.2
node_established n1 10.0.0.2 || fail "the session went down for a route refresh"
echo "ok: kroute's ROUTE-REFRESH is answered by GoBGP: a prefix allowed by a looser policy arrives, the session stays up"
