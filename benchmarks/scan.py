"""Scan a big generated repository (`--offline`) against grep and against parsing it all.

    .venv/bin/python benchmarks/scan.py               # 5,000 files, about 30 MB
    .venv/bin/python benchmarks/scan.py --size tiny   # 60 files: the smoke test

The repository is a git work tree of Kubernetes manifests, Helm values and templates,
kustomizations, CRDs, Argo CD Applications and Grafana dashboards of realistic, varied
sizes; 20 files hold plugin entries (ConfigMaps, values files, Argo CD Applications) and a
few more mention plugins without being plugin configuration. Baselines, in the same run:
(a) `grep -rlE` for the three keys, the floor; (b) parsing every file with ruamel.yaml the
way the extract stage does (safe loader, pure Python, composing nodes). Each plugin file
also holds a 64 KiB Deployment document, as rendered manifests and kustomize output do:
only the documents that can matter are composed (issue 17).

    .venv/bin/python benchmarks/scan.py --files 50000 --skip-parse-all   # linear growth
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import (
    MIB,
    Measured,
    Row,
    base_parser,
    child_env,
    cli,
    expect_exit,
    interleaved,
    max_rss,
    median_wall,
    ratio,
    report,
    run_measured,
    workspace,
)

PLUGIN_FILES = 20
GREP_TARGET = 6
PARSE_ALL_TARGET = 150
GREP_PATTERN = "trafficRouterPlugins|metricProviderPlugins|stepPlugins"
# (files, total bytes, the Deployment document beside each plugin configuration)
SIZES = {"full": (5000, 30 * MIB, 64 * 1024), "tiny": (60, 360 * 1024, 4 * 1024)}

# Baseline (b): what reading every file costs without the byte prefilter.
PARSE_ALL = """
import os, sys, warnings
from ruamel.yaml import YAML
warnings.simplefilter("ignore")
yaml = YAML(typ="safe", pure=True)
parsed = failed = 0
for directory, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [name for name in dirs if name != ".git"]
    for name in files:
        if not name.lower().endswith((".yaml", ".yml", ".json")):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as stream:
            text = stream.read()
        try:
            for _ in yaml.compose_all(text):
                pass
            parsed += 1
        except Exception:
            failed += 1
print(parsed, failed)
"""

PLUGINS = (
    (
        "trafficRouterPlugins",
        "gatewayAPI",
        "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/"
        "download/v0.4.0/gatewayapi-plugin-linux-amd64",
    ),
    (
        "metricProviderPlugins",
        "sample-prometheus",
        "https://github.com/argoproj-labs/rollouts-plugin-metric-sample-prometheus/releases/"
        "download/v0.0.4/metric-plugin-linux-amd64",
    ),
    (
        "stepPlugins",
        "sample-step",
        "https://github.com/argoproj-labs/rollouts-plugin-sample-step/releases/download/"
        "v0.1.0/step-plugin-linux-amd64",
    ),
)


# --- realistic files -------------------------------------------------------------------


def _words(rng: random.Random, count: int) -> str:
    vocabulary = ("payments", "orders", "checkout", "catalog", "search", "ledger", "billing",
                  "gateway", "auth", "profile", "inventory", "shipping", "notifications",
                  "reports", "analytics", "frontend", "backend", "worker", "api")  # fmt: skip
    return "-".join(rng.choice(vocabulary) for _ in range(count))


def _grow(head: str, block: Callable[[int], str], target: int, tail: str = "") -> str:
    """`head`, then numbered blocks until the text reaches `target` characters."""
    parts = [head]
    size = len(head) + len(tail)
    index = 0
    while size < target:
        piece = block(index)
        parts.append(piece)
        size += len(piece)
        index += 1
    parts.append(tail)
    return "".join(parts)


def deployment(rng: random.Random, target: int) -> str:
    app = _words(rng, 2)
    head = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {_words(rng, 1)}
  labels:
    app.kubernetes.io/name: {app}
    app.kubernetes.io/part-of: shop
spec:
  replicas: {rng.randint(1, 6)}
  selector:
    matchLabels:
      app.kubernetes.io/name: {app}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {app}
      annotations:
        prometheus.io/scrape: "true"
    spec:
      serviceAccountName: {app}
      containers:
        - name: {app}
          image: registry.example.org/{app}:{rng.randint(1, 9)}.{rng.randint(0, 40)}.0
          ports:
            - containerPort: 8080
              name: http
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
            periodSeconds: 10
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 512Mi}}
          env:
"""
    return _grow(
        head,
        lambda i: (
            f"            - name: {app.upper().replace('-', '_')}_SETTING_{i}\n"
            f'              value: "{rng.randint(0, 10**9)}"\n'
        ),
        target,
    )


