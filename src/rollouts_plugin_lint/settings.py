"""Settings from CLI flags, the project's config file and the environment; the severity
policy. Every cross-option check lives here and fails as a usage error (exit 2)."""

from __future__ import annotations

import difflib
import fnmatch
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rollouts_plugin_lint.model import DEFAULT_PLATFORMS, Finding, Platform, Severity
from rollouts_plugin_lint.rules import RULES
from rollouts_plugin_lint.versions import Versions, parse_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

OUTPUT_FORMATS = ("text", "json", "github", "sarif")
KNOWN_OSES = ("linux", "darwin", "windows", "freebsd")
KNOWN_ARCHES = ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
CONFIG_FILE_NAMES = (".rollouts-plugin-lint.yaml", ".rollouts-plugin-lint.yml")
PYPROJECT_TABLE = "rollouts-plugin-lint"  # [tool.rollouts-plugin-lint]
MIB = 1024 * 1024
GIB = 1024 * MIB
MAX_CONFIG_BYTES = MIB
# A found config file is the pull request's: each glob is matched against every file and
# entry path (80,000 excludes took minutes on 20 files, as fnmatch's compiled-pattern cache
# holds 32,768), and each platform multiplies the downloads. Real configs list a handful.
MAX_CONFIG_NAMES = 1_000  # exclude globs, optional plugins
MAX_CONFIG_OVERRIDES = 100
MAX_CONFIG_OVERRIDE_PATHS = 50
MAX_CONFIG_PLATFORMS = 16
MAX_CONFIG_VALUES = 10_000  # nodes of a YAML config, aliases expanded
# Bounds on what a flag or the config file (written by whoever opens the pull request) can
# ask of the runner: (smallest, largest) of each network setting.
BOUNDS: dict[str, tuple[float, float]] = {
    "jobs": (1, 32),
    "timeout": (0.001, 300),
    "deadline": (1, 3600),
    "max-size": (1, 4 * GIB),
    "cache-max-size": (0, 1024 * GIB),  # a flag only
}
DEFAULT_DEADLINE = 300.0


class UsageError(Exception):
    """A bad flag, config file or combination: exit code 2."""


