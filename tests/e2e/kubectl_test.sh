#!/usr/bin/env bash
# Proves that a real kubectl works against tests/fake-apiserver: discovery, list, paging, watch,
# client- and server-side apply, the three patch types, the status subresource, cordon (protobuf
# Accept header), delete, NotFound and Unauthorized errors.
#
#   tests/e2e/kubectl_test.sh                 # kubectl from PATH, build/bin/fake-apiserver
#   KUBECTL=/path/to/kubectl FAKE_APISERVER=/path/to/fake-apiserver tests/e2e/kubectl_test.sh
#
# Loopback only (127.0.0.1, port 0). kubectl caches discovery in $HOME/.kube/cache, so each group
# of invocations runs with a fresh HOME. Exits non-zero with a message at the first failure.
set -euo pipefail

KUBECTL=${KUBECTL:-kubectl}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
FAKE_APISERVER=${FAKE_APISERVER:-$repo/build/bin/fake-apiserver}
token="kubectl-test-$$-$RANDOM"

work=$(mktemp -d "${TMPDIR:-/tmp}/kubectl_test.XXXXXX")
server_pid=""
watch_pid=""
cleanup() {
    [[ -n "$watch_pid" ]] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "kubectl_test: FAIL ($KUBECTL): $*" >&2
    if [[ -f "$work/server.err" ]]; then
        echo "--- last fake-apiserver requests:" >&2
        tail -n 15 "$work/server.err" >&2
    fi
    exit 1
}
pass() { echo "kubectl_test: ok: $*"; }
expect_eq() { [[ "$2" == "$3" ]] || fail "$1: expected '$3', got '$2'"; }
expect_match() { grep -Eq -- "$3" <<<"$2" || fail "$1: expected /$3/ in: $2"; }

command -v "$KUBECTL" >/dev/null || fail "no kubectl '$KUBECTL'"
[[ -x "$FAKE_APISERVER" ]] || fail "no fake-apiserver at $FAKE_APISERVER (build the fake-apiserver target)"
echo "kubectl_test: using $("$KUBECTL" version --client 2>/dev/null | head -n 1)"

home=""
fresh_home() { home=$(mktemp -d "$work/home.XXXXXX"); }
k() { HOME="$home" KUBECONFIG="$work/certs/kubeconfig" timeout 30 "$KUBECTL" "$@"; }

# --- the server -------------------------------------------------------------------------------
cat >"$work/nodes.json" <<'JSON'
{"kind": "NodeList", "apiVersion": "v1", "items": [
  {"metadata": {"name": "node-01", "labels": {"kubernetes.io/hostname": "node-01"}},
   "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
   "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.11"}],
              "conditions": [{"type": "Ready", "status": "True"}]}},
  {"metadata": {"name": "node-02", "labels": {"kubernetes.io/hostname": "node-02"}},
   "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]},
   "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.12"}],
              "conditions": [{"type": "Ready", "status": "True"},
                             {"type": "NetworkUnavailable", "status": "True", "reason": "NoRouteCreated"}]}}
]}
JSON
"$FAKE_APISERVER" --listen 127.0.0.1 --port 0 --token "$token" --cert-dir "$work/certs" \
    --nodes "$work/nodes.json" </dev/null >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^ready ' "$work/server.out" && break
    kill -0 "$server_pid" 2>/dev/null || fail "fake-apiserver exited: $(cat "$work/server.err")"
    sleep 0.1
done
grep -q '^ready ' "$work/server.out" || fail "fake-apiserver not ready after 10 s"
port=$(cat "$work/certs/port")
expect_match "ready line" "$(cat "$work/server.out")" "^ready port=$port url=https://127\.0\.0\.1:$port$"

# Open watches, read through the fault endpoint (kubectl get --raw takes any path).
open_watches() { k get --raw /fake/faults | sed -n 's/.*"open_watches":\([0-9]*\).*/\1/p'; }

