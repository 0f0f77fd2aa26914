"""argv -> Settings -> run -> report -> exit code. One error boundary:
0 nothing fails, 1 a finding fails the run, 2 usage or config error, 3 internal error,
141 the reader of stdout went away (`| head -1`)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rollouts_plugin_lint import __version__
from rollouts_plugin_lint.printable import GuardedStream, ReaderGone, printable

if TYPE_CHECKING:
    from rollouts_plugin_lint.lint import LintResult
    from rollouts_plugin_lint.report import Reporter
    from rollouts_plugin_lint.settings import Settings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
# stdout's reader went away: the status of a process ended by SIGPIPE, as a shell shows it.
EXIT_BROKEN_PIPE = 128 + 13


EPILOG = f"""\
exit codes:
  {EXIT_OK}    nothing fails the run
  {EXIT_FINDINGS}    a finding fails the run: an error, or a warning under --strict (never with
       --exit-zero)
  {EXIT_USAGE}    usage or configuration error, a path that does not exist, an unknown rule id
  {EXIT_INTERNAL}    internal error (please report it with the trace)
  {EXIT_BROKEN_PIPE}  the reader of stdout went away (`| head -1`), as SIGPIPE would end it

Every rule and its fix: --list-rules, --explain RULE.
"""


# pre-commit appends the file names of a pull request to the hook's `args`: without a
# `--` between them, a file named `-root.yaml` is an unknown option, and one named
# `--output=values.yaml` an option that is obeyed. The hooks pass this flag, which makes a
# missing `--` a usage error.
PRE_COMMIT_FLAG = "--pre-commit-hook"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 itself; keep its wording short
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rollouts-plugin-lint",
        description="Lint Argo Rollouts plugin configuration (trafficRouterPlugins, "
        "metricProviderPlugins, stepPlugins) in Helm values, ConfigMaps, Argo CD "
        "Applications, Flux HelmReleases and kustomize patches.",
        argument_default=None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or directories (default: .); `-` reads one file from stdin",
    )
    add(
        "--format",
        choices=("text", "json", "github", "sarif"),
        help="report format (default: github under GITHUB_ACTIONS=true, else text)",
    )
    add("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    add(
        "--sarif-file",
        metavar="FILE",
        help="also write a SARIF 2.1.0 report to FILE, whatever --format is (code scanning)",
    )
    add(
        "--offline", action="store_true", default=None, help="no network; use cached downloads only"
    )
    add(
        "--platform",
        action="append",
        metavar="OS/ARCH",
        help="target platform of the controller, repeatable (default: linux/amd64)",
    )
    add(
        "--strict",
        action="store_true",
        default=None,
        help="warnings fail the run (exit 1); unreachable locations are errors",
    )
    add(
        "--lenient",
        action="store_true",
        default=None,
        help="only definite misconfiguration fails; network trouble is a warning",
    )
    add(
        "--handshake",
        action="store_true",
        default=None,
        help="opt in: run each matching binary to check the go-plugin handshake",
    )
    add(
        "--allow-private-addresses",
        action="store_true",
        default=None,
        help="allow locations on loopback or private networks (internal mirrors, tests)",
    )
    add(
        "--cache-dir",
        metavar="DIR",
        help="download cache (default: $XDG_CACHE_HOME/rollouts-plugin-lint)",
    )
    add("--no-cache", action="store_true", default=None, help="do not read or write the cache")
    add("--cache-max-size", type=int, metavar="BYTES", help="cache size budget (default: 4 GiB)")
    add("--chart-version", metavar="V", help="argo-rollouts Helm chart version to assume")
    add("--controller-version", metavar="V", help="Argo Rollouts controller version to assume")
    add(
        "--github-token-env",
        metavar="NAME",
        help="environment variable holding the GitHub token (default: GITHUB_TOKEN)",
    )
    add("--jobs", type=int, metavar="N", help="parallel downloads, at most 32 (default: 4)")
    add(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="network timeout per phase, at most 300 (default: 30)",
    )
    add(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="time for the whole network phase, at most 3600 (default: 300)",
    )
    add(
        "--max-size",
        type=int,
        metavar="BYTES",
        help="largest download, at most 4 GiB (default: 512 MiB)",
    )
    add(
        "--config",
        metavar="FILE",
        help="config file (default: .rollouts-plugin-lint.yaml or pyproject.toml "
        "[tool.rollouts-plugin-lint], searched upwards to the repository root)",
    )
    add(
        "--select",
        action="append",
        metavar="RULE[,RULE]",
        help="report only these rules, repeatable (ids as --list-rules shows them)",
    )
    add(
        "--ignore",
        action="append",
        metavar="RULE[,RULE]",
        help="do not report these rules, repeatable; wins over --select",
    )
    add(
        "--exit-zero",
        action="store_true",
        default=None,
        help="exit 0 even when findings fail the run (usage errors still exit 2)",
    )
    add(
        "--require-plugins",
        action="store_true",
        default=None,
        help="fail the run (exit 1) when the paths hold no plugin entry at all, e.g. when "
        "a path or an exclude pattern is wrong",
    )
    add(
        "--statistics",
        action="store_true",
        default=None,
        help="print the number of findings per rule instead of the findings (JSON with "
        "--format json)",
    )
    add(
        "--stdin-filename",
        metavar="NAME",
        help="the path to report for the file read from stdin, also matched by `exclude` "
        "(implies `-` when no path is given)",
    )
    add(
        "--force-exclude",
        action="store_true",
        default=None,
        help="apply the config's `exclude` to named files and stdin too (pre-commit names "
        "every file)",
    )
    add(
        "--fix",
        action="store_true",
        help="apply the safe fixes of this run's findings to the files, in place; the exit "
        "status is then for what is left",
    )
    add(
        "--diff",
        action="store_true",
        help="print the fixes --fix would apply as a unified diff, and write nothing",
    )
    add(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix or --diff, also the fixes that change what the configuration means "
        "(another release than written, several arguments for one string)",
    )
    add("--list-rules", action="store_true", help="print every rule id, its severity and summary")
    add("--explain", metavar="RULE", help="print a rule's documentation, an example and its fix")
    add("--no-color", action="store_true", default=None, help="no colours in text output")
    add("-q", "--quiet", action="count", default=0, help="less output (no notes in text)")
    add("-v", "--verbose", action="count", default=0, help="more output")
    add("--version", action="version", version=f"%(prog)s {__version__}")
    # The pre-commit hooks' entry: their file names come after `--` (see PRE_COMMIT_FLAG).
    add(PRE_COMMIT_FLAG, action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Everything printed goes through a GuardedStream, so a pull request's text cannot
    become a workflow command in Actions, and no character fails an encoding."""
    original = sys.stdout, sys.stderr
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    sys.stdout, sys.stderr = (GuardedStream(stream, in_actions) for stream in original)
    try:
        code = _guarded_main(argv, in_actions)
        sys.stdout.flush()
        return code
    except ReaderGone:
        return _reader_gone(original)
    finally:
        sys.stdout, sys.stderr = original


