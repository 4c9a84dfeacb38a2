"""One comparison helper and one tolerance table, used by everything that compares.

`compare(label, got, expected, tol)` never raises: whatever an implementation
returned (a wrong shape, NaN, a string, None) ends as a `Comparison` whose
`message` says what was wrong, so a property can turn it into a failure.

Pass rule, elementwise:   |got − expected| ≤ atol + rtol·|expected|
Reported errors:          max_abs_err = max |got − expected|
                          max_rel_err = max |got − expected| / max(|expected|, atol/rtol)
(relative to |expected| wherever that is above the scale atol/rtol at which the
absolute tolerance takes over, so max_rel_err ≤ rtol is roughly a pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"rtol {self.rtol:.0e}, atol {self.atol:.0e}"


#: Every comparison of the suite uses one of these (float64 throughout).
TOLERANCES: dict[str, Tolerance] = {
    # Two float64 computations of the same formula (impl vs JAX vs PyTorch):
    # they differ only by rounding and summation order, ~1e-15 relative per
    # operation, amplified by depth and cancellation.
    "autodiff": Tolerance(rtol=1e-9, atol=1e-12),
    # Central differences (f(x+εu) − f(x−εu))/2ε in float64: truncation error
    # O(ε²·f''') plus rounding O(eps·|f|/ε); with ε ≈ 6e-6 both are ~1e-10..1e-8.
    "finite_diff": Tolerance(rtol=1e-5, atol=1e-7),
    # Figures published in the literature, printed to 8 decimals: right when
    # they round to what was printed, i.e. within half a unit of the 8th decimal.
    "published": Tolerance(rtol=0.0, atol=5e-9),
}

MAX_MISMATCHES = 5


@dataclass
class Comparison:
    """The outcome of comparing one quantity with its expected value."""

    label: str
    ok: bool
    tolerance: Tolerance
    max_abs_err: float = float("nan")
    max_rel_err: float = float("nan")
    shape: tuple | None = None
    message: str | None = None
    #: the worst elements: (index, got, expected), worst first
    mismatches: list[tuple[tuple, float, float]] = field(default_factory=list)
    #: when got is a constant multiple c·expected (c ≠ 1), that c
    scale: float | None = None

    def describe(self) -> str:
        """One line a person can act on."""
        if self.message:
            return f"{self.label}: {self.message}"
        verdict = "ok" if self.ok else "MISMATCH"
        line = (
            f"{self.label}: {verdict}, max abs err {self.max_abs_err:.3g}, "
            f"max rel err {self.max_rel_err:.3g} ({self.tolerance})"
        )
        return line + (f"; got = {self.scale:.6g} × expected" if self.scale is not None else "")


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


def compare(label: str, got: Any, expected: Any, tol: Tolerance | str = "autodiff") -> Comparison:
    """Compare `got` with `expected` (array-like or scalar) under `tol`."""
    tol = TOLERANCES[tol] if isinstance(tol, str) else tol
    want = np.asarray(expected, dtype=np.float64)
    if isinstance(got, np.ndarray) and got.dtype.kind not in "biuf":
        return Comparison(label, False, tol, shape=want.shape,
                          message=f"returned an array of dtype {got.dtype} where float64 numbers were expected")
    have = _as_float_array(got)
    if have is None:
        return Comparison(label, False, tol, message=f"returned {_kind(got)}, expected numbers of shape {want.shape}")
    if have.shape != want.shape:
        transposed = have.ndim == 2 and have.T.shape == want.shape and _close(have.T, want, tol)
        return Comparison(
            label, False, tol, shape=want.shape,
            message=f"returned shape {have.shape} where {want.shape} was expected"
            + (" (it is the transpose of the expected value)" if transposed else ""),
        )
    floor = tol.atol / tol.rtol if tol.rtol > 0 else max(tol.atol, 1e-300)
    abs_want = np.abs(want)
    with np.errstate(invalid="ignore"):
        err = np.abs(have - want)
        if np.all(err <= tol.atol + tol.rtol * abs_want):  # the common case, in few operations
            return Comparison(label, True, tol, float(np.max(err, initial=0.0)),
                              float(np.max(err / np.maximum(abs_want, floor), initial=0.0)), want.shape)
    bad = ~np.isfinite(have) & np.isfinite(want)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        what = "NaN" if np.isnan(have[idx]) else "inf"
        where = f" at {list(idx)}" if idx else ""
        return Comparison(
            label, False, tol, shape=want.shape,
            message=f"returned {what}{where} where {want[idx]:.6g} was expected",
            mismatches=[(idx, float(have[idx]), float(want[idx]))],
        )
    with np.errstate(invalid="ignore"):
        err = np.where(have == want, 0.0, np.abs(have - want))  # equal infs count as equal
    limit = tol.atol + tol.rtol * abs_want
    failing = ~(err <= limit)  # NaN (a reference NaN included) fails
    max_abs = float(np.max(err, initial=0.0))
    max_rel = float(np.max(err / np.maximum(abs_want, floor), initial=0.0))
    excess = np.where(failing, np.nan_to_num(err - limit, nan=np.inf), -np.inf)
    order = np.argsort(-excess, axis=None, kind="stable")[:MAX_MISMATCHES]
    mismatches = []
    for flat in order:
        idx = tuple(int(i) for i in np.unravel_index(flat, want.shape))
        if failing[idx]:
            mismatches.append((idx, float(have[idx]), float(want[idx])))
    ok = not failing.any()
    return Comparison(
        label, ok, tol, max_abs, max_rel, want.shape, None, mismatches, None if ok else _scale(have, want)
    )


def _close(have: np.ndarray, want: np.ndarray, tol: Tolerance) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(have - want) <= tol.atol + tol.rtol * np.abs(want)))


def _scale(have: np.ndarray, want: np.ndarray) -> float | None:
    """c when have ≈ c·want for one constant c ≠ 1 (least squares, residual ≤ 1e-6 relative)."""
    if not (np.all(np.isfinite(have)) and np.all(np.isfinite(want))):
        return None
    norm = float(np.sum(want * want))
    if norm == 0.0:
        return None
    c = float(np.sum(have * want)) / norm
    residual = float(np.linalg.norm(have - c * want))
    if residual > 1e-6 * max(float(np.linalg.norm(have)), 1e-300) or np.isclose(c, 1.0, rtol=1e-9):
        return None
    return c
