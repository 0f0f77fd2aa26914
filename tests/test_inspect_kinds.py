"""Plugin kinds from the strings a plugin binary must contain, found anywhere in the file,
including across the boundaries of the chunks the file is read in."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import inspect_file
from rollouts_plugin_lint.inspect.kinds import MARKERS
from rollouts_plugin_lint.inspect.view import SCAN_CHUNK
from rollouts_plugin_lint.model import PluginKind

from .inspect_fixtures import Elf, macho, pe, write

TRAFFIC, METRIC, STEP = PluginKind.TRAFFIC_ROUTER, PluginKind.METRIC_PROVIDER, PluginKind.STEP
PREFIX = b"github.com/argoproj/argo-rollouts"


def binary_with(*strings: bytes, header: bytes | None = None) -> bytes:
    return (header or Elf().build()) + b"\0".join([b"", *strings, b""])


@pytest.mark.parametrize(
    ("strings", "kinds"),
    [
        (
            [PREFIX + b"/rollout/trafficrouting/plugin/rpc.(*RpcTrafficRouterPlugin).Server"],
            {TRAFFIC},
        ),
        ([PREFIX + b"@v1.8.3/rollout/trafficrouting/plugin/rpc/rpc.go"], {TRAFFIC}),
        ([b"RpcTrafficRouterPlugin"], {TRAFFIC}),
        ([PREFIX + b"/metricproviders/plugin/rpc.(*MetricsRPCServer).Run"], {METRIC}),
        ([b"RpcMetricProviderPlugin"], {METRIC}),
        ([b"RpcMetricsPlugin"], {METRIC}),
        ([PREFIX + b"/rollout/steps/plugin/rpc.(*StepRPCServer).Run"], {STEP}),
        ([b"RpcStepPlugin"], {STEP}),
        # The controller itself links every kind: the caller decides what that means.
        (
            [b"RpcStepPlugin", b"RpcMetricProviderPlugin", b"RpcTrafficRouterPlugin"],
            {TRAFFIC, METRIC, STEP},
        ),
        # Neither the shared types package nor the cookie values say which kind it is.
        (
            [
                PREFIX + b"/utils/plugin/types",
                b"ARGO_ROLLOUTS_RPC_PLUGIN",
                b"step",
                b"metricprovider",
            ],
            set(),
        ),
        ([b"rollout/trafficrouting/plugin/rp"], set()),
    ],
)
def test_markers(tmp_path: Path, strings: list[bytes], kinds: set[PluginKind]) -> None:
    assert inspect_file(write(tmp_path / "plugin", binary_with(*strings))).plugin_kinds == kinds


def test_every_marker_is_recognised(tmp_path: Path) -> None:
    for index, (marker, kind) in enumerate(MARKERS.items()):
        facts = inspect_file(write(tmp_path / f"p{index}", binary_with(marker)))
        assert facts.plugin_kinds == {kind}, marker


@pytest.mark.parametrize("header", [macho(), pe()], ids=["macho", "pe"])
def test_other_executable_formats_are_scanned(tmp_path: Path, header: bytes) -> None:
    facts = inspect_file(write(tmp_path / "plugin", binary_with(b"RpcStepPlugin", header=header)))
    assert facts.plugin_kinds == {STEP}


def test_text_and_archives_are_not_scanned(tmp_path: Path) -> None:
    assert (
        inspect_file(write(tmp_path / "notes.txt", b"we use RpcStepPlugin\n")).plugin_kinds == set()
    )


@pytest.mark.parametrize("split", [1, 10, len(b"RpcTrafficRouterPlugin") - 1])
def test_marker_across_a_chunk_boundary(tmp_path: Path, split: int) -> None:
    header = Elf().build()
    marker = b"RpcTrafficRouterPlugin"
    padding = bytes(SCAN_CHUNK - len(header) - split)
    image = header + padding + marker + bytes(100)
    assert image.index(marker) + split == SCAN_CHUNK  # `split` bytes before the boundary
    assert inspect_file(write(tmp_path / "plugin", image)).plugin_kinds == {TRAFFIC}


def test_marker_in_the_last_bytes(tmp_path: Path) -> None:
    image = Elf().build() + bytes(3 * SCAN_CHUNK + 5) + b"/rollout/steps/plugin/rpc"
    assert inspect_file(write(tmp_path / "plugin", image)).plugin_kinds == {STEP}
