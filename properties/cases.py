"""Cases: what a property checks, as structure and a seed from which the arrays follow.

An `Example` is a network (`Architecture`) and a data seed; `ActivationCase`,
`LossCase`, `DenseCase` and `TrainCase` are the cases of the component and training
properties. Hypothesis draws the structure and the seed; NumPy makes the arrays from
the seed. So a case is small to store (a regression corpus entry is a few lines of
JSON, see case_to_json), cheap to make, and replays exactly. Component names and which
outputs suit which loss come from the spec table (gradverify.references.spec).

Scales keep every value meaningful in float64: X ~ N(0, 1), W ~ N(0, 1/fan_in)
(so pre-activations are O(1) at every depth), b ~ N(0, 0.1²); targets valid for
their loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gradverify.references.finite_diff import FORWARD
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.optim_cases import optim_case_from_json
from gradverify.properties.stack_cases import StackCase, problems
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.spec import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSSES, output_activations

#: Output activations that keep each loss inside its domain (from the spec table).
OUTPUT_ACTIVATIONS: dict[str, tuple[str, ...]] = {loss: output_activations(loss) for loss in LOSSES}


@dataclass(frozen=True)
class Architecture:
    """sizes = (D, n_1, …, n_L): D inputs and L layers; one activation per layer."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    l2: float = 0.0
    batch: int = 1

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or len(self.activations) != len(self.sizes) - 1:
            raise ValueError(f"an architecture needs sizes (D, n_1, …, n_L) and L activations, got {self}")
        if self.loss not in LOSSES or any(a not in ACTIVATIONS for a in self.activations):
            raise ValueError(f"unknown loss or activation in {self}")

    @property
    def depth(self) -> int:
        return len(self.activations)

    def describe(self) -> str:
        """e.g. '3 -tanh-> 4 -sigmoid-> 2, bce, batch 5, l2 0'"""
        parts = [str(self.sizes[0])]
        for act, size in zip(self.activations, self.sizes[1:]):
            parts.append(f"-{act}-> {size}")
        return f"{' '.join(parts)}, {self.loss}, batch {self.batch}, l2 {self.l2:g}"


@dataclass(frozen=True)
class Example:
    arch: Architecture
    seed: int
    #: how targets look: "hard" (one-hot / 0-1), "soft" (label distributions / fractions)
    labels: str = "soft"

    def to_json(self) -> dict[str, Any]:
        arch = asdict(self.arch)
        arch["sizes"] = list(arch["sizes"])
        arch["activations"] = list(arch["activations"])
        return {"arch": arch, "seed": self.seed, "labels": self.labels}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Example":
        a = data["arch"]
        arch = Architecture(tuple(a["sizes"]), tuple(a["activations"]), a["loss"], float(a["l2"]), int(a["batch"]))
        return cls(arch, int(data["seed"]), data.get("labels", "soft"))

    def describe(self) -> str:
        return f"{self.arch.describe()}, {self.labels} labels, seed {self.seed}"


def make_layers(sizes: tuple[int, ...], activations: tuple[str, ...], rng: np.random.Generator) -> list[dict]:
    return [
        {"W": rng.normal(size=(n_out, n_in)) / np.sqrt(n_in), "b": 0.1 * rng.normal(size=n_out), "activation": act}
        for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations)
    ]


def make_targets(loss: str, n: int, k: int, rng: np.random.Generator, labels: str = "soft") -> np.ndarray:
    """Targets valid for `loss`: (n, k), or (n,) integer classes for sparse_cce."""
    if loss == "sparse_cce":
        return rng.integers(0, k, size=n)
    if loss == "cce":
        if labels == "hard":
            return np.eye(k)[rng.integers(0, k, size=n)]
        return rng.dirichlet(np.ones(k), size=n)
    if loss == "bce":
        return rng.integers(0, 2, size=(n, k)).astype(np.float64) if labels == "hard" else rng.uniform(0, 1, size=(n, k))
    if loss == "mape":
        return rng.choice([-1.0, 1.0], size=(n, k)) * rng.uniform(0.5, 2.0, size=(n, k))
    return rng.normal(size=(n, k))


def materialize(example: Example) -> tuple[dict, np.ndarray, np.ndarray]:
    """The (net, X, Y) of an example, the same every time."""
    arch = example.arch
    rng = np.random.default_rng(example.seed)
    layers = make_layers(arch.sizes, arch.activations, rng)
    X = rng.normal(size=(arch.batch, arch.sizes[0]))
    Y = make_targets(arch.loss, arch.batch, arch.sizes[-1], rng, example.labels)
    return {"layers": layers, "loss": arch.loss, "l2": arch.l2}, X, Y