@dataclass(frozen=True)
class Override:
    """Settings for the files some globs match (`overrides:` in the config): one repository
    can hold a kind cluster on arm64 and production on amd64."""

    paths: tuple[str, ...]  # globs, matched like `exclude` against the reported path
    platforms: tuple[Platform, ...] | None = None
    severities: Mapping[str, Severity | None] = field(default_factory=dict)

    def matches(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(
            fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(name, pattern)
            for pattern in self.paths
        )


@dataclass(frozen=True)
class Settings:
    paths: tuple[str, ...] = (".",)
    format: str = "text"
    output: str | None = None
    sarif_file: str | None = None  # a SARIF report as well, whatever the format
    offline: bool = False
    platforms: tuple[Platform, ...] = DEFAULT_PLATFORMS
    strict: bool = False
    lenient: bool = False
    handshake: bool = False
    allow_private_addresses: bool = False
    cache_dir: Path | None = None  # None: no cache
    cache_max_size: int = 4 * 1024 * MIB  # flag only: a pull request must not empty the cache
    chart_version: str | None = None
    controller_version: str | None = None
    github_token_env: str = "GITHUB_TOKEN"
    jobs: int = 4
    timeout: float = 30.0
    deadline: float = DEFAULT_DEADLINE  # the whole network phase
    max_size: int = 512 * MIB
    color: bool = False
    verbosity: int = 0
    severities: Mapping[str, Severity | None] = field(default_factory=dict)
    optional_plugins: frozenset[str] = frozenset()
    exclude: tuple[str, ...] = ()
    config_file: str | None = None
    selected: frozenset[str] | None = None  # --select: None reports every rule
    ignored: frozenset[str] = frozenset()  # --ignore, which wins over --select
    exit_zero: bool = False
    statistics: bool = False
    stdin_filename: str | None = None  # the name of the file read from stdin (`-`)
    overrides: tuple[Override, ...] = ()  # in config order: a later match wins
    force_exclude: bool = False  # `exclude` applies to named files too
    require_plugins: bool = False  # a run that finds no plugin entry fails

    @property
    def versions(self) -> Versions:
        """The chart and controller versions given on the command line or in the config."""
        return Versions(
            parse_version(self.chart_version),
            parse_version(self.controller_version),
            "--chart-version" if self.chart_version else "--controller-version",
        )

    def severity_of(self, finding: Finding) -> Severity | None:
        """The severity a finding is reported at under this policy; None drops it."""
        if finding.rule in self.ignored or (
            self.selected is not None and finding.rule not in self.selected
        ):
            return None
        severity: Severity | None = finding.severity
        if finding.rule in self.severities:
            severity = self.severities[finding.rule]
        for override in self.overrides:
            if finding.rule in override.severities and override.matches(finding.span.path):
                severity = override.severities[finding.rule]
        if severity is None:
            return None
        network = RULES[finding.rule].network
        if severity is Severity.ERROR and (
            (self.lenient and network) or (finding.plugin in self.optional_plugins)
        ):
            return Severity.WARNING
        if self.strict and network and severity is Severity.WARNING:
            return Severity.ERROR
        return severity

    def platforms_for(self, path: str) -> tuple[Platform, ...]:
        """Where the controller that reads this file runs: the last override matching the
        path that sets a platform, else `platform` (flag or config)."""
        platforms = self.platforms
        for override in self.overrides:
            if override.platforms is not None and override.matches(path):
                platforms = override.platforms
        return platforms

    def fails(self, finding: Finding) -> bool:
        return finding.severity is Severity.ERROR or (
            self.strict and finding.severity is Severity.WARNING
        )

    def apply_policy(self, finding: Finding) -> Finding | None:
        severity = self.severity_of(finding)
        if severity is None:
            return None
        return finding if severity is finding.severity else replace(finding, severity=severity)


# Keys a repository may set. Options that run code (--handshake), widen where we connect
# (--allow-private-addresses) or pick a secret (--github-token-env) are flags only: the
# config file is written by whoever opens the pull request.
_CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "platform": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": MAX_CONFIG_PLATFORMS,
                },
            ]
        },
        "strict": {"type": "boolean"},
        "lenient": {"type": "boolean"},
        "offline": {"type": "boolean"},
        "severity": {
            "type": "object",
            "additionalProperties": {"enum": ["error", "warning", "note", "off"]},
        },
        "optional-plugins": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": MAX_CONFIG_NAMES,
        },
        "overrides": {
            "type": "array",
            "maxItems": MAX_CONFIG_OVERRIDES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["paths"],
                "properties": {
                    "paths": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                        "maxItems": MAX_CONFIG_OVERRIDE_PATHS,
                    },
                    "platform": {"$ref": "#/properties/platform"},
                    "severity": {"$ref": "#/properties/severity"},
                },
            },
        },
        "exclude": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_CONFIG_NAMES},
        "jobs": {"type": "integer", "minimum": 1, "maximum": BOUNDS["jobs"][1]},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": BOUNDS["timeout"][1]},
        "deadline": {"type": "number", "minimum": 1, "maximum": BOUNDS["deadline"][1]},
        "max-size": {"type": "integer", "minimum": 1, "maximum": BOUNDS["max-size"][1]},
        "chart-version": {"type": "string"},
        "controller-version": {"type": "string"},
    },
}


