#!/usr/bin/env bash
# Security (issue 7): one kroute (--nodes-file, --no-fib) with an external peer that has a TCP MD5
# password, inside the no-route sandbox, on loopback addresses of its own (127.77.0.x). Asserts:
#  - the debug API socket is root's alone (mode 600), and an unprivileged user cannot use it;
#  - the password appears neither in `kroutectl config` nor in the log, even at -v 4;
#  - the BGP port answers a configured peer's address and refuses any other (no OPEN sent);
#  - /healthz and the metrics listen only on the addresses given (--health-addr, --metrics-addr).
# Runs as root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/lib/standalone.sh"
standalone_reexec security "$@"

KR_BIN=${KR_BIN:-$repo/build/bin}
chmod 755 "$KR_DIR"  # an unprivileged user must reach the socket's directory to be refused by the socket itself

secret='s3cr3t-md5-Pw'
secret_b64=$(printf %s "$secret" | base64)  # kube-router's flag takes base64
cat >"$KR_DIR/nodes.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.77.0.1"}]}},
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2", "resourceVersion": "1"},
  "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.77.0.2"}]}}]}
JSON
"$KR_BIN/kroute" --nodes-file "$KR_DIR/nodes.json" --hostname-override n1 --no-fib --enable-cni=false -v 4 \
    --bgp-port 11790 --bgp-connect-retry-time 1s --api-socket "$KR_DIR/kroute.sock" \
    --peer-router-ips 127.77.0.9 --peer-router-asns 65001 --peer-router-ports 11790 --peer-router-passwords "$secret_b64" \
    --health-port 11791 --health-addr 127.77.0.1 --metrics-port 11792 --metrics-addr 127.77.0.1 \
    </dev/null >"$KR_DIR/kroute.log" 2>&1 &
pids+=($!)
ctl() { "$KR_BIN/kroutectl" --socket "$KR_DIR/kroute.sock" "$@"; }
wait_for 20 "kroute's debug API" ctl status

# The debug API: root only.
mode=$(stat -c '%a %U' "$KR_DIR/kroute.sock")
[[ $mode == "600 root" ]] || fail "the debug API socket is '$mode', not '600 root'"
if runuser -u nobody -- "$KR_BIN/kroutectl" --socket "$KR_DIR/kroute.sock" status >"$KR_DIR/nobody.out" 2>&1; then
    fail "an unprivileged user used the debug API: $(cat "$KR_DIR/nobody.out")"
fi
grep -qi "permission denied" "$KR_DIR/nobody.out" || fail "the refusal does not say why: $(cat "$KR_DIR/nobody.out")"
echo "ok: the debug API socket is root's (600); nobody is refused: $(head -n 1 "$KR_DIR/nobody.out")"

# The password: configured, never shown.
ctl config -o json >"$KR_DIR/config.json"
[[ $(jq -r '."peer-router-passwords"' "$KR_DIR/config.json") == "(set)" ]] || fail "config does not say a password is set"
# Let the session be tried a few times (MD5 set on each connect) before reading the log.
sleep 3
! grep -qF -e "$secret" -e "$secret_b64" "$KR_DIR/config.json" "$KR_DIR/kroute.log" || fail "the password was printed"
echo "ok: the MD5 password is '(set)' in kroutectl config and absent from the -v 4 log"

# The BGP port: a configured peer's address gets an OPEN, any other address nothing.
probe() {  # SOURCE: prints the first bytes kroute sends to a connection from SOURCE
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.settimeout(3)
s.connect(("127.77.0.1", 11790))
try:
    data = s.recv(64)
except (socket.timeout, ConnectionResetError):
    data = b""
print(data.hex())
PY
}
# n2 (127.77.0.2) is a configured iBGP peer: kroute answers it with an OPEN (type 1 after the marker).
opened=$(probe 127.77.0.2)
[[ $opened == ffffffffffffffffffffffffffffffff*01* ]] || fail "a configured peer got no OPEN: '$opened'"
refused=$(probe 127.77.0.5)
[[ -z $refused ]] || fail "an unconfigured address got an answer: '$refused'"
grep -q "127.77.0.5" "$KR_DIR/kroute.log" || fail "the refused connection was not logged"
echo "ok: the BGP port sends an OPEN to a configured peer and nothing to 127.77.0.5 (logged)"

# Health and metrics only on the address given.
listening=$(ss -Hltn | awk '{print $4}')
for port in 11791 11792; do
    grep -qx "127.77.0.1:$port" <<<"$listening" || fail "port $port is not on 127.77.0.1: $listening"
    ! grep -qE "^(0\.0\.0\.0|\*|\[::\]):$port$" <<<"$listening" || fail "port $port listens on every address"
done
curl -fsS "http://127.77.0.1:11791/healthz" >/dev/null || fail "/healthz does not answer on 127.77.0.1"
echo "ok: /healthz and the metrics listen on 127.77.0.1 only"
echo "PASS security_test"
