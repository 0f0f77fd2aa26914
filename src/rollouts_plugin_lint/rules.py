"""Every rule id, its default severity and its documentation. Ids are stable."""

from __future__ import annotations

from dataclasses import dataclass

from rollouts_plugin_lint.model import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    help: str
    # Network trouble rather than misconfiguration: --lenient turns these into warnings.
    network: bool = False


_RULES = [
    Rule(
        "yaml-syntax",
        E,
        "The file or an embedded plugin list is not valid YAML",
        "The controller parses each plugin list with a YAML parser and crash-loops on a "
        "syntax error. Fix the YAML at the reported line.",
    ),
    Rule(
        "plugin-list-shape",
        E,
        "A plugin key holds something other than a list of mappings",
        "ConfigMap data values are YAML strings holding a list (`key: |-`); Helm values "
        "(chart >= 2.38.0) are a real YAML list. The hint shows the right shape.",
    ),
    Rule(
        "schema",
        E,
        "An entry field is missing or has the wrong type",
        "Every entry needs `name` and `location`; `disabled` is a boolean, `args` a list "
        "of strings, `sha256` a quoted string.",
    ),
    Rule(
        "unknown-field",
        E,
        "A field the controller silently drops",
        "The controller decodes entries without rejecting unknown fields, so a misspelled "
        "key (`url`, `pluginLocation`, `sha265`) is ignored without a word.",
    ),
    Rule(
        "name-format",
        E,
        "The plugin name is not `<namespace>/<name>`",
        "The controller requires `^[A-Za-z0-9-]+/[A-Za-z0-9_.-]+$` and stores the binary at "
        "`plugin-bin/<namespace>/<name>`; it refuses to start otherwise.",
    ),
    Rule(
        "duplicate-name",
        E,
        "The same plugin name appears twice",
        "All three lists download to `plugin-bin/<namespace>/<name>`: the last entry "
        "overwrites the binary while the first entry's settings are used.",
    ),
    Rule(
        "location-format",
        E,
        "The location is not a URL the controller can use",
        "The controller parses `location` with Go's `url.ParseRequestURI` and accepts only "
        "http, https and file schemes.",
    ),
    Rule(
        "insecure-location",
        W,
        "The plugin is downloaded over plain http",
        "Anyone on the path can replace the binary the controller executes. Use https, "
        "and pin `sha256`.",
    ),
    Rule(
        "credentials-in-url",
        E,
        "The location carries credentials",
        "The controller logs the full location at start-up. Use `headersFrom` with a "
        "Secret (controller >= v1.8) instead.",
    ),
    Rule(
        "sha256-format",
        E,
        "The sha256 is not 64 lowercase hex characters",
        "The controller compares the lowercase hex digest as a plain string; any other "
        "value can never match and the controller crash-loops.",
    ),
    Rule(
        "missing-sha256",
        W,
        "An http(s) plugin is not pinned by sha256",
        'Without `sha256` (or with `sha256: ""`, which the controller skips) the '
        "controller runs whatever the URL serves today.",
    ),
    Rule(
        "unpinned-location",
        W,
        "The location follows a moving target",
        "`/releases/latest/download/` and branch URLs change under you; a new release "
        "breaks the pinned sha256 or silently changes the binary.",
    ),
    Rule(
        "not-a-download-url",
        E,
        "The location is a web page, not a file",
        "GitHub `/blob/`, `/tree/` and `/releases/tag/` URLs answer an HTML page with "
        "status 200; the controller saves it and fails with `exec format error`.",
    ),
    Rule(
        "platform-mismatch",
        E,
        "The asset name is for another OS or CPU",
        "The controller runs on Linux; a darwin, windows or other-CPU build fails with "
        "`exec format error`. Set `--platform` for the controller's nodes.",
    ),
    Rule(
        "file-location",
        N,
        "A file:// location cannot be checked from the repository",
        "The controller copies the file from its own filesystem at start-up; the note "
        "says the exact path it will read.",
    ),
    Rule(
        "disabled-ignored",
        W,
        "`disabled` has no effect on this list",
        "Only step plugins honour `disabled`; traffic router and metric provider plugins "
        "are loaded regardless (and every plugin is still downloaded).",
    ),
    Rule(
        "sha256-ignored",
        W,
        "`sha256` on a file:// location has no effect",
        "The controller checks `sha256` only for http(s) downloads; a file:// plugin is "
        "copied unverified, whatever the digest says.",
    ),
    Rule(
        "download-failed",
        E,
        "The location answers an HTTP error",
        "Controllers >= v1.8 refuse the plugin at start-up (`failed to download file from "
        "...: response code Not Found`) and crash-loop; older ones save the error page as "
        "the plugin and fail with `exec format error`, then `Stdout already set`. The "
        "message says which, for the controller version in force.",
    ),
    Rule(
        "unreachable",
        E,
        "The location cannot be reached",
        "DNS, connection, TLS, timeout, redirect loop or truncated body.",
        network=True,
    ),
    Rule(
        "blocked-address",
        E,
        "The location resolves to a private or loopback address",
        "Not fetched, to protect CI credentials; pass `--allow-private-addresses` for "
        "internal mirrors.",
    ),
    Rule("too-large", E, "The download is larger than --max-size", "Plugins are tens of MB."),
    Rule(
        "not-verified",
        N,
        "The location could not be verified offline",
        "With --offline only the cache answers; run once with network to check the file.",
    ),
    Rule(
        "not-executable",
        E,
        "The download is not an executable",
        "An HTML page, JSON error, GitHub's `Not Found`, text, an empty file or a Git LFS "
        "pointer: the controller fails with `exec format error`.",
    ),
    Rule(
        "archive",
        E,
        "The download is an archive",
        "The controller never unpacks: it executes the file as downloaded. Point at the "
        "bare binary asset.",
    ),
    Rule(
        "wrong-os",
        E,
        "The download is not a Linux executable",
        "A Mach-O, PE or `#!` script: the controller image is Linux with no shell.",
    ),
    Rule(
        "wrong-arch",
        E,
        "The download is built for another CPU",
        "An ELF for an architecture not in the target platforms fails with `exec format error`.",
    ),
    Rule(
        "dynamic-binary",
        E,
        "The download is dynamically linked",
        "The distroless controller image has no libc; the plugin fails with `no such file "
        "or directory`. Build with CGO_ENABLED=0.",
    ),
    Rule(
        "checksum-mismatch",
        E,
        "The configured sha256 differs from the download's",
        "The controller refuses the plugin and crash-loops.",
    ),
    Rule(
        "not-a-plugin",
        E,
        "The download is not an Argo Rollouts plugin",
        "A Go binary that links neither argo-rollouts nor go-plugin (for example the "
        "kubectl-argo-rollouts CLI).",
    ),
    Rule(
        "plugin-kind-mismatch",
        E,
        "The plugin is of another kind than its list",
        "Its handshake cookie will not match and it fails at the first rollout.",
    ),
    Rule(
        "handshake-failed",
        E,
        "The opt-in handshake probe failed",
        "The binary did not print a valid go-plugin handshake line.",
    ),
    Rule(
        "unknown-config-key",
        E,
        "A data key the controller never reads",
        "The controller reads only `trafficRouterPlugins`, `metricProviderPlugins` and "
        "`stepPlugins`, case-sensitively.",
    ),
    Rule(
        "misplaced-plugin-list",
        E,
        "A values-file plugin list the chart ignores",
        "The chart reads `controller.trafficRouterPlugins` (and the other two) only.",
    ),
    Rule(
        "placeholder",
        E,
        "A value that was never filled in",
        "`CHANGEME`, `<...>`, `${...}`, `path/to`: fill it in. The download and checksum "
        "checks it makes pointless are skipped; findings it does not cause are still "
        "reported.",
    ),
    Rule(
        "version-gate",
        W,
        "A feature the chart or controller version does not support yet",
        "The chart or controller version in force (from the chart release table, or as "
        "stated) never reads the key or field: upgrade, or remove it. An error when the "
        "controller breaks: before v1.7.0 it refuses every correct sha256 (#3519).",
    ),
    Rule(
        "file-location-unmounted",
        W,
        "A file:// path under no controller volume mount",
        "The controller cannot see the file; copy it to a mounted path.",
    ),
    Rule(
        "release-tag",
        E,
        "The release tag is not in the plugin's tag format",
        "From the catalog of known plugins: `download/0.4.0/` where the repository's tags "
        "are `vX.Y.Z` is a 404. Online, the GitHub release listing has the last word.",
    ),
    Rule(
        "release-asset",
        E,
        "The release of that version publishes no asset of that name",
        "From the catalog of known plugins: the gatewayapi assets are "
        "`gateway-api-plugin-<os>-<arch>` up to v0.3.0 and `gatewayapi-plugin-<os>-<arch>` "
        "from v0.4.0. Online, the GitHub release listing has the last word.",
    ),
    Rule(
        "plugin-config-name",
        E,
        "The configured name differs from the key the plugin reads its configuration under",
        "A plugin reads its configuration from the Rollout or AnalysisTemplate under its own "
        "fixed key (`hashicorp/consul`, not `argoproj-labs/consul`), while the controller "
        "reaches it only by the configured name: under any other name it gets no "
        "configuration and fails at the first rollout.",
    ),
    Rule(
        "wrong-plugin-list",
        E,
        "A known plugin is listed under another kind's list",
        "Used as its list's kind, the plugin is started with that list's handshake cookie "
        "and refuses it; used as its own kind, controllers from v1.8 do not find it in "
        "another list. A warning when only the repository name "
        "(`rollouts-plugin-<kind>-<tool>`) says so.",
    ),
    Rule(
        "unknown-plugin-reference",
        E,
        "A Rollout or analysis resource uses a plugin name nothing configures",
        "The controller finds a plugin by the name a Rollout (`trafficRouting.plugins.<name>`, "
        "a step's `plugin.name`) or a metric (`provider.plugin.<name>`) uses, and fails with "
        "`plugin <name> not configured in configmap`. A note when the checked files "
        "configure no plugins of that kind: the configuration may live elsewhere.",
    ),
    Rule(
        "plugin-reference-kind",
        E,
        "A plugin is used as another kind than it is configured",
        "A metric provider plugin used as a traffic router (or any other mix) is looked up "
        "in the wrong list and is not found.",
    ),
    Rule(
        "unreferenced-plugin",
        N,
        "A configured plugin that nothing in the checked files uses",
        "Reported only when the checked files hold plugin references at all.",
    ),
    Rule(
        "skipped-file",
        N,
        "A file that could not be checked",
        "Helm templates, binary files and oversized files are skipped; render templates "
        "with `helm template` and lint the output.",
    ),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
