"""A layer case: an op, its drawn sizes and hyperparameters, and a seed from which the arrays follow.

As for the MLP's cases (properties/cases.py), hypothesis draws the structure and NumPy makes
the arrays from the seed, so a case is small, replays exactly, and shrinks on its structure.
Scales: "real" arrays N(0, 1), "positive" ones uniform in [0.5, 2] (a running variance), labels
uniform over the classes; indices (word_embedding's x) uniform with the last one set to the
first, so a backward that assigns where it should add is seen; masks (temporal_softmax_loss's)
Bernoulli(½) with the first True and the last False; the cotangent dout N(0, 1) (never all ones, so a backward that sums
where it should weight is seen).

A case's `dtype` is the floating-point type the implementation is checked in (docs/layers.md,
"float32"): "float64", or "float32" for a library that declares it computes in float32. The
real arrays and the cotangent are drawn as for float64 and rounded to that dtype; labels,
indices and masks are as they are. The references take the same (rounded) values in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from gradverify.references.layer_spec import LayerOp, shape_of, sizes_of


@dataclass(frozen=True)
class LayerCase:
    op: LayerOp
    #: the drawn sizes, by name: an int, or a tuple of ints for a `many` size
    dims: tuple[tuple[str, Any], ...]
    #: the drawn hyperparameters, by name
    hyper: tuple[tuple[str, Any], ...]
    seed: int
    #: the floating-point type the implementation is checked in: "float64" or "float32"
    #: (gradverify.references.compare.DTYPES)
    dtype: str = "float64"
    #: the keys of op.omittable the parameter dict leaves out (the forward must take its
    #: default: the hyperparameter's value in `hyper` is then that default, the array zeros)
    omitted: tuple[str, ...] = ()

    @cached_property
    def sizes(self) -> dict[str, Any]:
        """The drawn sizes and the op's derived ones (a case is drawn only where they exist);
        computed once per case (a check reads them ~10 times), so not to be changed."""
        sizes = sizes_of(self.op, dict(self.dims), dict(self.hyper))
        if sizes is None:
            raise ValueError(f"{self.op.name}: the sizes {dict(self.dims)} with {dict(self.hyper)} admit no derived sizes")
        return sizes

    @property
    def consistent(self) -> bool:
        """The drawn sizes and hyperparameters admit the derived sizes (conv's H' integral)."""
        return sizes_of(self.op, dict(self.dims), dict(self.hyper)) is not None

    @property
    def hypers(self) -> dict[str, Any]:
        return dict(self.hyper)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each arg's shape, by name (a copy of the ones worked out once per case)."""
        return dict(self._shapes)

    @cached_property
    def _shapes(self) -> dict[str, tuple[int, ...]]:
        return {arg.name: shape_of(arg.shape, self.sizes) for arg in self.op.args}

    def arrays(self) -> dict[str, np.ndarray]:
        """Each arg's array, by name, drawn from the seed by its domain."""
        rng = np.random.default_rng(self.seed)
        drawn = {arg.name: _draw(rng, arg.domain, shape_of(arg.shape, self.sizes), self.sizes) for arg in self.op.args}
        for name in self.omitted:  # what the forward takes in its absence (drawn all the same, so the others stay)
            if name in drawn:
                drawn[name] = np.zeros_like(drawn[name])
        return {name: self._rounded(value) for name, value in drawn.items()}

    def _rounded(self, value: np.ndarray) -> np.ndarray:
        """A float64 draw rounded to the case's dtype (other arrays as they are)."""
        return value.astype(self.dtype) if value.dtype == np.float64 and self.dtype != "float64" else value

    def cotangent(self, shape: tuple[int, ...], index: int = 0) -> np.ndarray:
        """dout ~ N(0, 1) of `shape` for the forward's output `index`, from the seed (a stream of
        its own per output, so lstm_step's dnext_h and dnext_c differ)."""
        stream = [self.seed, 1, index] if index else [self.seed, 1]
        return self._rounded(np.random.default_rng(stream).standard_normal(shape))

    def direction(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """u ~ N(0, 1) for the directional finite difference along arg `name` (float64: the
        checker's own, in whatever dtype the case is)."""
        return _direction(self.seed, name, tuple(shape))

    def describe(self) -> str:
        """e.g. 'batchnorm: x (2, 1), gamma (1,), beta (1,), …; mode 'train', eps 1e-05; seed 0'
        (with '; bn_param without eps, running_mean' before the seed for keys left out, and
        '; float32' for a float32 case)"""
        shapes = ", ".join(f"{name} {shape}" for name, shape in self.shapes().items())
        hyper = "; " + ", ".join(f"{k} {v!r}" for k, v in self.hyper) if self.hyper else ""
        dtype = f"; {self.dtype}" if self.dtype != "float64" else ""
        omitted = f"; {self.op.param} without {', '.join(self.omitted)}" if self.omitted else ""
        return f"{self.op.name}: {shapes}{hyper}{omitted}; seed {self.seed}{dtype}"

    def in_dtype(self, dtype: str) -> "LayerCase":
        """The same case checked in `dtype` (a saved case is replayed in the dtype of the run)."""
        return replace(self, dtype=dtype)


@lru_cache(maxsize=512)
def _direction(seed: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """LayerCase.direction's u, drawn once per (seed, arg, shape) (a check asks ~6 times, and a
    generator costs ~12 µs) and read-only, since every caller shares it."""
    u = np.random.default_rng([seed, 2, *name.encode()]).standard_normal(shape)
    u.flags.writeable = False
    return u


def _draw(rng: np.random.Generator, domain: str, shape: tuple[int, ...], sizes: dict[str, Any]) -> np.ndarray:
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain.startswith("labels:"):
        return rng.integers(0, int(sizes[domain.partition(":")[2]]), shape)
    if domain.startswith("indices:"):
        indices = rng.integers(0, int(sizes[domain.partition(":")[2]]), shape)
        indices.flat[-1] = indices.flat[0]  # repeated on purpose: gradients at one index add up
        return indices
    if domain == "mask":
        mask = rng.random(shape) < 0.5
        if mask.size > 1:  # both kinds on purpose: a masked step, and one that counts
            mask.flat[0], mask.flat[-1] = True, False
        return mask
    raise ValueError(f"unknown domain {domain!r}")
