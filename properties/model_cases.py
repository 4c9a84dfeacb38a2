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
    #: FullyConnectedNet's dropout_keep_ratio (1: no dropout) and the seed its masks are drawn from
    keep: float = 1.0
    dropout_seed: int = 55

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def config(self) -> dict[str, Any]:
        """What model_loss builds the class with (references/model_spec.py)."""
        config = {
            "input_dim": self.D,
            "hidden_dims": list(self.hidden),
            "num_classes": self.C,
            "reg": self.reg,
            "normalization": self.normalization,
        }
        if self.keep != 1.0:
            config.update(dropout_keep_ratio=self.keep, seed=self.dropout_seed)
        return config

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
        norm += f", dropout_keep_ratio={self.keep:g}, seed={self.dropout_seed}" if self.keep != 1.0 else ""
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


@dataclass(frozen=True)
class ConvNetCase:
    """A case of CS231n's ThreeLayerConvNet: N images (C, H, W), F filters of size k (odd, so the
    convolution keeps the size), M hidden units, K classes, reg."""

    model: str
    N: int
    C: int
    H: int
    W: int
    filters: int
    filter_size: int
    hidden: int
    classes: int
    reg: float
    seed: int

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def config(self) -> dict[str, Any]:
        return {
            "input_dim": [self.C, self.H, self.W],
            "num_filters": self.filters,
            "filter_size": self.filter_size,
            "hidden_dim": self.hidden,
            "num_classes": self.classes,
            "reg": self.reg,
        }

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """X (N, C, H, W) ~ N(0, 1), y (N,) uniform labels."""
        rng = np.random.default_rng([self.seed, 0])
        return rng.normal(size=(self.N, self.C, self.H, self.W)), rng.integers(0, self.classes, size=self.N)

    def params(self) -> dict[str, np.ndarray]:
        """W1 (F, C, k, k), W2 (F·(H/2)·(W/2), M), W3 (M, K), each ~ N(0, 1/fan_in); b1, b2, b3 ~ N(0, 0.1²)."""
        rng = np.random.default_rng([self.seed, 1])
        pooled = self.filters * (self.H // 2) * (self.W // 2)
        shapes = {
            "W1": (self.filters, self.C, self.filter_size, self.filter_size),
            "b1": (self.filters,),
            "W2": (pooled, self.hidden),
            "b2": (self.hidden,),
            "W3": (self.hidden, self.classes),
            "b3": (self.classes,),
        }
        return {
            key: rng.normal(size=shape)
            * (0.1 if len(shape) == 1 else 1 / np.sqrt(np.prod(shape[1:]) if key == "W1" else shape[0]))
            for key, shape in shapes.items()
        }

    def describe(self) -> str:
        return (
            f"ThreeLayerConvNet(input_dim=({self.C}, {self.H}, {self.W}), num_filters={self.filters}, "
            f"filter_size={self.filter_size}, hidden_dim={self.hidden}, num_classes={self.classes}, reg={self.reg:g}): "
            f"X ({self.N}, {self.C}, {self.H}, {self.W}); seed {self.seed}"
        )


@dataclass(frozen=True)
class CNNCase:
    """A case of MyTorch's CNN (HW2P1): N samples of C0 channels and width W0, a Conv1d per entry
    of channels, kernels, strides and activations, then Flatten and a Linear to `classes`."""

    model: str
    N: int
    C0: int
    W0: int
    channels: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    activations: tuple[str, ...]
    classes: int
    seed: int

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def widths(self) -> list[int]:
        """W0, then each convolution's output width, (W − k) // s + 1."""
        out = [self.W0]
        for k, s in zip(self.kernels, self.strides):
            out.append((out[-1] - k) // s + 1)
        return out

    def config(self) -> dict[str, Any]:
        return {
            "input_width": self.W0,
            "num_input_channels": self.C0,
            "num_channels": list(self.channels),
            "kernel_sizes": list(self.kernels),
            "strides": list(self.strides),
            "num_linear_neurons": self.classes,
            "activations": list(self.activations),
        }

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """A (N, C0, W0) ~ N(0, 1); labels (N, classes), one-hot rows of uniform labels."""
        rng = np.random.default_rng([self.seed, 0])
        return rng.normal(size=(self.N, self.C0, self.W0)), np.eye(self.classes)[rng.integers(0, self.classes, size=self.N)]

    def params(self) -> dict[str, np.ndarray]:
        """W{l} (C_{l+1}, C_l, k_l) ~ N(0, 1/(C_l·k_l)), b{l} (C_{l+1},) ~ N(0, 0.1²); the Linear's
        W (classes, C_L·W_L) ~ N(0, 1/fan_in), b (classes,) ~ N(0, 0.1²)."""
        rng = np.random.default_rng([self.seed, 1])
        params: dict[str, np.ndarray] = {}
        for layer, (c_in, c_out, k) in enumerate(zip((self.C0, *self.channels), self.channels, self.kernels)):
            params[f"W{layer}"] = rng.normal(size=(c_out, c_in, k)) / np.sqrt(c_in * k)
            params[f"b{layer}"] = 0.1 * rng.normal(size=c_out)
        features = self.channels[-1] * self.widths()[-1]
        params["W"] = rng.normal(size=(self.classes, features)) / np.sqrt(features)
        params["b"] = 0.1 * rng.normal(size=self.classes)
        return params

    def describe(self) -> str:
        acts = ", ".join(f"{name.capitalize() if name != 'relu' else 'ReLU'}()" for name in self.activations)
        return (
            f"CNN(input_width={self.W0}, num_input_channels={self.C0}, num_channels={list(self.channels)}, "
            f"kernel_sizes={list(self.kernels)}, strides={list(self.strides)}, num_linear_neurons={self.classes}, "
            f"activations=[{acts}]): A ({self.N}, {self.C0}, {self.W0}), one-hot labels; seed {self.seed}"
        )


@dataclass(frozen=True)
class RecurrentCase:
    """A case of MyTorch's RNNPhonemeClassifier (HW3P1): N sequences of T steps of D features,
    L stacked cells of H units, a Linear to `outputs`, from a drawn h0."""

    model: str
    N: int
    T: int
    D: int
    H: int
    L: int
    outputs: int
    seed: int

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    def config(self) -> dict[str, Any]:
        return {"input_size": self.D, "hidden_size": self.H, "output_size": self.outputs, "num_layers": self.L}

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (N, T, D) ~ N(0, 1), h0 (L, N, H) ~ N(0, 0.5²), delta (N, O) ~ N(0, 1)."""
        rng = np.random.default_rng([self.seed, 0])
        x, h0 = rng.normal(size=(self.N, self.T, self.D)), 0.5 * rng.normal(size=(self.L, self.N, self.H))
        return x, h0, rng.normal(size=(self.N, self.outputs))

    def params(self) -> dict[str, np.ndarray]:
        """W_ih{l} (H, D or H), W_hh{l} (H, H) ~ N(0, 1/fan_in), b_ih{l}, b_hh{l} (H,) ~ N(0, 0.1²);
        the output Linear's W (O, H) ~ N(0, 1/H), b (O,) ~ N(0, 0.1²)."""
        rng = np.random.default_rng([self.seed, 1])
        params: dict[str, np.ndarray] = {}
        for layer in range(self.L):
            fan_in = self.D if layer == 0 else self.H
            params[f"W_ih{layer}"] = rng.normal(size=(self.H, fan_in)) / np.sqrt(fan_in)
            params[f"W_hh{layer}"] = rng.normal(size=(self.H, self.H)) / np.sqrt(self.H)
            params[f"b_ih{layer}"] = 0.1 * rng.normal(size=self.H)
            params[f"b_hh{layer}"] = 0.1 * rng.normal(size=self.H)
        params["W"] = rng.normal(size=(self.outputs, self.H)) / np.sqrt(self.H)
        params["b"] = 0.1 * rng.normal(size=self.outputs)
        return params

    def describe(self) -> str:
        return (
            f"RNNPhonemeClassifier(input_size={self.D}, hidden_size={self.H}, output_size={self.outputs}, "
            f"num_layers={self.L}): x ({self.N}, {self.T}, {self.D}), h_0 ({self.L}, {self.N}, {self.H}); seed {self.seed}"
        )


#: The seeds of FullyConnectedNet's dropout masks, shrinking to the first (the dropout op's: after
#: np.random.seed(55) the first units drawn are kept at p ≥ 0.25, the second dropped at p < 1).
DROPOUT_SEEDS = (55, 0, 123)

#: The regularisation strengths drawn, shrinking to the first: 0.5 shows a reg term with no ½ (or two).
REGS = (0.5, 0.0, 2.0)


@st.composite
def cnn_cases(draw: Any, spec: ModelSpec) -> CNNCase:
    """CNN cases: 1 to 3 convolutions of 1 to 3 channels, kernels 1 to 3, strides 1 or 2 and
    activations of the entry's, an input width that leaves each output 1 or 2 wide (and what a
    stride skips), 1 to 3 samples of 1 or 2 channels, 2 or 3 classes."""
    depth = draw(st.sampled_from(spec.depths))
    channels = tuple(draw(st.integers(1, 3)) for _ in range(depth))
    kernels = tuple(draw(st.integers(1, 3)) for _ in range(depth))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(depth))
    activations = tuple(draw(st.sampled_from(spec.activations)) for _ in range(depth))
    width = draw(st.integers(1, 2))
    for k, s in zip(reversed(kernels), reversed(strides)):
        width = (width - 1) * s + k + draw(st.integers(0, s - 1))  # the input width this layer's output comes from
    N, C0, classes = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(2, 3))
    return CNNCase(spec.name, N, C0, width, channels, kernels, strides, activations, classes, draw(st.integers(0, 2**16)))


