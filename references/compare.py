"""One comparison helper and one tolerance table, used by everything that compares.

`compare(where, got, expected, tol)` never raises: whatever an implementation
returned (a wrong shape, NaN, a string, None) ends as a `Comparison` whose
`cause` (a `Cause`) says what was wrong and whose `message` words it for a person,
so a property can turn it into a failure.

A comparison is data: `where` is a `Where` (oracle, function, component, layer,
parameter, step, quantity), and the label people read is rendered from it. Code that
needs to know the layer, the oracle or the cause reads the field, never the text.

Pass rule, elementwise:   |got − expected| ≤ atol + rtol·|expected|
Reported errors:          max_abs_err = max |got − expected|
                          max_rel_err = max |got − expected| / max(|expected|, atol/rtol)
(relative to |expected| wherever that is above the scale atol/rtol at which the
absolute tolerance takes over, so max_rel_err ≤ rtol is roughly a pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"rtol {self.rtol:.0e}, atol {self.atol:.0e}"


#: Every comparison of the suite uses one of these (float64 throughout, but the rows for a
#: layer library that declares it computes in float32: tolerance_for).
TOLERANCES: dict[str, Tolerance] = {
    # Two float64 computations of the same formula (impl vs JAX vs PyTorch):
    # they differ only by rounding and summation order, ~1e-15 relative per
    # operation, amplified by depth and cancellation.
    "autodiff": Tolerance(rtol=1e-9, atol=1e-12),
    # Central differences (f(x+εu) − f(x−εu))/2ε in float64 (the layer checks', ε = 1e-5):
    # truncation error O(ε²·f''') plus rounding O(eps·|f|/ε), both ~1e-10..1e-8; the worst of the
    # model solution's layer ops is 0.010 of this limit (benchmarks/fd_margins.py). Richardson's
    # (the MLP's, ε = 1e-4) is smaller still.
    "finite_diff": Tolerance(rtol=1e-5, atol=1e-7),
    # Figures published in the literature, printed to 8 decimals: right when
    # they round to what was printed, i.e. within half a unit of the 8th decimal.
    "published": Tolerance(rtol=0.0, atol=5e-9),
    # A float32 implementation against the float64 references on the same float32 inputs: each
    # of its operations rounds to u = 2⁻²⁴ ≈ 6e-8 relative, and a layer op is tens of them on
    # terms of size ~1–10 (conv sums up to 27 products), with cancellation in the norms' dx:
    # errors ~1e-6 absolute. rtol 1e-4 ≈ 1600u; the worst error of the float32 model solution
    # (40 cases of every op, benchmarks/fd_margins.py) is 0.13 of this limit. JAX's
    # check_grads keeps 2e-3 for float32, but against finite differences; its float32 value
    # tolerance is 1e-6.
    "autodiff_float32": Tolerance(rtol=1e-4, atol=1e-5),
    # Richardson central differences of a float32 forward, step 1e-2 (finite_diff.STEPS):
    # rounding ~3·k·u·|f|/h ≈ 1e-4..1e-3 for |f| ~ 1–10, truncation below it; the worst error
    # of the float32 model solution (40 cases of every op) is 0.14 of this limit, 0.34 for the
    # kinked ops at the step 1e-3 a kink may shrink it to. JAX's check_grads: 2e-3 at step 1e-4.
    "finite_diff_float32": Tolerance(rtol=1e-3, atol=2e-3),
}

#: The floating-point types an implementation may be checked in (docs/layers.md, "float32").
DTYPES = ("float64", "float32")


def tolerance_for(kind: str, dtype: str = "float64") -> str:
    """The row of TOLERANCES for a result computed in `dtype`: `kind` ("autodiff", "finite_diff")
    itself for float64, "<kind>_float32" for float32."""
    return kind if dtype == "float64" else f"{kind}_{dtype}"


def check_dtype(value: object, what: str = "dtype") -> str:
    """`value` when it is one of DTYPES; ValueError, starting with `what`, naming them otherwise."""
    if value not in DTYPES:
        raise ValueError(f"{what}: expected one of {', '.join(DTYPES)}, got {value!r}")
    return str(value)


MAX_MISMATCHES = 5


class Cause(str, Enum):
    """Why a comparison failed (None on a comparison that holds)."""

    MISMATCH = "values differ beyond the tolerance"
    SHAPE = "wrong shape"
    TRANSPOSED = "transposed"
    NAN = "NaN"
    INFINITE = "infinity"
    NOT_NUMBERS = "not numbers"
    WRONG_FORM = "wrong form of result"
    NOT_DEFINED = "not defined"
    NOT_IMPLEMENTED = "not implemented"
    RAISED = "raised an exception"
    EXITED = "exited"
    TIMEOUT = "timed out"
    OUT_OF_MEMORY = "out of memory"
    CRASHED = "crashed"
    TOO_LARGE = "result too large"
    MODIFIED_INPUT = "modified its input"
    ALIASED = "shares memory with an input or another result"
    CHANGED_ENTRIES = "changed the entries of a dict"
    OUTSIDE_RANGE = "outside the allowed range"
    NO_DESCENT = "no descent"
    WRONG_ERROR = "wrong error"
    ACCEPTED_BAD_INPUT = "accepted bad input"
    REJECTED_GOOD_INPUT = "rejected allowed input"
    NOT_BACKPROP = "gradients by numerical differentiation, not backprop"

    @property
    def did_not_run(self) -> bool:
        """The implementation gave no value to compare (it failed, rather than computed wrongly)."""
        return self in _DID_NOT_RUN


#: The causes that say a function is missing (not defined, or raises NotImplementedError), not wrong.
MISSING = frozenset({Cause.NOT_DEFINED, Cause.NOT_IMPLEMENTED})

_DID_NOT_RUN = frozenset(
    {
        Cause.NOT_DEFINED,
        Cause.NOT_IMPLEMENTED,
        Cause.RAISED,
        Cause.EXITED,
        Cause.TIMEOUT,
        Cause.OUT_OF_MEMORY,
        Cause.CRASHED,
        Cause.TOO_LARGE,
    }
)


@dataclass(frozen=True)
class Where:
    """What a comparison is about; every field optional. `str(where)` is the label people read,
    e.g. `jax · layers[1].W` or `torch.optim.SGD step 2 · velocity layers[0].b`."""

    #: who gave the expected value: "jax", "torch", "finite differences", "torch.optim.SGD", ...
    oracle: str | None = None
    #: the protocol function whose result is compared
    function: str | None = None
    #: the activation or loss concerned, e.g. "sigmoid"
    component: str | None = None
    layer: int | None = None
    #: "W" or "b"
    parameter: str | None = None
    #: the step of a multi-step check (1-based)
    step: int | None = None
    #: what is compared, in words: "loss value", "grad_x", "velocity", "batch_losses", ...
    quantity: str | None = None

    def __str__(self) -> str:
        head = self.oracle if self.step is None or self.oracle is None else f"{self.oracle} step {self.step}"
        what = []
        if self.function:
            what.append(f"{self.function}({self.component!r})" if self.component else self.function)
        elif self.component:
            what.append(repr(self.component))
        if self.quantity:
            what.append(self.quantity)
        if self.layer is not None:
            what.append(f"layers[{self.layer}]" + (f".{self.parameter}" if self.parameter else ""))
        if self.step is not None and self.oracle is None:
            what.append(f"step {self.step}")
        body = " ".join(what) or "value"
        return f"{head} · {body}" if head else body

    def at(self, **changes: Any) -> "Where":
        return replace(self, **changes)


def where_of(where: "Where | str") -> Where:
    """A Where; a plain string is taken as the quantity compared."""
    return where if isinstance(where, Where) else Where(quantity=str(where))


@dataclass
class Comparison:
    """The outcome of comparing one quantity with its expected value."""

    where: Where
    ok: bool
    tolerance: Tolerance
    max_abs_err: float = float("nan")
    max_rel_err: float = float("nan")
    shape: tuple | None = None
    #: a person's words for what went wrong, when the numbers alone don't say it
    message: str | None = None
    #: the worst elements: (index, got, expected), worst first
    mismatches: list[tuple[tuple, float, float]] = field(default_factory=list)
    #: when got is a constant multiple c·expected (c ≠ 1), that c
    scale: float | None = None
    #: why it failed (None when ok)
    cause: Cause | None = None
    #: (got, expected) as float64 arrays of the same shape, kept when the numbers differ, for the
    #: pictures of a failing check; None otherwise
    values: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: the type name of the exception the implementation raised (Cause.RAISED, NOT_IMPLEMENTED),
    #: else None
    exception: str | None = None

    def __post_init__(self) -> None:
        self.where = where_of(self.where)
        if not self.ok and self.cause is None:
            self.cause = Cause.MISMATCH

    @property
    def label(self) -> str:
        return str(self.where)

    def describe(self) -> str:
        """One line a person can act on."""
        if self.message:
            return f"{self.label}: {self.message}"
        verdict = "ok" if self.ok else "MISMATCH"
        line = (
            f"{self.label}: {verdict}, max abs err {self.max_abs_err:.3g}, max rel err {self.max_rel_err:.3g} ({self.tolerance})"
        )
        return line + (f"; got = {self.scale:.6g} × expected" if self.scale is not None else "")


def failed(
    where: "Where | str", cause: Cause, message: str, tol: "Tolerance | str" = "autodiff", *, exception: str | None = None
) -> Comparison:
    """A failing comparison that has no numbers, only a cause and a person's words for it (and,
    for an exception the implementation raised, its type name)."""
    tolerance = TOLERANCES[tol] if isinstance(tol, str) else tol
    return Comparison(where_of(where), False, tolerance, message=message, cause=cause, exception=exception)


def holds(where: "Where | str", tol: "Tolerance | str" = "autodiff") -> Comparison:
    """A comparison that holds exactly (a check with nothing to measure)."""
    return Comparison(where_of(where), True, TOLERANCES[tol] if isinstance(tol, str) else tol, 0.0, 0.0)


def _as_float_array(value: Any) -> np.ndarray | None:
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def compare(where: Where | str, got: Any, expected: Any, tol: Tolerance | str = "autodiff") -> Comparison:
    """Compare `got` with `expected` (array-like or scalar) under `tol`. A comparison whose numbers
    differ keeps copies of both arrays (`values`), for the pictures.

    In turn: the form (numbers of expected's shape, _numbers_of), the common pass in few
    operations (_quick_pass), NaN or inf where a finite value is expected (_not_finite), and
    else the errors measured element by element (_measured)."""
    where = where_of(where)
    tol = TOLERANCES[tol] if isinstance(tol, str) else tol
    want = np.asarray(expected, dtype=np.float64)
    have = _numbers_of(where, got, want, tol)
    if isinstance(have, Comparison):
        return have
    floor = _relative_floor(tol)
    passed = _quick_pass(where, have, want, tol, floor)
    if passed is not None:
        return passed
    not_finite = _not_finite(where, have, want, tol)
    if not_finite is not None:
        return not_finite
    return _measured(where, have, want, tol, floor)


def _numbers_of(where: Where, got: Any, want: np.ndarray, tol: Tolerance) -> np.ndarray | Comparison:
    """`got` as a float64 array of want's shape, or the failing comparison that says why it is
    not one: an array of non-numbers (dtype kind not b, i, u, f), no numbers at all, or another
    shape; a 2-D `got` whose transpose has want's shape and is within tolerance is named so."""
    if isinstance(got, np.ndarray) and got.dtype.kind not in "biuf":
        return Comparison(
            where,
            False,
            tol,
            shape=want.shape,
            cause=Cause.NOT_NUMBERS,
            message=f"returned an array of dtype {got.dtype} where float64 numbers were expected",
        )
    have = _as_float_array(got)
    if have is None:
        return Comparison(
            where, False, tol, message=f"returned {_kind(got)}, expected numbers of shape {want.shape}", cause=Cause.NOT_NUMBERS
        )
    if have.shape != want.shape:
        transposed = have.ndim == 2 and have.T.shape == want.shape and _close(have.T, want, tol)
        return Comparison(
            where,
            False,
            tol,
            shape=want.shape,
            cause=Cause.TRANSPOSED if transposed else Cause.SHAPE,
            message=f"returned shape {have.shape} where {want.shape} was expected"
            + (" (it is the transpose of the expected value)" if transposed else ""),
        )
    return have


def _relative_floor(tol: Tolerance) -> float:
    """atol/rtol, the |expected| below which the absolute tolerance takes over: max_rel_err divides
    by max(|expected|, atol/rtol) (max(atol, 1e-300) when rtol = 0)."""
    return tol.atol / tol.rtol if tol.rtol > 0 else max(tol.atol, 1e-300)


def _quick_pass(where: Where, have: np.ndarray, want: np.ndarray, tol: Tolerance, floor: float) -> Comparison | None:
    """The common case in few operations: the passing comparison when every
    |have − want| ≤ atol + rtol·|want| (a NaN anywhere fails it), with
    max_abs_err = max |have − want| and max_rel_err = max |have − want| / max(|want|, floor);
    None otherwise."""
    abs_want = np.abs(want)
    with np.errstate(invalid="ignore"):  # ufuncs and their reduce, no wrappers: a layer check makes ~20 of these on tiny arrays
        err = np.abs(have - want)
        if np.logical_and.reduce(np.less_equal(err, tol.atol + tol.rtol * abs_want), axis=None):
            if not err.size:
                return Comparison(where, True, tol, 0.0, 0.0, want.shape)
            relative = err / np.maximum(abs_want, floor)
            worst = np.maximum.reduce
            return Comparison(where, True, tol, float(worst(err, axis=None)), float(worst(relative, axis=None)), want.shape)
    return None


def _not_finite(where: Where, have: np.ndarray, want: np.ndarray, tol: Tolerance) -> Comparison | None:
    """The failing comparison for the first element (in C order) that is NaN or ±inf where a
    finite value is expected, its cause NAN or INFINITE; None when there is none."""
    bad = ~np.isfinite(have) & np.isfinite(want)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    what = "NaN" if np.isnan(have[idx]) else "inf"
    at = f" at {list(idx)}" if idx else ""
    return Comparison(
        where,
        False,
        tol,
        shape=want.shape,
        message=f"returned {what}{at} where {want[idx]:.6g} was expected",
        mismatches=[(idx, float(have[idx]), float(want[idx]))],
        cause=Cause.NAN if what == "NaN" else Cause.INFINITE,
    )


def _measured(where: Where, have: np.ndarray, want: np.ndarray, tol: Tolerance, floor: float) -> Comparison:
    """The comparison measured element by element: err = |have − want| (0 where equal, _error),
    out of tolerance where err > atol + rtol·|want| (_outside); max_abs_err = max err,
    max_rel_err = max err / max(|want|, floor); the worst elements (_worst), and when it fails the
    constant factor c of have ≈ c·want (c ≠ 1) and copies of both arrays."""
    err = _error(have, want)
    limit = tolerance_limit(want, tol)
    failing = _outside(err, limit)
    max_abs = float(np.max(err, initial=0.0))
    max_rel = float(np.max(err / np.maximum(np.abs(want), floor), initial=0.0))
    ok = not failing.any()
    return Comparison(
        where,
        ok,
        tol,
        max_abs,
        max_rel,
        want.shape,
        None,
        _worst(have, want, err - limit, failing),
        None if ok else _scale(have, want),
        values=None if ok else (have.copy(), want.copy()),
    )


def _worst(have: np.ndarray, want: np.ndarray, over: np.ndarray, failing: np.ndarray) -> list[tuple[tuple, float, float]]:
    """The failing elements by how far they exceed their limit (over = err − limit, a NaN counted
    as +inf), worst first and at most MAX_MISMATCHES: (index, have, want) each."""
    excess = np.where(failing, np.nan_to_num(over, nan=np.inf), -np.inf)
    order = np.argsort(-excess, axis=None, kind="stable")[:MAX_MISMATCHES]
    mismatches = []
    for flat in order:
        idx = tuple(int(i) for i in np.unravel_index(flat, want.shape))
        if failing[idx]:
            mismatches.append((idx, float(have[idx]), float(want[idx])))
    return mismatches


def _error(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|have − want| per element, 0 where they are equal (equal infs count as equal, and so does a
    NaN where the expected value is NaN too: a training run that diverges in both is the same run)."""
    with np.errstate(invalid="ignore"):
        return np.where((have == want) | (np.isnan(have) & np.isnan(want)), 0.0, np.abs(have - want))


def tolerance_limit(want: np.ndarray, tol: Tolerance) -> np.ndarray:
    """atol + rtol·|want|: the largest |got − want| each element may have."""
    return tol.atol + tol.rtol * np.abs(want)


def out_of_tolerance(have: np.ndarray, want: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Which elements are out of tolerance (a boolean array of the shape): |have − want| above
    tolerance_limit; a NaN on one side only is out."""
    return _outside(_error(have, want), tolerance_limit(want, tol))


def _outside(err: np.ndarray, limit: np.ndarray) -> np.ndarray:
    return ~((err <= limit) | (err == 0.0))  # equal is within (a NaN limit too); a NaN error is outside


def _close(have: np.ndarray, want: np.ndarray, tol: Tolerance) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(have - want) <= tol.atol + tol.rtol * np.abs(want)))


def constant_ratio(have: npt.ArrayLike, want: npt.ArrayLike) -> float | None:
    """c when have ≈ c·want for one constant c (least squares, residual ≤ 1e-6 relative; 1.0 when
    they agree), None when no constant explains have, or want is all zero or not finite. Arrays
    or numbers (a loss value)."""
    have, want = np.asarray(have, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if have.shape != want.shape or not (np.all(np.isfinite(have)) and np.all(np.isfinite(want))):
        return None
    norm = float(np.sum(want * want))
    if norm == 0.0:
        return None
    c = float(np.sum(have * want)) / norm
    residual = float(np.linalg.norm(have - c * want))
    if residual > 1e-6 * max(float(np.linalg.norm(have)), 1e-300):
        return None
    return c


def _scale(have: np.ndarray, want: np.ndarray) -> float | None:
    """c when have ≈ c·want for one constant c ≠ 1."""
    c = constant_ratio(have, want)
    return None if c is None or np.isclose(c, 1.0, rtol=1e-9) else c