# --- list -------------------------------------------------------------------------------------
fresh_home
out=$(k get nodes) || fail "kubectl get nodes"
expect_match "get nodes" "$out" '^node-01 '
expect_match "get nodes" "$out" '^node-02 '
expect_eq "get nodes names" "$(k get nodes -o jsonpath='{.items[*].metadata.name}')" "node-01 node-02"
expect_eq "chunked list" "$(k get nodes --chunk-size=1 -o name | tr '\n' ' ')" "node/node-01 node/node-02 "
expect_eq "field selector" "$(k get nodes --field-selector metadata.name=node-02 -o name)" "node/node-02"
expect_eq "label selector" "$(k get nodes -l kubernetes.io/hostname=node-01 -o name)" "node/node-01"
pass "get nodes lists the seeded nodes (plain, paged, field and label selectors)"

# --- apply: create, then update ---------------------------------------------------------------
fresh_home
node_yaml() {
    cat >"$work/node.yaml" <<YAML
apiVersion: v1
kind: Node
metadata:
  name: node-03
  labels:
    tier: "$1"
spec:
  podCIDR: 10.244.3.0/24
  podCIDRs: [10.244.3.0/24]
YAML
}
node_yaml a
out=$(k apply -f "$work/node.yaml" --validate=false 2>&1) || fail "apply (create): $out"
expect_match "apply (create)" "$out" 'node/node-03 created'
expect_eq "created label" "$(k get node node-03 -o jsonpath='{.metadata.labels.tier}')" "a"
uid=$(k get node node-03 -o jsonpath='{.metadata.uid}')
rv=$(k get node node-03 -o jsonpath='{.metadata.resourceVersion}')
node_yaml b
out=$(k apply -f "$work/node.yaml" --validate=false 2>&1) || fail "apply (update): $out"
expect_match "apply (update)" "$out" 'node/node-03 configured'
expect_eq "updated label" "$(k get node node-03 -o jsonpath='{.metadata.labels.tier}')" "b"
expect_eq "uid kept" "$(k get node node-03 -o jsonpath='{.metadata.uid}')" "$uid"
[[ "$(k get node node-03 -o jsonpath='{.metadata.resourceVersion}')" != "$rv" ]] || fail "resourceVersion not bumped"
out=$(k apply -f "$work/node.yaml" --validate=false 2>&1) || fail "apply (unchanged): $out"
expect_match "apply (unchanged)" "$out" 'node/node-03 (unchanged|configured)'
pass "apply --validate=false creates, then updates node-03"

sed 's/node-03/node-05/; s/10.244.3/10.244.5/g' "$work/node.yaml" >"$work/node5.yaml"
out=$(k apply --server-side --validate=false -f "$work/node5.yaml" 2>&1) || fail "server-side apply: $out"
expect_match "server-side apply" "$out" 'node/node-05 serverside-applied'
expect_eq "server-side apply result" "$(k get node node-05 -o jsonpath='{.spec.podCIDR}')" "10.244.5.0/24"
pass "apply --server-side creates node-05"

# --- watch ------------------------------------------------------------------------------------
fresh_home
before=$(open_watches)
k get nodes -w --output-watch-events >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!
for _ in $(seq 100); do
    [[ "$(open_watches)" -gt "$before" ]] && break
    sleep 0.1
done
[[ "$(open_watches)" -gt "$before" ]] || fail "kubectl get -w never opened a watch: $(cat "$work/watch.err")"
k label node node-01 watched=yes >/dev/null || fail "label node-01"
sed 's/node-03/node-04/; s/10.244.3/10.244.4/g' "$work/node.yaml" >"$work/node4.yaml"
k create -f "$work/node4.yaml" --validate=false >/dev/null || fail "create node-04"
for _ in $(seq 100); do
    grep -Eq '^MODIFIED +node-01 ' "$work/watch.out" && grep -Eq '^ADDED +node-04 ' "$work/watch.out" && break
    sleep 0.1
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""
watched=$(cat "$work/watch.out")
expect_match "watch: initial list" "$watched" '^ADDED +node-02 '
expect_match "watch: label change" "$watched" '^MODIFIED +node-01 '
expect_match "watch: creation" "$watched" '^ADDED +node-04 '
pass "get nodes -w prints ADDED/MODIFIED for changes made while watching"

