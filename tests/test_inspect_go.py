"""Real Go binaries, built here when `go` is installed: a traffic router plugin for linux,
darwin and windows, and a step plugin whose main module is argo-rollouts itself (as the
sample plugins in the argo-rollouts repository are). argo-rollouts and go-plugin are tiny
local stand-ins wired in with `replace`, so nothing is downloaded; Go still records them
as dependencies and keeps their package paths in the function table."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import inspect_file
from rollouts_plugin_lint.model import GoBuildInfo, PluginKind

MAIN_MODULE = "example.com/rollouts-plugin-probe"

SOURCES = {
    "argo-rollouts/go.mod": """module github.com/argoproj/argo-rollouts

go 1.18

require github.com/hashicorp/go-plugin v1.6.3

replace github.com/hashicorp/go-plugin => ../go-plugin
""",
    "argo-rollouts/rollout/trafficrouting/plugin/rpc/rpc.go": """package rpc

type RpcTrafficRouterPlugin struct{ Name string }

//go:noinline
func (p *RpcTrafficRouterPlugin) Server() string { return "traffic router " + p.Name }
""",
    "argo-rollouts/rollout/steps/plugin/rpc/rpc.go": """package rpc

type RpcStepPlugin struct{ Name string }

//go:noinline
func (p *RpcStepPlugin) Server() string { return "step " + p.Name }
""",
    "argo-rollouts/test/cmd/step-plugin-sample/main.go": """package main

import (
	"os"

	"github.com/argoproj/argo-rollouts/rollout/steps/plugin/rpc"
	goPlugin "github.com/hashicorp/go-plugin"
)

func main() {
	plugins := map[string]*rpc.RpcStepPlugin{"RpcStepPlugin": {Name: "sample"}}
	os.Stdout.WriteString(goPlugin.Serve(plugins["RpcStepPlugin"].Server()) + "\\n")
}
""",
    "go-plugin/go.mod": "module github.com/hashicorp/go-plugin\n\ngo 1.18\n",
    "go-plugin/plugin.go": """package plugin

//go:noinline
func Serve(name string) string { return "serving " + name }
""",
    "plugin/go.mod": f"""module {MAIN_MODULE}

go 1.18

require (
	github.com/argoproj/argo-rollouts v1.8.3
	github.com/hashicorp/go-plugin v1.6.3
)

replace github.com/argoproj/argo-rollouts => ../argo-rollouts

replace github.com/hashicorp/go-plugin => ../go-plugin
""",
    "plugin/main.go": """package main

import (
	"os"

	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	goPlugin "github.com/hashicorp/go-plugin"
)