def service(rng: random.Random, target: int) -> str:
    app = _words(rng, 2)
    head = f"""apiVersion: v1
kind: Service
metadata:
  name: {app}
  labels:
    app.kubernetes.io/name: {app}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {app}
  ports:
"""
    return _grow(
        head,
        lambda i: f"    - name: port-{i}\n      port: {8000 + i}\n      targetPort: {9000 + i}\n",
        target,
    )


def configmap(rng: random.Random, target: int) -> str:
    app = _words(rng, 2)
    head = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}-config
data:
  application.yaml: |
    server:
      port: 8080
    logging:
      level: INFO
    features:
"""
    return _grow(
        head,
        lambda i: f"      flag{i}: {rng.choice(['true', 'false'])}  # rollout {_words(rng, 1)}\n",
        target,
    )


def rbac(rng: random.Random, target: int) -> str:
    app = _words(rng, 2)
    head = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {app}
rules:
"""
    return _grow(
        head,
        lambda i: (
            f'  - apiGroups: ["apps", "batch"]\n    resources: ["{_words(rng, 1)}s"]\n'
            '    verbs: ["get", "list", "watch"]\n'
        ),
        target,
    )


def values(rng: random.Random, target: int) -> str:
    app = _words(rng, 2)
    head = f"""# Default values for {app}.
replicaCount: 2
image:
  repository: registry.example.org/{app}
  pullPolicy: IfNotPresent
  tag: ""
serviceAccount:
  create: true
  annotations: {{}}
ingress:
  enabled: false
  className: nginx
resources: {{}}
extraEnv:
"""
    return _grow(
        head,
        lambda i: f"  # {_words(rng, 3)}\n  - name: EXTRA_{i}\n    value: {_words(rng, 1)}\n",
        target,
    )


def template(rng: random.Random, target: int) -> str:
    head = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          env:
"""
    return _grow(
        head,
        lambda i: (
            f"            - name: VALUE_{i}\n"
            f"              value: {{{{ .Values.env.value{i} | quote }}}}\n"
        ),
        target,
    )


def kustomization(rng: random.Random, target: int) -> str:
    head = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {_words(rng, 1)}
resources:
"""
    return _grow(head, lambda i: f"  - {_words(rng, 2)}-{i}.yaml\n", target)


def crd(rng: random.Random, target: int) -> str:
    kind = _words(rng, 1).capitalize()
    head = f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {kind.lower()}s.example.org
