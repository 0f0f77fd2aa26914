"""Downloads that are text, not a program: HTML pages, JSON API errors, GitHub's bare
`Not Found`, Git LFS pointers, scripts and other text. Only the first `SAMPLE` bytes are
looked at; the detail quotes what a person needs to recognise the page (its title, the
API's message, the first words)."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

from rollouts_plugin_lint.printable import one_line

SAMPLE = 64 * 1024
_BOM = b"\xef\xbb\xbf"
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
_HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
# The title is looked for with bounded, linear searches: a lazy `.*?` up to `</title>`
# would rescan the rest of the page for every unclosed `<title>`.
_TITLE_OPEN = re.compile(r"<title(?:\s[^<>]{0,200})?>", re.IGNORECASE)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.IGNORECASE)
_TITLE_MAX = 2048
_TAG = re.compile(r"<[^<>]*>")
_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_ANYWHERE = re.compile(rb"<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_XML_MESSAGE = re.compile(r"<(Message|Code)>([^<]*)</\1>", re.IGNORECASE)
_XML_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_JSON_MESSAGE = re.compile(rb'"message"\s*:\s*("(?:[^"\\]|\\.){0,2000}")')
_LFS_FIELD = re.compile(r"^(oid|size) (\S+)$", re.MULTILINE)
# Share of printable characters for a file to count as text.
_TEXT_RATIO = 0.95


@dataclass(frozen=True)
class Content:
    format: str
    detail: str | None


def classify_content(sample: bytes, size: int, content_type: str | None) -> Content | None:
    """What the text-like `sample` (the first bytes of a `size`-byte file) is, or None."""
    if sample.startswith(b"#!"):
        first_line = sample[:1024].split(b"\n", 1)[0]
        return Content("script", one_line(first_line.decode("utf-8", "replace")))
    if sample.startswith(LFS_POINTER):
        return Content("lfs-pointer", _lfs_detail(sample))
    body = sample[len(_BOM) :] if sample.startswith(_BOM) else sample
    stripped = body.lstrip()
    if not _looks_like_text(body, truncated=size > len(sample)):
        return None
    text = body.decode("utf-8", "replace")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if _HTML_START.match(stripped) or media_type in _HTML_CONTENT_TYPES:
        return Content("html", _title(text))
    if stripped.startswith(b"<"):
        if _HTML_ANYWHERE.search(stripped):
            return Content("html", _title(text))
        if stripped.startswith(b"<?xml"):
            return Content("xml", _xml_detail(text))
    if stripped.startswith((b"{", b"[")):
        json_content = _json(stripped, truncated=size > len(sample))
        if json_content is not None:
            return json_content
    return Content("text", one_line(text) or None)


def _looks_like_text(data: bytes, truncated: bool) -> bool:
    if not data or b"\0" in data:
        return False
    if truncated:
        data = data[:-4]  # the sample may end inside a UTF-8 sequence
    text = data.decode("utf-8", "replace")
    if not text:
        return False
    readable = sum(1 for char in text if char.isprintable() or char in "\t\n\r\f\v")
    readable -= text.count("\ufffd")
    return readable >= _TEXT_RATIO * len(text)


def _title(text: str) -> str | None:
    opening = _TITLE_OPEN.search(text)
    if opening is None:
        return None
    window = text[opening.end() : opening.end() + _TITLE_MAX]
    closing = _TITLE_CLOSE.search(window)
    if closing is None:
        return None
    return one_line(html.unescape(_TAG.sub("", window[: closing.start()]))) or None


def _xml_detail(text: str) -> str | None:
    """The message of an S3 or Azure style error document, else its root element."""
    messages = {name.lower(): value for name, value in _XML_MESSAGE.findall(text)}
    for key in ("message", "code"):
        if messages.get(key, "").strip():
            return one_line(html.unescape(messages[key]))
    # `<?xml ...?>`, `<!DOCTYPE` and comments start with `<?` or `<!`, which the element
    # pattern skips by itself.
    root = _XML_ROOT.search(text)
    return one_line(f"<{root.group(1)}> document") if root else None


def _json(data: bytes, truncated: bool) -> Content | None:
    """A JSON document, with the `message` of an API error (GitHub's `Not Found`,
    `Bad credentials`, rate limits) as detail."""
    if not truncated:
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if isinstance(document, dict):
            for key in ("message", "error"):
                if isinstance(document.get(key), str) and document[key].strip():
                    return Content("json", one_line(document[key]))
        return Content("json", None)
    # Too long to parse from the sample: an object whose message appears early enough.
    if not data.startswith(b"{"):
        return None
    match = _JSON_MESSAGE.search(data)
    if match is None:
        return Content("json", None)
    try:
        message = json.loads(match.group(1))
    except ValueError:
        return Content("json", None)
    return Content("json", one_line(message) or None)


def _lfs_detail(sample: bytes) -> str:
    fields = dict(_LFS_FIELD.findall(sample[:1024].decode("utf-8", "replace")))
    parts = [f"{key} {fields[key]}" for key in ("oid", "size") if key in fields]
    return one_line("Git LFS pointer" + (": " + ", ".join(parts) if parts else ""))
