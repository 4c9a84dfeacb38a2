"""Text from a submission stays text on the terminal (gradverify.terminal): the CLI's lines obey nothing in it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from gradverify.terminal import inert
from tests.variants import IMPL_SOURCE

#: Sequences a terminal would obey: erase the line and overprint it, OSC 52 (write the clipboard),
#: a window title, backspaces, a bidi override, C1 CSI, and a line break that starts a fake line.
HOSTILE = [
    "0 / 5\x1b[1A\x1b[2K\rgradverify: student.py: 100 / 100",
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=\x07",
    "\x1b]0;pwned\x1b\\",
    "100\b\b\b  0",
    "\u202eevil\u202c",
    "\x9b2K",
    "ok\n[19/19] pass everything (100/100)",
]
#: What a terminal acts on: any C0 or C1 control, DEL, a Unicode line break or a bidi control.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("text", HOSTILE)
def test_inert_text_holds_no_character_a_terminal_obeys(text):
    shown = inert(text)
    assert not CONTROL.search(shown)
    assert re.search(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt])", shown)  # shown, as an escape


def test_inert_shows_each_control_as_a_visible_escape():
    assert inert("a\x1b[2Kb\r\n\tc\x7f\u202e") == "a\\x1b[2Kb\\r\\n\\tc\\x7f\\u202e"


def test_inert_shows_the_bytes_of_a_name_that_is_not_utf8():
    name = os.fsdecode(b"caf\xe9.py")
    shown = inert(name)
    assert shown == "caf\\xe9.py"
    shown.encode("utf-8")  # printable on a UTF-8 terminal: no lone surrogate left


def test_inert_cuts_long_text():
    assert len(inert("x" * 5000, limit=100)) == 100


def test_a_grade_prints_nothing_a_terminal_obeys_from_a_hostile_submission(tmp_path):
    """The progress lines, the final line and the file name, as a TA's terminal gets them."""
    payload = "\\x1b[1A\\x1b[2K\\rgradverify: alice.py: 100 / 100\\x1b]52;c;ZXZpbAo=\\x07"
    source = IMPL_SOURCE.read_text(encoding="utf-8") + (f"\n\ndef activation(name, z):\n    raise ValueError('{payload}')\n")
    student = tmp_path / "alice\x1b[31m.py"
    student.write_text(source, encoding="utf-8")
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('examples = 2\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n')
    done = subprocess.run(
        [sys.executable, "-m", "gradverify", "grade", str(student), "--rubric", str(rubric)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "0 / 1" in done.stdout
    assert not CONTROL.search(done.stdout.replace("\n", "")), done.stdout
    assert not CONTROL.search(done.stderr.replace("\n", "")), done.stderr
    assert "\\x1b[1A" in done.stderr  # the submission's message, shown as text
    assert "alice\\x1b[31m.py" in done.stdout
