#!/usr/bin/env python3
"""Static check of deploy/: the manifests, the Dockerfile and the scripts the image runs.

No container engine runs where the tests do, so the image is never built here. Instead:
- every manifest parses; the kinds, namespaces, the binding, RBAC's exact rules;
- the DaemonSet: host network, the unprivileged main container's capabilities, the privileged
  init container for the host settings, NODE_NAME, tolerations, priority, probes on the health
  port kroute is given, the volumes mounted where kroute and the scripts expect them;
- every --flag the DaemonSet passes is one `kroute --help` lists;
- the ConfigMap's CNI template is one kroute accepts: kroute itself (--nodes-file, --no-fib, on
  loopback) renders it into a conflist;
- the Dockerfile: a Debian 12 build stage and a Debian 12 final stage, every COPY source in the
  repository (or, from the build stage, a binary the build makes), the packages the binaries'
  shared libraries come from, the CNI plugins, iproute2;
- the scripts pass sh -n / bash -n and shellcheck.
Then it proves that the checks bite: copies of deploy/ with one thing wrong each (a flag kroute
does not have, first) must fail.

Needs build/bin (KR_BIN) from scripts/build.sh, python3-yaml and shellcheck (scripts/install-deps.sh).
No root, no network beyond loopback.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KR_BIN = os.environ.get("KR_BIN", os.path.join(REPO, "build", "bin"))
NAMESPACE = "kube-system"
NAMESPACED = {"DaemonSet", "ServiceAccount", "ConfigMap"}
REQUIRED_KINDS = {"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap"}
# The list, and nothing more.
RBAC_RULES = {
    ("", "nodes", "get"), ("", "nodes", "list"), ("", "nodes", "watch"),
    ("", "nodes/status", "patch"),
    ("", "services", "get"), ("", "services", "list"), ("", "services", "watch"),
    ("discovery.k8s.io", "endpointslices", "get"), ("discovery.k8s.io", "endpointslices", "list"),
    ("discovery.k8s.io", "endpointslices", "watch"),
}
MAIN_CAPABILITIES = ["NET_ADMIN", "NET_BIND_SERVICE", "NET_RAW"]
CNI_PACKAGE = "containernetworking-plugins"
FINAL_PACKAGES = {CNI_PACKAGE, "iproute2", "iptables"}


def go_duration(text):
    """Seconds of a duration as kroute writes them (90s, 1m30s, 250ms; a bare number: seconds), or None."""
    text = str(text).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def kroute_help():
    """{flag: default or None} from `kroute --help` (CLI11's format: `  --name TYPE=default  text`)."""
    out = run([os.path.join(KR_BIN, "kroute"), "--help"])
    if out.returncode != 0:
        raise SystemExit("kroute --help failed: " + out.stderr)
    flags = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s+(?:-\w+,)?(--[a-z0-9][a-z0-9-]*)(?:\s+[A-Z]+(?::[A-Z]+ in \[[^\]]*\])?(?:=(\S+))?)?", line)
        if m:
            flags[m.group(1)] = m.group(2)
    if len(flags) < 20 or "--health-port" not in flags:
        raise SystemExit("could not read the flags from kroute --help:\n" + out.stdout)
    return flags


_PACKAGES = None


