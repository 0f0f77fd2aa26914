"""A reader for the part of Terraform's native syntax (HCL 2) that a `helm_release` is
written in, with the exact position of every value. python-hcl2 gives values without
positions (8.1.4), and a plugin finding must point at its line, so we read it ourselves.

What is read: blocks and attributes, strings (escapes decoded; `${...}` and `%{...}`
templates kept as written and flagged), heredocs (`<<EOF` and `<<-EOF`), numbers, bools,
null, objects, tuples and function calls. Every other expression (`var.x`, conditionals,
`for` expressions, operators) is skipped over and kept as its source text. Comments are
`#`, `//` and `/* */`. Nesting is bounded, and every problem is one `HclProblem` with a
position, never anything else."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from rollouts_plugin_lint.model import LINE_BREAK

MAX_DEPTH = 64
# A helm_release has a few hundred tokens, a large Terraform file tens of thousands; this
# bounds a hostile 8 MiB file to a second or two and some 70 MB.
MAX_TOKENS = 200_000


@dataclass(frozen=True)
class HclProblem(Exception):
    """Text that is not the HCL we read, at a 0-based (line, column)."""

    message: str
    line: int
    column: int


# -- values ---------------------------------------------------------------------------------


@dataclass
class Value:
    """Any value, with its character offsets in the text (end exclusive)."""

    start: int
    end: int


@dataclass
class Literal(Value):
    """A string without templates, a number, a bool or null."""

    value: str | int | float | bool | None


@dataclass
class Expression(Value):
    """What Terraform computes: a reference, an operator, a template string (`"${x}"`)."""

    text: str


@dataclass
class Heredoc(Value):
    """`<<EOF` or `<<-EOF`: `text` is the string Terraform makes of it; content line `n`
    is file line `first_line + n` and starts `indent` characters into it."""

    text: str
    first_line: int
    indent: int
    # (line, column) in `text` of each `${` Terraform fills in (columns as written)
    interpolations: list[tuple[int, int]]
    directives: bool  # holds `%{...}`


@dataclass
class Key:
    name: str | None  # None: a computed key `(expr)`
    start: int
    end: int


@dataclass
class Object(Value):
    items: list[tuple[Key, Value]]


@dataclass
class Tuple(Value):
    items: list[Value]


@dataclass
class Call(Value):
    name: str
    args: list[Value]


@dataclass
class Attribute:
    name: str
    name_start: int
    value: Value


@dataclass
class Block:
    type: str
    labels: list[str]
    start: int
    end: int
    body: list[Attribute | Block] = field(default_factory=list)

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.body if isinstance(a, Attribute) and a.name == name), None)

    def blocks(self, name: str) -> list[Block]:
        return [b for b in self.body if isinstance(b, Block) and b.type == name]


class Text:
    """A parsed file: its top-level body and a way to turn offsets into positions."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.body: list[Attribute | Block] = []
        # (start, end) of the comments that mention a plugin, in order.
        self.comments: list[tuple[int, int]] = []
        self._line_starts: list[int] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        """0-based (line, column) of a character offset, lines as the YAML reader counts."""
        if self._line_starts is None:
            self._line_starts = _line_starts(self.source)
        line = bisect_right(self._line_starts, offset) - 1
        return line, offset - self._line_starts[line]


# -- tokens ---------------------------------------------------------------------------------

_SKIP = re.compile(r"(?:[ \t\r\f\v]+|#[^\n]*|//[^\n]*)+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[^\W\d][\w-]*")
_HEREDOC = re.compile(r"<<(-?)([^\W\d][\w-]*)[ \t]*\r?\n")
_STRING_STOP = re.compile(r'["\\\n]|\$\{|%\{|\$\$\{|%%\{')
_TEMPLATE_STOP = re.compile(r'[{}"\n]')
_TEMPLATE_STRING_STOP = re.compile(r'["\\\n]|\$\{|%\{')
_INTERPOLATION = re.compile(r"(?<!\$)\$\{")
_DIRECTIVE = re.compile(r"(?<!%)%\{")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "=>", "...")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, number, string, heredoc, punct, newline, end
    text: str  # for punct and ident: the token; for string: the decoded literal
    start: int
    end: int
    template: bool = False  # a string with `${` or `%{`
    heredoc: Heredoc | None = None


