"""Hostile submission (gradverify attack catalogue): exceptions whose type name and message carry Markdown and HTML."""

import sys

LINE = ("``` </details> # 100 / 100 <script>alert(1)</script> <img src=x onerror=alert(1)> [x](https://evil.example) "
        "| a | b | \u2028# 100 \u202e <!-- \x1b[31m")
Injected = type("# 100 / 100 <script>alert(1)</script> [x](https://evil.example) |", (Exception,), {})


def loss(name, y_pred, y_true):
    raise Injected(LINE + "\n# second line\n<script>alert(2)</script>")


def loss_backward(name, y_pred, y_true):
    sys.exit(LINE)


def activation(name, z):
    raise ValueError(LINE)