# --- patch ------------------------------------------------------------------------------------
fresh_home
out=$(k patch node node-02 -p '{"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]}}' 2>&1) ||
    fail "strategic patch: $out"
expect_match "strategic patch" "$out" 'node/node-02 patched'
json=$(k get node node-02 -o json)
expect_match "strategic patch: podCIDR" "$json" '"podCIDR": "10\.244\.9\.0/24"'
expect_eq "strategic patch: podCIDRs" "$(k get node node-02 -o jsonpath='{.spec.podCIDRs[*]}')" "10.244.9.0/24"

out=$(k patch node node-02 --type=merge -p '{"metadata":{"labels":{"merged":"yes"}}}' 2>&1) || fail "merge patch: $out"
expect_match "merge patch: label" "$(k get node node-02 -o json)" '"merged": "yes"'

out=$(k patch node node-02 --type=json \
    -p '[{"op":"replace","path":"/spec/podCIDR","value":"10.244.8.0/24"},{"op":"add","path":"/metadata/labels/jp","value":"1"}]' 2>&1) ||
    fail "json patch: $out"
json=$(k get node node-02 -o json)
expect_match "json patch: podCIDR" "$json" '"podCIDR": "10\.244\.8\.0/24"'
expect_match "json patch: label" "$json" '"jp": "1"'
expect_match "earlier patches kept" "$json" '"merged": "yes"'
pass "patch: strategic (default), --type=merge, --type=json"

# --subresource came with kubectl v1.24; older clients (Debian's v1.20) cannot reach /status.
if k patch --help 2>/dev/null | grep -q -- '--subresource'; then
    out=$(k patch node node-02 --subresource=status --type=strategic \
        -p '{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False"}]}}' 2>&1) || fail "status patch: $out"
    expect_eq "status patch: condition types" "$(k get node node-02 -o jsonpath='{.status.conditions[*].type}')" \
        "Ready NetworkUnavailable"
    expect_eq "status patch: NetworkUnavailable" \
        "$(k get node node-02 -o jsonpath='{.status.conditions[?(@.type=="NetworkUnavailable")].status}')" "False"
    expect_eq "status patch: Ready kept" \
        "$(k get node node-02 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" "True"
    pass "patch --subresource=status merges conditions by type"
else
    echo "kubectl_test: skip: $KUBECTL has no patch --subresource (kubectl < 1.24)"
fi

out=$(k cordon node-01 2>&1) || fail "cordon: $out"
expect_eq "cordon" "$(k get node node-01 -o jsonpath='{.spec.unschedulable}')" "true"
pass "cordon (typed client, protobuf-first Accept) works"

# --- delete and errors ------------------------------------------------------------------------
fresh_home
out=$(k delete node node-03 2>&1) || fail "delete: $out"
expect_match "delete" "$out" 'node "node-03" deleted'
if out=$(k get node node-03 2>&1); then fail "node-03 still there after delete: $out"; fi
expect_match "deleted node is NotFound" "$out" 'Error from server \(NotFound\): nodes "node-03" not found'
pass "delete node removes it"

if out=$(k get node nosuch 2>&1); then fail "get node nosuch succeeded: $out"; fi
expect_match "get nosuch" "$out" 'Error from server \(NotFound\): nodes "nosuch" not found'
pass "get node nosuch fails with NotFound"

sed "s/$token/wrong-token/" "$work/certs/kubeconfig" >"$work/wrong-kubeconfig"
grep -q 'wrong-token' "$work/wrong-kubeconfig" || fail "could not make the wrong-token kubeconfig"
fresh_home
if out=$(HOME="$home" KUBECONFIG="$work/wrong-kubeconfig" timeout 30 "$KUBECTL" get nodes 2>&1); then
    fail "a wrong token was accepted: $out"
fi
# v1.20 prints the Status reason; newer clients fail in discovery, whose raw requests report a
# 401 as "the server has asked for the client to provide credentials" (as against a real cluster).
expect_match "wrong token" "$out" \
    'You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)'
grep -q ' -> 401$' "$work/server.err" || fail "the server logged no 401"
pass "a wrong token fails with Unauthorized"

echo "kubectl_test: PASS ($KUBECTL)"
