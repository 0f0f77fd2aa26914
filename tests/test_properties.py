"""Property-based: random YAML structures and random bytes never raise, and every finding
points inside the file."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from rollouts_plugin_lint.checks import check_entries
from rollouts_plugin_lint.extract import extract_file
from rollouts_plugin_lint.model import LINE_BREAK

KEYS = [
    "trafficRouterPlugins",
    "metricProviderPlugins",
    "stepPlugins",
    "controller",
    "data",
    "name",
    "location",
    "sha256",
    "disabled",
    "args",
    "headersFrom",
    "values",
    "value",
    "op",
    "path",
    "kind",
    "<<",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "a/b",
            "file:x",
            "https://h/x-darwin-arm64",
            "/data",
            "add",
            "yes",
            "- name: a/b\n  location: x\n",
            "trafficRouterPlugins: |\n  - a\n",
            "{{ .Values.x }}",
            "http://u:p@h/x.tar.gz",
            "ConfigMap",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=40,
)


def dump(document: object, flow: bool) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def assert_well_formed(path: str, data: bytes) -> None:
    result = extract_file(path, data)
    findings = [*result.findings, *check_entries(result.entries)]
    line_count = len(LINE_BREAK.split(data.decode("utf-8", "replace")))
    for finding in findings:
        assert finding.span.path == path
        assert 1 <= finding.span.line <= line_count, finding
        assert finding.span.column >= 1
        assert finding.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.booleans())
def test_random_yaml_never_raises(document: object, flow: bool) -> None:
    assert_well_formed("f.yaml", dump(document, flow).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert_well_formed("f.yaml", b"data:\n  stepPlugins: |\n" + data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("- :|>'\"{}[],#&*!\n\t abc/")), max_size=200))
def test_random_yaml_like_text_never_raises(text: str) -> None:
    assert_well_formed("f.yaml", ("controller:\n  trafficRouterPlugins:\n" + text).encode())
