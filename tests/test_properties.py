"""Property-based: random YAML structures and random bytes never raise, and every finding
points inside the file."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from rollouts_plugin_lint.checks import check_entries
from rollouts_plugin_lint.extract import extract_file, extract_text
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


# What the controller's decoder (sigs.k8s.io/yaml over yaml.v2, then encoding/json) makes of
# a data value, recorded from tests/differential (which checks them all against Go).
# Either "refused" or fields of the last entry as the controller holds them.
_LOC = "file:///plugins/p"
_AS_THE_CONTROLLER_READS = [
    (f'- name:\t"a/b"\n  location: {_LOC}\n', {"name": "a/b"}),
    (f"- name: a/b\t\n  location: {_LOC}\t\n", {"name": "a/b", "location": _LOC}),
    (f'- name: "a\\/b"\n  location: {_LOC}\n', "refused"),
    (f'[{{"name": "a\\/b", "location": "{_LOC}"}}]', "refused"),
    (f'- name: "a\\ud83d\\ude80"\n  location: {_LOC}\n', "refused"),
    (f'- name: "a\\U00110000"\n  location: {_LOC}\n', "refused"),
    ('- name: "it\\\'s"\n  location: ' + _LOC + "\n", {"name": "it's"}),
    (f"%YAML 1.2\n---\n- name: a/b\n  location: {_LOC}\n", "refused"),
    (f"%FOO bar\n---\n- name: a/b\n  location: {_LOC}\n", "refused"),
    (f"- <<: 5\n  name: a/b\n  location: {_LOC}\n", "refused"),
    (f"- <<: ~\n  name: a/b\n  location: {_LOC}\n", "refused"),
    (f"- &a {{name: a/b, location: {_LOC}}}\n- name: c/d\n  <<: *a\n", {"name": "a/b"}),
    (f"- name: !foo true\n  location: {_LOC}\n", {"name": "true"}),
    (f'- name: a/b\n  location: {_LOC}\n  disabled: !!bool "true"\n', {"disabled": True}),
    (f"- name: !!binary YS9i\n  location: {_LOC}\n", {"name": "a/b"}),
    (f"- name: a/b\n  location: {_LOC}\n  disabled: !!bool x\n", "refused"),
    (f"- name: a/b\n  location: {_LOC}\n  ſha256: x\n", {"sha256": "x"}),
    (f"- name: a/b\n  Name: c/d\n  location: {_LOC}\n", {"name": "a/b"}),
    (f"- Location: {_LOC}\n  location: ~\n  name: a/b\n", {"location": _LOC}),
    (
        f"- name: a/b\n  location: {_LOC}\n  headersFrom: [{{SecretRef: {{Name: s}}}}]\n",
        {"headersFrom": [{"secretRef": {"name": "s"}}]},
    ),
    (f"- name: a/b\n  location: {_LOC}\n  args: [~, a]\n", {"args": ["", "a"]}),
    (f"- name: 0X1F\n  location: {_LOC}\n", {"name": 31}),
    (f"- name: _1\n  location: {_LOC}\n", {"name": "_1"}),
    (f"- name: 1e400\n  location: {_LOC}\n", {"name": "1e400"}),
    (f"- name: a/b\x85  location: {_LOC}\n", {"name": "a/b", "location": _LOC}),
    (f"- name: a/b\u2028  location: {_LOC}\n", {"name": "a/b", "location": _LOC}),
    (f"- name: a/b\n  location: {_LOC}\n  9223372036854775808: x\n", "refused"),
]


@pytest.mark.parametrize(("data", "expected"), _AS_THE_CONTROLLER_READS)
def test_data_values_read_as_the_controller_reads_them(
    data: str, expected: str | dict[str, object]
) -> None:
    text = (
        json.dumps(
            {
                "kind": "ConfigMap",
                "metadata": {"name": "argo-rollouts-config"},
                "data": {"trafficRouterPlugins": data},
            },
            ensure_ascii=False,
        )
        .replace("\x85", "\\N")
        .replace("\u2028", "\\L")
    )
    result = extract_text("cm.json", text)
    refused = [f for f in result.findings if f.rule in ("yaml-syntax", "plugin-list-shape")]
    if expected == "refused":
        assert refused, result
        return
    assert not refused, refused
    value = dict(result.entries[-1].value)
    assert {key: value.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("number", "shown"),
    [(True, "true"), (1000, "1000"), (1e3, "1000"), (float("inf"), "+Inf"), (1e6, "1e+06"),
     (3.14159265358979, "3.1415927"), (1e63, "+Inf"), (0.0001, "0.0001"), (1e-5, "1e-05"),
     (16777217.0, "1.6777216e+07"), (-0.0, "-0"), (float("nan"), "NaN")],
)  # fmt: skip
def test_numbers_become_strings_the_go_way(number: float, shown: str) -> None:
    from rollouts_plugin_lint.gostrings import go_string

    assert go_string(number) == shown


def test_a_number_in_a_string_field_is_quoted_as_the_controller_turns_it() -> None:
    # An http(s) location: on a file:// one the sha256 is ignored, whatever its type.
    text = "- name: a/b\n  location: https://downloads.test/p\n  sha256: 1e3\n"
    result = extract_text("cm.yaml", "data:\n  stepPlugins: |\n" + _indent(text))
    messages = [f.message for e in result.entries for f in check_entries([e])]
    assert any("the string `1000`" in message for message in messages), messages


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())
