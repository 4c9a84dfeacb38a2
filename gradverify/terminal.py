"""Terminal lines that text from outside cannot take over: what a submission raised or is named stays text.

The CLI prints things it did not write itself (exception messages, file names, causes that
quote a submission, a grader process's last words). A control character in them would be
obeyed by the terminal: ESC starts a sequence that moves the cursor, rewrites the line above
("0 / 5" shown as "100 / 100"), retitles the window or, with OSC 52, writes the clipboard; a
carriage return or backspace overprints; a bidi override reorders what follows. So every such
piece goes through `inert`, which shows each of them as a visible escape instead:

    inert("ok\x1b[2K\r100 / 100")  ->  'ok\\x1b[2K\\r100 / 100'

and a file name that is not UTF-8 (its bytes kept as surrogates by Python) shows its bytes as
`\\xNN`, where printing it would raise UnicodeEncodeError.
"""

from __future__ import annotations

import re

#: C0 controls (newline and tab included: one item is one line), DEL, C1 controls, the Unicode
#: line and paragraph separators, the bidi embeddings, overrides and isolates, and lone
#: surrogates (undecodable bytes of a file name).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: object, limit: int = 2000) -> str:
    """`text` as one line a terminal shows as it is: every control character a visible escape,
    at most `limit` characters (longer is cut, with '…')."""
    flat = _UNSAFE.sub(_escape, str(text))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
