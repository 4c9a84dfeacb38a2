"""A course model class's case: the class, its sizes, its regularisation and normalisation, a seed.

    case = ModelCase("fully_connected_net", N=2, D=3, hidden=(2,), C=2, reg=0.5, normalization=None, seed=0)
    X, y = case.data(); params = case.params()

As for the layer cases, hypothesis draws the structure (`model_cases`) and NumPy makes the
arrays from the seed, so a case is a few numbers, replays exactly and shrinks on its structure
towards one hidden layer of one unit (two under layernorm), one sample (two under batchnorm),
one feature and two classes: X ~ N(0, 1), each W_l ~ N(0, 1/fan_in), b_l ~ N(0, 0.1²), γ_l
uniform in [0.5, 2], β_l ~ N(0, 0.1²), y uniform labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from gradverify.references.model_spec import MODELS, ModelSpec


@dataclass(frozen=True)
class ModelCase:
    #: the class's entry in references/model_spec.py MODELS
    model: str
    N: int
    D: int
    hidden: tuple[int, ...]
    C: int
    reg: float
    normalization: str | None
    seed: int

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def config(self) -> dict[str, Any]:
        """What model_loss builds the class with (references/model_spec.py)."""
        return {
            "input_dim": self.D,
            "hidden_dims": list(self.hidden),
            "num_classes": self.C,
            "reg": self.reg,
            "normalization": self.normalization,
        }

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """X (N, D), y (N,): new arrays drawn from the seed."""
        rng = np.random.default_rng([self.seed, 0])
        return rng.normal(size=(self.N, self.D)), rng.integers(0, self.C, size=self.N)

    def cotangent(self) -> np.ndarray:
        """dout (N, C) ~ N(0, 1) for a class with no loss of its own: the gradient backward is given."""
        return np.random.default_rng([self.seed, 2]).normal(size=(self.N, self.C))

    def params(self) -> dict[str, np.ndarray]:
        """The weights by the course's keys, new arrays drawn from the seed: W1, b1, …, and gamma_l,
        beta_l after each hidden layer under a normalisation; for a fixed class (MyTorch's MLPs)
        W0 (out, in), b0 (out, 1), W1, b1, … of its Linear layers, in MyTorch's orientation."""
        rng = np.random.default_rng([self.seed, 1])
        dims = (self.D, *self.hidden, self.C)
        params: dict[str, np.ndarray] = {}
        if self.spec.form == "forward_backward":
            for layer, (fan_in, fan_out) in enumerate(zip(dims, dims[1:])):
                params[f"W{layer}"] = rng.normal(size=(fan_out, fan_in)) / np.sqrt(fan_in)
                params[f"b{layer}"] = 0.1 * rng.normal(size=(fan_out, 1))
            return params
        for layer, (fan_in, fan_out) in enumerate(zip(dims, dims[1:]), start=1):
            params[f"W{layer}"] = rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)
            params[f"b{layer}"] = 0.1 * rng.normal(size=fan_out)
            if self.normalization is not None and layer < len(dims) - 1:
                params[f"gamma{layer}"] = rng.uniform(0.5, 2.0, size=fan_out)
                params[f"beta{layer}"] = 0.1 * rng.normal(size=fan_out)
        return params

    def describe(self) -> str:
        """e.g. "FullyConnectedNet(hidden_dims=[2], normalization='batchnorm', reg 0.5): X (2, 1), 2 classes; seed 0"."""
        if self.spec.form == "forward_backward":
            return f"{self.spec.cls}: A0 ({self.N}, {self.D}), dLdA ({self.N}, {self.C}); seed {self.seed}"
        shape = f"hidden_dims={list(self.hidden)}" if self.model != "two_layer_net" else f"hidden_dim={self.hidden[0]}"
        norm = f", normalization={self.normalization!r}" if self.normalization is not None else ""
        return f"{self.spec.cls}({shape}{norm}, reg {self.reg:g}): X ({self.N}, {self.D}), {self.C} classes; seed {self.seed}"


