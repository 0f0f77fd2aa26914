"""Every rule id, its default severity and its documentation. Ids are stable."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rollouts_plugin_lint.model import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    help: str
    example: str  # a configuration that triggers the rule, for --explain
    fix: str  # what to change, for --explain
    # Network trouble rather than misconfiguration: --lenient turns these into warnings.
    network: bool = False
    # What --fix writes for it, and when a fix is safe or needs --unsafe-fixes.
    autofix: str | None = None


_RULES = [
    Rule(
        "yaml-syntax",
        E,
        "The file or an embedded plugin list is not valid YAML",
        "The controller parses each plugin list with a YAML parser and crash-loops on a "
        "syntax error. Fix the YAML at the reported line.",
        example=(
            "trafficRouterPlugins: |-\n"
            "  - name: argoproj-labs/gatewayAPI\n"
            "    location: [https://example.com/p"
        ),
        fix="Close the bracket or quote the reported line opens, or fix its indentation.",
    ),
    Rule(
        "plugin-list-shape",
        E,
        "A plugin key holds something other than a list of mappings",
        "ConfigMap data values are YAML strings holding a list (`key: |-`); Helm values "
        "(chart >= 2.38.0) are a real YAML list. The hint shows the right shape.",
        example="controller:\n  trafficRouterPlugins:\n    name: argoproj-labs/gatewayAPI",
        fix=(
            "Write the list the key expects: `- name: ...` items (a `|-` string holding that "
            "list in a ConfigMap)."
        ),
    ),
    Rule(
        "schema",
        E,
        "An entry field is missing or has the wrong type",
        "Every entry needs `name` and `location`; `disabled` is a boolean, `args` a list "
        "of strings, `sha256` a quoted string.",
        example='- name: argoproj-labs/gatewayAPI\n  disabled: "no"',
        fix=(
            "Give every entry `name` and `location`; use the type the message names "
            '(`disabled: false`, `sha256: "..."`).'
        ),
    ),
    Rule(
        "unknown-field",
        E,
        "A field the controller silently drops",
        "The controller decodes entries without rejecting unknown fields, so a misspelled "
        "key (`url`, `pluginLocation`, `sha265`) is ignored without a word.",
        example=(
            "- name: argoproj-labs/gatewayAPI\n"
            "  url: https://github.com/.../gatewayapi-plugin-linux-amd64"
        ),
        fix="Rename the key to the field the controller reads (here `location`), or remove it.",
    ),
    Rule(
        "name-format",
        E,
        "The plugin name is not `<namespace>/<name>`",
        "The controller requires `^[A-Za-z0-9-]+/[A-Za-z0-9_.-]+$` and stores the binary at "
        "`plugin-bin/<namespace>/<name>`; it refuses to start otherwise.",
        example="- name: gatewayAPI\n  location: https://...",
        fix="Prefix a namespace: `name: argoproj-labs/gatewayAPI`.",
    ),
    Rule(
        "duplicate-name",
        E,
        "The same plugin name appears twice",
        "All three lists download to `plugin-bin/<namespace>/<name>`: the last entry "
        "overwrites the binary while the first entry's settings are used.",
        example=(
            "- name: acme/metrics\n"
            "  location: https://.../v1/metrics\n"
            "- name: acme/metrics\n"
            "  location: https://.../v2/metrics"
        ),
        fix="Give each plugin its own `<namespace>/<name>`, or keep only one of the entries.",
    ),
    Rule(
        "location-format",
        E,
        "The location is not a URL the controller can use",
        "The controller parses `location` with Go's `url.ParseRequestURI` and accepts only "
        "http, https and file schemes.",
        example="- name: acme/p\n  location: github.com/acme/p/releases/download/v1/p",
        fix=(
            "Write a full http(s) or file:// URL: "
            "`https://github.com/acme/p/releases/download/v1/p`."
        ),
    ),
    Rule(
        "insecure-location",
        W,
        "The plugin is downloaded over plain http",
        "Anyone on the path can replace the binary the controller executes. Use https, "
        "and pin `sha256`.",
        example="- name: acme/p\n  location: http://downloads.example.com/p-linux-amd64",
        fix="Serve the file over https and pin it with `sha256`.",
    ),
    Rule(
        "credentials-in-url",
        E,
        "The location carries credentials",
        "The controller logs the full location at start-up. Use `headersFrom` with a "
        "Secret (controller >= v1.8) instead.",
        example="- name: acme/p\n  location: https://user:token@nexus.example.com/p",
        fix=(
            "Remove the credentials from the URL; send them with `headersFrom` and a Secret "
            "(controller >= v1.8)."
        ),
    ),
    Rule(
        "sha256-format",
        E,
        "The sha256 is not 64 lowercase hex characters",
        "The controller compares the lowercase hex digest as a plain string; any other "
        "value can never match and the controller crash-loops.",
        example="- name: acme/p\n  location: https://.../p-linux-amd64\n  sha256: 0xABCDEF",
        fix="Paste the output of `sha256sum FILE`: 64 lowercase hex characters, quoted.",
    ),
    Rule(
        "missing-sha256",
        W,
        "An http(s) plugin is not pinned by sha256",
        'Without `sha256` (or with `sha256: ""`, which the controller skips) the '
        "controller runs whatever the URL serves today.",
        example=(
            "- name: acme/p\n"
            "  location: https://github.com/acme/p/releases/download/v1.0.0/p-linux-amd64"
        ),
        fix=(
            "Add `sha256:` with the digest of the file (the hint shows it once the file was "
            "checked)."
        ),
    ),
    Rule(
        "unpinned-location",
        W,
        "The location follows a moving target",
        "`/releases/latest/download/` and branch URLs change under you; a new release "
        "breaks the pinned sha256 or silently changes the binary.",
        example=(
            "- name: acme/p\n"
            "  location: https://github.com/acme/p/releases/latest/download/p-linux-amd64"
        ),
        fix="Point at a tagged release (`/releases/download/v1.0.0/...`) and pin `sha256`.",
    ),
    Rule(
        "not-a-download-url",
        E,
        "The location is a web page, not a file",
        "GitHub `/blob/`, `/tree/` and `/releases/tag/` URLs answer an HTML page with "
        "status 200; the controller saves it and fails with `exec format error`.",
        example="- name: acme/p\n  location: https://github.com/acme/p/blob/main/bin/p",
        fix=(
            "Use the raw download URL: a release asset (`/releases/download/TAG/ASSET`) or "
            "`raw.githubusercontent.com`."
        ),
    ),
    Rule(
        "platform-mismatch",
        E,
        "The asset name is for another OS or CPU",
        "The controller runs on Linux; a darwin, windows or other-CPU build fails with "
        "`exec format error`. Set `--platform` for the controller's nodes.",
        example="- name: acme/p\n  location: https://.../releases/download/v1.0.0/p-darwin-arm64",
        fix=(
            "Point at the asset for the controller's nodes (e.g. `p-linux-amd64`), or set "
            "`--platform`/`platform:` to where the controller runs."
        ),
    ),
    Rule(
        "file-location",
        N,
        "A file:// location cannot be checked from the repository",
        "The controller copies the file from its own filesystem at start-up; the note "
        "says the exact path it will read.",
        example="- name: acme/p\n  location: file:///home/argo-rollouts/plugin-bin/p",
        fix=(
            "Nothing to fix: make sure the controller's image or a mounted volume has the "
            "file at that path."
        ),
    ),
    Rule(
        "disabled-ignored",
        W,
        "`disabled` has no effect on this list",
        "Only step plugins honour `disabled`; traffic router and metric provider plugins "
        "are loaded regardless (and every plugin is still downloaded).",
        example=(
            "trafficRouterPlugins:\n  - name: acme/p\n    location: https://...\n    disabled: true"
        ),
        fix="Remove the entry to stop loading the plugin; `disabled` works for step plugins only.",
    ),
    Rule(
        "sha256-ignored",
        W,
        "`sha256` on a file:// location has no effect",
        "The controller checks `sha256` only for http(s) downloads; a file:// plugin is "
        "copied unverified, whatever the digest says.",
        example='- name: acme/p\n  location: file:///plugins/p\n  sha256: "9f86d0..."',
        fix="Remove `sha256`, or serve the file over https so the digest is checked.",
    ),
    Rule(
        "headers-ignored",
        W,
        "`headersFrom` on a file:// location has no effect",
        "The controller reads the `headersFrom` Secrets only for http(s) downloads; a "
        "file:// plugin is copied without any request, so the headers are never sent.",
        example=(
            "- name: acme/p\n  location: file:///plugins/p\n"
            "  headersFrom:\n    - secretRef: {name: plugin-token}"
        ),
        fix="Remove `headersFrom`, or download the plugin over https where the headers count.",
    ),
    Rule(
        "download-failed",
        E,
        "The location answers an HTTP error",
        "Controllers >= v1.8 refuse the plugin at start-up (`failed to download file from "
        "...: response code Not Found`) and crash-loop; older ones save the error page as "
        "the plugin and fail with `exec format error`, then `Stdout already set`. The "
        "message says which, for the controller version in force.",
        example=(
            "- name: acme/p\n"
            "  location: https://github.com/acme/p/releases/download/v9.9.9/p-linux-amd64"
        ),
        fix=(
            "Correct the URL: the hint lists the release's assets or the repository's recent "
            "tags when GitHub knows them."
        ),
    ),
    Rule(
        "unreachable",
        E,
        "The location cannot be reached",
        "DNS, connection, TLS, timeout, redirect loop or truncated body.",
        network=True,
        example="- name: acme/p\n  location: https://downloads.internal.example/p-linux-amd64",
        fix=(
            "Check the linter's own network, proxy variables and DNS; it says nothing about "
            "the controller. Use `--offline` or `--lenient` where the runner has no route."
        ),
    ),
    Rule(
        "blocked-address",
        E,
        "The location resolves to a private or loopback address",
        "Not fetched, to protect CI credentials; pass `--allow-private-addresses` for "
        "internal mirrors.",
        example="- name: acme/p\n  location: https://10.0.0.5/p-linux-amd64",
        fix="For an internal mirror, pass `--allow-private-addresses` on a runner you trust.",
    ),
    Rule(
        "too-large",
        E,
        "The download is larger than --max-size",
        "Plugins are tens of MB.",
        example="- name: acme/p\n  location: https://.../p-linux-amd64   # a 2 GiB file",
        fix=(
            "Point at the plugin binary itself, or raise `--max-size` if the plugin really is"
            " that large."
        ),
    ),
    Rule(
        "not-verified",
        N,
        "The location could not be verified offline",
        "With --offline only the cache answers; run once with network to check the file.",
        example=(
            "# rollouts-plugin-lint --offline, with an empty cache\n"
            "- name: acme/p\n"
            "  location: https://.../p-linux-amd64"
        ),
        fix="Run once with network so the file is downloaded into the cache and checked.",
    ),
    Rule(
        "not-executable",
        E,
        "The download is not an executable",
        "An HTML page, JSON error, GitHub's `Not Found`, text, an empty file or a Git LFS "
        "pointer: the controller fails with `exec format error`.",
        example=(
            "- name: acme/p\n  location: https://github.com/acme/p/raw/main/p   # a Git LFS pointer"
        ),
        fix=(
            "Point at the binary itself: a release asset, not a page, an error answer or an "
            "LFS pointer."
        ),
    ),
    Rule(
        "archive",
        E,
        "The download is an archive",
        "The controller never unpacks: it executes the file as downloaded. Point at the "
        "bare binary asset.",
        example=(
            "- name: acme/p\n  location: https://.../releases/download/v1.0.0/p-linux-amd64.tar.gz"
        ),
        fix="Point at the release's bare binary asset; the controller never unpacks archives.",
    ),
    Rule(
        "wrong-os",
        E,
        "The download is not a Linux executable",
        "A Mach-O, PE or `#!` script: the controller image is Linux with no shell.",
        example=(
            "- name: acme/p\n"
            "  location: https://.../releases/download/v1.0.0/p   # a Mach-O or a shell "
            "script"
        ),
        fix=(
            "Point at the Linux build, a static ELF: the controller image has no shell to run"
            " a script."
        ),
    ),
    Rule(
        "wrong-arch",
        E,
        "The download is built for another CPU",
        "An ELF for an architecture not in the target platforms fails with `exec format error`.",
        example=(
            "# --platform linux/amd64\n"
            "- name: acme/p\n"
            "  location: https://.../releases/download/v1.0.0/p-linux-arm64"
        ),
        fix=(
            "Point at the build for the controller's CPU, or set `--platform` to where the "
            "controller runs."
        ),
    ),
    Rule(
        "dynamic-binary",
        E,
        "The download is dynamically linked",
        "The distroless controller image has no libc; the plugin fails with `no such file "
        "or directory`. Build with CGO_ENABLED=0.",
        example="- name: acme/p\n  location: https://.../p-linux-amd64   # built with cgo",
        fix="Rebuild the plugin with `CGO_ENABLED=0`, or use a static release asset.",
    ),
    Rule(
        "checksum-mismatch",
        E,
        "The configured sha256 differs from the download's",
        "The controller refuses the plugin and crash-loops. Online, for a GitHub release "
        "asset, the message says when GitHub publishes the download's digest (the pin is "
        "likely stale or wrong); when the pin is GitHub's digest and the download is not, "
        "release-digest-mismatch is reported instead.",
        example='- name: acme/p\n  location: https://.../p-linux-amd64\n  sha256: "0000..."',
        fix=(
            "Set `sha256` to the digest of the file the URL serves (the message shows it), "
            "after checking the file is the one you meant."
        ),
    ),
    Rule(
        "release-digest-mismatch",
        E,
        "The download differs from the file GitHub publishes for the release asset",
        "Online, for a GitHub release download URL that served a file, the linter asks the "
        "GitHub API for the release and reads the asset's `digest` (GitHub publishes one for "
        "assets uploaded since June 2025; older ones have none, and then nothing is said). "
        "A download whose sha256 differs from it is not the file GitHub publishes: a mirror, "
        "proxy or cache between this run and GitHub served other bytes. When the entry's "
        "sha256 is GitHub's digest, this finding alone is reported (the pin is right, the "
        "bytes are not): a controller served these bytes refuses the plugin and crash-loops.",
        example=(
            "# HTTPS_PROXY serves a rebuilt file for every GitHub download\n"
            "- name: acme/p\n"
            "  location: https://github.com/acme/p/releases/download/v1.0.0/p-linux-amd64"
        ),
        fix=(
            "Find what serves other bytes than GitHub (a proxy, a mirror, a restored cache), "
            "and pin GitHub's digest (the message shows it) so the controller refuses any other."
        ),
    ),
    Rule(
        "not-a-plugin",
        E,
        "The download is not an Argo Rollouts plugin",
        "A Go binary that links neither argo-rollouts nor go-plugin (for example the "
        "kubectl-argo-rollouts CLI).",
        example=(
            "- name: argoproj/rollouts\n"
            "  location: "
            "https://github.com/argoproj/argo-rollouts/releases/download/v1.7.2/"
            "kubectl-argo-rollouts-linux-amd64"
        ),
        fix="Point at the plugin's own release asset, not the kubectl plugin or another tool.",
    ),
    Rule(
        "plugin-kind-mismatch",
        E,
        "The plugin is of another kind than its list",
        "Its handshake cookie will not match and it fails at the first rollout.",
        example=(
            "metricProviderPlugins:\n"
            "  - name: argoproj-labs/gatewayAPI   # a traffic router plugin\n"
            "    location: https://..."
        ),
        fix="Move the entry to the list of its kind (here `trafficRouterPlugins`).",
    ),
    Rule(
        "handshake-failed",
        E,
        "The opt-in handshake probe failed",
        "The binary did not print a valid go-plugin handshake line.",
        example=(
            "# rollouts-plugin-lint --handshake\n"
            "- name: acme/p\n"
            "  location: https://.../p-linux-amd64   # exits at once"
        ),
        fix=(
            "Check the binary is the plugin build for this kind and that it starts without "
            "arguments or extra files."
        ),
    ),
    Rule(
        "unknown-config-key",
        E,
        "A data key the controller never reads",
        "The controller reads only `trafficRouterPlugins`, `metricProviderPlugins` and "
        "`stepPlugins`, case-sensitively.",
        example="data:\n  trafficRouterPlugin: |-\n    - name: acme/p",
        fix="Use the exact key: `trafficRouterPlugins`, `metricProviderPlugins` or `stepPlugins`.",
    ),
    Rule(
        "misplaced-plugin-list",
        E,
        "A values-file plugin list the chart ignores",
        "The chart reads `controller.trafficRouterPlugins` (and the other two) only.",
        example="trafficRouterPlugins:      # top level of a values file\n  - name: acme/p",
        fix="Move the list under `controller:` (`controller.trafficRouterPlugins`).",
    ),
    Rule(
        "placeholder",
        E,
        "A value that was never filled in",
        "`CHANGEME`, `<...>`, `${...}`, `path/to`: fill it in. The download and checksum "
        "checks it makes pointless are skipped; findings it does not cause are still "
        "reported.",
        example="- name: acme/p\n  location: https://example.com/CHANGEME\n  sha256: <sha256>",
        fix="Fill in the real value.",
    ),
    Rule(
        "version-gate",
        W,
        "A feature the chart or controller version does not support yet",
        "The chart or controller version in force (from the chart release table, or as "
        "stated) never reads the key or field: upgrade, or remove it. An error when the "
        "controller breaks: before v1.7.0 it refuses every correct sha256 (#3519).",
        example="# argo-rollouts chart 2.35.0\ncontroller:\n  stepPlugins:\n    - name: acme/step",
        fix="Upgrade the chart or controller to the version the message names, or remove the key.",
    ),
    Rule(
        "file-location-unmounted",
        W,
        "A file:// path under no controller volume mount",
        "The controller cannot see the file; copy it to a mounted path.",
        example="- name: acme/p\n  location: file:///tmp/p   # no volume mounted at /tmp",
        fix=(
            "Copy the file to a path the controller mounts (an init container into a shared "
            "volume), or mount one there."
        ),
    ),
    Rule(
        "release-tag",
        E,
        "The release tag is not in the plugin's tag format",
        "From the catalog of known plugins: `download/0.4.0/` where the repository's tags "
        "are `vX.Y.Z` is a 404. Online, the GitHub release listing has the last word.",
        example=(
            "location: https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/"
            "releases/download/0.4.0/gatewayapi-plugin-linux-amd64"
        ),
        fix="Write the tag as the repository does (`v0.4.0`); the hint gives the location.",
    ),
    Rule(
        "release-asset",
        E,
        "The release of that version publishes no asset of that name",
        "From the catalog of known plugins: the gatewayapi assets are "
        "`gateway-api-plugin-<os>-<arch>` up to v0.3.0 and `gatewayapi-plugin-<os>-<arch>` "
        "from v0.4.0. Online, the GitHub release listing has the last word.",
        example=(
            "location: https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/"
            "releases/download/v0.4.0/gateway-api-plugin-linux-amd64"
        ),
        fix="Use the asset that release publishes for the target platform, named in the hint.",
    ),
    Rule(
        "plugin-config-name",
        E,
        "The configured name differs from the key the plugin reads its configuration under",
        "A plugin reads its configuration from the Rollout or AnalysisTemplate under its own "
        "fixed key (`hashicorp/consul`, not `argoproj-labs/consul`), while the controller "
        "reaches it only by the configured name: under any other name it gets no "
        "configuration and fails at the first rollout.",
        example=("- name: argoproj-labs/consul\n  location: file:///plugins/consul"),
        fix="Configure the plugin under its own key (`hashicorp/consul`) and use that name in the "
        "Rollouts and AnalysisTemplates.",
    ),
    Rule(
        "wrong-plugin-list",
        E,
        "A known plugin is listed under another kind's list",
        "Used as its list's kind, the plugin is started with that list's handshake cookie "
        "and refuses it; used as its own kind, controllers from v1.8 do not find it in "
        "another list. A warning when only the repository name "
        "(`rollouts-plugin-<kind>-<tool>`) says so.",
        example=(
            "metricProviderPlugins:\n  - name: argoproj-labs/gatewayAPI\n    location: https://..."
        ),
        fix="Move the entry to the list of its kind (`trafficRouterPlugins` for a traffic router).",
    ),
    Rule(
        "unknown-plugin-reference",
        E,
        "A Rollout or analysis resource uses a plugin name nothing configures",
        "The controller finds a plugin by the name a Rollout (`trafficRouting.plugins.<name>`, "
        "a step's `plugin.name`) or a metric (`provider.plugin.<name>`) uses, and fails with "
        "`plugin <name> not configured in configmap`. A note when the checked files "
        "configure no plugins of that kind: the configuration may live elsewhere.",
        example=("trafficRouting:\n  plugins:\n    argoproj-labs/gatewayapi: {}   # gatewayAPI"),
        fix="Use the configured name exactly (the hint gives the closest), or configure it.",
    ),
    Rule(
        "plugin-reference-kind",
        E,
        "A plugin is used as another kind than it is configured",
        "A metric provider plugin used as a traffic router (or any other mix) is looked up "
        "in the wrong list and is not found.",
        example=("provider:\n  plugin:\n    argoproj-labs/gatewayAPI: {}   # a traffic router"),
        fix="Use a plugin of the kind the resource needs, or move its entry to the right list.",
    ),
    Rule(
        "unreferenced-plugin",
        N,
        "A configured plugin that nothing in the checked files uses",
        "Reported only when the checked files hold plugin references at all.",
        example="stepPlugins:\n  - name: acme/unused\n    location: https://...",
        fix="Remove the entry if nothing uses it: every plugin is downloaded at start-up.",
    ),
    Rule(
        "skipped-file",
        N,
        "A file that could not be checked",
        "Helm templates, binary files and oversized files are skipped; render templates "
        "with `helm template` and lint the output.",
        example="charts/mine/templates/configmap.yaml   # {{ .Values... }}",
        fix=(
            "Render templates with `helm template` and lint the output; for binary or "
            "oversized files, exclude them."
        ),
    ),
    Rule(
        "unused-suppression",
        N,
        "A `# rollouts-plugin-lint: disable=RULE` comment that suppresses nothing",
        "A suppression applies to findings of the named rules on its own line, or on the "
        "line below when the comment stands alone on its line. One that matches no finding "
        "(the problem was fixed, or the rule id is misspelled) would hide the next real one.",
        example=(
            "- name: acme/p  # rollouts-plugin-lint: disable=missing-sha256\n"
            "  location: file:///plugins/p"
        ),
        fix="Remove the comment, or the rule id in it that matches no finding.",
    ),
]

_AUTOFIXES = {
    "unknown-field": "safe: renames the key when it has one obvious meaning (`pluginLocation`, "
    "`url`, `sha265`) and the entry has no such field yet, and writes a field the controller "
    "matches only without regard to case as it is spelled (`Location` -> `location`).",
    "sha256-format": "safe: lowercases the digest and drops a `sha256:` prefix or surrounding "
    "whitespace, when what is left is 64 hex characters.",
    "schema": 'safe: a quoted boolean in `disabled` unquoted (`"false"` -> `false`, YAML 1.1 '
    '`"yes"` -> `true`), a one-word `args` string made a list (`--x` -> `["--x"]`); '
    "unsafe: an `args` string of several words split into one argument per word.",
    "location-format": "safe: `file://localhost/x` -> `file:///x`, `file:x` -> `file:///x`.",
    "release-tag": "safe: the tag in the plugin's tag format (`0.4.0` -> `v0.4.0`, with the "
    "asset that release publishes for the platform), and the tag of the image a `file://` "
    "plugin is copied from in the image's format; unsafe: the nearest tag the plugin has, "
    "when the tag written is none of its tags.",
    "release-asset": "safe: the one asset the release publishes for the platform the name was "
    "meant for (the catalog's asset names per version); unsafe: the closest name among several.",
    "download-failed": "safe: the tag as GitHub's release listing has it, with the asset as "
    "written or the one binary listed for its platform; unsafe: the closest asset name among "
    "several.",
    "missing-sha256": 'safe: adds `sha256: "<digest>"` after `location`, only for a file this '
    "run downloaded (or revalidated with the server) and that passed every check; an offline "
    "run, or one whose download failed any check, pins nothing.",
}

RULES: dict[str, Rule] = {
    rule.id: replace(rule, autofix=_AUTOFIXES.get(rule.id)) for rule in _RULES
}
