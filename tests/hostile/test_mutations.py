"""Mutation testing on the corpus of real files: every file of ../shared/corpus/real/, broken
the ways files get broken (flipped bytes, truncation, duplicated or re-indented lines,
tabs, byte order marks, CRLF, NUL bytes, bytes that are not UTF-8), must still give a
report that points inside the file, never a traceback, exit 3 or a hang.

Most examples run the extraction and the checks in-process (milliseconds each); fewer run
the real CLI in a process of its own, under a time limit, several mutated files and a
random YAML document at a time, in every output format. Hypothesis is derandomized, so CI
sees the same inputs on every run.
"""

from __future__ import annotations

import codecs
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts_plugin_lint.checks import check_entries
from rollouts_plugin_lint.extract import extract_file
from rollouts_plugin_lint.model import LINE_BREAK
from tests.conftest import corpus_files, requires_corpus
from tests.hostile.helpers import run_cli
from tests.test_properties import documents as random_documents
from tests.test_properties import dump

IN_PROCESS_EXAMPLES = 1000
CLI_EXAMPLES = 30  # each a CLI process over FILES_PER_RUN mutated files and a random document
FILES_PER_RUN = 6
RUN_LIMIT = 30.0  # seconds for one CLI process

FILES = corpus_files()


@cache
def original(path: Path) -> bytes:
    return path.read_bytes()


Draw = Callable[[st.SearchStrategy[int]], int]


def _index(draw: st.DrawFn, data: bytes) -> int:
    return draw(st.integers(0, max(len(data) - 1, 0)))


def _line_bounds(draw: st.DrawFn, data: bytes) -> tuple[int, int]:
    """Start and end (after the newline) of a random line."""
    lines = data.splitlines(keepends=True) or [b""]
    number = draw(st.integers(0, len(lines) - 1))
    start = sum(len(line) for line in lines[:number])
    return start, start + len(lines[number])


def flip_byte(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return data
    at = _index(draw, data)
    return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]


def truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: _index(draw, data)]


def duplicate_line(draw: st.DrawFn, data: bytes) -> bytes:
    start, end = _line_bounds(draw, data)
    return data[:end] + data[start:end] + data[end:]


def delete_line(draw: st.DrawFn, data: bytes) -> bytes:
    start, end = _line_bounds(draw, data)
    return data[:start] + data[end:]


def reindent_line(draw: st.DrawFn, data: bytes) -> bytes:
    start, end = _line_bounds(draw, data)
    line = data[start:end]
    shift = draw(st.integers(-4, 4))
    if shift > 0:
        line = b" " * shift + line
    else:
        line = line[min(-shift, len(line) - len(line.lstrip(b" "))) :]
    return data[:start] + line + data[end:]


def insert_tab(draw: st.DrawFn, data: bytes) -> bytes:
    start, _ = _line_bounds(draw, data)
    at = draw(st.sampled_from([start, _index(draw, data)]))
    return data[:at] + b"\t" + data[at:]


def insert_nul(draw: st.DrawFn, data: bytes) -> bytes:
    at = _index(draw, data)
    return data[:at] + b"\0" + data[at:]


def insert_bad_utf8(draw: st.DrawFn, data: bytes) -> bytes:
    at = _index(draw, data)
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf"]))
    return data[:at] + junk + data[at:]


def insert_control(draw: st.DrawFn, data: bytes) -> bytes:
    at = _index(draw, data)
    junk = draw(
        st.sampled_from(["\x1b[2J", "\x07", "\x85", "\u2028", "\u202e", "\r", "\ufeff", "\x7f"])
    )
    return data[:at] + junk.encode() + data[at:]


def reencode(draw: st.DrawFn, data: bytes) -> bytes:
    """The last step: a byte order mark, or the whole text in UTF-16 or UTF-32 (the
    extractor reads those by their mark). Byte edits come before it, so they never split a
    UTF-16 code unit; that case is `test_a_mangled_utf16_file_*` below."""
    encoding = draw(st.sampled_from([None, "bom", "utf-16-le", "utf-16-be", "utf-32-le"]))
    if encoding is None:
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "bom"
    if encoding == "bom":
        return codecs.BOM_UTF8 + data
    marks = {
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
    }
    return marks[encoding] + text.encode(encoding)


