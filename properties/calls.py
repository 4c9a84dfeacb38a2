"""Calling an implementation that may be a student's: anything it does becomes a message.

`call(impl, "network_gradients", net, X, Y)` returns what the function returned,
or raises `ImplFailure` naming the function and what went wrong: not defined,
raised, called sys.exit, ran past the time limit. Properties turn an
ImplFailure into a failing comparison, so the suite never crashes on it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from types import ModuleType
from typing import Any, Iterator

from properties.sandbox import NOT_IMPLEMENTED, RemoteFunction, SubmissionCallError

#: Wall-clock limit for one call of the implementation under test (seconds).
CALL_TIMEOUT = 10.0


class ImplFailure(Exception):
    """The implementation did not return a usable value; `label` and `message` say where and why."""

    def __init__(self, label: str, message: str):
        super().__init__(f"{label}: {message}")
        self.label = label
        self.message = message


class _CallTimeout(BaseException):
    """Raised inside the implementation by the timer; a BaseException so `except Exception` can't swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (main thread only; elsewhere no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expire(signum, frame):
        raise _CallTimeout()

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_exception(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call(impl: ModuleType, function: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """impl.function(*args, **kwargs), or ImplFailure."""
    fn = getattr(impl, function, None)
    if not callable(fn):
        raise ImplFailure(function, "is not defined by the implementation")
    if isinstance(fn, RemoteFunction):
        timeout = 0  # the sandbox keeps its own wall-clock limits; no signal may cut into its I/O
    try:
        with time_limit(CALL_TIMEOUT if timeout is None else timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an overflow warning is not a verdict; the values are checked
            return fn(*args, **kwargs)
    except _CallTimeout:
        raise ImplFailure(function, f"timed out after {CALL_TIMEOUT if timeout is None else timeout:g} s") from None
    except SubmissionCallError as exc:  # the call ran in a sandbox, which says what went wrong
        raise ImplFailure(function, exc.cause) from None
    except SystemExit as exc:
        raise ImplFailure(function, f"called sys.exit({exc.code!r})") from None
    except NotImplementedError:
        raise ImplFailure(function, NOT_IMPLEMENTED) from None
    except Exception as exc:  # noqa: BLE001 - whatever the implementation raises is reported
        raise ImplFailure(function, f"raised {describe_exception(exc)}") from None


def _kind(value: Any) -> str:
    if hasattr(value, "shape"):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def expect_pair(function: str, value: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ImplFailure(function, f"returned {_kind(value)} where a pair {what} was expected")
    return value[0], value[1]


def expect_layers(function: str, value: Any, n_layers: int, what: str) -> list[dict]:
    """A list of n_layers dicts, each with 'W' and 'b'."""
    if not isinstance(value, (list, tuple)) or len(value) != n_layers:
        raise ImplFailure(function, f"returned {what} as {_kind(value)} where a list of {n_layers} (one per layer) was expected")
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "W" not in item or "b" not in item:
            raise ImplFailure(function, f"returned {what}[{i}] as {_kind(item)} where a dict with 'W' and 'b' was expected")
    return list(value)


def expect_float(function: str, value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ImplFailure(function, f"returned {what} as {_kind(value)} where a number was expected") from None
