"""The sandboxed submission as the suite calls it: the one place that knows both sides.

The sandbox (gradverify.sandbox) reports a failed call as a `SubmissionCallError` with a
`kind`; the suite (gradverify.properties.calls) expects an `ImplFailure` with a `Cause`. `suite_view`
wraps the sandbox's proxy module so that each function does the translation and tells
`calls.call` that it keeps its own time limit (no SIGALRM may cut into the sandbox's I/O).
A returned value the suite's checks could not even convert to numbers (`unusable`: an object
array, 10**400) is that call's failure too, so no check meets it.

The layer protocol's functions and the update rules are called as stateful ones
(`STATEFUL`, gradverify.sandbox.state): what they change in their arguments (a bn_param's running
averages, an input changed in place) and the memory their results share with their inputs come
back as they would in one process, and a forward's cache stays in the sandbox (a Handle crosses
instead), so a cache may hold any object of the student's.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable

from gradverify.properties.calls import ImplFailure, raised
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.optim_spec import OPTIMIZERS
from gradverify.sandbox.codec import OpaqueValue
from gradverify.sandbox.errors import CallFailure, SubmissionCallError

#: The suite's Cause of each way a sandboxed call can fail.
CAUSE_OF: dict[CallFailure, Cause] = {
    CallFailure.TIMEOUT: Cause.TIMEOUT,
    CallFailure.MEMORY: Cause.OUT_OF_MEMORY,
    CallFailure.TOO_LARGE: Cause.TOO_LARGE,
    CallFailure.TOO_DEEP: Cause.TOO_LARGE,
    CallFailure.MISSING: Cause.NOT_DEFINED,
    CallFailure.EXIT: Cause.EXITED,
    CallFailure.RAISED: Cause.RAISED,
    CallFailure.MALFORMED: Cause.CRASHED,
    CallFailure.CRASHED: Cause.CRASHED,
}


def as_impl_failure(function: str, error: SubmissionCallError) -> ImplFailure:
    """The suite's ImplFailure for a failed sandboxed call."""
    if error.kind is CallFailure.RAISED and error.exception:
        return raised(function, error.exception, error.message)
    return ImplFailure(function, CAUSE_OF[error.kind], error.reason)


def unusable(value: Any, depth: int = 0) -> str | None:
    """Why a value a submission returned cannot be compared (None when it can): a stand-in for an
    object that could not cross the boundary (an array of dtype object, a set, an instance of the
    submission's own class) or an integer beyond float64's range (10**400), anywhere inside it.
    An array not of numbers is named by its dtype, as the checks name it in process."""
    if isinstance(value, OpaqueValue) and value.dtype is not None:
        return f"an array of dtype {value.dtype} where float64 numbers were expected"
    if isinstance(value, OpaqueValue):
        return f"a value the grader cannot read as numbers (a {type(value).__name__}: {value.repr_text[:80]})"
    if type(value) is int and abs(value) > sys.float_info.max:
        return f"an integer too large for a float64 ({len(str(abs(value)))} digits)"
    if depth < 64 and isinstance(value, (list, tuple)):
        return next((why for item in value if (why := unusable(item, depth + 1))), None)
    if depth < 64 and isinstance(value, dict):
        return next((why for item in value.values() if (why := unusable(item, depth + 1))), None)
    return None


def _suite_function(name: str, remote: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            value = remote(*args, **kwargs)
        except SubmissionCallError as error:
            raise as_impl_failure(name, error) from None
        why = unusable(value)
        if why is not None:
            raise ImplFailure(name, Cause.NOT_NUMBERS, f"returned {why}")
        return value

    call.__name__ = call.__qualname__ = name
    call.keeps_own_time_limit = True  # type: ignore[attr-defined]
    return call


def _stateful() -> dict[str, int | None]:
    """Each layer and update-rule function by name, with the index of the returned item kept in
    the sandbox (a forward's cache: after its outputs) or None (a backward, a loss, a rule)."""
    table: dict[str, int | None] = {name: None for name in OPTIMIZERS}
    for op in LAYER_OPS.values():
        if op.loss:
            table[op.name] = None
            continue
        table[op.forward] = len(op.outputs)
        table.update(dict.fromkeys(op.backwards))
    return table


#: The functions called as stateful ones (RemoteFunction.stateful), with the item each keeps.
STATEFUL: dict[str, int | None] = _stateful()


def suite_view(proxy: types.ModuleType) -> types.ModuleType:
    """A module with the proxy's functions, each reporting failures as ImplFailure; the layer
    and update-rule functions called as stateful ones (STATEFUL)."""
    module = types.ModuleType(proxy.__name__, proxy.__doc__)
    for name, value in vars(proxy).items():
        if callable(value) and not name.startswith("__"):
            if name in STATEFUL and hasattr(value, "stateful"):
                value = value.stateful(keep=STATEFUL[name])
            setattr(module, name, _suite_function(name, value))
    return module