def random_architecture(
    rng: np.random.Generator,
    *,
    loss: str | None = None,
    hidden: str | None = None,
    max_depth: int = 4,
    max_width: int = 8,
    max_batch: int = 8,
    l2: float | None = None,
) -> Architecture:
    """A random architecture for plain (non-hypothesis) tests; `hidden` fixes every hidden activation."""
    loss = loss or str(rng.choice(sorted(LOSSES)))
    depth = int(rng.integers(1, max_depth + 1))
    sizes = tuple(int(s) for s in rng.integers(1, max_width + 1, size=depth + 1))
    if loss in ("cce", "sparse_cce") and sizes[-1] < 2:
        sizes = sizes[:-1] + (2,)
    acts = tuple(hidden or str(rng.choice(HIDDEN_ACTIVATIONS)) for _ in range(depth - 1))
    out = str(rng.choice(OUTPUT_ACTIVATIONS[loss]))
    l2 = float(rng.choice([0.0, 0.01, 0.1])) if l2 is None else l2
    return Architecture(sizes, acts + (out,), loss, l2, int(rng.integers(1, max_batch + 1)))


# --------------------------------------------------------------------------- #
# Component cases: a name, sizes and a seed.
# --------------------------------------------------------------------------- #

#: Component inputs z ~ N(0, Z_SCALE²): wide enough to reach every regime, short of saturation.
Z_SCALE = 2.0
#: Activation inputs in the tails: |z| uniform in TAILS, signs alternating (+ first) along each row and
#: down each column. e^{±z} over- or underflows for |z| > 709, so only a numerically careful sigmoid,
#: softplus or softmax stays exact there, and a softmax row holds maxima and minima far apart.
TAILS = (700.0, 1000.0)
#: The scores behind a probability loss's ŷ are clipped to ±PROBABILITY_Z, so every ŷ lies more than
#: 1e-7 from 0 and 1 (a softmax of 32 classes, one score at −6 and the rest at +6, gives 2e-7):
#: clipping ŷ to [ε, 1 − ε] with ε ≤ 1e-7, as Keras does, then changes nothing; the protocol accepts it.
PROBABILITY_Z = 6.0


@dataclass(frozen=True)
class ActivationCase:
    name: str
    rows: int
    units: int
    seed: int
    #: z in the tails (±TAILS) instead of z ~ N(0, Z_SCALE²)
    tails: bool = False

    def describe(self) -> str:
        where = f" in ±[{TAILS[0]:g}, {TAILS[1]:g}]" if self.tails else ""
        return f"activation {self.name!r} on z{where} of shape ({self.rows}, {self.units})"

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(z, grad_a)"""
        rng = np.random.default_rng(self.seed)
        shape = (self.rows, self.units)
        z = Z_SCALE * rng.normal(size=shape)  # drawn in tails too: grad_a stays the same stream for a seed
        grad_a = rng.normal(size=shape)
        if self.tails:
            signs = np.where(np.add.outer(np.arange(self.rows), np.arange(self.units)) % 2 == 0, 1.0, -1.0)
            z = signs * rng.uniform(*TAILS, size=shape)
        return z, grad_a


@dataclass(frozen=True)
class LossCase:
    name: str
    rows: int
    units: int
    seed: int
    labels: str = "soft"

    def describe(self) -> str:
        return f"loss {self.name!r} on y_pred of shape ({self.rows}, {self.units}), {self.labels} labels"

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(y_pred, y_true): y_pred from the loss's output activation, so it lies in its domain."""
        rng = np.random.default_rng(self.seed)
        z = Z_SCALE * rng.normal(size=(self.rows, self.units))
        if LOSSES[self.name].needs_probabilities:
            y_pred = FORWARD[OUTPUT_ACTIVATIONS[self.name][0]](np.clip(z, -PROBABILITY_Z, PROBABILITY_Z))
        else:
            y_pred = z
        return y_pred, make_targets(self.name, self.rows, self.units, rng, self.labels)