def load_settings(
    flags: Mapping[str, Any],
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults < config file < flags. `flags` holds only the options the user gave,
    keyed like the config file (`max-size`), plus `paths`."""
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    config_path = _find_config(flags.get("config"), cwd)
    config = _read_config(config_path) if config_path else {}
    given = {k: v for k, v in flags.items() if v is not None}
    merged = {**config, **given}

    def origin(key: str) -> str:
        """Where a setting came from, as the user wrote it: a flag or a key of the file."""
        return f"--{key}" if key in given else f"{config_path}: `{key}`"

    if merged.get("strict") and merged.get("lenient"):
        raise UsageError(
            f"{origin('strict')} and {origin('lenient')} contradict each other; pick one"
        )
    output_format = merged.get("format") or (
        "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"
    )
    if output_format not in OUTPUT_FORMATS:
        choices = ", ".join(OUTPUT_FORMATS)
        raise UsageError(f"unknown format {output_format!r}; choose from {choices}")
    platforms = merged.get("platform") or [str(p) for p in DEFAULT_PLATFORMS]
    if isinstance(platforms, str):
        platforms = [platforms]
    cache_dir = None if merged.get("no-cache") else _cache_dir(merged.get("cache-dir"), environ)
    severities = _severities(merged.get("severity", {}), where=str(config_path))
    for option in ("chart-version", "controller-version"):
        if merged.get(option) is not None and parse_version(merged[option]) is None:
            raise UsageError(
                f"{origin(option)}: {merged[option]!r} is not a version; write one such as 2.39.1"
            )
    where = {key: f"{config_path}: `{key}`" for key in config}
    for key in BOUNDS.keys() & config.keys():  # even where a flag overrides it
        _bounded(config, key, 0, where)
    where.update({key: f"--{key}" for key in given})
    try:
        targets = tuple(_platform(p) for p in dict.fromkeys(platforms))
    except UsageError as error:
        raise UsageError(f"{origin('platform')}: {error}") from None
    jobs = int(_bounded(merged, "jobs", 4, where))
    timeout = _bounded(merged, "timeout", 30.0, where)
    deadline = _bounded(merged, "deadline", DEFAULT_DEADLINE, where)
    max_size = int(_bounded(merged, "max-size", 512 * MIB, where))
    cache_max_size = int(_bounded(merged, "cache-max-size", Settings.cache_max_size, where))
    paths = tuple(merged.get("paths") or ())
    stdin_filename = flags.get("stdin-filename")
    if stdin_filename is not None:
        if not stdin_filename.strip():
            raise UsageError("--stdin-filename: give the name of the file read from stdin")
        if not paths:
            paths = ("-",)  # ruff's convention: a name for stdin means stdin is the input
        elif "-" not in paths:
            raise UsageError("--stdin-filename names the file read from stdin: add `-` as a path")
    return Settings(
        paths=paths or (".",),
        format=output_format,
        output=merged.get("output"),
        sarif_file=merged.get("sarif-file"),
        offline=bool(merged.get("offline", False)),
        platforms=targets,
        strict=bool(merged.get("strict", False)),
        lenient=bool(merged.get("lenient", False)),
        handshake=bool(merged.get("handshake", False)),
        allow_private_addresses=bool(merged.get("allow-private-addresses", False)),
        cache_dir=cache_dir,
        cache_max_size=cache_max_size,
        chart_version=merged.get("chart-version"),
        controller_version=merged.get("controller-version"),
        github_token_env=merged.get("github-token-env") or "GITHUB_TOKEN",
        jobs=jobs,
        timeout=timeout,
        deadline=deadline,
        max_size=max_size,
        color=not merged.get("output") and _color(merged.get("no-color"), environ),
        verbosity=int(merged.get("verbosity", 0)),
        severities=severities,
        optional_plugins=frozenset(merged.get("optional-plugins", ())),
        exclude=tuple(merged.get("exclude", ())),
        config_file=str(config_path) if config_path else None,
        selected=_rule_ids(flags.get("select"), "--select"),
        ignored=_rule_ids(flags.get("ignore"), "--ignore") or frozenset(),
        exit_zero=bool(flags.get("exit-zero")),
        statistics=bool(flags.get("statistics")),
        stdin_filename=stdin_filename,
        overrides=tuple(
            _override(raw, config_path, f"overrides.{index}")
            for index, raw in enumerate(config.get("overrides", ()))
        ),
        force_exclude=bool(flags.get("force-exclude")),
        require_plugins=bool(flags.get("require-plugins")),
    )


def _rule_ids(values: list[str] | None, option: str) -> frozenset[str] | None:
    """Rule ids from a repeatable option of comma lists (`--select a,b --select c`)."""
    if values is None:
        return None
    ids = {rule.strip() for value in values for rule in value.split(",") if rule.strip()}
    if not ids:
        raise UsageError(f"{option}: give one or more rule ids, e.g. {option} missing-sha256")
    for rule in sorted(ids):
        if rule not in RULES:
            close = difflib.get_close_matches(rule, list(RULES), n=1)
            suggestion = f"did you mean `{close[0]}`?" if close else "see --list-rules"
            raise UsageError(f"{option}: unknown rule `{rule}`; {suggestion}")
    return frozenset(ids)


def _bounded(
    merged: Mapping[str, Any], key: str, default: float, where: Mapping[str, str]
) -> float:
    """The setting, finite and within BOUNDS, or a usage error that says where it came from.
    Flags need it, and so does the config file: NaN passes the schema's every comparison."""
    value = merged.get(key, default)
    low, high = BOUNDS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where.get(key, key)}: must be a number, not {value!r}")
    if not math.isfinite(value):
        raise UsageError(f"{where.get(key, key)}: must be a finite number, not {value}")
    if not low <= value <= high:
        raise UsageError(
            f"{where.get(key, key)}: must be between {_number(low)} and {_number(high)}, "
            f"not {_number(value)}"
        )
    return float(value)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _find_config(explicit: str | None, cwd: Path) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"{explicit}: config file not found")
        return path
    from rollouts_plugin_lint.discover import find_repository

    cwd = Path(os.path.realpath(cwd))
    # The search ends at the top of the repository, found as discovery finds it.
    repository = find_repository(str(cwd))
    top = Path(repository.top) if repository is not None else None
    for directory in (cwd, *cwd.parents):
        for name in CONFIG_FILE_NAMES:
            if (directory / name).is_file():
                return _found_config(directory / name, top)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _pyproject_section(_found_config(pyproject, top)) is not None:
            return pyproject
        if directory == top:
            break
    return None


