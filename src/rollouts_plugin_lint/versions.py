"""Versions of the argo-rollouts Helm chart and controller: parsing, what each chart ships,
and what each feature needs. Pure functions over strings."""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, int, int]

_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")

# Charts whose appVersion we can cite (argo-helm Chart.yaml history, FACTS.md section 6).
# Between two points we know bounds only: at least the lower appVersion, below the upper.
CHART_APP_VERSIONS: tuple[tuple[Version, Version], ...] = (
    ((2, 31, 1), (1, 5, 1)),
    ((2, 38, 0), (1, 7, 2)),
    ((2, 39, 1), (1, 8, 0)),
    ((2, 41, 0), (1, 9, 0)),
)
# The chart's values shape: a nested map of YAML strings up to 2.37.7; from 2.37.8 the
# template renders a list (2.38.0 made `[]` the default).
CHART_LIST_FORM = (2, 37, 8)
CHART_STEP_PLUGINS = (2, 39, 1)
CONTROLLER_ARGS = (1, 7, 0)
CONTROLLER_V18 = (1, 8, 0)  # stepPlugins, disabled, headersFrom, the status and sha256 fixes


def parse_version(text: object) -> Version | None:
    """`2.37.2`, `v1.8.3`, `1.7` -> a tuple; ranges and wildcards (`2.x`, `^2.38`) -> None."""
    if not isinstance(text, str):
        return None
    match = _VERSION.fullmatch(text.strip())
    if not match:
        return None
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


def show(version: Version) -> str:
    return ".".join(str(part) for part in version)


@dataclass(frozen=True)
class Versions:
    """What we know of the chart and controller a plugin list is deployed with, and where
    we learned it (for messages)."""

    chart: Version | None = None
    controller: Version | None = None  # exact, when stated
    source: str = ""

    @property
    def controller_bounds(self) -> tuple[Version | None, Version | None]:
        """(at least, below) for the controller version."""
        if self.controller is not None:
            return self.controller, (self.controller[0], self.controller[1], self.controller[2] + 1)
        if self.chart is None:
            return None, None
        lower = upper = None
        for chart, app in CHART_APP_VERSIONS:
            if chart <= self.chart:
                lower = app
            elif upper is None:
                upper = app
        return lower, upper

    def controller_below(self, needed: Version) -> bool:
        """True only when the controller is certainly older than `needed`."""
        _, upper = self.controller_bounds
        return upper is not None and upper <= needed

    def chart_below(self, needed: Version) -> bool:
        return self.chart is not None and self.chart < needed

    def merged(self, other: Versions) -> Versions:
        """`other` where it knows something, else self."""
        return Versions(
            other.chart or self.chart,
            other.controller or self.controller,
            other.source if (other.chart or other.controller) else self.source,
        )

    def describe_controller(self) -> str:
        if self.controller is not None:
            return f"controller v{show(self.controller)}"
        _, upper = self.controller_bounds
        chart = f"chart {show(self.chart)}" if self.chart else "the chart"
        return f"{chart} (controller below v{show(upper)})" if upper else chart


_INSTALL_URL = re.compile(
    r"argoproj/argo-rollouts/(?:releases/download/|)(v\d+\.\d+\.\d+)/(?:manifests/)?"
    r"(?:install|namespace-install|dashboard-install)\.yaml"
)


def controller_from_install_url(url: str) -> Version | None:
    """The release tag in a kustomize resource such as
    `https://github.com/argoproj/argo-rollouts/releases/download/v1.8.3/install.yaml`."""
    match = _INSTALL_URL.search(url)
    return parse_version(match.group(1)) if match else None
