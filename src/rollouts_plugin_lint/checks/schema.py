"""Validate each entry against the shipped JSON Schema and say what each error means for
the controller, at the exact node. The schema is the single source of the entry's shape."""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from rollouts_plugin_lint.checks.common import entry_finding, new_value, renamed_key
from rollouts_plugin_lint.gostrings import go_string
from rollouts_plugin_lint.model import Finding, PluginEntry, PluginKind, Severity

if TYPE_CHECKING:
    import jsonschema

    from rollouts_plugin_lint.model import Span

# Keys people write for a field, from docs, blog posts and pre-release builds.
_SYNONYMS = {
    "url": "location",
    "uri": "location",
    "path": "location",
    "pluginlocation": "location",
    "download": "location",
    "downloadurl": "location",
    "plugin": "name",
    "pluginname": "name",
    "id": "name",
    "sha": "sha256",
    "sha256sum": "sha256",
    "checksum": "sha256",
    "digest": "sha256",
    "hash": "sha256",
    "pluginsha256": "sha256",
    "enabled": "disabled",
    "arguments": "args",
    "argv": "args",
    "headers": "headersFrom",
    "secretref": "headersFrom",
}


@functools.lru_cache(maxsize=1)
def entry_schema() -> dict[str, Any]:
    text = (
        resources.files("rollouts_plugin_lint")
        .joinpath("schema/plugin-entry.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    # jsonschema (with referencing and attrs) takes longer to import than everything else
    # a pre-commit call needs: load it only once an entry needs explaining.
    import jsonschema

    return jsonschema.Draft202012Validator(entry_schema())


# Keywords that describe and never make an instance invalid.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples"})
# jsonschema's own type checks for these names (its draft 2020-12 type checker).
_IS_TYPE: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _verdict(instance: Any, schema: Any) -> bool | None:
    """Whether `instance` passes `schema` (True or False), or None when the schema uses a
    keyword or form not handled here. Only the keywords the shipped schema uses are
    handled, with jsonschema's semantics; the schema file stays the one source of the
    entry's shape, and jsonschema still makes and explains every finding."""
    if not isinstance(schema, dict):
        return None
    verdict: bool | None = True
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        passed: bool | None
        if keyword == "type":
            is_type = _IS_TYPE.get(value) if isinstance(value, str) else None
            passed = None if is_type is None else is_type(instance)
        elif keyword == "required":
            passed = not isinstance(instance, dict) or all(key in instance for key in value)
        elif keyword == "properties":
            passed = not isinstance(instance, dict) or _all(
                _verdict(instance[key], sub) for key, sub in value.items() if key in instance
            )
        elif (
            keyword == "additionalProperties"
            and value is False
            and "patternProperties" not in schema
        ):
            passed = not isinstance(instance, dict) or set(instance) <= set(
                schema.get("properties", {})
            )
        elif keyword == "items" and "prefixItems" not in schema:
            passed = not isinstance(instance, list) or _all(
                _verdict(item, value) for item in instance
            )
        elif keyword == "pattern":
            passed = not isinstance(instance, str) or re.search(value, instance) is not None
        elif keyword == "minLength":
            passed = not isinstance(instance, str) or len(instance) >= value
        elif keyword == "not":
            inner = _verdict(instance, value)
            passed = None if inner is None else not inner
        else:
            passed = None
        if passed is False:
            return False
        if passed is None:
            verdict = None
    return verdict


def _all(verdicts: Iterator[bool | None]) -> bool | None:
    """False if any is False, else None if any is None, else True."""
    result: bool | None = True
    for verdict in verdicts:
        if verdict is False:
            return False
        if verdict is None:
            result = None
    return result


def check_schema(entry: PluginEntry) -> Iterator[Finding]:
    instance = {
        key: value
        for key, value in entry.value.items()
        # The controller reads null as the zero value: absent, false or empty; and it
        # checks sha256 only when non-empty (downloader.go), so `""` is no digest at all.
        if not (value is None and key in ("sha256", "disabled", "args", "headersFrom"))
        and not (key == "sha256" and value == "")
    }
    if _verdict(instance, entry_schema()) is True:
        return  # valid: no need to load jsonschema, which would find nothing
    # One finding per rule and node, and per field a missing-field finding misses (they
    # share the item's node): two misspelled keys, or no name and no location, are two.
    reported: set[tuple[str, Span, str | None]] = set()
    for error in sorted(_validator().iter_errors(instance), key=lambda e: list(e.path)):
        for finding in _explain(entry, error):
            key = (finding.rule, finding.span, finding.field)
            if key not in reported:
                reported.add(key)
                yield finding


def _explain(entry: PluginEntry, error: jsonschema.ValidationError) -> Iterator[Finding]:
    path = tuple(error.path)
    field = path[0] if path else None
    validator = error.validator
    if validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            meant = None if path else _suggestion(key, allowed)
            # One obvious meaning, and a field the entry does not have yet: a rename.
            fix = renamed_key(entry, key, meant) if meant and meant not in entry.value else None
            yield entry_finding(
                entry,
                "unknown-field",
                *_unknown_field(key, allowed),
                at=(*path, key),
                on_key=True,
                field=meant,
                fix=fix,
            )
    elif validator == "required":
        for missing in error.validator_value:
            if missing not in error.instance:
                yield entry_finding(
                    entry,
                    "schema",
                    _missing(entry.kind, path, missing),
                    at=path,
                    field=None if path else missing,
                )
    elif field == "name" and validator != "type":
        yield entry_finding(entry, "name-format", *_bad_name(str(error.instance)), at=path)
    elif field == "sha256" and validator == "pattern":
        message, hint, digest = _bad_sha256(str(error.instance))
        fix = new_value(entry, "sha256", str(error.instance), digest) if digest else None
        yield entry_finding(entry, "sha256-format", message, hint, at=path, fix=fix)
    elif field == "location" and validator == "minLength":
        yield entry_finding(
            entry,
            "location-format",
            "`location` is empty: the controller fails with `failed to parse plugin "
            'location: parse "": empty url`',
            at=path,
        )
    elif validator == "type":
        yield _wrong_type(entry, path, error.instance, error.validator_value)
    else:
        yield entry_finding(entry, "schema", f"`{_dotted(path)}`: {error.message}", at=path)


def _dotted(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _unknown_field(key: str, allowed: list[str]) -> tuple[str, str | None]:
    if key == "type":
        return (
            "`type` is ignored: the controller sets the plugin type from the list the entry "
            "is in; remove it",
            None,
        )
    suggestion = _suggestion(key, allowed)
    message = f"unknown field `{key}`: the controller silently drops it"
    if suggestion == "location":
        message += ", so the plugin has no location and start-up fails"
    elif suggestion == "name":
        message += ", so the plugin has no name and the controller refuses to start"
    if suggestion:
        return f"{message}; did you mean `{suggestion}`?", f"rename `{key}` to `{suggestion}`"
    return f"{message}; known fields: {', '.join(allowed)}", None


def _suggestion(key: str, allowed: list[str]) -> str | None:
    suggestion = _SYNONYMS.get(key.lower().replace("_", "").replace("-", ""))
    if suggestion in allowed:
        return suggestion
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def _missing(kind: PluginKind, path: tuple[Any, ...], missing: str) -> str:
    if path:
        return f"`{_dotted(path)}` has no `{missing}`"
    if missing == "location":
        return (
            "entry has no `location`: the controller fails with `failed to parse plugin "
            'location: parse "": empty url`'
        )
    return (
        "entry has no `name`: the controller refuses to start with `plugin repository () "
        "must be in the format of <namespace>/<name>`"
    )


def _bad_name(name: str) -> tuple[str, str | None]:
    refusal = (
        f"the controller refuses to start: `plugin repository ({name}) must be in the format "
        "of <namespace>/<name>`"
    )
    if "\n" in name:
        return f"plugin name ends with a line break (a `|` block?); {refusal}", None
    if "/" not in name:
        return (
            f"plugin name `{name}` has no namespace; {refusal}",
            f"name: <namespace>/{name}   (e.g. argoproj-labs/{name})",
        )
    namespace, _, rest = name.partition("/")
    if "/" in rest:
        return f"plugin name `{name}` has more than one `/`; {refusal}", None
    if rest in (".", ".."):
        return (
            f"plugin name `{name}` resolves to the plugin directory itself, so the download "
            "cannot be written",
            None,
        )
    bad = sorted(
        {c for c in namespace if not (c.isascii() and (c.isalnum() or c == "-"))}
        | {c for c in rest if not (c.isascii() and (c.isalnum() or c in "_.-"))}
    )
    if not namespace or not rest:
        return f"plugin name `{name}` has an empty part; {refusal}", None
    shown = " ".join(repr(c) for c in bad)
    return (
        f"plugin name `{name}` contains {shown}: the namespace allows letters, digits and `-`, "
        f"the name also `_` and `.`; {refusal}",
        None,
    )


def _bad_sha256(digest: str) -> tuple[str, str | None, str | None]:
    """The message, the hint, and the digest meant when it is evident."""
    never = "the controller compares digests as plain strings, so this can never match"
    stripped = digest.strip()
    lower = stripped.lower().removeprefix("sha256:")
    if len(lower) == 64 and all(c in "0123456789abcdef" for c in lower):
        if stripped != lower and stripped.lower() == lower:
            problem = "is in uppercase"
        elif stripped.lower().startswith("sha256:"):
            problem = "has a `sha256:` prefix"
        else:
            problem = "has surrounding whitespace"
        return f"`sha256` {problem}; {never}", f'sha256: "{lower}"', lower
    if len(stripped) == 40 and all(c in "0123456789abcdefABCDEF" for c in stripped):
        return (
            "`sha256` has 40 hex characters, the length of a SHA-1 (the value in the Argo "
            "Rollouts docs' example); the controller's check can never pass. Use the file's "
            "64-character sha256",
            "sha256sum <plugin-binary>",
            None,
        )
    return (
        f"`sha256` must be 64 lowercase hex characters (it has {len(stripped)} characters); "
        f"{never}, and the controller crash-loops",
        "sha256sum <plugin-binary>",
        None,
    )


def _wrong_type(entry: PluginEntry, path: tuple[Any, ...], instance: Any, expected: str) -> Finding:
    written = _yaml_type(instance)
    field = _dotted(path)
    if expected == "string" and isinstance(instance, (bool, int, float)):
        shown = go_string(instance)  # what sigs.k8s.io/yaml writes into the Go string
        if path[:1] == ("args",) and len(path) == 2:
            return entry_finding(
                entry,
                "schema",
                f"`{field}` is read as a {written} ({shown}); the controller passes "
                f'"{shown}", quote it to say what you mean',
                at=path,
                severity=Severity.WARNING,
            )
        return entry_finding(
            entry,
            "schema",
            f"`{field}` is read as a {written} by YAML, and the controller turns it into the "
            f"string `{shown}`; quote the value",
            at=path,
        )
    if expected == "string" and instance is None:
        rule = "name-format" if field == "name" else "location-format"
        what = (
            "plugin repository () must be in the format"
            if field == "name"
            else ('parse "": empty url')
        )
        return entry_finding(
            entry, rule, f"`{field}` is empty: the controller fails with `{what}`", at=path
        )
    go_type = {"boolean": "bool", "array": "[]string", "object": "struct"}.get(expected, expected)
    wanted = {"array": "list", "object": "mapping"}.get(expected, expected)
    message = (
        f"`{field}` must be a {wanted}, not a {written}: the controller fails with `cannot "
        f"unmarshal {_json_type(instance)} into Go struct field PluginItem.{path[0]} of type "
        f"{go_type}`"
    )
    hint, fix = None, None
    if field == "disabled" and isinstance(instance, str):
        hint = f"disabled: {instance.strip().lower()}   (no quotes)"
        meant = _YAML_BOOLEANS.get(instance.strip().lower())
        if meant is not None:
            fix = new_value(entry, "disabled", instance, meant, whole=True)
    elif field == "args" and isinstance(instance, str):
        hint = f"args: [{json.dumps(instance)}]"
        # One word is one argument; several words may be meant as one or as several.
        words = instance.split()
        written = json.dumps(words if len(words) > 1 else [instance], ensure_ascii=False)
        fix = new_value(entry, "args", instance, written, whole=True, safe=len(words) == 1)
    return entry_finding(entry, "schema", message, hint, at=path, fix=fix)


# What a quoted boolean evidently means, in the words YAML 1.1 reads as booleans (yaml.v2,
# which sigs.k8s.io/yaml decodes with, resolve.go).
_YAML_BOOLEANS = {
    **dict.fromkeys(("true", "yes", "on", "y"), "true"),
    **dict.fromkeys(("false", "no", "off", "n"), "false"),
}


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "null"


def _json_type(value: Any) -> str:
    return {"boolean": "bool", "list": "array", "mapping": "object"}.get(
        _yaml_type(value), _yaml_type(value)
    )