spec:
  group: example.org
  names: {{kind: {kind}, plural: {kind.lower()}s}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
"""
    return _grow(
        head,
        lambda i: (
            f"            field{i}:\n"
            f"              description: {_words(rng, 6).replace('-', ' ')} of the {kind}.\n"
            f"              type: {rng.choice(['string', 'integer', 'boolean'])}\n"
        ),
        target,
    )


def dashboard(rng: random.Random, target: int) -> str:
    panels = []
    size = 200
    index = 0
    while size < target:
        panel = json.dumps(
            {
                "id": index,
                "title": _words(rng, 3),
                "type": "timeseries",
                "targets": [{"expr": f'rate(http_requests_total{{app="{_words(rng, 2)}"}}[5m])'}],
                "gridPos": {"h": 8, "w": 12, "x": 0, "y": index * 8},
            },
            indent=2,
        )
        panels.append(panel)
        size += len(panel) + 2
        index += 1
    return json.dumps({"title": _words(rng, 2), "panels": []}, indent=2).replace(
        '"panels": []', '"panels": [\n' + ",\n".join(panels) + "\n]"
    )


def application(rng: random.Random, target: int) -> str:
    app = _words(rng, 2)
    head = f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {app}
  namespace: argocd
spec:
  project: default
  destination: {{server: "https://kubernetes.default.svc", namespace: {app}}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
  source:
    repoURL: https://charts.example.org
    chart: {app}
    targetRevision: 1.{rng.randint(0, 30)}.0
    helm:
      valuesObject:
        podLabels:
"""
    return _grow(head, lambda i: f"          team-{i}: {_words(rng, 1)}\n", target)


def mentions_plugins(rng: random.Random, target: int) -> str:
    """Near misses: a file that says "plugin" (Grafana plugins, an Argo CD config
    management plugin) but holds no Argo Rollouts plugin key."""
    head = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: grafana-{_words(rng, 1)}
data:
  plugins: grafana-piechart-panel,grafana-clock-panel
  configManagementPlugins: |
    - name: kustomized-helm
      generate:
        command: [sh, -c]
"""
    return _grow(head, lambda i: f"  setting{i}: {_words(rng, 2)}\n", target)


KINDS: tuple[tuple[Callable[[random.Random, int], str], str, int], ...] = (
    (deployment, "deployment.yaml", 28),
    (service, "service.yaml", 12),
    (configmap, "configmap.yaml", 10),
    (rbac, "rbac.yaml", 8),
    (values, "values.yaml", 10),
    (template, "templates/deployment.yaml", 12),
    (kustomization, "kustomization.yaml", 8),
    (crd, "crd.yaml", 4),
    (dashboard, "dashboard.json", 3),
    (application, "application.yaml", 4),
    (mentions_plugins, "grafana.yaml", 1),
)


def _entries_yaml(rng: random.Random, prefix: str, indent: str) -> tuple[str, list[str]]:
    """A plugin list of 1 to 3 entries, and the names in it."""
    lines: list[str] = []
    names: list[str] = []
    for key, name, location in rng.sample(PLUGINS, rng.randint(1, 3)):
        full = f"{prefix}/{name}"
        names.append(full)
        lines.append(f"{indent}{key}:")
        lines.append(f"{indent}  - name: {full}")
        lines.append(f"{indent}    location: {location}")
        if rng.random() < 0.5:
            lines.append(f'{indent}    sha256: "{rng.getrandbits(256):064x}"')
    return "\n".join(lines) + "\n", names


def plugin_file(rng: random.Random, number: int, target: int) -> tuple[str, str, list[str]]:
    """(file name, text, plugin names): a ConfigMap, a chart values file or an Argo CD
    Application, padded with the settings such files really carry."""
    prefix = f"team{number}"
    style = number % 3
    if style == 0:
        lists, names = _entries_yaml(rng, prefix, "  ")
        # The ConfigMap's data values are strings: the lists go into literal blocks.
        body = []
        for line in lists.splitlines():
            if not line.startswith("   "):
                body.append(f"{line} |")
            else:
                body.append("  " + line)
        head = """apiVersion: v1
kind: ConfigMap
metadata:
  name: argo-rollouts-config
  namespace: argo-rollouts
data:
""" + "\n".join(body) + "\n"  # fmt: skip
        text = _grow(head, lambda i: f"  unrelatedKey{i}: value-{i}\n", target)
        return "argo-rollouts-config.yaml", text, names
    if style == 1:
        lists, names = _entries_yaml(rng, prefix, "  ")
        head = "# argo-rollouts chart values\ncontroller:\n  replicas: 2\n" + lists
        text = _grow(
            head, lambda i: f"  extraEnv{i}:\n    - name: SETTING_{i}\n      value: x\n", target
        )
        return "values-argo-rollouts.yaml", text, names
    lists, names = _entries_yaml(rng, prefix, "            ")
    head = f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: argo-rollouts
  namespace: argocd
spec:
  project: platform
  destination: {{server: "https://kubernetes.default.svc", namespace: argo-rollouts}}
  source:
    repoURL: https://argoproj.github.io/argo-helm
    chart: argo-rollouts
    targetRevision: 2.39.1
    helm:
      valuesObject:
        controller:
{lists}        podLabels:
"""
    text = _grow(head, lambda i: f"          label-{i}: value-{i}\n", target)
    return "argo-rollouts-app.yaml", text, names


def file_sizes(rng: random.Random, count: int, total: int) -> list[int]:
    """Log-normal sizes (most manifests are a few KB, a few CRDs and dashboards are
    hundreds), scaled to `total`."""
    raw = [min(rng.lognormvariate(math.log(2600), 1.25), 1.5 * MIB) for _ in range(count)]
    scale = total / sum(raw)
    return [max(int(size * scale), 200) for size in raw]


def generate(
    root: Path, count: int, total: int, workload_bytes: int, seed: int = 6
) -> tuple[set[tuple[str, str]], int]:
    """Write the repository; return the (path, plugin name) of every plugin entry in it,
    and the bytes written."""
    rng = random.Random(seed)
    sizes = file_sizes(rng, count, total)
    plugin_at = {round(i * count / PLUGIN_FILES) for i in range(PLUGIN_FILES)}
    weights = [weight for _, _, weight in KINDS]
    expected: set[tuple[str, str]] = set()
    written = 0
    for index, size in enumerate(sizes):
        folder = f"apps/{_words(rng, 1)}/svc{index // 10:04d}"
        if index in plugin_at:
            name, text, names = plugin_file(rng, index, min(size, 64 * 1024))
            # Rendered-manifest and kustomize-output repositories: the plugin configuration
            # shares its file with a large workload document (issue 17).
            workload = deployment(rng, workload_bytes)
            text = f"{text}---\n{workload}" if index % 2 else f"{workload}---\n{text}"
            relative = f"{folder}/{index:05d}-{name}"
            expected.update((relative, plugin) for plugin in names)
        else:
            make, name, _ = rng.choices(KINDS, weights)[0]
            text = make(rng, size)
            directory, _, base = name.rpartition("/")
            relative = f"{folder}/{directory + '/' if directory else ''}{index:05d}-{base}"
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        written += path.write_bytes(text.encode("utf-8"))
    return expected, written


def init_git(root: Path) -> bool:
    """A real repository is a git work tree; the tool lists files with `git ls-files`."""
    if shutil.which("git") is None:
        return False
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=root, check=True, capture_output=True)
    return True


