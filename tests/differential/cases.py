"""The data values the differential test decodes: every plugin list string of the
real-world corpus, and deterministic variants of each family where ruamel.yaml, yaml.v2
and encoding/json could disagree."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    YamlProblem,
    compose_documents,
    key_text,
    scalar_value,
)
from rollouts_plugin_lint.model import PLUGIN_KEYS

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "real"
LOC = "file:///plugins/p"

SCALARS = (
    "yes", "no", "on", "off", "y", "n", "Y", "~", "null", "true", "True", "TRUE", "false",
    "1000", "1_000", "_1", "0x1F", "0X1F", "+0x1F", "-0x1F", "0x_1F", "0o17", "0O17", "017",
    "08", "0_17", "0b101", "0B101", "-0b11", "1e3", "1E3", "1e+3", "1e-7", "1.5", "1.", "-.5",
    ".5", ".5_0", "+1", "-0", "1e400", "1e39", "99999999999999999999", "9223372036854775808",
    "18446744073709551616", "-9223372036854775809", ".inf", "-.Inf", "+.INF", ".nan",
    "2024-01-01", "2024-1-2", "1:30", "0.1", "3.14159265358979", "123456789012", "1_0.5",
    "0.0000001", "1234567", "16777217", "0x1p3", "<<", "=",
    "1234567890123456789012345678901234567890123456789012345678901234",
)  # fmt: skip

TAGS = (
    "!foo true", '!!bool "true"', '!!bool "yes"', "!!bool x", "!!str 5", "!!str true",
    '!!int "5"', "!!int 5.5", "!!float 5", '!!float "1e3"', '!!null ""', "!!null x",
    "!!binary aGVsbG8=", '!!binary "aGVsbG8="', "!!binary ###", "!!binary /w==", "! 5",
    "! true", "!!timestamp 2024-01-01", "!!timestamp x", "!<tag:yaml.org,2002:str> 5",
    "!!merge x", "!!int 0x10", "!!str", "!!bool", "!!float .inf", "!!int ~",
)  # fmt: skip

ESCAPES = (
    "\\/", "\\x41", "\\u00e9", "\\ud83d\\ude80", "\\ud800", "\\'", "\\U0001F680",
    "\\U00110000", "\\N", "\\_", "\\L", "\\P", "\\e", "\\q", "\\\t", "\\0", "\\x4", "\\uDFFF",
)  # fmt: skip


def generated() -> Iterator[tuple[str, str]]:
    """(family, data value) pairs."""
    for scalar, field in itertools.product(SCALARS, ("name", "location", "sha256", "disabled")):
        yield "scalar", f"- name: a/b\n  location: {LOC}\n  {field}: {scalar}\n"
    for scalar in SCALARS:
        yield "scalar", f"- name: a/b\n  location: {LOC}\n  args: [{scalar}, x]\n"
        yield "scalar", f"- name: a/b\n  location: {LOC}\n  {scalar}: x\n"
    for tag, field in itertools.product(TAGS, ("name", "sha256", "disabled", "args")):
        value = f"[{tag}]" if field == "args" else tag
        yield "tag", f"- name: a/b\n  location: {LOC}\n  {field}: {value}\n"
    for escape in ESCAPES:
        yield "escape", f'- name: "a/b{escape}"\n  location: {LOC}\n'
        yield "escape", f"- name: 'a/b{escape}'\n  location: {LOC}\n"
        yield "escape", f'[{{"name": "a/b{escape}", "location": "{LOC}"}}]'
    yield from (("merge", text) for text in _merges())
    yield from (("keys", text) for text in _keys())
    yield from (("whitespace", text) for text in _whitespace())
    yield from (("directive", text) for text in _directives())
    yield from (("null", text) for text in _nulls())
    yield from (("json", text) for text in _json())


def _merges() -> Iterator[str]:
    base = f"- &a {{name: a/b, location: {LOC}, sha256: x}}\n"
    yield base + "- <<: *a\n  name: c/d\n"
    yield base + "- name: c/d\n  <<: *a\n"
    yield base + "- name: c/d\n  <<: *a\n  location: file:///other\n"
    yield base + "- <<: [*a, {name: e/f, args: [z]}]\n"
    yield base + "- <<: [{name: e/f, args: [z]}, *a]\n"
    yield base + "- <<: *a\n  <<: {name: g/h}\n"
    yield base + "- <<: {}\n  name: c/d\n  location: x\n"
    for bad in ("5", "~", "[5]", "[*a, 5]", "x", '"<<"', "[]"):
        yield base + f"- <<: {bad}\n  name: c/d\n  location: x\n"
    yield f"- &s a/b\n- name: c/d\n  location: {LOC}\n  <<: *s\n"
    yield f'- "<<": {{name: x/y}}\n  name: c/d\n  location: {LOC}\n'
    yield f"- ! <<: {{name: x/y}}\n  location: {LOC}\n"
    yield f"- !!merge <<: {{name: x/y}}\n  location: {LOC}\n"
    yield f"- name: c/d\n  location: {LOC}\n  extra: {{<<: 5}}\n"
    yield f"- name: c/d\n  location: {LOC}\n  headersFrom:\n  - <<: {{secretRef: {{name: s}}}}\n"


def _keys() -> Iterator[str]:
    variants = {
        "name": ("name", "Name", "NAME", "nAmE"),
        "location": ("location", "Location", "LOCATION"),
        "sha256": ("sha256", "SHA256", "ſha256", "Sha256"),
        "args": ("args", "Args", "ARGS"),
        "disabled": ("disabled", "Disabled"),
        "headersFrom": ("headersFrom", "headersfrom", "HeadersFrom", "HEADERSFROM", "headerſFrom"),
    }
    values = {
        "name": ("a/b", "c/d", "~"),
        "location": (LOC, "file:///q", "null"),
        "sha256": ("x", "y", "~"),
        "args": ("[a]", "[b]", "~"),
        "disabled": ("true", "false", "~"),
        "headersFrom": ("[{secretRef: {name: s}}]", "[{secretRef: {name: t}}]", "~"),
    }
    for field, spellings in variants.items():
        first, second, null = values[field]
        rest = "".join(f"  {f}: {values[f][0]}\n" for f in ("name", "location") if f != field)
        for one, two in itertools.permutations(spellings, 2):
            yield f"- {one}: {first}\n  {two}: {second}\n{rest}"
            yield f"- {one}: {first}\n  {two}: {null}\n{rest}"
            yield f"- {one}: {null}\n  {two}: {second}\n{rest}"
        yield f"- {field}: {first}\n  {field}: {second}\n{rest}"
        yield f"- {field}: {first}\n  {field}: {null}\n{rest}"
    for spelling in ("secretRef", "SecretRef", "secretref", "ſecretRef"):
        for inner in ("name", "Name", "NAME"):
            yield (
                f"- name: a/b\n  location: {LOC}\n  headersFrom:\n  - {spelling}: {{{inner}: s}}\n"
            )
    yield f"- name: a/b\n  location: {LOC}\n  headersFrom:\n  - {{secretRef: {{name: s}}, SecretRef: {{name: t}}}}\n"  # noqa: E501
    yield f"- name: a/b\n  location: {LOC}\n  headersFrom:\n  - {{secretRef: {{name: s}}, SecretRef: ~}}\n"  # noqa: E501
    for other in ("type: x", "Type: x", "type: 5", "TYPE: y", "1: x", "true: x", "1.5: x"):
        yield f"- name: a/b\n  location: {LOC}\n  {other}\n"
    yield f"- name: a/b\n  location: {LOC}\n  ~: x\n"


def _whitespace() -> Iterator[str]:
    yield f'- name:\t"a/b"\n  location: {LOC}\n'
    yield f"- name:\ta/b\n  location:\t{LOC}\n"
    yield f"- name: a/b\t\n  location: {LOC}\t\n"
    yield f"- name: a/b \t \n  location: {LOC}\n"
    yield f"- name: a/b\t# note\n  location: {LOC}\n"
    yield f"- name: a/b\n\tlocation: {LOC}\n"
    yield f"-\tname: a/b\n  location: {LOC}\n"
    for brk in ("\x85", "\u2028", "\u2029", "\r", "\r\n"):
        yield f"- name: a/b{brk}  location: {LOC}\n"
        yield f"- name: a/b\n  location: {LOC}{brk}"
        yield f'- name: "a/b{brk}c"\n  location: {LOC}\n'
        yield f"- name: |\n    a/b{brk}    c\n  location: {LOC}\n"
    yield f"- name: a/b\n  location: {LOC}\n  args: [a\u00a0b]\n"
    yield f"- name: a/b\ufeff\n  location: {LOC}\n"


def _directives() -> Iterator[str]:
    body = f"- name: a/b\n  location: {LOC}\n"
    tags = ("%TAG !e! tag:example.com,2000:", "%TAG ! tag:example.com,2000:")
    for directive in ("%YAML 1.2", "%YAML 1.1", "%YAML 1.0", "%YAML 2.0", "%FOO bar", *tags):
        yield f"{directive}\n---\n{body}"
    yield f"%YAML 1.1\n%YAML 1.1\n---\n{body}"
    yield f"%TAG !e! tag:example.com,2000:\n---\n- name: !e!x a/b\n  location: {LOC}\n"
    yield f"---\n{body}"
    yield f"---\n{body}---\n- name: c/d\n  location: {LOC}\n"
    yield f"{body}...\n"


def _nulls() -> Iterator[str]:
    for args in ("[~]", "[null, a]", "[a, ~]", "[]", "~", "[[a]]", "[{a: 1}]", "a", "{}"):
        yield f"- name: a/b\n  location: {LOC}\n  args: {args}\n"
    for headers in ("[~]", "[{secretRef: ~}]", "[{secretRef: {name: ~}}]",
                    "[{secretRef: {name: 5}}]", "[{secretRef: {name: [x]}}]", "[a]", "{}",
                    "[{secretRef: a}]", "~", "[]", "[{secretRef: {}}]",
                    "[{secretRef: {name: s, key: k}}]"):  # fmt: skip
        yield f"- name: a/b\n  location: {LOC}\n  headersFrom: {headers}\n"
    for value in ("~", "[a]", "{a: 1}", "", "''"):
        for field in ("name", "location", "sha256", "disabled"):
            yield f"- name: a/b\n  location: {LOC}\n  {field}: {value}\n"
    yield f"- ~\n- name: a/b\n  location: {LOC}\n"
    yield f"- name: a/b\n  location: {LOC}\n  Name: [x]\n"
    yield f"- name: a/b\n  location: {LOC}\n  type: [x]\n"
    yield f"- name: a/b\n  location: {LOC}\n  ? [k]\n  : v\n"
    yield f"- name: a/b\n  \ufefflocation: {LOC}\n"
    yield "~\n"
    yield ""
    yield "[]\n"
    yield "{}\n"
    yield "x\n"
    yield "5\n"


def _json() -> Iterator[str]:
    yield f'[{{"name": "a/b", "location": "{LOC}"}}]'
    yield f'[{{"name": "a/b", "location": "{LOC}", "sha256": 123}}]'
    yield f'[{{"name": "a/b", "location": "{LOC}", "name": "c/d"}}]'
    yield f'[{{"name": "a/b", "location": "{LOC}", "Name": "c/d"}}]'
    yield f'[{{"name": "a\\u002fb", "location": "{LOC}"}}]'
    yield '[{"name": "a/b", "location": "file:\\/\\/\\/x"}]'
    yield f'[{{"name": "a/b", "location": "{LOC}", "disabled": "true"}}]'
    yield f'[{{"name": "a/b", "location": "{LOC}", "args": ["a", null, 1]}}]'
    yield f'[{{"name":"a/b","location":"{LOC}"}}]'
    yield f'[{{"name": "a/b",\n  "location": "{LOC}",}}]'


def corpus() -> Iterator[tuple[str, str]]:
    """(file name, data value) for every plugin list written as a string in the corpus."""
    if not CORPUS.is_dir():
        return
    for path in sorted(CORPUS.iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            documents = list(compose_documents(path.read_text(encoding="utf-8")))
        except (YamlProblem, UnicodeDecodeError):
            continue
        for root in documents:
            for text in _plugin_strings(root):
                yield path.name, text


def _plugin_strings(root: Node) -> Iterator[str]:
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if key_text(key) in PLUGIN_KEYS and isinstance(value, ScalarNode):
                    text = scalar_value(value)
                    if isinstance(text, str):
                        yield text
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


LOCATIONS = (
    "", " https://h/x", "https://h/x ", "https://h/x\n", "\thttps://h/x", "https://h/\tx",
    ":foo", "plugin-bin/x", "/abs/path", "file:x", "file://./x", "file:///abs/x", "file://",
    "file:///", "file:///tmp", "file://localhost/x", "HTTPS://GitHub.com/o/r",
    "https://u:p@h:8443/a%20b?x=1", "https://h:port/x", "https://h:/x", "https://h:70000/x",
    "https://h:99999999999999999999/x", "https://a b/x", "https://h/%zz", "https://h/%4",
    "https://ex%41mple.com/x", "https://ex%C3%A9.com/x", "https://ex%25.com/x",
    "https://ex%zz.com/x", "https://ex%7F.com/x", "https://[::1]:80/x", "https://[::1]/x",
    "https://[1.2.3.4]/x", "https://[::ffff:1.2.3.4]/x", "https://[fe80::1%25en0]/x",
    "https://[fe80::1%25%65n0]/x", "https://[foo]/x", "https://[::1/x", "https://[::1]x/x",
    "https://a[b]/x", "https://h/x#frag", "https://h/x?q#f", "https://h/x?", "https://h?x",
    "https://user@h/x", "https://us er@h/x", "https://u:p:q@h/x", "https://@h/x", "https:///x",
    "http://h/x", "ftp://h/x", "https:x", "https:/x", "//h/x", "h/x", "https://h/é",
    "https://hé/x", "https://h/x\x7f", "https://h<>/x", "https://h\"/x", "https://h{}/x",
    "https://h|/x", "https://h\\/x", "https://h:8a/x", "https://a:b:80/x", "*", "https://*/x",
    "1https://h/x", "a+b-c.d://h/x", "https://h/a%2Fb", "https://h/%00",
)  # fmt: skip


def locations() -> Iterator[tuple[str, str]]:
    """(family, location) pairs for url.ParseRequestURI."""
    for location in LOCATIONS:
        yield "url", location
