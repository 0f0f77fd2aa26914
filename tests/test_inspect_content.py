"""Wrong downloads that are text: the pages and error bodies servers really send."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import inspect_file
from rollouts_plugin_lint.model import BinaryFacts

from .inspect_fixtures import write

GITHUB_RELEASE_PAGE = """<!DOCTYPE html>
<html lang="en" data-color-mode="auto">
  <head>
    <meta charset="utf-8">
    <title>Release v0.5.0 · argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi · GitHub
    </title>
  </head>
  <body>...</body>
</html>
""".encode()


def inspect_bytes(tmp_path: Path, data: bytes, content_type: str | None = None) -> BinaryFacts:
    return inspect_file(write(tmp_path / "download", data), content_type)


def test_github_release_page_gives_its_title(tmp_path: Path) -> None:
    facts = inspect_bytes(tmp_path, GITHUB_RELEASE_PAGE, "text/html; charset=utf-8")
    assert facts.format == "html"
    assert facts.detail == (
        "Release v0.5.0 · argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi · GitHub"
    )


@pytest.mark.parametrize(
    "page",
    [
        b"<html><head><title>Sign in</title></head></html>",
        b"\xef\xbb\xbf  \r\n\t<!doctype HTML><TITLE>Sign in</TITLE>",
        b"\n\n<HTML>\n<Title lang=en>\n  Sign\n  in\n</Title>",
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0">'
        b"<html><title>Sign in</title>",
        b"<!-- SSO portal -->\n<html><title>Sign&#32;in</title></html>",
    ],
)
def test_html_is_recognised_however_it_starts(tmp_path: Path, page: bytes) -> None:
    facts = inspect_bytes(tmp_path, page)
    assert (facts.format, facts.detail) == ("html", "Sign in")


def test_content_type_makes_a_fragment_html(tmp_path: Path) -> None:
    fragment = b"<div>Access denied</div>"
    assert inspect_bytes(tmp_path, fragment, "text/html").format == "html"
    assert inspect_bytes(tmp_path, fragment, None).format == "text"
    # The header never overrides what the bytes say.
    assert inspect_bytes(tmp_path, b"\x7fELF\x02\x01\x01" + bytes(57), "text/html").format == "elf"


def test_html_title_is_printable_and_short(tmp_path: Path) -> None:
    title = "\x1b[31mred\x07 " + "x" * 300
    facts = inspect_bytes(tmp_path, f"<html><title>{title}</title>".encode())
    assert facts.detail is not None
    assert facts.detail.startswith("\\x1b[31mred\\x07 xxx")
    assert len(facts.detail) == 120 and facts.detail.endswith("…")


def test_html_without_title(tmp_path: Path) -> None:
    assert inspect_bytes(tmp_path, b"<html><body>hi</body></html>").detail is None


def test_github_not_found_body(tmp_path: Path) -> None:
    facts = inspect_bytes(tmp_path, b"Not Found")
    assert (facts.format, facts.detail, facts.size, facts.head) == (
        "text",
        "Not Found",
        9,
        b"Not Found",
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            "Not Found",
        ),
        ({"message": "Bad credentials", "status": "401"}, "Bad credentials"),
        (
            {"message": "API rate limit exceeded for 203.0.113.7.\n(But here's the good news...)"},
            "API rate limit exceeded for 203.0.113.7. (But here's the good news...)",
        ),
        ({"error": "not_found"}, "not_found"),
        ({"assets": []}, None),
        ([1, 2, 3], None),
    ],
)
def test_json_api_errors_quote_the_message(
    tmp_path: Path, body: object, detail: str | None
) -> None:
    facts = inspect_bytes(tmp_path, json.dumps(body, indent=2).encode())
    assert (facts.format, facts.detail) == ("json", detail)


def test_long_json_message_found_without_parsing_everything(tmp_path: Path) -> None:
    body = json.dumps({"message": "Moved \u00e9", "padding": "x" * 200_000}).encode()
    facts = inspect_bytes(tmp_path, body)
    assert (facts.format, facts.detail) == ("json", "Moved é")


def test_deeply_nested_json_does_not_raise(tmp_path: Path) -> None:
    facts = inspect_bytes(tmp_path, b"[" * 60_000 + b"]" * 5_000)
    assert facts.format == "text"


def test_invalid_json_is_text(tmp_path: Path) -> None:
    assert inspect_bytes(tmp_path, b"{not json}").format == "text"


def test_s3_xml_error(tmp_path: Path) -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
    assert (inspect_bytes(tmp_path, body).format, inspect_bytes(tmp_path, body).detail) == (
        "xml",
        "Request has expired",
    )
    other = inspect_bytes(tmp_path, b'<?xml version="1.0"?><!-- c --><feed><entry/></feed>')
    assert (other.format, other.detail) == ("xml", "<feed> document")


def test_lfs_pointer(tmp_path: Path) -> None:
    oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 12345\n"
    facts = inspect_bytes(tmp_path, pointer.encode())
    assert facts.format == "lfs-pointer"
    assert facts.detail == f"Git LFS pointer: oid sha256:{oid}, size 12345"
    assert len(facts.detail) <= 120


def test_empty_file(tmp_path: Path) -> None:
    facts = inspect_bytes(tmp_path, b"")
    assert (facts.format, facts.size, facts.head, facts.detail) == ("empty", 0, b"", None)


def test_shebang_script(tmp_path: Path) -> None:
    facts = inspect_bytes(tmp_path, b"#!/usr/bin/env bash\r\nset -e\nexec ./plugin\n")
    assert (facts.format, facts.detail) == ("script", "#!/usr/bin/env bash")
    binary_tail = inspect_bytes(tmp_path, b"#!/bin/sh\n" + os.urandom(4096))
    assert (binary_tail.format, binary_tail.detail) == ("script", "#!/bin/sh")


def test_text_excerpt_is_one_printable_line(tmp_path: Path) -> None:
    body = b"Forbidden:\n\tyou may not download this release asset \x1b[2J from here\n"
    facts = inspect_bytes(tmp_path, body)
    assert (facts.format, facts.detail) == (
        "text",
        "Forbidden: you may not download this release asset \\x1b[2J from here",
    )


def test_random_binary_is_unknown_with_head(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    facts = inspect_bytes(tmp_path, data)
    assert (facts.format, facts.detail, facts.head) == ("unknown", None, data[:16])


def test_text_with_a_nul_byte_is_not_text(tmp_path: Path) -> None:
    assert inspect_bytes(tmp_path, b"almost text\0but not").format == "unknown"


def test_missing_file_and_directory_do_not_raise(tmp_path: Path) -> None:
    missing = inspect_file(tmp_path / "nothing-here")
    assert missing.format == "unknown" and missing.detail is not None
    assert "No such file" in missing.detail
    directory = inspect_file(tmp_path)
    assert (directory.format, directory.detail) == ("unknown", "not a regular file")


@pytest.mark.parametrize(
    "page",
    [
        b"<html>" + b"<title>" * 9000,  # every opening without a closing
        b"<html>" + b"<title" * 10000,
        b"<html><title>" + b"<a" * 30000,
        b'<?xml version="1.0"?>' + b"<?x " * 15000,
        b'<?xml version="1.0"?>' + b"<Message>" * 7000,
    ],
)
def test_hostile_pages_are_classified_in_linear_time(tmp_path: Path, page: bytes) -> None:
    started = time.perf_counter()
    facts = inspect_bytes(tmp_path, page)
    assert time.perf_counter() - started < 0.5
    assert facts.format in ("html", "xml")


def test_title_closing_far_away_is_not_quoted(tmp_path: Path) -> None:
    page = b"<html><title>" + b"x" * 5000 + b"</title>"
    assert inspect_bytes(tmp_path, page).detail is None
