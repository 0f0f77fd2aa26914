"""Cutting a stream at its document markers and composing only the documents that can
matter finds exactly what composing the whole file finds, at the same positions: on every
corpus file and on generated streams (directives, comments, `...`, block scalars holding
`---`, CRLF, a byte-order mark, syntax errors)."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts_plugin_lint.extract import extract_file
from rollouts_plugin_lint.extract.positions import FILE
from rollouts_plugin_lint.extract.walker import Extraction, Walker
from rollouts_plugin_lint.extract.yamlnodes import MAX_NODES_PER_DOCUMENT, compose_documents
from rollouts_plugin_lint.model import Span
from tests.conftest import SHA, corpus_files, requires_corpus

LOC = "https://github.com/o/r/releases/download/v1.0.0/p-linux-amd64"


def _span(span: Span) -> tuple[int, int, int, int, bool]:
    return (span.line, span.column, span.end_line, span.end_column, span.approximate)


def observed(extraction: Extraction) -> list[tuple[Any, ...]]:
    """Everything a report shows of an extraction, positions included, in walk order."""
    # A syntax error's message may name the cut instead of the next `---` ("got '<stream
    # end>'" for "got '<document start>'"); it points at the same place.
    seen: list[tuple[Any, ...]] = [
        (f.rule, None if f.rule == "yaml-syntax" else f.message, *_span(f.span))
        for f in extraction.findings
    ]
    for entry in extraction.entries:
        seen.append(("entry", entry.kind, entry.origin, entry.index, _span(entry.span)))
        seen.extend(("at", key, *_span(span)) for key, span in sorted(entry.spans.items(), key=str))
        seen.extend(
            ("key", key, *_span(span)) for key, span in sorted(entry.key_spans.items(), key=str)
        )
    return seen


def whole_file(path: str, data: bytes) -> Extraction:
    """The walk of main before the split: every document composed in one pass."""
    text = data.decode("utf-8-sig")
    walker = Walker(path)
    walker.walk_text(text, FILE, path)
    return walker.result


def assert_same_as_whole_file(path: str, data: bytes) -> None:
    split, whole = extract_file(path, data), whole_file(path, data)
    if any(f.rule == "yaml-syntax" for f in whole.findings):
        split_findings = observed(Extraction(findings=split.findings))
        whole_findings = observed(Extraction(findings=whole.findings))
        # The whole-file walk stops at the first error; the split one goes on after it.
        assert split_findings[: len(whole_findings)] == whole_findings
        assert observed(Extraction(split.entries[: len(whole.entries)])) == observed(
            Extraction(whole.entries)
        )
    else:
        assert observed(split) == observed(whole)


@requires_corpus
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:60])
def test_every_corpus_file_gives_the_same_positions(path: Path) -> None:
    assert_same_as_whole_file(path.name, path.read_bytes())


# -- generated streams -------------------------------------------------------------------

CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
    "  trafficRouterPlugins: |\n    - name: argoproj-labs/gatewayAPI\n"
    f"      location: {LOC}\n      sha256: {SHA}\n    - name: other/one\n"
    "      location: http://example.com/p\n  metrics: x\n"
)
VALUES = (
    "controller:\n  metricProviderPlugins:\n    - name: a/b\n"
    f"      location: {LOC}\n      sha256: nothex\n  stepPlugins:\n    - name: c/d\n"
)
MISPLACED = f"trafficRouterPlugins:\n  - name: x/y\n    location: {LOC}\n"
DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
    "    spec:\n      containers:\n        - name: web\n          image: nginx\n"
    "          args: [a, b, c]\n"
)
# `---` inside block scalars at deeper indentation is content; at column 0 it ends them.
BLOCK_SCALAR = "script: |\n  ---\n  echo hi\n  --- # not a marker\nnote: >\n  ---\n"
ROOT_BLOCK = "--- |\nroot content at column 0\n"
PLUGIN_IN_BLOCK = (
    f"kind: ConfigMap\ndata:\n  stepPlugins: |\n    - name: s/t\n      location: {LOC}\n"
)
BROKEN = [
    "stepPlugins: [a, b\n",  # a flow sequence the next `---` cuts
    "controller:\n  trafficRouterPlugins:\n  - name: a\n   location: b\n",
    'trafficRouterPlugins: "open\n',  # a quoted scalar the next `---` cuts
    "stepPlugins:\n\t- name: tab\n",
]

documents = st.one_of(
    st.sampled_from([CONFIGMAP, VALUES, MISPLACED, DEPLOYMENT, BLOCK_SCALAR, PLUGIN_IN_BLOCK]),
    st.sampled_from(BROKEN),
)


@st.composite
def streams(draw: Any) -> bytes:
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append("# leading comment\n")
    count = draw(st.integers(1, 8))
    for index in range(count):
        document = draw(documents)
        before = draw(st.sampled_from(["", "# c\n", "\n"]))
        if index == 0 and draw(st.booleans()):
            parts.append(before + document)
            continue
        marker = draw(st.sampled_from(["---\n", "--- # c\n", "%YAML 1.1\n---\n"]))
        if marker.startswith("%") and index > 0 and not parts[-1].endswith("...\n"):
            parts.append("...\n")  # a directive comes after an explicit document end
        if draw(st.booleans()) and document in (BLOCK_SCALAR, DEPLOYMENT):
            parts.append(ROOT_BLOCK)
        parts.append(before + marker + document)
        if draw(st.booleans()):
            parts.append("...\n")
    text = "".join(parts)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode()
    return codecs.BOM_UTF8 + data if draw(st.booleans()) else data


@settings(derandomize=True, max_examples=300, deadline=None)
@given(streams())
def test_generated_streams_give_the_same_positions(data: bytes) -> None:
    assert_same_as_whole_file("stream.yaml", data)


def test_generated_streams_cover_what_they_claim() -> None:
    """The cases above are real: ruamel reads the root block scalar up to the `---` at
    column 0 and the indented `---` lines as content."""
    (root, after) = compose_documents(ROOT_BLOCK + "---\n" + BLOCK_SCALAR)
    assert root.value == "root content at column 0\n"
    assert after.value[0][1].value == "---\necho hi\n--- # not a marker\n"


# -- what the split changes --------------------------------------------------------------


def test_a_syntax_error_stops_only_its_own_document() -> None:
    text = f"stepPlugins: [a, b\n---\n{MISPLACED}"
    result = extract_file("f.yaml", text.encode())
    assert [(f.rule, f.span.line) for f in result.findings] == [
        ("yaml-syntax", 2),
        ("misplaced-plugin-list", 3),
    ]
    assert [e.name for e in result.entries] == ["x/y"]


def test_a_huge_document_without_plugins_is_not_composed() -> None:
    """On main the node bound stopped the file at the first document, a Deployment-sized
    list with no plugin key in it; now that document is never composed."""
    huge = "items:\n" + "- 1\n" * (MAX_NODES_PER_DOCUMENT + 10)
    text = f"{huge}---\n{MISPLACED}"
    result = extract_file("f.yaml", text.encode())
    assert [f.rule for f in result.findings] == ["misplaced-plugin-list"]
    assert [e.name for e in result.entries] == ["x/y"]
    assert result.findings[0].span.line == huge.count("\n") + 2


def test_a_template_is_still_composed_whole() -> None:
    """A Helm template is checked only if it all parses, so an error in a document that
    mentions no plugin still makes the file a template note."""
    text = "{{ if .Values.x }}: [\n---\n" + MISPLACED
    result = extract_file("templates/x.yaml", text.encode())
    assert [f.rule for f in result.findings] == ["skipped-file"]