@st.composite
def model_cases(draw: Any, spec: ModelSpec) -> ModelCase | CaptioningCase | TrainCase | ConvNetCase | CNNCase | RecurrentCase:
    """Cases of one class: a depth and a normalisation of the entry's, sizes up to 3 hidden units,
    4 samples and 4 classes (batchnorm: 2 samples at least, layernorm: 2 units per layer); a
    fixed class's widths with 1 to 4 samples; a CNN's (cnn_cases); a recurrent classifier's 1 to 3
    of each size, 2 or 3 outputs; a ThreeLayerConvNet's images 2 or 4 high and wide, filters of 1
    or 3."""
    if spec.form == "cnn":
        return draw(cnn_cases(spec))
    if spec.form == "conv":
        N, C, H, W = (
            draw(st.integers(1, 3)),
            draw(st.integers(1, 2)),
            draw(st.sampled_from((2, 4))),
            draw(st.sampled_from((2, 4))),
        )
        filters, size, hidden = draw(st.integers(1, 2)), draw(st.sampled_from((1, 3))), draw(st.integers(1, 3))
        classes, reg = draw(st.integers(2, 3)), draw(st.sampled_from(REGS))
        return ConvNetCase(spec.name, N, C, H, W, filters, size, hidden, classes, reg, draw(st.integers(0, 2**16)))
    if spec.form == "recurrent":
        N, T, D, H = (draw(st.integers(1, 3)) for _ in range(4))
        L, outputs = draw(st.sampled_from(spec.depths)), draw(st.integers(2, 3))
        return RecurrentCase(spec.name, N, T, D, H, L, outputs, draw(st.integers(0, 2**16)))
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
    reg, seed, keep = draw(st.sampled_from(REGS)), draw(st.integers(0, 2**16)), draw(st.sampled_from(spec.keeps))
    dropout_seed = draw(st.sampled_from(DROPOUT_SEEDS)) if keep != 1.0 else 55
    return ModelCase(spec.name, N, D, hidden, C, reg, normalization, seed, keep, dropout_seed)
