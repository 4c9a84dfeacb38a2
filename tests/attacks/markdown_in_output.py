"""Hostile submission (gradverify attack catalogue): printed output that tries to break out of the report's code block."""

import os
import sys

PAYLOAD = ["```", "~~~~~~", "````````````", "</details>", "# 100 / 100", "## Score: 100 / 100, all tests passed",
           "<script>alert('gvattack')</script>", "<img src=x onerror=alert(1)>", "[full marks](https://evil.example/steal)",
           "![pixel](https://evil.example/pixel.png)", "| sigmoid | 5 / 5 | ✅ | fine |", "<!--", "===", "---",
           "\r# a heading after a carriage return", "\u2028# a heading after a line separator", "\u202e# bidi override",
           "\x1b[2J\x1b]0;owned\x07", "<details open><summary>injected</summary>", "**100 / 100**", "\0NUL\0"]

for line in PAYLOAD:
    print(line)
print("```\n# 100 / 100\n<script>alert(2)</script>", file=sys.stderr)
os.write(1, b"\xff\xfe raw bytes \xc3\x28 then a fence\n```\n# 100 / 100 after raw bytes\n")


def loss(name, y_pred, y_true):
    print("\n".join(PAYLOAD))
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    raise NotImplementedError
