"""Calling an implementation that may be a student's: anything it does becomes an ImplFailure with a cause.

`call(impl, "network_gradients", net, X, Y)` returns what the function returned,
or raises `ImplFailure` naming the function and what went wrong, as a `Cause`
(not defined, not implemented, raised, exited, timed out, ...) with a person's
words beside it. Properties turn an ImplFailure into a failing comparison, so the
suite never crashes on it.

A function that runs elsewhere (the grader's sandbox) can fail in ways a local call
cannot; it reports them by raising `ImplFailure` itself, and says that it keeps its
own time limit with a true `keeps_own_time_limit` attribute. This module knows
nothing of the sandbox.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from types import ModuleType
from typing import Any, Iterator

from gradverify.references.compare import Cause, Comparison, Where, failed

#: Wall-clock limit for one call of the implementation under test (seconds).
CALL_TIMEOUT = 10.0


#: How a call that raised NotImplementedError is worded, in and out of the sandbox.
NOT_IMPLEMENTED = "is not implemented (raised NotImplementedError)"


class ImplFailure(Exception):
    """The implementation did not return a usable value.

    `function` is the protocol function, `cause` why (a Cause), `message` the words for a
    person ("timed out after 10 s"); for a raised exception, `exception` is its type name and
    `detail` the first line of its message."""

    def __init__(self, function: str, cause: Cause, message: str, *, exception: str | None = None, detail: str = ""):
        super().__init__(f"{function}: {message}")
        self.function = function
        self.cause = cause
        self.message = message
        self.exception = exception
        self.detail = detail

    def comparison(self, tolerance: str = "autodiff") -> Comparison:
        """This failure as a failing comparison about its function (with the exception's type name)."""
        return failed(Where(function=self.function), self.cause, self.message, tolerance, exception=self.exception)


class _CallTimeout(BaseException):
    """Raised inside the implementation by the timer; a BaseException so `except Exception` can't swallow it."""


def _expire(signum, frame):
    raise _CallTimeout()


#: How many calls_guarded blocks are open (in the main thread): inside one, SIGALRM's handler is
#: _expire and warnings are ignored already, so a call only sets its timer.
_guarded = 0


@contextlib.contextmanager
def _warnings_ignored() -> Iterator[None]:
    """Warnings ignored in the block: an overflow warning is not a verdict; the values are checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def calls_guarded() -> Iterator[None]:
    """A block of many calls (one layer case's check makes ~6): SIGALRM's handler and the
    warnings filter that every call needs are set once for the block and restored after it,
    instead of once per call (~8 µs a call). Main thread only; elsewhere it does nothing."""
    global _guarded
    if _guarded or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    _guarded += 1
    try:
        with _warnings_ignored():
            yield
    finally:
        _guarded -= 1
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (main thread only; elsewhere no limit), warnings
    ignored in it."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        with _warnings_ignored():
            yield
        return
    with calls_guarded():
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def describe_exception(exc: BaseException) -> str:
    """'ValueError: first line of the message' (cut to 300 characters)."""
    text = _first_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def raised(function: str, type_name: str, message: str) -> ImplFailure:
    """The ImplFailure of a call that raised `type_name` with `message`."""
    detail = _first_line(message)
    if type_name == "NotImplementedError":  # the submission's own words say what is missing: keep them
        words = f"{NOT_IMPLEMENTED[:-1]}: {detail})" if detail else NOT_IMPLEMENTED
        return ImplFailure(function, Cause.NOT_IMPLEMENTED, words, exception=type_name, detail=detail)
    words = f"{type_name}: {detail}" if detail else type_name
    return ImplFailure(function, Cause.RAISED, f"raised {words}", exception=type_name, detail=detail)


def _first_line(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text if len(text) <= 300 else text[:297] + "..."


def not_defined(function: str) -> ImplFailure:
    return ImplFailure(function, Cause.NOT_DEFINED, "is not defined by the implementation")


def call(impl: ModuleType, function: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """impl.function(*args, **kwargs), or ImplFailure."""
    fn = getattr(impl, function, None)
    if not callable(fn):
        raise not_defined(function)
    if getattr(fn, "keeps_own_time_limit", False):
        timeout = 0  # e.g. the sandbox: no signal may cut into its I/O
    limit = CALL_TIMEOUT if timeout is None else timeout
    try:
        with time_limit(limit):  # warnings ignored: an overflow warning is not a verdict; the values are checked
            return fn(*args, **kwargs)
    except _CallTimeout:
        raise ImplFailure(function, Cause.TIMEOUT, f"timed out after {limit:g} s") from None
    except ImplFailure:
        raise  # a function that runs elsewhere says itself what went wrong
    except NotImplementedError as exc:
        raise raised(function, "NotImplementedError", str(exc)) from None
    except SystemExit as exc:
        raise ImplFailure(function, Cause.EXITED, f"called sys.exit({exc.code!r})") from None
    except Exception as exc:  # noqa: BLE001 - whatever the implementation raises is reported
        raise raised(function, type(exc).__name__, str(exc)) from None


def _kind(value: Any) -> str:
    if hasattr(value, "shape"):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def expect_pair(function: str, value: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ImplFailure(function, Cause.WRONG_FORM, f"returned {_kind(value)} where a pair {what} was expected")
    return value[0], value[1]


def expect_tuple(function: str, value: Any, n: int, what: str) -> tuple[Any, ...]:
    """value as a tuple of n items (lstm_step_forward's (next_h, next_c, cache))."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ImplFailure(function, Cause.WRONG_FORM, f"returned {_kind(value)} where a tuple {what} was expected")
    return tuple(value)


def expect_layers(function: str, value: Any, n_layers: int, what: str) -> list[dict]:
    """A list of n_layers dicts, each with 'W' and 'b'."""
    if not isinstance(value, (list, tuple)) or len(value) != n_layers:
        raise ImplFailure(
            function,
            Cause.WRONG_FORM,
            f"returned {what} as {_kind(value)} where a list of {n_layers} (one per layer) was expected",
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "W" not in item or "b" not in item:
            raise ImplFailure(
                function, Cause.WRONG_FORM, f"returned {what}[{i}] as {_kind(item)} where a dict with 'W' and 'b' was expected"
            )
    return list(value)


def expect_float(function: str, value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ImplFailure(function, Cause.WRONG_FORM, f"returned {what} as {_kind(value)} where a number was expected") from None
    except OverflowError:  # an int beyond float64's range, 10**400
        raise ImplFailure(function, Cause.NOT_NUMBERS, f"returned {what} as an integer too large for a float64") from None