class _Tokenizer:
    def __init__(self, source: str, problem: _ProblemAt) -> None:
        self.source = source
        self.problem = problem
        self.tokens: list[_Token] = []
        # Comments (and the blanks around them) that mention a plugin: they configure nothing.
        self.comments: list[tuple[int, int]] = []

    def run(self) -> list[_Token]:
        source, position, length = self.source, 0, len(self.source)
        while position < length:
            skipped = _SKIP.match(source, position)
            if skipped:
                if "lugin" in skipped.group():
                    self.comments.append((position, skipped.end()))
                position = skipped.end()
                continue
            if len(self.tokens) > MAX_TOKENS:
                raise self.problem(f"more than {MAX_TOKENS:,} tokens; not read", position)
            char = source[position]
            if char == "\n":
                self.tokens.append(_Token("newline", "\n", position, position + 1))
                position += 1
            elif source.startswith("/*", position):
                end = source.find("*/", position + 2)
                if end < 0:
                    raise self.problem("a `/*` comment is never closed", position)
                newlines = source.count("\n", position, end)
                if newlines:  # a comment over lines ends the line it started on
                    self.tokens.append(_Token("newline", "\n", end, end + 2))
                if "lugin" in source[position:end]:
                    self.comments.append((position, end + 2))
                position = end + 2
            elif char == '"':
                position = self._string(position)
            elif (heredoc := _HEREDOC.match(source, position)) is not None:
                position = self._heredoc(position, heredoc)
            elif (number := _NUMBER.match(source, position)) is not None:
                self.tokens.append(_Token("number", number.group(), position, number.end()))
                position = number.end()
            elif (ident := _IDENT.match(source, position)) is not None:
                self.tokens.append(_Token("ident", ident.group(), position, ident.end()))
                position = ident.end()
            else:
                operator = next((o for o in _OPERATORS if source.startswith(o, position)), char)
                if not operator.isprintable() or operator.isalnum():
                    raise self.problem(f"unexpected character {char!r}", position)
                end = position + len(operator)
                self.tokens.append(_Token("punct", operator, position, end))
                position = end
        self.tokens.append(_Token("end", "", length, length))
        return self.tokens

    def _string(self, start: int) -> int:
        """A quoted string; templates inside are skipped over, with the strings they hold."""
        text, chunks, template = self.source, [], False
        position = start + 1
        while True:
            stop = _STRING_STOP.search(text, position)
            if stop is None or stop.group() == "\n":
                raise self.problem("a string is not closed on its line", start)
            chunks.append(text[position : stop.start()])
            found, position = stop.group(), stop.end()
            if found == '"':
                break
            if found == "\\":
                position = self._escape(position, chunks)
            elif found in ("$${", "%%{"):
                chunks.append(found[1:])
            else:
                template = True
                end = self._template_end(position, start)
                chunks.append(text[stop.start() : end])
                position = end
        self.tokens.append(_Token("string", "".join(chunks), start, position, template))
        return position

    def _escape(self, position: int, chunks: list[str]) -> int:
        text = self.source
        letter = text[position : position + 1]
        if letter in _ESCAPES:
            chunks.append(_ESCAPES[letter])
            return position + 1
        width = {"u": 4, "U": 8}.get(letter)
        digits = text[position + 1 : position + 1 + width] if width else ""
        if width and re.fullmatch(r"[0-9a-fA-F]+", digits) and len(digits) == width:
            code = int(digits, 16)
            if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                chunks.append(chr(code))
                return position + 1 + width
        raise self.problem(f"invalid escape `\\{letter}` in a string", position - 1)

    def _template_end(self, position: int, string_start: int, nesting: int = 1) -> int:
        """The end of a `${...}` or `%{...}` opened just before `position`: braces counted,
        quoted strings inside skipped (each may hold templates of its own)."""
        if nesting > MAX_DEPTH:
            raise self.problem(f"templates nest deeper than {MAX_DEPTH}; not read", position)
        text, depth = self.source, 1
        while depth:
            if depth > MAX_DEPTH:
                raise self.problem(f"braces nest deeper than {MAX_DEPTH}; not read", position)
            stop = _TEMPLATE_STOP.search(text, position)
            if stop is None or stop.group() == "\n":
                raise self.problem("a `${` template is not closed on its line", string_start)
            position = stop.end()
            if stop.group() == "{":
                depth += 1
            elif stop.group() == "}":
                depth -= 1
            else:  # a string inside the template: skip it, templates and all
                position = self._skip_string(position, string_start, nesting)
        return position

    def _skip_string(self, position: int, string_start: int, nesting: int) -> int:
        text = self.source
        while True:
            stop = _TEMPLATE_STRING_STOP.search(text, position)
            if stop is None or stop.group() == "\n":
                raise self.problem("a string is not closed on its line", string_start)
            position = stop.end()
            if stop.group() == '"':
                return position
            if stop.group() == "\\":
                position += 1
            else:
                position = self._template_end(position, string_start, nesting + 1)

    def _heredoc(self, start: int, header: re.Match[str]) -> int:
        flush, marker = header.group(1) == "-", header.group(2)
        text = self.source
        position = header.end()
        lines = []
        while True:
            if position >= len(text):
                raise self.problem(f"the heredoc `<<{header.group(1)}{marker}` is never closed "
                                   f"(no line `{marker}` after it)", start)  # fmt: skip
            end = text.find("\n", position)
            end = len(text) if end < 0 else end
            line = text[position:end].removesuffix("\r")
            if line.strip(" \t") == marker:
                break
            lines.append(line)
            position = end + 1
        closing = min(end, len(text))
        indent = 0
        if flush:
            widths = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
            indent = min(widths, default=0)
            lines = [line[min(indent, len(line) - len(line.lstrip(" \t"))) :] for line in lines]
        interpolations = [
            (number, match.start())
            for number, line in enumerate(lines)
            for match in _INTERPOLATION.finditer(line)
        ]
        body = "".join(line + "\n" for line in lines)
        directives = _DIRECTIVE.search(body) is not None
        # An escape shifts the columns after it on its line by one: rare enough to accept.
        body = body.replace("$${", "${").replace("%%{", "%{")
        first_line = self.problem.text.position(header.end())[0]
        heredoc = Heredoc(start, closing, body, first_line, indent, interpolations, directives)
        self.tokens.append(_Token("heredoc", marker, start, closing, heredoc=heredoc))
        # The heredoc ends its line, as the newline after its closing marker does.
        return closing


