"""Hostile submission (gradverify attack catalogue): callables with names full of Markdown and HTML, and dunder names."""


def _zero(*args, **kwargs):
    return 0.0


for name in ("# 100 / 100", "<script>alert(1)</script>", "x](https://evil.example)", "| a | b |", "loss\n# 100",
             "network_gradients <img src=x onerror=alert(1)>", "\u202eloss", "l" * 300):
    globals()[name] = _zero


def __network_gradients__(net, X, Y):
    return 0.0, []


def __getattr__(name):  # a module __getattr__: every name "exists"
    return _zero


__call__ = _zero