def _guarded_main(argv: Sequence[str] | None, in_actions: bool) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    options = words[: words.index("--")] if "--" in words else words
    if PRE_COMMIT_FLAG in options and "--" not in words:
        print(
            "rollouts-plugin-lint: error: the hook's `args` must end with `--`, so that no "
            "file name is read as an option (e.g. args: [--platform, linux/arm64, --])",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args = build_parser().parse_args(words)
    if args.list_rules or args.explain is not None:
        from rollouts_plugin_lint.explain import explain_rule, list_rules

        if args.list_rules:
            sys.stdout.write(list_rules())
            return EXIT_OK
        try:
            sys.stdout.write(explain_rule(args.explain))
        except KeyError as error:
            print(f"rollouts-plugin-lint: error: {printable(error.args[0], None)}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    try:
        return _run(args, in_actions)
    except KeyboardInterrupt:
        return 130
    except ReaderGone:
        raise
    except Exception:
        print(
            f"rollouts-plugin-lint {__version__}: internal error, please report it with this "
            "trace:",
            file=sys.stderr,
        )
        traceback.print_exc()
        return EXIT_INTERNAL


def _reader_gone(streams: tuple[TextIO, TextIO]) -> int:
    """The reader of stdout (or stderr) went away (`| head -1`): stop quietly, as a process
    ended by SIGPIPE does, with the status a shell shows for one (128 + 13). What is still
    buffered goes to /dev/null, so the interpreter's last flush fails no more."""
    for stream in streams:
        try:
            stream.flush()
        except OSError:
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
    return EXIT_BROKEN_PIPE


# Options of this one call, never read from a config file: a pull request's config must
# not make a CI run write to the checkout.
_NOT_SETTINGS = (
    "quiet", "verbose", "list_rules", "explain", "pre_commit_hook", "fix", "diff", "unsafe_fixes"
)  # fmt: skip


def _run(args: argparse.Namespace, in_actions: bool) -> int:
    from rollouts_plugin_lint.lint import run
    from rollouts_plugin_lint.report import write_report
    from rollouts_plugin_lint.report.github import write_github
    from rollouts_plugin_lint.report.progress import terminal_progress
    from rollouts_plugin_lint.report.sarif import write_sarif
    from rollouts_plugin_lint.report.statistics import write_statistics
    from rollouts_plugin_lint.settings import UsageError, load_settings

    flags = {
        key.replace("_", "-"): value
        for key, value in vars(args).items()
        if key not in _NOT_SETTINGS
    }
    flags["verbosity"] = args.verbose - args.quiet
    try:
        settings = load_settings(flags)
        missing = [p for p in settings.paths if p != "-" and not os.path.lexists(p)]
        if missing:
            raise UsageError(f"{missing[0]}: no such file or directory")
        if args.unsafe_fixes and not (args.fix or args.diff):
            raise UsageError("--unsafe-fixes goes with --fix or --diff")
        if args.fix and not args.diff and "-" in settings.paths:
            raise UsageError("--fix has no file to write for stdin (`-`): use --diff")
    except UsageError as error:
        # The config file comes with the pull request: its keys are shown, never obeyed.
        print(f"rollouts-plugin-lint: error: {printable(str(error), None)}", file=sys.stderr)
        return EXIT_USAGE
    with terminal_progress(settings.verbosity >= 0) as progress:
        result = run(settings, progress=progress)
    if args.diff:
        return _diff(result, settings, args.unsafe_fixes)
    fixed = 0
    # A fix can uncover another (a renamed `pluginLocation` is then checked as a
    # location): lint again until nothing more is fixed, as ruff does, a few times at most.
    for _ in range(_FIX_ROUNDS if args.fix else 0):
        applied = _fix(result, args.unsafe_fixes)
        fixed += applied
        if not applied:
            break
        with terminal_progress(settings.verbosity >= 0) as progress:
            result = run(settings, progress=progress)
    result.fixed = fixed
    for warning in result.warnings:
        print(f"rollouts-plugin-lint: warning: {printable(warning, None)}", file=sys.stderr)
    # Workflow commands act only on stdout, where the runner reads them: in a file they are
    # dead text, which a later `cat` would replay. With --output they stay on stdout, and
    # the file gets the text report.
    in_file = (
        dataclasses.replace(settings, format="text") if settings.format == "github" else settings
    )
    if settings.statistics:
        write_statistics(result, settings, sys.stdout)
    elif settings.output is None:
        write_report(result, settings, sys.stdout)
    elif settings.format == "github":
        write_github(result, settings, sys.stdout)
    for path, writer, given in (
        (settings.output, write_report, in_file),
        (settings.sarif_file, write_sarif, settings),
    ):
        if path is not None and not _write_file(path, writer, result, given, in_actions):
            return EXIT_USAGE
    failed = any(settings.fails(f) for f in result.findings)
    if settings.require_plugins and not result.entries:
        paths = " ".join(settings.paths)
        files = f"{result.files} YAML or JSON file{'s' if result.files != 1 else ''}"
        print(
            f"rollouts-plugin-lint: error: no plugin entry found in {printable(paths, None)} "
            f"({files} looked at), and --require-plugins asks for one",
            file=sys.stderr,
        )
        failed = True
    return EXIT_FINDINGS if failed and not settings.exit_zero else EXIT_OK


_FIX_ROUNDS = 4


def _fix(result: LintResult, unsafe: bool) -> int:
    """Write the fixes of this run's findings, and say how many findings they fix. A file
    that could not be written keeps its findings, their fixes as hints."""
    from rollouts_plugin_lint.fix import NotWritten, plan_fixes, write_fixed

    plan = plan_fixes(result.findings, result.source_files, unsafe=unsafe)
    not_written: set[str] = set()
    for path, data in sorted(plan.texts.items()):
        try:
            write_fixed(result.source_files[path], data)
        except NotWritten as error:
            not_written.add(path)
            result.warnings.append(f"{path}: not fixed: {error}")
    kept = [finding for finding in plan.fixed if finding.span.path in not_written]
    result.findings = sorted(plan.remaining + kept, key=lambda finding: finding.sort_key)
    return len(plan.fixed) - len(kept)


def _diff(result: LintResult, settings: Settings, unsafe: bool) -> int:
    """The fixes as a unified diff on stdout, nothing written; a count on stderr. Exit 1
    when there is something to fix or a finding fails the run."""
    from rollouts_plugin_lint.fix import plan_fixes, unified_diff

    plan = plan_fixes(result.findings, result.source_files, unsafe=unsafe)
    diff = unified_diff(plan, result.source_files)
    # The diff holds the pull request's text: shown like any of it, tabs kept.
    sys.stdout.write(
        "\t".join(printable(part, None, keep_newlines=True) for part in diff.split("\t"))
    )
    left = len(plan.remaining)
    fixes = f"{len(plan.fixed)} fix{'es' if len(plan.fixed) != 1 else ''}"
    print(
        f"rollouts-plugin-lint: {fixes} to apply with --fix"
        f"{' --unsafe-fixes' if unsafe and plan.fixed else ''}, "
        f"{left} finding{'s' if left != 1 else ''} left",
        file=sys.stderr,
    )
    failed = plan.fixed or any(settings.fails(finding) for finding in plan.remaining)
    return EXIT_FINDINGS if failed and not settings.exit_zero else EXIT_OK


def _write_file(
    path: str, writer: Reporter, result: LintResult, settings: Settings, in_actions: bool
) -> bool:
    try:
        # A workflow may print the file (`cat report.txt`): it is guarded like stdout.
        with _open_report_file(path) as stream:
            writer(result, settings, GuardedStream(stream, in_actions))
    except OSError as error:
        where = printable(path, None)
        print(f"rollouts-plugin-lint: error: {where}: {error.strerror}", file=sys.stderr)
        return False
    return True


def _open_report_file(path: str) -> TextIO:
    """`path`, created or emptied for writing, never through a symbolic link below the
    working directory (the checkout): one committed under the report's name, or a folder
    on its way, would aim the report, whose first words are a file name the pull request
    chose, at any file the job can write (a `.pth` file makes it code Python runs)."""
    given = os.path.join(os.path.realpath(os.getcwd()), path)
    if os.path.islink(given) or _resolves_elsewhere(os.path.dirname(given)):
        raise OSError(0, "is a symbolic link, or lies behind one in the checkout: not written")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    return open(os.open(given, flags, 0o666), "w", encoding="utf-8", errors="backslashreplace")


def _resolves_elsewhere(folder: str) -> bool:
    """Whether `folder`, when it lies in the working directory, goes through a link (or
    through a `..` that a link would take elsewhere)."""
    cwd = os.path.realpath(os.getcwd())
    lexical = os.path.normpath(folder)
    if lexical != cwd and not lexical.startswith(cwd.rstrip("/") + "/"):
        return False  # named outside the checkout by the workflow itself
    return os.path.normcase(os.path.realpath(folder)) != os.path.normcase(lexical)
