"""Strings that are safe to show. YAML values, URLs, server answers and downloads end up in
terminal output, GitHub annotations and error messages, so control characters (ANSI and
OSC escapes, carriage returns, line breaks that would start a workflow command) are shown
escaped, never sent."""

from __future__ import annotations

import io
import re
from typing import TextIO

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


# --- streams --------------------------------------------------------------------------------

# The Actions runner reads every line of a step's stdout and stderr (split at \r, \n and
# \r\n, like .NET `ReadLine`) as a workflow command when it is `::name ...::data` after
# leading white space (`TryParseV2`) or holds the legacy `##[name ...]data` anywhere
# (`TryParse`, tried when v2 fails): actions/runner src/Runner.Common/ActionCommand.cs,
# src/Runner.Worker/ActionCommandManager.cs. The escapes below are JSON string escapes, so a
# JSON or SARIF report carries the same data (`[` can only be inside a string there, and no
# line of indented JSON starts with `:`), and text shows them as escapes.
_LEGACY_COMMAND = re.compile(r"##\[")
_COMMAND_AT_LINE_START = re.compile(r"([\r\n][^\S\r\n]*:):")
_COMMAND_AFTER_LF = re.compile(r"(\n[^\S\r\n]*:):")  # the same, several times faster
_LINE_HEAD = re.compile(r"[^\S\r\n]*(:?)")
_AT_LINE_START = "\n"
# Stands before the last characters of a line that is not at its head: no line break there.
_MID_LINE = "\x00"


class ReaderGone(Exception):
    """The reader of a stream we print to went away (`| head -1`): a broken pipe while
    writing output, told apart from one met anywhere else in a run."""


class GuardedStream(io.TextIOBase):
    """A text stream every line goes through before it reaches `target`:

    - with `neutralise` (in GitHub Actions, and for `--format github`), `##[` and a `::` at
      the head of a line are written `##\\u005b` and `:\\u003a`, so no line we print is a
      workflow command, whatever the pull request put in it; only `command()` writes one;
    - what `target`'s encoding cannot hold (a cp1252 pipe on Windows, a lone surrogate from
      an undecodable file name) is written as a backslash escape instead of failing.

    It keeps no text back: a `##` or `:` at the end of one write is remembered, and the
    character after it is the one escaped."""

    def __init__(self, target: TextIO, neutralise: bool) -> None:
        super().__init__()
        self.target = target
        self.neutralise = neutralise
        self._context = _AT_LINE_START  # the end of the line written so far, as it matters

    def write(self, text: str) -> int:
        if self.neutralise and text:
            context = self._context
            combined = context + text
            # Each escape keeps the characters before the one it replaces, so the context
            # (already written) is the same length in `escaped` as in `combined`.
            escaped = combined
            if ":" in escaped:
                heads = _COMMAND_AT_LINE_START if "\r" in escaped else _COMMAND_AFTER_LF
                escaped = heads.sub(r"\1\\u003a", escaped)
            if "##[" in escaped:
                escaped = _LEGACY_COMMAND.sub(r"##\\u005b", escaped)
            self._remember(combined)
            self._send(escaped[len(context) :])
        else:
            self._send(text)
        return len(text)

    def command(self, line: str) -> None:
        """Write one workflow command of ours (its own line; its values already escaped)."""
        if self._context != _AT_LINE_START:
            self._send("\n")
        self._send(_LEGACY_COMMAND.sub(r"##\\u005b", line) + "\n")
        self._context = _AT_LINE_START

    def _remember(self, combined: str) -> None:
        line = combined[max(combined.rfind("\n"), combined.rfind("\r")) + 1 :]
        head = _LINE_HEAD.fullmatch(line)
        self._context = _AT_LINE_START + head.group(1) if head else _MID_LINE + line[-2:]

    def _send(self, text: str) -> None:
        try:
            try:
                self.target.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self.target, "encoding", None) or "utf-8"
                self.target.write(text.encode(encoding, "backslashreplace").decode(encoding))
        except BrokenPipeError as error:
            raise ReaderGone from error

    def flush(self) -> None:
        try:
            self.target.flush()
        except BrokenPipeError as error:
            raise ReaderGone from error

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True


def guarded(stream: TextIO) -> GuardedStream:
    """`stream` as a neutralising GuardedStream (itself when it already is one)."""
    if isinstance(stream, GuardedStream) and stream.neutralise:
        return stream
    return GuardedStream(stream, neutralise=True)
