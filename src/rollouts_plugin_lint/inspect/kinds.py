"""Which kind of Argo Rollouts plugin a binary is, from strings it must contain.

A plugin serves one of argo-rollouts' rpc packages, and Go keeps package paths in the
function table (pclntab) even in stripped (`-s -w`) builds; the plugin map key the plugin
registers (`RpcTrafficRouterPlugin`, ...) is a string literal in its main package. Package
paths are matched from the `/` before the package (the module path in front is
`github.com/argoproj/argo-rollouts/` in function names and `...@v1.8.3/` in file names).
"""

from __future__ import annotations

from rollouts_plugin_lint.inspect.view import FileView
from rollouts_plugin_lint.model import PluginKind

MARKERS: dict[bytes, PluginKind] = {
    b"/rollout/trafficrouting/plugin/rpc": PluginKind.TRAFFIC_ROUTER,
    b"RpcTrafficRouterPlugin": PluginKind.TRAFFIC_ROUTER,
    b"/metricproviders/plugin/rpc": PluginKind.METRIC_PROVIDER,
    b"RpcMetricProviderPlugin": PluginKind.METRIC_PROVIDER,
    # The metric plugin map key: FACTS.md and FORMATS.md name it differently; match both.
    b"RpcMetricsPlugin": PluginKind.METRIC_PROVIDER,
    b"/rollout/steps/plugin/rpc": PluginKind.STEP,
    b"RpcStepPlugin": PluginKind.STEP,
}
_OVERLAP = max(len(marker) for marker in MARKERS) - 1
# Every marker contains this: one search rules out most chunks instead of seven.
_COMMON = b"lugin"
assert all(_COMMON in marker for marker in MARKERS)


def scan_plugin_kinds(view: FileView) -> frozenset[PluginKind]:
    """Every kind with a marker anywhere in the file, read once in overlapping chunks."""
    pending = dict(MARKERS)
    found: set[PluginKind] = set()
    for chunk in view.chunks(overlap=_OVERLAP):
        if _COMMON not in chunk:
            continue
        for marker, kind in list(pending.items()):
            if kind not in found and marker in chunk:
                found.add(kind)
        pending = {marker: kind for marker, kind in pending.items() if kind not in found}
        if not pending:
            break
    return frozenset(found)
