"""Markdown that text from outside cannot break: what a submission printed or raised stays text.

Every report renders text it did not write itself (exception messages, printed output, file
names, values) through these two functions, so that it cannot close its block, start a
heading, add HTML, links or images, or break a table:

    inline(text)   for table cells and sentences: one line, Markdown and HTML characters escaped,
                   bare URLs and e-mail addresses kept from becoming links
    code(text)     an inline code span (file names, module names): one line, nothing interpreted
    block(text)    a fenced code block whose fence is longer than any backtick run in the text

and `escaped(name)` writes what would not show as itself (a newline, the bytes of a file name
that is not UTF-8) as a backslash escape, so that two names never look alike.
"""

from __future__ import annotations

import html
import re

#: Characters with a meaning in (GitHub-flavoured) Markdown anywhere in a line, escaped with a
#: backslash ('.', '-' and '+' start lists only at the start of a line, where inline text never is).
#: GFM's autolink triggers are escaped too, so that a bare URL or address stays text: the ':' of
#: 'scheme://', the '@' of 'user@host' and the '.' of 'www.'.
_SPECIAL = re.compile(r"[\\`*_{}\[\]()#!|~<>]|(?<=[a-z]):(?=//)|(?<=[\w.+-])@(?=\w)|(?<=\bwww)\.", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def inline(text: object, limit: int = 500) -> str:
    """`text` as inert inline Markdown: one line, at most `limit` characters of it."""
    flat = " ".join(str(text).split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return _SPECIAL.sub(lambda m: "\\" + m.group(), html.escape(_CONTROL.sub("?", flat), quote=False))


def code(text: object, limit: int = 300) -> str:
    """`text` as an inline code span it cannot close (one line, at most `limit` characters)."""
    flat = _CONTROL.sub("?", " ".join(str(text).split()))[:limit]
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def block(text: object, info: str = "text") -> str:
    """`text` as a fenced code block it cannot close (control characters but newlines and tabs shown as ?)."""
    body = _CONTROL.sub("?", str(text).replace("\r\n", "\n").replace("\r", "\n")).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+|~+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """`text` with every character that would not show as itself written as a backslash escape:
    a backslash doubled, a newline as \\n, other control and invisible formatting characters as
    \\x1b (below 0x80) or \\u0085, \\u202e, and each byte of a file name that is not UTF-8
    (os.fsdecode's surrogates) as \\xe9 (0x80 and above). Two different texts never give one (a
    file name shown in a report, a summary or on the terminal); printable text without a
    backslash is itself."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
