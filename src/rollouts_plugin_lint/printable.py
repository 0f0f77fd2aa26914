"""Strings that are safe to show: whatever a download contains ends up in terminal output
and GitHub annotations, so control characters are escaped and length is capped."""

from __future__ import annotations

DETAIL_LIMIT = 120
ELLIPSIS = "…"
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, limit: int = DETAIL_LIMIT) -> str:
    """`text` with every non-printable character escaped, at most `limit` characters."""
    escaped: list[str] = []
    length = 0
    # Escaping only makes text longer, so one character more than the limit is enough.
    for char in text[: limit + 1]:
        if char.isprintable():
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
        if length > limit:
            break
    result = "".join(escaped)
    if len(result) > limit:
        result = result[: limit - 1] + ELLIPSIS
    return result


def one_line(text: str, limit: int = DETAIL_LIMIT) -> str:
    """`printable` after folding every run of whitespace (line breaks included) to a space."""
    return printable(" ".join(text[: limit * 8].split()), limit)


def latin1(data: bytes) -> str:
    """Bytes from a binary header as text; every byte maps to one character."""
    return data.decode("latin-1")