def to_crlf(draw: st.DrawFn, data: bytes) -> bytes:
    ending = draw(st.sampled_from([b"\r\n", b"\r"]))
    return data.replace(b"\r\n", b"\n").replace(b"\n", ending)


MUTATIONS = [
    flip_byte, truncate, duplicate_line, delete_line, reindent_line, insert_tab, insert_nul,
    insert_bad_utf8, insert_control, to_crlf,
]  # fmt: skip


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[str, bytes, list[str]]:
    path = draw(st.sampled_from(FILES))
    data = original(path)
    applied = []
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        data = mutation(draw, data)
        applied.append(mutation.__name__)
    return path.name, reencode(draw, data), applied


def line_count(data: bytes) -> int:
    """Lines as YAML counts them, in the encoding the extractor reads."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            text = data.decode(encoding, "replace")
            break
    else:
        text = data.decode("utf-8", "replace")
    return len(LINE_BREAK.split(text))


@requires_corpus
@settings(
    max_examples=IN_PROCESS_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_file())
def test_mutated_corpus_files_give_findings_inside_the_file(
    case: tuple[str, bytes, list[str]],
) -> None:
    name, data, applied = case
    result = extract_file(name, data)
    findings = [*result.findings, *check_entries(result.entries)]
    lines = line_count(data)
    for finding in findings:
        assert finding.span.path == name
        assert 1 <= finding.span.line <= lines, (applied, finding)
        assert finding.span.column >= 1, (applied, finding)
        assert (finding.span.end_line, finding.span.end_column) >= (
            finding.span.line,
            finding.span.column,
        ), (applied, finding)
        assert finding.message.strip(), (applied, finding)


FORMATS = ("text", "json", "github", "sarif")


@requires_corpus
@settings(
    max_examples=CLI_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(mutated_file(), min_size=FILES_PER_RUN, max_size=FILES_PER_RUN),
    random_documents,
    st.sampled_from(FORMATS),
)
def test_the_cli_reports_on_every_mutated_file(
    cases: list[tuple[str, bytes, list[str]]], document: object, output_format: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        project.mkdir()
        for index, (name, data, _) in enumerate(cases):
            (project / f"{index}-{name}").write_bytes(data)
        (project / "random.yaml").write_text(
            "controller:\n  trafficRouterPlugins:\n" + _indented(dump(document, False)),
            encoding="utf-8",
        )
        summary = Path(folder) / "summary.md"
        env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
        outcome = run_cli(
            ["--offline", "--no-cache", "--format", output_format, "."],
            project,
            env,
            limit=RUN_LIMIT,
        )
        outcome.assert_report()
        names = {path.name for path in project.iterdir()}
        _check_report(output_format, outcome.out, names)
        if output_format == "github":
            summary.read_text(encoding="utf-8")  # written, and valid UTF-8


def _indented(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())


def _check_report(output_format: str, out: str, names: set[str]) -> None:
    if output_format == "json":
        report = json.loads(out)
        assert report["files"] == len(names)
        assert {finding["path"] for finding in report["findings"]} <= names
    elif output_format == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
        assert uris <= {_sarif_uri(name) for name in names}
    elif output_format == "text":
        assert out.rstrip("\n").splitlines()[-1].endswith(f"in {len(names)} files checked)")
    else:
        commands = [
            line.split(" ", 1)[0].split("::")[1]
            for line in out.splitlines()
            if line.startswith("::")
        ]
        assert set(commands) <= {"group", "endgroup", "error", "warning", "notice"}, commands
        assert commands[:2] == ["group", "endgroup"]


def _sarif_uri(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@pytest.mark.parametrize("cut", ["odd-byte", "split-code-unit"])
def test_a_mangled_utf16_file_is_named_as_such_at_a_line_it_has(cut: str) -> None:
    """A byte edit that splits a UTF-16 code unit (an editor or a script treating the file
    as bytes): the finding must name UTF-16 and point at a line the file has."""
    text = "controller:\n  trafficRouterPlugins:\n    - name: acme/\u010a\u010a\u010a\u010a\u010a\n"
    encoded = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    data = encoded + b"\n" if cut == "odd-byte" else encoded[:-3]
    (finding,) = extract_file("f.yaml", data).findings
    assert "UTF-16" in finding.message
    # The stray byte after the last line break starts a 4th line; a cut code unit is on the 3rd.
    assert finding.span.line == (4 if cut == "odd-byte" else 3), finding