def _found_config(path: Path, top: Path | None) -> Path:
    """A config file found by the search comes with the pull request: discovery's reading
    rule holds for it, its root the repository's `top` (without one, its own folder): no
    symbolic link may lead it out of there or into a git directory (our error messages
    would quote what it read)."""
    from rollouts_plugin_lint.discover import PathRefused, resolve_within

    try:
        resolve_within(str(path), str(top or path.parent))
    except PathRefused as refused:
        if refused.into_git:
            where = "into a git directory: not read"
        elif top is not None:
            where = "outside the repository: not read"
        else:
            where = "outside its folder: not read; name its target with --config"
        raise UsageError(f"{path}: symbolic link leading {where}") from None
    except OSError:
        pass  # reading it says why
    return path


def _read_config_bytes(path: Path) -> bytes:
    """A regular file of bounded size, no FIFO. A found config file has passed
    `_found_config`; one named with --config is the user's choice."""
    from rollouts_plugin_lint.discover import read_regular_file

    try:
        return read_regular_file(os.path.realpath(path), MAX_CONFIG_BYTES)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(f"{path}: cannot read config file: {reason}") from None


def _pyproject_section(path: Path) -> Any:
    """`[tool.rollouts-plugin-lint]` of a pyproject.toml, parsed as TOML (so a file with
    only `[tool.rollouts-plugin-lint.severity]` has it too); None when it has none."""
    try:
        document = tomllib.loads(_read_config_bytes(path).decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: invalid TOML: not UTF-8") from None
    except RecursionError:
        # tomllib recurses per nested array or inline table; `[[[[...` ran out of stack.
        raise UsageError(f"{path}: invalid TOML: nesting is too deep to parse") from None
    tool = document.get("tool")
    if not isinstance(tool, dict):
        return None
    for name in tool:
        if name != PYPROJECT_TABLE and name.replace("_", "-").lower() == PYPROJECT_TABLE:
            raise UsageError(
                f"{path}: `[tool.{name}]` is not read; the table is `[tool.{PYPROJECT_TABLE}]`"
            )
    return tool.get(PYPROJECT_TABLE)


def _read_config(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        config = _pyproject_section(path)
        if config is None:
            raise UsageError(f"{path}: no `[tool.{PYPROJECT_TABLE}]` table")
    else:
        config = _read_yaml_config(path, _read_config_bytes(path))
        if isinstance(config, dict):
            _read_off_as_off(config)
            for override in config.get("overrides") or ():
                if isinstance(override, dict):
                    _read_off_as_off(override)
    _validate_config(path, config)
    return dict(config)


def _read_off_as_off(table: dict[str, Any]) -> None:
    """YAML 1.1 reads a bare `off` as false; that is what the user meant."""
    if isinstance(table.get("severity"), dict):
        table["severity"] = {
            rule: "off" if level is False else level for rule, level in table["severity"].items()
        }


def _read_yaml_config(path: Path, data: bytes) -> Any:
    from rollouts_plugin_lint.extract.yamlnodes import (
        TooLarge,
        YamlProblem,
        compose_documents,
        to_value,
    )

    try:
        documents = list(compose_documents(data.decode("utf-8")))
        return to_value(documents[0], [MAX_CONFIG_VALUES]) if documents else {}
    except YamlProblem as problem:
        raise UsageError(
            f"{path}:{problem.line + 1}:{problem.column + 1}: invalid YAML: {problem.message}"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: config file is not readable UTF-8 YAML") from None
    except TooLarge:
        raise UsageError(
            f"{path}: config file holds more than {MAX_CONFIG_VALUES:,} values (aliases "
            "expanded); not read"
        ) from None


def _validate_config(path: Path, config: Any) -> None:
    import jsonschema  # only when there is a config file: it costs a tenth of a second

    validator = jsonschema.Draft202012Validator(_CONFIG_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))[0]
        within = "".join(f"{part}." for part in error.absolute_path)
        close = difflib.get_close_matches(unknown, known, n=1)
        flag_only = {
            "handshake",
            "allow-private-addresses",
            "github-token-env",
            "cache-dir",
            "cache-max-size",
            "sarif-file",
        }
        if unknown in flag_only and not within:
            detail = "it can only be given as a command-line flag"
        elif close:
            detail = f"did you mean `{close[0]}`?"
        else:
            detail = f"known keys: {', '.join(known)}"
        raise UsageError(f"{path}: unknown config key `{within}{unknown}`; {detail}")
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "maxItems":  # jsonschema's message would repeat the whole list
        raise UsageError(f"{path}: `{where}`: more than {error.validator_value} items")
    raise UsageError(f"{path}: `{where}`: {error.message}")


def _override(raw: Mapping[str, Any], config_path: Path | None, key: str) -> Override:
    platforms = raw.get("platform")
    if isinstance(platforms, str):
        platforms = [platforms]
    try:
        targets = None if platforms is None else tuple(map(_platform, dict.fromkeys(platforms)))
    except UsageError as error:
        raise UsageError(f"{config_path}: `{key}.platform`: {error}") from None
    severities = _severities(raw.get("severity", {}), where=f"{config_path}: `{key}`")
    return Override(tuple(raw["paths"]), targets, severities)


def _severities(raw: Mapping[str, str], where: str) -> dict[str, Severity | None]:
    result: dict[str, Severity | None] = {}
    for rule, level in raw.items():
        if rule not in RULES:
            close = difflib.get_close_matches(rule, list(RULES), n=1)
            suffix = f"; did you mean `{close[0]}`?" if close else ""
            raise UsageError(f"{where}: unknown rule `{rule}` in severity{suffix}")
        result[rule] = None if level == "off" else Severity(level)
    return result


def _platform(text: str) -> Platform:
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or parts[0] not in KNOWN_OSES or parts[1] not in KNOWN_ARCHES:
        raise UsageError(
            f"invalid platform {text!r}: write OS/ARCH, e.g. linux/amd64 or linux/arm64 "
            f"(OS: {', '.join(KNOWN_OSES)}; ARCH: {', '.join(KNOWN_ARCHES)})"
        )
    return Platform(parts[0], parts[1])


def _cache_dir(explicit: str | None, environ: Mapping[str, str]) -> Path:
    if explicit:
        return Path(explicit)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rollouts-plugin-lint"


def _color(no_color_flag: bool | None, environ: Mapping[str, str]) -> bool:
    if no_color_flag or environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty() and environ.get("TERM") != "dumb"
