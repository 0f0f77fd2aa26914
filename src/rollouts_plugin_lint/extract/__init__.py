"""Text -> plugin entries with exact spans, plus the findings only a parser can make."""

from __future__ import annotations

import codecs

from rollouts_plugin_lint.discover import MAX_FILE_BYTES, TERRAFORM_SUFFIXES
from rollouts_plugin_lint.extract.containers import walk_env_file
from rollouts_plugin_lint.extract.markdown import MARKDOWN_SUFFIXES, extract_markdown
from rollouts_plugin_lint.extract.positions import FILE
from rollouts_plugin_lint.extract.walker import FIELDS, Extraction, Walker
from rollouts_plugin_lint.model import DataFileReference, Finding, Severity, Span
from rollouts_plugin_lint.versions import Versions

__all__ = [
    "FIELDS",
    "MAX_FILE_BYTES",
    "Extraction",
    "extract_data_file",
    "extract_file",
    "extract_text",
]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def extract_file(
    path: str, data: bytes, versions: Versions | None = None, forced: Versions | None = None
) -> Extraction:
    """Every plugin entry in a file's bytes. Never raises for bad input: a file that cannot
    be read as YAML becomes a finding, and a template or binary file a note."""
    if len(data) > MAX_FILE_BYTES:
        return _skipped(
            path,
            f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not parsed",
            Severity.WARNING,
        )
    if b"\0" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _skipped(path, "binary file; not parsed", Severity.NOTE)
    encoding = _encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        # Count lines in what did decode: UTF-16 code units can hold a 0x0a byte.
        line = data[: error.start].decode(encoding, "replace").count("\n") + 1
        name = {"utf-8-sig": "UTF-8"}.get(encoding, encoding.upper())
        return _not_text(
            path,
            line,
            f"file is not valid {name} (byte 0x{data[error.start]:02x} on line {line}); "
            "Kubernetes and Helm read YAML as UTF-8",
        )
    return extract_text(path, text, versions, forced)


def extract_text(
    path: str, text: str, versions: Versions | None = None, forced: Versions | None = None
) -> Extraction:
    """`versions`: what is known of the chart and controller before reading the file (a
    Chart.yaml beside it); the file's own statements refine it; `forced` (command-line
    flags) wins over both."""
    if path.lower().endswith(MARKDOWN_SUFFIXES):
        return extract_markdown(path, text, versions, forced)
    if path.lower().endswith(TERRAFORM_SUFFIXES):
        # Its HCL reader is imported only for a .tf file: a pre-commit call on YAML
        # files does not pay for it.
        from rollouts_plugin_lint.extract.terraform import extract_terraform

        return extract_terraform(path, text, versions, forced)
    walker = Walker(path, versions, forced)
    looks_templated = "{{" in text or "/templates/" in f"/{path}"
    # A template is checked only when it all parses, so its every document is composed.
    parsed = walker.walk_text(
        text, FILE, path, syntax_errors=not looks_templated, relevant_only=not looks_templated
    )
    if not parsed and looks_templated:
        return _skipped(
            path,
            "Helm template: not YAML until rendered; not checked (lint the output of "
            "`helm template` instead)",
            Severity.NOTE,
        )
    return walker.result


def extract_data_file(path: str, data: bytes, reference: DataFileReference) -> Extraction:
    """The plugin list in a file a kustomize configMapGenerator makes a data value of (or,
    for an `envs:` file, the lists its `KEY=VALUE` lines make).
    kustomize puts a file that is not UTF-8 under `binaryData`, which the controller never
    reads (api/kv/kv.go keeps the file's bytes as they are)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        if reference.env_file:
            return _skipped(path, f"line {line} is not valid UTF-8: kustomize refuses this env "
                            "file", Severity.WARNING)  # fmt: skip
        return _not_text(
            path,
            line,
            f"file is not valid UTF-8 (byte 0x{data[error.start]:02x} on line {line}): "
            f"kustomize puts it under `binaryData`, and the controller reads "
            f"`{reference.key}` from `data` only",
        )
    walker = Walker(path)
    if reference.env_file:
        walk_env_file(walker, text, reference)
    else:
        walker.walk_data_value(reference.key, text, reference.group, reference.versions)
    return walker.result


def _encoding(data: bytes) -> str:
    """UTF-8 unless a byte-order mark says otherwise (YAML allows UTF-16 and UTF-32)."""
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), "utf-8")


def _not_text(path: str, line: int, message: str) -> Extraction:
    """The one finding for bytes that do not decode: nothing in them can be read."""
    return Extraction(
        findings=[Finding("yaml-syntax", Severity.ERROR, Span.point(path, line), message)]
    )


def _skipped(path: str, message: str, severity: Severity) -> Extraction:
    return Extraction(findings=[Finding("skipped-file", severity, Span.point(path, 1), message)])