func main() {
	plugins := map[string]*rpc.RpcTrafficRouterPlugin{"RpcTrafficRouterPlugin": {Name: "probe"}}
	os.Stdout.WriteString(goPlugin.Serve(plugins["RpcTrafficRouterPlugin"].Server()) + "\\n")
}
""",
}

# name: (package directory, GOOS, GOARCH, extra flags)
BUILDS = {
    "traffic-linux-amd64": ("plugin", "linux", "amd64", ["-trimpath", "-ldflags=-s -w"]),
    "traffic-darwin-arm64": ("plugin", "darwin", "arm64", ["-trimpath", "-ldflags=-s -w"]),
    "traffic-windows-amd64.exe": ("plugin", "windows", "amd64", []),
    "step-linux-amd64": ("argo-rollouts/test/cmd/step-plugin-sample", "linux", "amd64", []),
}


class GoBuilds:
    def __init__(self, go: str, root: Path, environment: dict[str, str]) -> None:
        self.go = go
        self.root = root
        self.environment = environment
        self.binaries: dict[str, Path] = {}

    def version(self) -> str:
        return self._go("env", "GOVERSION").strip()

    def version_m(self, binary: Path) -> str:
        """`go version -m`: the reference our reader must agree with."""
        return self._go("version", "-m", str(binary))

    def _go(self, *args: str) -> str:
        result = subprocess.run(
            [self.go, *args], env=self.environment, capture_output=True, text=True, check=True
        )
        return result.stdout


@pytest.fixture(scope="session")
def go_builds(tmp_path_factory: pytest.TempPathFactory) -> GoBuilds:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (apt-get install golang-go): no real Go binaries")
    root = tmp_path_factory.mktemp("go")
    for name, text in SOURCES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "GOCACHE": str(root / "cache"),
        "GOPATH": str(root / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOENV": "off",
        "GOWORK": "off",
        "CGO_ENABLED": "0",
    }
    builds = GoBuilds(go, root, environment)

    def build(name: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        package, goos, goarch, flags = BUILDS[name]
        output = root / "bin" / name
        result = subprocess.run(
            [go, "build", *flags, "-o", str(output), "."],
            cwd=root / package,
            env={**environment, "GOOS": goos, "GOARCH": goarch},
            capture_output=True,
            text=True,
            check=False,
        )
        return name, result

    # Two cores: the cross builds compile their own runtime, so run them side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, result in pool.map(build, BUILDS):
            if result.returncode != 0:
                pytest.skip(f"go build {name} failed: {result.stderr.strip()[-500:]}")
            builds.binaries[name] = root / "bin" / name
    return builds


def reference(text: str) -> dict[str, object]:
    """The parts of `go version -m` output that GoBuildInfo carries."""
    lines = [line.strip("\t").split("\t") for line in text.splitlines()[1:]]
    deps: dict[str, str] = {}
    last = None
    info: dict[str, object] = {"settings": {}}
    for fields in lines:
        if fields[0] == "path":
            info["path"] = fields[1]
        elif fields[0] == "mod":
            info["module"], info["module_version"] = fields[1], fields[2]
        elif fields[0] == "dep":
            last = fields[1]
            deps[last] = fields[2]
        elif fields[0] == "=>" and last:
            deps[last] += " => " + " ".join(part for part in fields[1:3] if part)
        elif fields[0] == "build":
            key, _, value = fields[1].partition("=")
            info["settings"][key] = value  # type: ignore[index]
    info["version"] = text.split(":", 1)[1].split()[0]
    rollouts = "github.com/argoproj/argo-rollouts"
    info["rollouts"] = info["module_version"] if info["module"] == rollouts else deps.get(rollouts)
    info["go_plugin"] = deps.get("github.com/hashicorp/go-plugin")
    return info


def as_reference(go: GoBuildInfo | None) -> dict[str, object]:
    assert go is not None
    return {
        "version": go.version,
        "path": go.path,
        "module": go.module,
        "module_version": go.module_version,
        "rollouts": go.rollouts,
        "go_plugin": go.go_plugin,
        "settings": dict(go.settings),
    }


@pytest.mark.parametrize(
    ("name", "format_name", "goos", "goarch"),
    [
        ("traffic-linux-amd64", "elf", "linux", "amd64"),
        ("traffic-darwin-arm64", "macho", "darwin", "arm64"),
        ("traffic-windows-amd64.exe", "pe", "windows", "amd64"),
    ],
)
def test_real_traffic_router_plugin(
    go_builds: GoBuilds, name: str, format_name: str, goos: str, goarch: str
) -> None:
    binary = go_builds.binaries[name]
    facts = inspect_file(binary)
    assert (facts.format, facts.os, facts.arch) == (format_name, goos, goarch)
    assert facts.interpreter is None  # CGO_ENABLED=0: static
    assert facts.detail is None
    assert facts.plugin_kinds == {PluginKind.TRAFFIC_ROUTER}
    go = facts.go
    assert go is not None
    assert go.version == go_builds.version()
    assert (go.path, go.module) == (MAIN_MODULE, MAIN_MODULE)
    assert go.rollouts is not None and go.rollouts.startswith("v1.8.3 => ../argo-rollouts")
    assert go.go_plugin is not None and go.go_plugin.startswith("v1.6.3 => ../go-plugin")
    assert (go.settings["GOOS"], go.settings["GOARCH"]) == (goos, goarch)
    assert go.settings["CGO_ENABLED"] == "0"


@pytest.mark.parametrize("name", list(BUILDS))
def test_build_info_matches_go_version_m(go_builds: GoBuilds, name: str) -> None:
    binary = go_builds.binaries[name]
    assert as_reference(inspect_file(binary).go) == reference(go_builds.version_m(binary))


def test_real_step_plugin_inside_argo_rollouts(go_builds: GoBuilds) -> None:
    facts = inspect_file(go_builds.binaries["step-linux-amd64"])
    assert (facts.format, facts.os, facts.arch) == ("elf", "linux", "amd64")
    assert facts.plugin_kinds == {PluginKind.STEP}
    assert facts.go is not None
    assert facts.go.module == "github.com/argoproj/argo-rollouts"
    assert facts.go.path == "github.com/argoproj/argo-rollouts/test/cmd/step-plugin-sample"
    assert facts.go.rollouts == "(devel)"
