"""Hostile submission (gradverify attack catalogue): take over the sandbox's worker (it is __main__) and forge replies."""

import itertools

import __main__

_count = itertools.count()


def _forged(module, request):
    n = next(_count)
    ident = request.get("id", 0)
    if n % 3 == 0:  # a reply for a call the grader has not made yet
        return __main__.dump_message({"id": ident + 7, "ok": 0.0})
    if n % 3 == 1:  # a plausible answer with a tag the codec might trust
        return __main__.dump_message({"id": ident, "ok": {"__object__": "float", "repr": "0.0"}})
    return __main__.dump_message({"id": ident, "ok": [0.0] * 8})


if hasattr(__main__, "reply_to"):
    __main__.reply_to = _forged
    print("hijacked the worker")


def loss(name, y_pred, y_true):
    raise NotImplementedError


def loss_backward(name, y_pred, y_true):
    raise NotImplementedError