@dataclass(frozen=True)
class CaptioningCase:
    """A case of CS231n's CaptioningRNN: N images of D features, captions of T + 1 words from a
    vocabulary of V (0 <NULL>, 1 <START>, 2 <END>, then words), word vectors of W, H hidden units."""

    model: str
    N: int
    T: int
    V: int
    D: int
    W: int
    H: int
    cell_type: str
    seed: int

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def config(self) -> dict[str, Any]:
        words = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{v}": v for v in range(3, self.V)}}
        return {
            "word_to_idx": words,
            "input_dim": self.D,
            "wordvec_dim": self.W,
            "hidden_dim": self.H,
            "cell_type": self.cell_type,
        }

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """features (N, D) ~ N(0, 1); captions (N, T + 1): <START>, then words of [0, V) — some
        <NULL>, masked — with the first word after <START> never <NULL>, so that no case is all masked."""
        rng = np.random.default_rng([self.seed, 0])
        captions = rng.integers(0, self.V, size=(self.N, self.T + 1))
        captions[:, 0] = 1
        captions[:, 1] = rng.integers(1, self.V, size=self.N)
        return rng.normal(size=(self.N, self.D)), captions

    def params(self) -> dict[str, np.ndarray]:
        """W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, kH), Wh (H, kH), b (kH,), W_vocab (H, V),
        b_vocab (V,), k = 4 for the LSTM, 1 for the RNN; each ~ N(0, 1/fan_in), the biases ~ N(0, 0.1²)."""
        rng = np.random.default_rng([self.seed, 1])
        k = 4 if self.cell_type == "lstm" else 1
        shapes = {
            "W_embed": (self.V, self.W),
            "W_proj": (self.D, self.H),
            "b_proj": (self.H,),
            "Wx": (self.W, k * self.H),
            "Wh": (self.H, k * self.H),
            "b": (k * self.H,),
            "W_vocab": (self.H, self.V),
            "b_vocab": (self.V,),
        }
        return {
            key: rng.normal(size=shape) * (0.1 if len(shape) == 1 else 1 / np.sqrt(shape[0])) for key, shape in shapes.items()
        }

    def describe(self) -> str:
        return (
            f"CaptioningRNN(cell_type={self.cell_type!r}, input_dim={self.D}, wordvec_dim={self.W}, hidden_dim={self.H}): "
            f"{self.N} images, captions of {self.T + 1} words, {self.V} in the vocabulary; seed {self.seed}"
        )


@dataclass(frozen=True)
class TrainCase:
    """A run of CS231n's LinearClassifier.train: N samples of D features and C classes (the last
    class always present, as train counts them by np.max(y) + 1), `iters` iterations of batches of
    `batch`, a learning rate and reg, from np.random.seed(seed)."""

    model: str
    N: int
    D: int
    C: int
    batch: int
    iters: int
    learning_rate: float
    reg: float
    seed: int

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "reg": self.reg, "num_iters": self.iters, "batch_size": self.batch}

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """X (N, D) ~ N(0, 1), y (N,) labels with y[-1] = C − 1."""
        rng = np.random.default_rng([self.seed, 0])
        y = rng.integers(0, self.C, size=self.N)
        y[-1] = self.C - 1
        return rng.normal(size=(self.N, self.D)), y

    def describe(self) -> str:
        return (
            f"LinearSVM().train(X ({self.N}, {self.D}), y of {self.C} classes, learning_rate={self.learning_rate:g}, "
            f"reg={self.reg:g}, num_iters={self.iters}, batch_size={self.batch}) after np.random.seed({self.seed})"
        )


#: The regularisation strengths drawn, shrinking to the first: 0.5 shows a reg term with no ½ (or two).
REGS = (0.5, 0.0, 2.0)


@st.composite
def model_cases(draw: Any, spec: ModelSpec) -> ModelCase | CaptioningCase | TrainCase:
    """Cases of one class: a depth and a normalisation of the entry's, sizes up to 3 hidden units,
    4 samples and 4 classes (batchnorm: 2 samples at least, layernorm: 2 units per layer); a
    fixed class's widths with 1 to 4 samples."""
    if spec.form == "train":
        N = draw(st.integers(2, 6))
        D, C, batch, iters = draw(st.integers(1, 3)), draw(st.integers(2, 4)), draw(st.integers(1, N)), draw(st.integers(1, 4))
        rate, reg = draw(st.sampled_from((1e-1, 1e-2))), draw(st.sampled_from((0.5, 0.0)))
        return TrainCase(spec.name, N, D, C, batch, iters, rate, reg, draw(st.integers(0, 2**16)))
    if spec.cells:
        cell, N, T, V = (
            draw(st.sampled_from(spec.cells)),
            draw(st.integers(1, 3)),
            draw(st.integers(1, 3)),
            draw(st.integers(3, 5)),
        )
        D, W, H = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        return CaptioningCase(spec.name, N, T, V, D, W, H, cell, draw(st.integers(0, 2**16)))
    if spec.widths:
        N, seed = draw(st.integers(1, 4)), draw(st.integers(0, 2**16))
        return ModelCase(spec.name, N, spec.widths[0], spec.widths[1:-1], spec.widths[-1], 0.0, None, seed)
    depth = draw(st.sampled_from(spec.depths))
    normalization = draw(st.sampled_from(spec.normalizations))
    hidden = tuple(draw(st.integers(2 if normalization == "layernorm" else 1, 3)) for _ in range(depth))
    N = draw(st.integers(2 if normalization == "batchnorm" else 1, 4))
    D, C = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    return ModelCase(spec.name, N, D, hidden, C, draw(st.sampled_from(REGS)), normalization, draw(st.integers(0, 2**16)))