def installed_packages():
    """(the Depends of every installed package, the packages debian:12-slim holds (Essential or
    Priority required), [(binary, library, its package)] for kroute's and kroutectl's shared
    libraries, from ldd and dpkg). Computed once."""
    global _PACKAGES
    if _PACKAGES is not None:
        return _PACKAGES
    status = run(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\n"])
    deps, base = {}, set()
    for line in status.stdout.splitlines():
        name, essential, prio, dep = (line.split("\t") + ["", "", ""])[:4]
        deps[name] = [alt.split("|")[0].split("(")[0].strip().split(":")[0] for alt in dep.split(",") if alt.strip()]
        if essential == "yes" or prio == "required":
            base.add(name)
    links = []
    for b in ("kroute", "kroutectl"):
        out = run(["ldd", os.path.join(KR_BIN, b)])
        if out.returncode != 0:
            links.append((b, "(ldd failed: " + out.stderr.strip() + ")", None))
            continue
        for lib in re.findall(r"=>\s*(/\S+)", out.stdout):
            owner = run(["dpkg-query", "-S", os.path.realpath(lib)])
            if owner.returncode != 0:
                owner = run(["dpkg-query", "-S", lib])
            links.append((b, lib, owner.stdout.split(":")[0].strip() if owner.returncode == 0 else None))
    _PACKAGES = (deps, base, links)
    return _PACKAGES


class Check:
    def __init__(self, deploy_dir, flags):
        self.dir = deploy_dir
        self.flags = flags
        self.errors = []

    def fail(self, msg):
        self.errors.append(msg)

    def expect(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    # ---------------------------------------------------------------- manifests
    def load(self):
        self.objects = []
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                with open(self.path(name)) as f:
                    docs = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                self.fail(f"{name}: not YAML: {e}")
                continue
            for d in docs:
                if not (isinstance(d, dict) and d.get("apiVersion") and d.get("kind")
                        and isinstance(d.get("metadata"), dict) and d["metadata"].get("name")):
                    self.fail(f"{name}: a document without apiVersion, kind and metadata.name")
                    continue
                self.objects.append((name, d))
        kinds = [d["kind"] for _, d in self.objects]
        for k in REQUIRED_KINDS:
            self.expect(kinds.count(k) == 1, f"manifests: expected exactly one {k}, found {kinds.count(k)}")
        for name, d in self.objects:
            ns = d["metadata"].get("namespace")
            if d["kind"] in NAMESPACED:
                self.expect(ns == NAMESPACE, f"{name}: {d['kind']} {d['metadata']['name']} is in namespace {ns!r}, not {NAMESPACE}")
            else:
                self.expect(ns is None, f"{name}: cluster-scoped {d['kind']} has a namespace")

    def one(self, kind):
        found = [d for _, d in self.objects if d["kind"] == kind]
        return found[0] if len(found) == 1 else None

    def check_rbac(self):
        sa, role, binding = self.one("ServiceAccount"), self.one("ClusterRole"), self.one("ClusterRoleBinding")
        if not (sa and role and binding):
            return
        ref = binding.get("roleRef", {})
        self.expect(ref == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
                    f"ClusterRoleBinding's roleRef {ref} is not the ClusterRole {role['metadata']['name']}")
        self.expect(binding.get("subjects") == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}],
                    f"ClusterRoleBinding's subjects {binding.get('subjects')} are not exactly the ServiceAccount")
        got = set()
        for rule in role.get("rules") or []:
            extra = set(rule) - {"apiGroups", "resources", "verbs"}
            self.expect(not extra, f"ClusterRole rule {rule} has {sorted(extra)}")
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        got.add((g, r, v))
        for g, r, v in sorted(got - RBAC_RULES):
            self.fail(f"ClusterRole grants {v} on {r} ({g or 'core'}): more than kroute needs")
        for g, r, v in sorted(RBAC_RULES - got):
            self.fail(f"ClusterRole lacks {v} on {r} ({g or 'core'})")

    # ---------------------------------------------------------------- DaemonSet
    @staticmethod
    def args_of(container):
        flags = {}
        for a in container.get("args") or []:
            if a.startswith("--"):
                name, _, value = a.partition("=")
                flags[name] = value
        return flags

    def runs_kroute(self, container):
        cmd = container.get("command")
        return not cmd or os.path.basename(cmd[0]) == "kroute"

    def check_daemonset(self):
        ds, sa, cm = self.one("DaemonSet"), self.one("ServiceAccount"), self.one("ConfigMap")
        if not ds:
            return
        spec = ds.get("spec", {})
        pod_meta = spec.get("template", {}).get("metadata", {})
        pod = spec.get("template", {}).get("spec", {})
        labels = pod_meta.get("labels", {})
        self.expect(labels.get("k8s-app") == "kroute", "the pods lack the label k8s-app=kroute (the README's kubectl get pods -l)")
        sel = spec.get("selector", {}).get("matchLabels", {})
        self.expect(sel and all(labels.get(k) == v for k, v in sel.items()), "the selector does not match the pod labels")
        self.expect(spec.get("updateStrategy", {}).get("type") == "RollingUpdate", "updateStrategy is not RollingUpdate")
        self.expect(pod.get("hostNetwork") is True, "hostNetwork is not true")
        self.expect(pod.get("priorityClassName") == "system-node-critical", "priorityClassName is not system-node-critical")
        self.expect(any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t for t in pod.get("tolerations") or []),
                    "no toleration of every taint (operator Exists, no key, no effect)")
        if sa:
            self.expect(pod.get("serviceAccountName") == sa["metadata"]["name"], "serviceAccountName is not the ServiceAccount")

        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        containers = pod.get("containers") or []
        inits = pod.get("initContainers") or []
        used = set()
        for c in containers + inits:
            for m in c.get("volumeMounts") or []:
                used.add(m.get("name"))
                self.expect(m.get("name") in volumes, f"container {c.get('name')} mounts an undeclared volume {m.get('name')}")
            self.expect(c.get("image") == self.image, f"container {c.get('name')}'s image {c.get('image')} is not {self.image}")
            if self.runs_kroute(c):
                for flag in self.args_of(c):
                    self.expect(flag in self.flags, f"container {c.get('name')} passes {flag}, which `kroute --help` does not list")
            for a in (c.get("args") or []) + (c.get("command") or [])[1:]:
                if a.startswith("-") and not a.startswith("--") and self.runs_kroute(c):
                    self.fail(f"container {c.get('name')}: write the flag {a} as --name=value")
        for v in volumes:
            self.expect(v in used, f"volume {v} is mounted by no container")

        def host_mount(c, host_path):
            """The path in container c where the hostPath volume host_path is mounted, or None."""
            for m in c.get("volumeMounts") or []:
                v = volumes.get(m.get("name"), {})
                if v.get("hostPath", {}).get("path") == host_path:
                    return m.get("mountPath")
            return None

        def mount_of(c, path):
            """(mount, volume) of container c holding path."""
            best = None
            for m in c.get("volumeMounts") or []:
                mp = m.get("mountPath", "").rstrip("/")
                if path == mp or path.startswith(mp + "/"):
                    if best is None or len(mp) > len(best[0]["mountPath"].rstrip("/")):
                        best = (m, volumes.get(m.get("name"), {}))
            return best

        # The main container.
        mains = [c for c in containers if c.get("name") == "kroute"]
        if not self.expect(len(containers) == 1 and mains, "expected one container, named kroute"):
            return
        main = mains[0]
        self.expect(self.runs_kroute(main), "the kroute container does not run kroute")
        sc = main.get("securityContext") or {}
        self.expect(not sc.get("privileged"), "the kroute container is privileged")
        caps = sc.get("capabilities") or {}
        self.expect(sorted(caps.get("add") or []) == MAIN_CAPABILITIES,
                    f"the kroute container's capabilities.add is {caps.get('add')}, not exactly {MAIN_CAPABILITIES}")
        self.expect("ALL" in (caps.get("drop") or []), "the kroute container does not drop ALL other capabilities")
        for m in main.get("volumeMounts") or []:
            hp = volumes.get(m.get("name"), {}).get("hostPath", {}).get("path", "")
            self.expect(not re.match(r"^/(proc|sys)(/|$)", hp) and not re.match(r"^/(proc|sys)(/|$)", m.get("mountPath", "")),
                        f"the kroute container mounts {hp or m.get('name')} at {m.get('mountPath')}: /proc/sys stays read-only, the init container sets sysctls")
        env = {e.get("name"): e for e in main.get("env") or []}
        self.expect(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
                    "NODE_NAME does not come from fieldRef spec.nodeName")

        args = self.args_of(main)
        self.main_args = [a for a in main.get("args") or []]

        def value(flag):
            return args[flag] if flag in args else self.flags.get(flag)

        # RFC 8326 graceful shutdown on SIGTERM: the kubelet's SIGKILL must not cut its wait short.
        if "--bgp-graceful-shutdown" in args and args["--bgp-graceful-shutdown"].lower() in ("true", "1", ""):
            wait = go_duration(value("--bgp-graceful-shutdown-time") or "10s")
            grace = pod.get("terminationGracePeriodSeconds", 30)
            self.expect(wait is not None and grace >= wait + 5,
                        f"terminationGracePeriodSeconds {grace} leaves too little for --bgp-graceful-shutdown-time "
                        f"{value('--bgp-graceful-shutdown-time')} and the stop after it (5s more at least)")

        port = value("--health-port")
        self.expect(port not in (None, "", "0"), "the health endpoint is off (--health-port)")
        for probe in ("livenessProbe", "readinessProbe"):
            get = (main.get(probe) or {}).get("httpGet") or {}
            self.expect(get.get("path") == "/healthz" and str(get.get("port")) == str(port),
                        f"{probe} is not httpGet /healthz on the health port {port}")
        self.expect("--health-addr" not in args or args["--health-addr"] in ("", "0.0.0.0", "::"),
                    "--health-addr keeps the kubelet's probes (on the node's address) out")

        conf_file = value("--cni-conf-file")
        self.expect(conf_file and os.path.dirname(conf_file) and host_mount(main, "/etc/cni/net.d") == os.path.dirname(conf_file),
                    f"--cni-conf-file {conf_file} is not in the host's /etc/cni/net.d (a hostPath mount)")
        sock = value("--api-socket")
        self.expect(sock and host_mount(main, "/run/kroute") == os.path.dirname(sock),
                    f"--api-socket {sock} is not in the host's /run/kroute (a hostPath mount)")
        self.sock = sock
        # The template: a ConfigMap key, mounted where the flag says.
        tmpl = args.get("--cni-conf-template")
        self.template = None
        if self.expect(tmpl, "the kroute container passes no --cni-conf-template"):
            found = mount_of(main, tmpl)
            if self.expect(found and "configMap" in found[1], f"--cni-conf-template {tmpl} is not in a ConfigMap volume"):
                m, v = found
                key = os.path.relpath(tmpl, m["mountPath"])
                cm_name = v["configMap"].get("name")
                self.expect(cm and cm["metadata"]["name"] == cm_name, f"the ConfigMap volume names {cm_name}, not the ConfigMap")
                items = v["configMap"].get("items")
                if items:
                    key = next((i["key"] for i in items if i.get("path") == key), None)
                data = (cm or {}).get("data") or {}
                if self.expect(key in data, f"the ConfigMap has no key {key} (--cni-conf-template {tmpl})"):
                    self.template = data[key]
                    self.check_template_json(data[key])

        # The init containers.
        priv = [c for c in inits if (c.get("securityContext") or {}).get("privileged")]
        self.expect(priv, "no privileged init container for the host settings")
        for c in priv:
            script = self.script_of(c)
            if not script:
                continue
            text = open(script).read()
            self.expect("/proc/sys/net/ipv4/ip_forward" in text, f"{c.get('name')}: {os.path.basename(script)} does not set net.ipv4.ip_forward")
            dest = host_mount(c, "/etc/iproute2/rt_protos.d")
            if self.expect(dest and dest in text, f"{c.get('name')}: the host's /etc/iproute2/rt_protos.d is not mounted where {os.path.basename(script)} writes"):
                proto = value("--route-protocol") or "52"
                rt = ((cm or {}).get("data") or {}).get("rt_protos", "")
                self.expect(rt.split() == [str(proto), "kroute"], f"the ConfigMap's rt_protos {rt!r} does not name route protocol {proto}")
                src = re.search(r"(/\S+)/rt_protos\b", text)
                self.expect(src and mount_of(c, src.group(1) + "/rt_protos") and "configMap" in mount_of(c, src.group(1) + "/rt_protos")[1],
                            f"{c.get('name')}: rt_protos is not read from the ConfigMap's mount")
        cni = [c for c in inits if c.get("command") and os.path.basename(c["command"][0]) == "install-cni.sh"]
        if self.expect(len(cni) == 1, "no install-cni init container"):
            c = cni[0]
            script = self.script_of(c)
            dest = host_mount(c, "/opt/cni/bin")
            if script and self.expect(dest, "install-cni does not mount the host's /opt/cni/bin"):
                text = open(script).read()
                self.expect(re.search(r"^dest=" + re.escape(dest) + "$", text, re.M),
                            f"install-cni.sh does not install into {dest}, where /opt/cni/bin is mounted")
                plugins = re.search(r"^for p in ([a-z0-9 -]+); do", text, re.M)
                src = re.search(r"^src=(\S+)$", text, re.M)
                if self.expect(plugins and src, "install-cni.sh: no `src=` and `for p in ...; do` list"):
                    self.check_plugins(plugins.group(1).split(), src.group(1))

    def check_template_json(self, text):
        try:
            conf = json.loads(text)
        except ValueError as e:
            self.fail(f"the CNI template is not JSON: {e}")
            return
        plugins = conf.get("plugins") if isinstance(conf, dict) else None
        if self.expect(isinstance(plugins, list), "the CNI template has no plugins list"):
            self.expect([p.get("type") for p in plugins if isinstance(p, dict)].count("bridge") == 1,
                        "the CNI template has not exactly one bridge plugin")
            self.template_plugins = {p.get("type") for p in plugins if isinstance(p, dict)}
            self.template_plugins |= {p["ipam"].get("type") for p in plugins if isinstance(p, dict) and isinstance(p.get("ipam"), dict)}

    def check_plugins(self, installed, src):
        # kubelet's runtime calls loopback for every pod; the template names the rest.
        wanted = (getattr(self, "template_plugins", set()) | {"loopback"}) - {None}
        for p in sorted(wanted - set(installed)):
            self.fail(f"install-cni.sh does not install the CNI plugin {p}")
        listing = run(["dpkg-query", "-L", CNI_PACKAGE])
        if self.expect(listing.returncode == 0, f"{CNI_PACKAGE} is not installed here (scripts/install-deps.sh)"):
            files = set(listing.stdout.split())
            for p in installed:
                self.expect(f"{src}/{p}" in files, f"install-cni.sh copies {src}/{p}, which {CNI_PACKAGE} does not hold")

    def script_of(self, c):
        """The repository file an init container's command runs (through the Dockerfile's COPY)."""
        cmd = (c.get("command") or [None])[0]
        src = self.image_files.get(cmd)
        if not self.expect(src, f"init container {c.get('name')} runs {cmd}, which the Dockerfile does not COPY"):
            return None
        return os.path.join(self.root, src)

    # ---------------------------------------------------------------- Dockerfile
    def check_dockerfile(self):
        self.image_files = {}  # path in the image -> repository path
        path = self.path("Dockerfile")
        if not self.expect(os.path.exists(path), "deploy/Dockerfile is missing"):
            return
        lines, cur = [], ""
        for raw in open(path):
            s = raw.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            lines.append((cur + s).strip())
            cur = ""
        stages = []
        for line in lines:
            word, _, rest = line.partition(" ")
            word = word.upper()
            if word == "FROM":
                m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest.strip(), re.I)
                stages.append({"image": m.group(1) if m else rest, "name": m.group(2) if m else None, "lines": []})
            elif stages:
                stages[-1]["lines"].append((word, rest.strip()))
            else:
                self.fail(f"Dockerfile: {word} before FROM")
        if not self.expect(len(stages) >= 2, "Dockerfile: not multi-stage"):
            return
        build, final = stages[0], stages[-1]
        debian12 = r"debian:12(-slim)?(@sha256:[0-9a-f]{64})?$"
        self.expect(re.match(debian12, build["image"]) and build["name"] == "build",
                    f"Dockerfile: the first stage is {build['image']} AS {build['name']}, not debian:12 AS build")
        self.expect(re.match(debian12, final["image"]), f"Dockerfile: the final stage is {final['image']}, not Debian 12")

        ignore = [p.strip() for p in open(os.path.join(self.root, ".dockerignore")) if p.strip() and not p.startswith("#")] \
            if os.path.exists(os.path.join(self.root, ".dockerignore")) else []
        self.expect("build*" in ignore or "build" in ignore, ".dockerignore does not keep the local build/ out of the context")

        build_src = None
        for word, rest in build["lines"]:
            if word == "COPY" and not rest.startswith("--from"):
                parts = rest.split()
                if parts[0] == ".":
                    build_src = parts[-1].rstrip("/")
        self.expect(build_src, "Dockerfile: the build stage does not COPY . (the repository)")
        run_text = " ".join(rest for word, rest in build["lines"] if word == "RUN")
        self.expect("scripts/install-deps.sh --build-only" in run_text, "Dockerfile: the build stage does not run scripts/install-deps.sh --build-only")
        targets = set()
        m = re.search(r"cmake --build (\S+) .*--target ((?:[\w-]+\s*)+)", run_text)
        if self.expect(m, "Dockerfile: the build stage has no `cmake --build DIR --target ...`"):
            targets = set(m.group(2).split())
            self.expect({"kroute", "kroutectl"} <= targets, f"Dockerfile: the build makes {sorted(targets)}, not kroute and kroutectl")
            build_dir = m.group(1)

        for stage in stages:
            for word, rest in stage["lines"]:
                if word in ("ADD",):
                    self.fail("Dockerfile: ADD (use COPY)")
                if word != "COPY":
                    continue
                parts = rest.split()
                opts = [p for p in parts if p.startswith("--")]
                parts = [p for p in parts if not p.startswith("--")]
                srcs, dest = parts[:-1], parts[-1]
                from_build = any(o == "--from=build" for o in opts)
                for s in srcs:
                    if from_build:
                        # A build output: DIR/bin/NAME of a target the build stage makes.
                        rel = os.path.relpath(s, build_dir) if m else s
                        name = os.path.basename(s)
                        self.expect(m and rel == f"bin/{name}" and name in targets,
                                    f"Dockerfile: COPY --from=build {s} is not a binary the build stage makes")
                        self.expect(os.access(os.path.join(KR_BIN, name), os.X_OK),
                                    f"Dockerfile: COPY --from=build {s}: the build makes no {KR_BIN}/{name} (scripts/build.sh)")
                        repo_path = None
                    elif s == ".":
                        continue
                    else:
                        repo_path = s
                        self.expect(os.path.exists(os.path.join(self.root, s)), f"Dockerfile: COPY {s}: no such file in the repository")
                        self.expect(not any(re.match(re.escape(p).replace(r"\*", "[^/]*") + "(/|$)", s) for p in ignore),
                                    f"Dockerfile: COPY {s} is excluded by .dockerignore")
                    if stage is final:
                        target = os.path.join(dest, os.path.basename(s)) if dest.endswith("/") else dest
                        self.image_files[target] = repo_path or ("BUILD:" + os.path.basename(s))
        for b in ("kroute", "kroutectl"):
            self.expect(f"/usr/local/bin/{b}" in self.image_files, f"Dockerfile: the final image has no /usr/local/bin/{b}")
        self.expect(self.image_files.get("/root/.bashrc") == "deploy/debug-shell/bashrc",
                    "Dockerfile: the debug shell's bashrc is not the image's /root/.bashrc")
        entry = [rest for word, rest in final["lines"] if word == "ENTRYPOINT"]
        self.expect(entry and json.loads(entry[-1])[0] == "/usr/local/bin/kroute", "Dockerfile: the ENTRYPOINT is not /usr/local/bin/kroute")

        final_run = " ".join(rest for word, rest in final["lines"] if word == "RUN")
        inst = re.search(r"apt-get install ([^&;|]*)", final_run)
        listed = {p for p in inst.group(1).split() if not p.startswith("-")} if inst else set()
        for p in sorted(FINAL_PACKAGES - listed):
            self.fail(f"Dockerfile: the final image does not install {p}")
        self.check_shared_libraries(listed)

    def check_shared_libraries(self, listed):
        """Every shared library kroute and kroutectl link comes from a package the final image has."""
        deps, base, links = installed_packages()
        have, todo = set(), list(listed | base)
        while todo:
            p = todo.pop()
            if p not in have:
                have.add(p)
                todo.extend(deps.get(p, []))
        for b, lib, pkg in links:
            self.expect(pkg and pkg in have, f"Dockerfile: {b} links {lib} ({pkg or 'no package'}), which the final image does not install")

    # ---------------------------------------------------------------- scripts
    # ---------------------------------------------------------------- scripts
    def check_scripts(self):
        for target, src in sorted(self.image_files.items()):
            if src.startswith("BUILD:"):
                continue
            full = os.path.join(self.root, src)
            if not os.path.exists(full):
                continue
            first = open(full).readline()
            shell = "bash" if src.endswith("bashrc") or "bash" in first else "sh"
            if target.startswith("/usr/local/bin/"):
                self.expect(os.access(full, os.X_OK), f"{src} is not executable")
                self.expect(first.startswith("#!/"), f"{src} has no #! line")
            out = run([shell, "-n", full])
            self.expect(out.returncode == 0, f"{shell} -n {src}: {out.stderr.strip()}")
            out = run(["shellcheck", "-s", shell, full])
            self.expect(out.returncode == 0, f"shellcheck {src}:\n{out.stdout}")
        bashrc = os.path.join(self.root, "deploy/debug-shell/bashrc")
        if os.path.exists(bashrc) and getattr(self, "sock", None):
            text = open(bashrc).read()
            self.expect(self.sock in text, f"the debug shell does not ask kroute at {self.sock} (--api-socket)")
            for cmd in ("kroutectl --socket \"$sock\" status", "kroutectl --socket \"$sock\" neighbors", "ip route show proto"):
                self.expect(cmd in text, f"the debug shell's greeting does not run {cmd}")

    # ---------------------------------------------------------------- kroute renders the template
    def check_template_renders(self):
        """kroute, with the DaemonSet's own args (so their values parse too) but for the paths, the
        health and metrics ports and the API server: Nodes from a file, --no-fib, BGP on a free loopback port."""
        if not self.template:
            return
        ours = {"--cni-conf-template", "--cni-conf-file", "--api-socket", "--health-port", "--metrics-port", "--mtu",
                "--nodes-file", "--hostname-override", "--no-fib", "--bgp-port"}
        ds_args = [a for a in getattr(self, "main_args", []) if a.partition("=")[0] not in ours]
        with tempfile.TemporaryDirectory() as tmp:
            tmpl = os.path.join(tmp, "cni-conf.json")
            with open(tmpl, "w") as f:
                f.write(self.template)
            nodes = {"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"},
                 "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
                 "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}]}
            with open(os.path.join(tmp, "nodes.json"), "w") as f:
                json.dump(nodes, f)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            conf = os.path.join(tmp, "net.d", "10-kuberouter.conflist")
            sock = os.path.join(tmp, "kroute.sock")
            log = open(os.path.join(tmp, "kroute.log"), "w+")
            proc = subprocess.Popen([os.path.join(KR_BIN, "kroute"), "--nodes-file", os.path.join(tmp, "nodes.json"),
                                     "--hostname-override", "n1", "--no-fib", "--bgp-port", str(port), "--health-port", "0",
                                     "--mtu", "1450", "--cni-conf-template", tmpl, "--cni-conf-file", conf, "--api-socket", sock] + ds_args,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            try:
                status = {}
                deadline = time.time() + 20
                while time.time() < deadline and proc.poll() is None:
                    out = run([os.path.join(KR_BIN, "kroutectl"), "--socket", sock, "status", "-o", "json"])
                    if out.returncode == 0:
                        status = json.loads(out.stdout)
                        if status.get("conflist_error") or os.path.exists(conf):
                            break
                    time.sleep(0.2)
            finally:
                proc.terminate()
                try:
                    proc.wait(2)
                except subprocess.TimeoutExpired:
                    # --bgp-graceful-shutdown waits its time after SIGTERM; a second one ends the wait.
                    proc.terminate()
                    proc.wait(10)
            log.seek(0)
            if not self.expect(os.path.exists(conf) and not status.get("conflist_error"),
                               f"kroute does not accept the ConfigMap's CNI template, or the DaemonSet's args {ds_args}: "
                               f"{status.get('conflist_error') or 'no conflist'}\n{log.read()[-2000:]}"):
                return
            out = json.load(open(conf))
            bridge = [p for p in out["plugins"] if p.get("type") == "bridge"][0]
            self.expect(bridge.get("mtu") == 1450 and bridge["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]],
                        f"the conflist kroute rendered from the template lacks the MTU or the podCIDR: {bridge}")
            self.expect([p.get("type") for p in out["plugins"]] == [p.get("type") for p in json.loads(self.template)["plugins"]],
                        "the rendered conflist lost plugins of the template")

    def run_all(self, render=True):
        self.root = os.path.dirname(self.dir)
        m = re.search(r"^project\(kroute VERSION (\S+)", open(os.path.join(REPO, "CMakeLists.txt")).read(), re.M)
        self.image = f"ghcr.io/kroute/kroute:{m.group(1)}"
        self.load()
        self.check_rbac()
        self.check_dockerfile()
        self.check_daemonset()
        self.check_scripts()
        if render:
            self.check_template_renders()
        return self.errors


def mutate(tmp, file, old, new):
    p = os.path.join(tmp, "deploy", file)
    text = open(p).read()
    if old not in text:
        raise SystemExit(f"self-test: {old!r} is not in {file} any more: update the mutation")
    with open(p, "w") as f:
        f.write(text.replace(old, new, 1))


# Each: (what, file, text, replacement, a word the error must hold). The first is the issue's.
MUTATIONS = [
    ("a flag kroute does not have", "daemonset.yaml", "- --health-port=20244", "- --health-port=20244\n        - --no-such-flag=1", "--no-such-flag"),
    ("a misspelt flag", "daemonset.yaml", "--bgp-graceful-restart=true", "--bgp-gracefull-restart=true", "--bgp-gracefull-restart"),
    ("one verb too many", "rbac.yaml", 'verbs: ["patch"]', 'verbs: ["patch", "update"]', "update on nodes/status"),
    ("a privileged main container", "daemonset.yaml", "privileged: false", "privileged: true", "is privileged"),
    ("one capability too many", "daemonset.yaml", '"NET_BIND_SERVICE"]', '"NET_BIND_SERVICE", "SYS_ADMIN"]', "capabilities.add"),
    ("a probe on another port", "daemonset.yaml", "port: 20244", "port: 20245", "livenessProbe"),
    ("a template key the ConfigMap lacks", "daemonset.yaml", "/etc/kroute/cni-conf.json", "/etc/kroute/cni.json", "no key cni.json"),
    ("a broken template", "configmap.yaml", '"type": "bridge",', '"type": "bridge"', "not JSON"),
    ("a COPY of a missing file", "Dockerfile", "deploy/install-cni.sh /usr", "deploy/install-cni2.sh /usr", "install-cni2.sh"),
    ("a binary the build does not make", "Dockerfile", "/src/build/bin/kroutectl /usr", "/src/build/bin/krouted /usr", "krouted"),
    ("no CNI plugins in the image", "Dockerfile", "iptables containernetworking-plugins", "iptables", CNI_PACKAGE),
    ("a shared library the image lacks", "Dockerfile", "libnl-route-3-200 ", "", "libnl-route-3.so"),
    ("too short a grace period for the graceful shutdown", "daemonset.yaml", "terminationGracePeriodSeconds: 30",
     "terminationGracePeriodSeconds: 12", "terminationGracePeriodSeconds"),
    ("a flag value kroute refuses", "daemonset.yaml", "--bgp-graceful-restart=true", "--bgp-graceful-restart=maybe", "does not accept"),
    ("a template kroute refuses", "configmap.yaml", '"ipam": { "type": "host-local" }', '"ipam": { "type": "dhcp" }', "does not accept"),
    ("a syntax error in a script", "install-cni.sh", "done\n", "", "-n deploy/install-cni.sh"),
    ("a shellcheck finding", "debug-shell/bashrc", 'echo "kroute debug shell on node ${NODE_NAME:-$(hostname)}"', "echo kroute $NODE_NAME", "shellcheck"),
    ("NODE_NAME not from the downward API", "daemonset.yaml", "fieldPath: spec.nodeName", "fieldPath: metadata.name", "NODE_NAME"),
    ("tolerating only some taints", "daemonset.yaml", "- operator: Exists", "- operator: Exists\n        effect: NoSchedule", "toleration"),
    ("a writable /proc/sys in the main container", "daemonset.yaml", "- { name: run-kroute, mountPath: /run/kroute }",
     "- { name: run-kroute, mountPath: /proc/sys/net }", "/proc/sys stays read-only"),
]


def self_test(flags):
    failures = []
    for what, file, old, new, word in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(REPO, "deploy"), os.path.join(tmp, "deploy"), symlinks=True)
            for f in (".dockerignore",):
                shutil.copy(os.path.join(REPO, f), tmp)
            for d in ("scripts",):
                os.symlink(os.path.join(REPO, d), os.path.join(tmp, d))
            mutate(tmp, file, old, new)
            errors = Check(os.path.join(tmp, "deploy"), flags).run_all(render=(file == "configmap.yaml" or word == "does not accept"))
            if not any(word in e for e in errors):
                failures.append(f"self-test: {what} ({file}) was not caught; errors were: {errors}")
            else:
                print(f"ok: {what} is caught: {next(e for e in errors if word in e).splitlines()[0]}")
    return failures


def main():
    flags = kroute_help()
    errors = Check(os.path.join(REPO, "deploy"), flags).run_all()
    for e in errors:
        print("FAIL:", e)
    if not errors:
        print(f"ok: deploy/ passes ({len(flags)} kroute flags known)")
    failures = self_test(flags)
    for e in failures:
        print("FAIL:", e)
    errors += failures
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