@dataclass(frozen=True)
class DenseCase:
    rows: int
    fan_in: int
    fan_out: int
    seed: int

    def describe(self) -> str:
        return f"dense layer {self.fan_in} -> {self.fan_out} on a batch of {self.rows}"

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, W, b, grad_z)"""
        rng = np.random.default_rng(self.seed)
        return (
            rng.normal(size=(self.rows, self.fan_in)),
            rng.normal(size=(self.fan_out, self.fan_in)) / np.sqrt(self.fan_in),
            0.1 * rng.normal(size=self.fan_out),
            rng.normal(size=(self.rows, self.fan_out)),
        )


@dataclass(frozen=True)
class TrainCase:
    example: Example
    lr: float
    momentum: float
    batch_size: int
    epochs: int

    def describe(self) -> str:
        return (
            f"{self.example.arch.describe()}; train lr {self.lr:g}, momentum {self.momentum:g}, "
            f"batch_size {self.batch_size}, epochs {self.epochs}"
        )


def case_to_json(case: Any) -> dict[str, Any]:
    """A case as plain JSON, tagged with its type."""
    if isinstance(case, Example):
        body = case.to_json()
    elif isinstance(case, TrainCase):
        body = {**asdict(case), "example": case.example.to_json()}
    elif isinstance(case, LayerCase):
        body = {"op": case.op.name, "dims": dict(case.dims), "hyper": dict(case.hyper), "seed": case.seed}
        if case.omitted:
            body["omitted"] = list(case.omitted)
    elif isinstance(case, StackCase):
        body = case.to_json()
    else:
        body = asdict(case)
    return {"type": type(case).__name__, **body}


def case_from_json(data: dict[str, Any]) -> Any:
    """The inverse of case_to_json; ValueError on anything else."""
    data = dict(data)
    kind = data.pop("type", None)
    try:
        if kind == "Example":
            return Example.from_json(data)
        if kind == "TrainCase":
            return TrainCase(**{**data, "example": Example.from_json(data["example"])})
        if kind in ("ActivationCase", "LossCase", "DenseCase"):
            return {"ActivationCase": ActivationCase, "LossCase": LossCase, "DenseCase": DenseCase}[kind](**data)
        if kind == "LayerCase":
            return _layer_case(data)
        if kind == "OptimCase":
            return optim_case_from_json(data)
        if kind == "StackCase":
            return _stack_case(data)
        if kind == "BadInputCase":
            from gradverify.properties.bad_inputs import INPUT_KINDS, BadInputCase

            if data.get("kind") not in INPUT_KINDS:
                raise ValueError(f"unknown input kind {data.get('kind')!r}")
            return BadInputCase(**data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a valid {kind}: {exc}") from None
    raise ValueError(f"unknown case type {kind!r}")


def _layer_case(data: dict[str, Any]) -> LayerCase:
    """A LayerCase from its JSON: an op of the table (LAYER_OPS), its sizes (a `many` size as a
    list) and hyperparameters in the op's order, and the keys its dict leaves out (`omitted`, a
    list of the op's omittable keys; none when absent); ValueError for anything else."""
    op = LAYER_OPS.get(data["op"])
    if op is None:
        raise ValueError(f"unknown layer op {data['op']!r}")
    dims, hyper = data["dims"], data["hyper"]
    if set(dims) != {s.name for s in op.sizes} or set(hyper) != {h.name for h in op.hypers} or not isinstance(data["seed"], int):
        raise ValueError(f"the sizes, hyperparameters or seed of a {op.name} case are not the op's")
    omitted = data.get("omitted", [])
    if not isinstance(omitted, list) or not set(omitted) <= set(op.omittable):
        raise ValueError(f"a {op.name} case may leave out of its dict only {', '.join(op.omittable) or 'nothing'}")
    sized = tuple((s.name, tuple(dims[s.name]) if s.many else dims[s.name]) for s in op.sizes)
    hypers = tuple((h.name, hyper[h.name]) for h in op.hypers)
    return LayerCase(op, sized, hypers, data["seed"], omitted=tuple(k for k in op.omittable if k in omitted))


def _stack_case(data: dict[str, Any]) -> StackCase:
    """A StackCase from its JSON: its family, its layers as LayerCases' JSON, its fork (or null);
    ValueError when the layers do not chain (stack_cases.problems)."""
    residual = data["residual"]
    if residual is not None and (not isinstance(residual, list) or len(residual) != 2):
        raise ValueError(f"a stack's residual is [start, stop] or null, got {residual!r}")
    case = StackCase(data["family"], tuple(_layer_case(layer) for layer in data["layers"]), tuple(residual) if residual else None)
    found = problems(case)
    if found:
        raise ValueError(f"not a stack: {'; '.join(found)}")
    return case
