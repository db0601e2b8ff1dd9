#!/usr/bin/env bash
# Proves that a real kubectl works against tests/fake-apiserver: discovery, list, paging, watch,
# client- and server-side apply, the three patch types, the status subresource, cordon (protobuf
# Accept header), delete, NotFound and Unauthorized errors; for Services and EndpointSlices in a
# namespace and across namespaces (-A): get, get -w, apply, patch, delete, label selection.
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
cat >"$work/services.json" <<'JSON'
{"kind": "List", "items": [
  {"metadata": {"name": "web", "namespace": "demo"},
   "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
  {"metadata": {"name": "dns", "namespace": "kube-system"},
   "spec": {"clusterIP": "10.96.0.53", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}
]}
JSON
cat >"$work/endpointslices.json" <<'JSON'
[{"metadata": {"name": "web-abcde", "namespace": "demo", "labels": {"kubernetes.io/service-name": "web"}},
  "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": true}}],
  "ports": [{"name": "http", "port": 8080}]},
 {"metadata": {"name": "dns-fghij", "namespace": "kube-system", "labels": {"kubernetes.io/service-name": "dns"}},
  "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.2.7"]}], "ports": [{"name": "dns", "port": 53}]}]
JSON
"$FAKE_APISERVER" --listen 127.0.0.1 --port 0 --token "$token" --cert-dir "$work/certs" \
    --nodes "$work/nodes.json" --services "$work/services.json" --endpointslices "$work/endpointslices.json" \
    </dev/null >"$work/server.out" 2>"$work/server.err" &
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

# --- services and endpointslices ---------------------------------------------------------------
fresh_home
expect_eq "get services -n demo" "$(k get services -n demo -o name)" "service/web"
expect_eq "get svc -A" "$(k get svc -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}')" \
    "demo/web kube-system/dns "
expect_eq "allocated clusterIP" "$(k get svc web -n demo -o jsonpath='{.spec.clusterIP}')" "10.96.0.10"
expect_eq "fixed clusterIP" "$(k get svc dns -n kube-system -o jsonpath='{.spec.clusterIPs[0]}')" "10.96.0.53"
expect_eq "get endpointslices --all-namespaces" \
    "$(k get endpointslices --all-namespaces -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}')" \
    "demo/web-abcde kube-system/dns-fghij "
expect_eq "service-name label" "$(k get endpointslices -A -l kubernetes.io/service-name=dns -o name)" \
    "endpointslice.discovery.k8s.io/dns-fghij"
expect_eq "field selector on namespace" "$(k get svc -A --field-selector metadata.namespace=demo -o name)" "service/web"
if out=$(k get svc nosuch -n demo 2>&1); then fail "get svc nosuch succeeded: $out"; fi
expect_match "svc NotFound" "$out" 'Error from server \(NotFound\): services "nosuch" not found'
if out=$(k get endpointslice nosuch -n demo 2>&1); then fail "get endpointslice nosuch succeeded: $out"; fi
expect_match "endpointslice NotFound" "$out" \
    'Error from server \(NotFound\): endpointslices.discovery.k8s.io "nosuch" not found'
pass "get services and endpointslices: by namespace, -A, label and field selectors, NotFound"

svc_yaml() {
    cat >"$work/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: demo
  labels:
    tier: "$1"
spec:
  selector:
    app: api
  ports:
  - name: http
    port: 80
    targetPort: 8080
YAML
}
svc_yaml a
out=$(k apply -f "$work/svc.yaml" --validate=false 2>&1) || fail "apply service (create): $out"
expect_match "apply service (create)" "$out" 'service/api created'
ip=$(k get svc api -n demo -o jsonpath='{.spec.clusterIP}')
expect_match "apply service: clusterIP" "$ip" '^10\.96\.0\.[0-9]+$'
svc_yaml b
out=$(k apply -f "$work/svc.yaml" --validate=false 2>&1) || fail "apply service (update): $out"
expect_match "apply service (update)" "$out" 'service/api configured'
expect_eq "apply service: label" "$(k get svc api -n demo -o jsonpath='{.metadata.labels.tier}')" "b"
expect_eq "apply service: clusterIP kept" "$(k get svc api -n demo -o jsonpath='{.spec.clusterIP}')" "$ip"
cat >"$work/slice.yaml" <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-xyz
  namespace: demo
  labels:
    kubernetes.io/service-name: api