def found_entries(run: Measured) -> set[tuple[str, str]]:
    report_json = json.loads(run.stdout)
    return {(plugin["path"], plugin["name"]) for plugin in report_json["plugins"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, help="number of files (default by --size)")
    parser.add_argument(
        "--skip-parse-all",
        action="store_true",
        help="skip baseline (b), which takes about a minute at full size",
    )
    args = parser.parse_args(argv)
    count, total, workload_bytes = SIZES[args.size]
    if args.files:
        total = total * args.files // count
        count = args.files
    times = args.repeat or (5 if args.size == "full" else 2)
    with workspace(args.keep, "bench-scan-") as scratch:
        root = Path(scratch) / "repo"
        empty = Path(scratch) / "empty"
        empty.mkdir()
        expected, written = generate(root, count, total, workload_bytes)
        megabytes = written / MIB
        git = init_git(root)
        env = child_env({"XDG_CACHE_HOME": str(Path(scratch) / "cache")})

        def grep() -> Measured:
            command = ["grep", "-rlE", "--exclude-dir=.git", GREP_PATTERN, "."]
            return expect_exit(run_measured(command, root, env), (0,), "grep")

        def ours() -> Measured:
            command = cli("--offline", "--format", "json", ".")
            return expect_exit(run_measured(command, root, env), (0, 1), "rollouts-plugin-lint")

        def fixed_cost() -> Measured:
            # The same command on an empty folder: interpreter start-up and imports,
            # which grep does not pay.
            command = cli("--offline", "--format", "json", ".")
            return expect_exit(run_measured(command, empty, env), (0,), "rollouts-plugin-lint")

        # Warm-up: the page cache holds the files and our bytecode is compiled.
        grep()
        ours()
        grep_runs, our_runs, fixed_runs = interleaved((grep, ours, fixed_cost), times)
        grep_files = set(grep_runs[0].stdout.split())
        parse_seconds = None
        if not args.skip_parse_all:
            command = [sys.executable, "-c", PARSE_ALL, str(root)]
            parse_seconds = median_wall(
                [expect_exit(run_measured(command, root, env), (0,), "parse")]
            )
        found = found_entries(our_runs[-1])

    grep_s, our_s, fixed_s = median_wall(grep_runs), median_wall(our_runs), median_wall(fixed_runs)
    over_grep = ratio(our_s, grep_s)
    thousands = count / 1000
    rows = [
        Row("scan", "(a) grep -rlE, the floor", grep_s, max_rss(grep_runs)),
        Row("scan", "ours, --offline", our_s, max_rss(our_runs), f"{over_grep:.1f}x grep",
            f"<= {GREP_TARGET}x grep", over_grep <= GREP_TARGET),
        Row("scan", "ours per 1,000 files (compare runs at --files 5000 and 50000)",
            our_s / thousands),
        Row("scan", "ours on an empty folder (start-up and imports)", fixed_s,
            max_rss(fixed_runs)),
        Row("scan", "ours minus that fixed cost", our_s - fixed_s, None,
            f"{ratio(our_s - fixed_s, grep_s):.1f}x grep"),
    ]  # fmt: skip
    if parse_seconds is not None:
        faster = ratio(parse_seconds, our_s)
        rows.insert(1, Row("scan", "(b) ruamel.yaml parses every file", parse_seconds))
        rows.append(
            Row("scan", "ours vs (b)", None, None, f"{faster:.0f}x faster",
                f">= {PARSE_ALL_TARGET}x faster", faster >= PARSE_ALL_TARGET)
        )  # fmt: skip
    facts = {
        "files": count,
        "MiB": round(megabytes, 1),
        "git work tree": git,
        "files with plugin entries": PLUGIN_FILES,
        "plugin entries expected": len(expected),
        "plugin entries found": len(found & expected),
        "unexpected entries": len(found - expected),
        "every plugin entry found": found == expected,
        "files grep lists": len(grep_files),
        "repeats (median kept)": times,
    }
    report(f"scan: {count} files, {megabytes:.1f} MiB", rows, facts, [], args.json)
    return 0 if found == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
