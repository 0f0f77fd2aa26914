"""Strings that are safe to show. YAML values, URLs, server answers and downloads end up in
terminal output, GitHub annotations and error messages, so control characters (ANSI and
OSC escapes, carriage returns, line breaks that would start a workflow command) are shown
escaped, never sent."""

from __future__ import annotations

DETAIL_LIMIT = 120
ELLIPSIS = "…"
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, limit: int | None = DETAIL_LIMIT, keep_newlines: bool = False) -> str:
    """`text` with every non-printable character escaped (line breaks kept when asked), at
    most `limit` characters (no limit: None)."""
    escaped: list[str] = []
    length = 0
    # Escaping only makes text longer, so one character more than the limit is enough.
    for char in text if limit is None else text[: limit + 1]:
        if char.isprintable() or (keep_newlines and char == "\n"):
            piece = char
        elif char in _NAMED_ESCAPES:
            piece = _NAMED_ESCAPES[char]
        elif ord(char) < 0x100:
            piece = f"\\x{ord(char):02x}"
        elif ord(char) < 0x10000:
            piece = f"\\u{ord(char):04x}"
        else:
            piece = f"\\U{ord(char):08x}"
        escaped.append(piece)
        length += len(piece)
        if limit is not None and length > limit:
            break
    result = "".join(escaped)
    if limit is not None and len(result) > limit:
        result = result[: limit - 1] + ELLIPSIS
    return result


def one_line(text: str, limit: int = DETAIL_LIMIT) -> str:
    """`printable` after folding every run of whitespace (line breaks included) to a space."""
    return printable(" ".join(text[: limit * 8].split()), limit)


def latin1(data: bytes) -> str:
    """Bytes from a binary header as text; every byte maps to one character."""
    return data.decode("latin-1")