addressType: IPv4
endpoints:
- addresses: [10.244.3.9]
ports:
- name: http
  port: 8080
YAML
out=$(k apply -f "$work/slice.yaml" --validate=false 2>&1) || fail "apply endpointslice: $out"
expect_match "apply endpointslice" "$out" 'endpointslice.discovery.k8s.io/api-xyz created'
sed -i 's/10.244.3.9/10.244.3.10/' "$work/slice.yaml"
out=$(k apply -f "$work/slice.yaml" --validate=false 2>&1) || fail "apply endpointslice (update): $out"
expect_eq "apply endpointslice (update)" "$(k get endpointslice api-xyz -n demo -o jsonpath='{.endpoints[*].addresses[*]}')" \
    "10.244.3.10"
pass "apply --validate=false creates and updates a Service and an EndpointSlice"

fresh_home
before=$(open_watches)
k get svc -A -w --output-watch-events >"$work/svcwatch.out" 2>"$work/svcwatch.err" &
watch_pid=$!
for _ in $(seq 100); do
    [[ "$(open_watches)" -gt "$before" ]] && break
    sleep 0.1
done
[[ "$(open_watches)" -gt "$before" ]] || fail "kubectl get svc -A -w never opened a watch: $(cat "$work/svcwatch.err")"
out=$(k patch svc web -n demo -p '{"metadata":{"labels":{"watched":"yes"}}}' 2>&1) || fail "patch svc: $out"
expect_match "patch svc" "$out" 'service/web patched'
out=$(k patch endpointslice web-abcde -n demo --type=merge -p '{"endpoints":[{"addresses":["10.244.1.6"]}]}' 2>&1) ||
    fail "patch endpointslice: $out"
expect_eq "patch endpointslice" "$(k get endpointslice web-abcde -n demo -o jsonpath='{.endpoints[*].addresses[*]}')" \
    "10.244.1.6"
out=$(k delete svc dns -n kube-system 2>&1) || fail "delete svc: $out"
expect_match "delete svc" "$out" 'service "dns" deleted'
for _ in $(seq 100); do
    grep -Eq '^MODIFIED +demo +web ' "$work/svcwatch.out" && grep -Eq '^DELETED +kube-system +dns ' "$work/svcwatch.out" &&
        break
    sleep 0.1
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""
watched=$(cat "$work/svcwatch.out")
expect_match "svc watch: initial list" "$watched" '^ADDED +demo +api '
expect_match "svc watch: label change" "$watched" '^MODIFIED +demo +web '
expect_match "svc watch: deletion" "$watched" '^DELETED +kube-system +dns '

k get endpointslices -n demo -w --output-watch-events >"$work/epswatch.out" 2>"$work/epswatch.err" &
watch_pid=$!
for _ in $(seq 100); do
    grep -Eq '^ADDED +api-xyz ' "$work/epswatch.out" && break
    sleep 0.1
done
out=$(k delete endpointslice api-xyz -n demo 2>&1) || fail "delete endpointslice: $out"
expect_match "delete endpointslice" "$out" 'endpointslice.discovery.k8s.io "api-xyz" deleted'
for _ in $(seq 100); do
    grep -Eq '^DELETED +api-xyz ' "$work/epswatch.out" && break
    sleep 0.1
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""
expect_match "endpointslice watch: deletion" "$(cat "$work/epswatch.out")" '^DELETED +api-xyz '
if out=$(k get svc dns -n kube-system 2>&1); then fail "svc dns still there after delete: $out"; fi
pass "get -w (-A and -n) prints ADDED/MODIFIED/DELETED; patch and delete of services and endpointslices"

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