class _ProblemAt:
    """Makes an HclProblem at a character offset."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __call__(self, message: str, offset: int) -> HclProblem:
        source = self.text.source
        if any(rare in source for rare in _RARE_BREAKS):
            line, column = self.text.position(offset)
        else:  # one problem per file: counting is cheaper than every line's start
            line = source.count("\n", 0, offset)
            column = offset - (source.rfind("\n", 0, offset) + 1)
        return HclProblem(message, line, column)


# -- parser ---------------------------------------------------------------------------------

_CLOSING = {"{": "}", "[": "]", "(": ")"}
_LITERAL_WORDS: dict[str, bool | None] = {"true": True, "false": False, "null": None}


class _Parser:
    def __init__(self, tokens: list[_Token], source: str, problem: _ProblemAt) -> None:
        self.tokens = tokens
        self.source = source
        self.problem = problem
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def skip_newlines(self) -> None:
        while self.token.kind == "newline":
            self.index += 1

    def fail(self, message: str, token: _Token | None = None) -> HclProblem:
        return self.problem(message, (token or self.token).start)

    def body(self, depth: int, closed: bool) -> list[Attribute | Block]:
        """Attributes and blocks up to `}` (when `closed`) or the end of the text."""
        if depth > MAX_DEPTH:
            raise self.fail(f"blocks nest deeper than {MAX_DEPTH}; not read")
        items: list[Attribute | Block] = []
        while True:
            self.skip_newlines()
            token = self.token
            if token.kind == "end":
                if closed:
                    raise self.fail("a block is not closed with `}`")
                return items
            if closed and token.text == "}" and token.kind == "punct":
                self.advance()
                return items
            if token.kind != "ident":
                raise self.fail("expected an attribute name or a block type")
            self.advance()
            if self.token.text == "=" and self.token.kind == "punct":
                self.advance()
                value = self.expression(depth + 1)
                items.append(Attribute(token.text, token.start, value))
                self._end_of_item(closed)
                continue
            labels = []
            while self.token.kind in ("string", "ident"):
                labels.append(self.advance().text)
            if not (self.token.kind == "punct" and self.token.text == "{"):
                raise self.fail(f"expected `=` or `{{` after `{token.text}`")
            self.advance()
            inner = self.body(depth + 1, closed=True)
            items.append(Block(token.text, labels, token.start, self.tokens[self.index - 1].end,
                               inner))  # fmt: skip

    def _end_of_item(self, closed: bool) -> None:
        token = self.token
        if token.kind in ("newline", "end") or (closed and token.text == "}"):
            return
        raise self.fail("expected the end of the line after an attribute")

    def expression(self, depth: int) -> Value:
        """One expression: a value we read, or the source text of one we do not."""
        start_index = self.index
        value = self.primary(depth)
        if self._ends_expression():
            return value
        self.index = start_index
        return self.skip_expression()

    def _ends_expression(self) -> bool:
        token = self.token
        return token.kind in ("newline", "end") or (
            token.kind == "punct" and token.text in (",", "}", "]", ")", "=", ":")
        )

    def primary(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise self.fail(f"values nest deeper than {MAX_DEPTH}; not read")
        token = self.token
        if token.kind == "string":
            self.advance()
            if token.template:
                return Expression(token.start, token.end, self.source[token.start : token.end])
            return Literal(token.start, token.end, token.text)
        if token.kind == "heredoc" and token.heredoc is not None:
            self.advance()
            return token.heredoc
        if token.kind == "number":
            self.advance()
            return Literal(token.start, token.end, _number(token.text))
        if token.kind == "ident":
            following = self.tokens[self.index + 1]
            if token.text in _LITERAL_WORDS and following.text not in (".", "["):
                self.advance()
                return Literal(token.start, token.end, _LITERAL_WORDS[token.text])
            if following.kind == "punct" and following.text == "(":
                return self.call(depth)
        if token.kind == "punct" and token.text in ("{", "[") and not self._is_for():
            return self.collection(depth)
        if token.kind == "punct" and token.text == "-" and self._next_is("number"):
            self.advance()
            number = self.advance()
            value = _number(number.text)
            return Literal(token.start, number.end, -value)
        return self.skip_expression()

    def _next_is(self, kind: str) -> bool:
        return self.tokens[self.index + 1].kind == kind

    def _is_for(self) -> bool:
        """`[for x in y : x]` and `{for k, v in m : k => v}`: expressions we do not read."""
        index = self.index + 1
        while self.tokens[index].kind == "newline":
            index += 1
        return self.tokens[index].kind == "ident" and self.tokens[index].text == "for"

    def call(self, depth: int) -> Value:
        name = self.advance()
        self.advance()  # (
        args: list[Value] = []
        while True:
            self.skip_newlines()
            token = self.token
            if token.kind == "punct" and token.text == ")":
                break
            args.append(self.expression(depth + 1))
            self.skip_newlines()
            if self.token.kind == "punct" and self.token.text == "...":
                self.advance()
                self.skip_newlines()
            if self.token.kind == "punct" and self.token.text == ",":
                self.advance()
            elif not (self.token.kind == "punct" and self.token.text == ")"):
                raise self.fail(f"expected `,` or `)` in the call of `{name.text}`")
        end = self.advance()
        return Call(name.start, end.end, name.text, args)

    def collection(self, depth: int) -> Value:
        opening = self.advance()
        closing = _CLOSING[opening.text]
        items: list[Value] = []
        pairs: list[tuple[Key, Value]] = []
        while True:
            self.skip_newlines()
            token = self.token
            if token.kind == "punct" and token.text == closing:
                break
            if token.kind == "end":
                raise self.fail(f"`{opening.text}` is not closed with `{closing}`", opening)
            if opening.text == "[":
                items.append(self.expression(depth + 1))
                self.skip_newlines()  # new lines mean nothing inside brackets
            else:
                key = self._key(depth)
                if not (self.token.kind == "punct" and self.token.text in ("=", ":")):
                    raise self.fail("expected `=` after an object key")
                self.advance()
                pairs.append((key, self.expression(depth + 1)))
            if self.token.kind == "punct" and self.token.text == ",":
                self.advance()
            elif not (
                self.token.kind == "newline"
                or (self.token.kind == "punct" and self.token.text == closing)
            ):
                raise self.fail(f"expected `,`, a new line or `{closing}`")
        end = self.advance()
        if opening.text == "[":
            return Tuple(opening.start, end.end, items)
        return Object(opening.start, end.end, pairs)

    def _key(self, depth: int) -> Key:
        token = self.token
        if token.kind == "ident" or (token.kind == "string" and not token.template):
            self.advance()
            return Key(token.text, token.start, token.end)
        value = self.expression(depth + 1)
        return Key(None, value.start, value.end)

    def skip_expression(self) -> Expression:
        """Step over an expression we do not read, to where it ends: a new line, `,` or a
        closing bracket outside any bracket it opened."""
        start = self.token
        open_brackets: list[str] = []
        while True:
            token = self.token
            if token.kind == "end":
                if open_brackets:
                    raise self.fail(f"`{open_brackets[-1]}` is not closed", start)
                break
            if token.kind == "punct":
                if token.text in _CLOSING:
                    if len(open_brackets) >= MAX_DEPTH:
                        raise self.fail(f"values nest deeper than {MAX_DEPTH}; not read")
                    open_brackets.append(token.text)
                elif token.text in _CLOSING.values():
                    if not open_brackets:
                        break
                    if _CLOSING[open_brackets.pop()] != token.text:
                        raise self.fail(f"unexpected `{token.text}`")
                elif token.text in (",", "=") and not open_brackets:
                    break
            elif token.kind == "newline" and not open_brackets:
                break
            self.advance()
        end = self.tokens[self.index - 1].end if self.index > 0 else start.start
        if self.token is start:
            raise self.fail("expected a value")
        return Expression(start.start, end, self.source[start.start : end])


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _line_starts(source: str) -> list[int]:
    if any(rare in source for rare in _RARE_BREAKS):
        return [0, *(match.end() for match in LINE_BREAK.finditer(source))]
    # str.find costs a third of the pattern's match objects over a large file.
    starts, find = [0], source.find
    position = find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = find("\n", position + 1)
    return starts


_RARE_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def parse(source: str) -> Text:
    """The body of a Terraform file. Raises HclProblem for what it cannot read."""
    text = Text(source)
    problem = _ProblemAt(text)
    tokenizer = _Tokenizer(source, problem)
    tokens = tokenizer.run()
    text.comments = tokenizer.comments
    text.body = _Parser(tokens, source, problem).body(0, closed=False)
    return text
