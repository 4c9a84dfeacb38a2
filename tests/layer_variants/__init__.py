"""Copies of impl/layers.py (or impl/rnn_layers.py) with one deliberate change each, made from
textual patches.

A variant is a list of (old text, new text) replacements, each old text occurring exactly once
in its module (so a variant never silently stops applying), with where the generic layer
check must find it: the function and the quantity of the failing comparison, and its cause,
and the diagnosis its hint must name (gradverify.layer_hints), if the catalogue has one. A
correct variant (a different but right way to write an op) has no `function`: it must pass.
float32.py makes a float32 library of the model solution or of any variant (in_float32);
optim.py holds the variants of impl/optim.py, the update rules, with where their check must find them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gradverify.diagnoses import Diagnosis
from gradverify.references.compare import Cause
from tests.variants.variant import patched, write_variant

IMPL = Path(__file__).resolve().parents[2] / "impl"
LAYERS_SOURCE = IMPL / "layers.py"


@dataclass(frozen=True)
class LayerVariant:
    name: str
    #: the op of the spec table it changes (gradverify.references.layer_spec.LAYER_OPS)
    op: str
    description: str
    patches: tuple[tuple[str, str], ...]
    #: where the check must locate the bug: a failing comparison of this function and quantity,
    #: with this cause (None: a correct variant, which must pass)
    function: str | None = None
    quantity: str | None = None
    cause: Cause = Cause.MISMATCH
    #: other (function, quantity) pairs where the shrunk case may show it instead
    or_at: tuple[tuple[str, str], ...] = ()
    #: the model solution's module it patches, in impl/
    module: str = "layers"
    #: the diagnosis its hint must name (gradverify.layer_hints), and no other; None: no hint
    hint: Diagnosis | None = None

    def located(self) -> set[tuple[str | None, str | None, Cause]]:
        """The (function, quantity, cause) triples of which the check must report one."""
        return {(self.function, self.quantity, self.cause), *((f, q, self.cause) for f, q in self.or_at)}

    def source(self) -> str:
        return patched(IMPL / f"{self.module}.py", self.name, self.patches)

    def write(self, folder: Path) -> Path:
        return write_variant(folder, self.name, self.source())


def _v(
    name, op, description, *patches, function=None, quantity=None, cause=Cause.MISMATCH, or_at=(), module="layers", hint=None
) -> LayerVariant:
    return LayerVariant(name, op, description, tuple(patches), function, quantity, cause, or_at, module, hint)


_NO_PATHS = ("    dx = dx_hat * inv_std + dvar * 2.0 * centred / N + dmu / N\n", "    dx = dx_hat * inv_std\n")

#: Layer bugs students and libraries really write, each located by the check.
BUGGY: dict[str, LayerVariant] = {
    v.name: v
    for v in (
        _v(
            "affine_dw_not_transposed",
            "affine",
            "dw = dout.T @ x̃: the gradient of w transposed",
            ("    dw = x.reshape(x.shape[0], -1).T @ dout\n", "    dw = dout.T @ x.reshape(x.shape[0], -1)\n"),
            hint=Diagnosis.TRANSPOSED,
            function="affine_backward",
            quantity="dw",
            cause=Cause.TRANSPOSED,
        ),
        _v(
            "affine_db_mean",
            "affine",
            "db = mean over the batch instead of the sum",
            ("    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n"),
            hint=Diagnosis.BATCH_MEAN,
            function="affine_backward",
            quantity="db",
        ),
        _v(
            "batchnorm_backward_no_mean_var_paths",
            "batchnorm",
            "dx = dout·γ/√(σ² + ε): the paths through the batch mean and variance left out",
            _NO_PATHS,
            hint=Diagnosis.NORM_NO_STATISTICS_PATHS,
            function="batchnorm_backward",
            quantity="dx",
        ),
        _v(
            "batchnorm_running_not_updated",
            "batchnorm",
            "train mode leaves bn_param's running averages as they were",
            ('        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu\n', ""),
            hint=Diagnosis.RUNNING_NOT_UPDATED,
            function="batchnorm_forward",
            quantity="bn_param['running_mean']",
        ),
        _v(
            "batchnorm_default_eps_of_keras",
            "batchnorm",
            "Keras's default ε (1e-3) where bn_param leaves eps out, not CS231n's 1e-5: right whenever eps is given",
            ('    eps = bn_param.get("eps", 1e-5)\n', '    eps = bn_param.get("eps", 1e-3)\n'),
            function="batchnorm_forward",
            quantity="out",
        ),
        _v(
            "batchnorm_test_uses_batch_statistics",
            "batchnorm",
            "test mode normalises with the batch's statistics instead of the running averages",
            ("        mu, var = running_mean, running_var\n", "        mu, var = x.mean(axis=0), x.var(axis=0)\n"),
            hint=Diagnosis.TEST_BATCH_STATISTICS,
            function="batchnorm_forward",
            quantity="out",
        ),
        _v(
            "layernorm_wrong_axis",
            "layernorm",
            "statistics over the batch (axis 0) instead of each sample's features",
            ("    mu = x.mean(axis=1, keepdims=True)\n", "    mu = x.mean(axis=0, keepdims=True)\n"),
            ("np.sqrt(x.var(axis=1, keepdims=True) + eps)", "np.sqrt(x.var(axis=0, keepdims=True) + eps)"),
            hint=Diagnosis.NORM_WRONG_AXIS,
            function="layernorm_forward",
            quantity="out",
        ),
        _v(
            "dropout_not_scaled",
            "dropout",
            "train mode keeps x·m without the 1/p scaling",
            (
                "        mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / p\n",
                "        mask = (np.random.rand(*x.shape) < p).astype(x.dtype)\n",
            ),
            hint=Diagnosis.DROPOUT_NOT_SCALED,
            function="dropout_forward",
            quantity="out",
        ),
        _v(
            "dropout_scaled_at_test",
            "dropout",
            "test mode scales by p as well (the non-inverted dropout's test-time rule on inverted dropout)",
            ("        out = x.copy()\n", "        out = x * p\n"),
            hint=Diagnosis.DROPOUT_SCALED_AT_TEST,
            function="dropout_forward",
            quantity="out",
        ),
        _v(
            "dropout_seed_ignored",
            "dropout",
            "the seed is never used: a new mask every call",
            ('        np.random.seed(dropout_param["seed"])\n', "        pass\n"),
            hint=Diagnosis.DROPOUT_SEED_IGNORED,
            function="dropout_forward",
            quantity="out, called again with the same seed",
            # one unit kept with p = 0.5 gives the same mask twice half the time; the finite
            # differences call the forward four times more
            or_at=(("dropout_backward", "⟨dx, u⟩"),),
        ),
        _v(
            "relu_forward_in_place",
            "relu",
            "relu_forward clips x in place and returns it (shrunk to an x > 0, only the aliasing shows)",
            ("    return np.maximum(x, 0.0), x\n", "    np.maximum(x, 0.0, out=x)\n    return x, x\n"),
            hint=Diagnosis.IN_PLACE,
            function="relu_forward",
            quantity="out",
            cause=Cause.ALIASED,
        ),
        _v(
            "softmax_loss_without_max_shift",
            "softmax_loss",
            "the softmax as exp(x)/Σ exp(x), the row's max never taken out: right until a score passes exp's overflow",
            (
                "    shifted = x - x.max(axis=1, keepdims=True)\n"
                "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
                "    exp = np.exp(x)\n    log_probs = np.log(exp / exp.sum(axis=1, keepdims=True))\n",
            ),
            function="softmax_loss",
            quantity="loss, rows + 1000·(r + 1)",
            cause=Cause.NAN,
        ),
        _v(
            "softmax_loss_shifted_by_the_global_max",
            "softmax_loss",
            "the scores shifted by the max of them all, x − np.max(x), not by each row's: right until rows lie far apart",
            ("    shifted = x - x.max(axis=1, keepdims=True)\n", "    shifted = x - np.max(x)\n"),
            function="softmax_loss",
            quantity="loss, rows + 1000·(r + 1)",
            cause=Cause.INFINITE,
        ),
        _v(
            "softmax_loss_no_mean",
            "softmax_loss",
            "the loss and dx summed over the batch, without 1/N",
            ("    loss = -log_probs[np.arange(N), y].sum() / N\n", "    loss = -log_probs[np.arange(N), y].sum()\n"),
            ("    dx /= N\n    return float(loss), dx\n\n\ndef svm_loss", "    return float(loss), dx\n\n\ndef svm_loss"),
            hint=Diagnosis.BATCH_MEAN,
            function="softmax_loss",
            quantity="loss",
        ),
        _v(
            "gelu_backward_without_x_pdf",
            "gelu",
            "GELU's derivative as Φ(x) alone, without the x·φ(x) of the product rule",
            ("    return (dout * (cdf + x * pdf)).astype(x.dtype)\n", "    return (dout * cdf).astype(x.dtype)\n"),
            function="gelu_backward",
            quantity="dx",
        ),
        _v(
            "svm_loss_naive_no_correct_class_gradient",
            "svm_loss_naive",
            "CS231n A1: each positive margin adds X_n to dW's column j but takes nothing from column y_n",
            ("                dW[:, y[n]] -= X[n]\n", ""),
            hint=Diagnosis.CORRECT_CLASS_GRADIENT_MISSING,
            function="svm_loss_naive",
            quantity="dW",
        ),
        _v(
            "svm_loss_vectorized_reg_gradient_without_2",
            "svm_loss_vectorized",
            "CS231n A1: dW += reg·W, the gradient of ½·reg·ΣW², where the loss adds reg·ΣW²",
            (
                "    loss, dscores = svm_loss(X @ W, y)\n    return loss + float(reg * np.sum(W * W)), X.T @ dscores + 2 * reg * W\n",
                "    loss, dscores = svm_loss(X @ W, y)\n    return loss + float(reg * np.sum(W * W)), X.T @ dscores + reg * W\n",
            ),
            hint=Diagnosis.REG_GRADIENT,
            function="svm_loss_vectorized",
            quantity="dW",
        ),
        _v(
            "softmax_loss_naive_dW_not_averaged",
            "softmax_loss_naive",
            "CS231n A1: the loss divided by N, its data gradient not",
            (
                "            dW[:, j] += X[n] * (probs[j] - (j == y[n]))\n"
                "    return float(loss / N + reg * np.sum(W * W)), dW / N + 2 * reg * W\n",
                "            dW[:, j] += X[n] * (probs[j] - (j == y[n]))\n"
                "    return float(loss / N + reg * np.sum(W * W)), dW + 2 * reg * W\n",
            ),
            function="softmax_loss_naive",
            quantity="dW",
        ),
        _v(
            "softmax_loss_vectorized_without_max_shift",
            "softmax_loss_vectorized",
            "CS231n A1: the probabilities as exp(s)/Σ exp(s), the row's max never taken out: right until a score passes exp's overflow",
            (
                "    loss, dscores = softmax_loss(X @ W, y)\n",
                "    exp = np.exp(X @ W)\n    probs = exp / exp.sum(axis=1, keepdims=True)\n    rows = np.arange(len(y))\n"
                "    loss = float(-np.log(probs[rows, y]).mean())\n    dscores = probs.copy()\n    dscores[rows, y] -= 1.0\n"
                "    dscores /= len(y)\n",
            ),
            function="softmax_loss_vectorized",
            quantity="loss, rows + 1000·(r + 1)",
            cause=Cause.NAN,
        ),
        _v(
            "svm_loss_counts_correct_class",
            "svm_loss",
            "the correct class's own margin (always 1) counted in the loss and its gradient",
            ("    margins[rows, y] = 0.0\n", ""),
            hint=Diagnosis.CORRECT_CLASS_COUNTED,
            function="svm_loss",
            quantity="loss",
        ),
        _v(
            "downsample_backward_width_from_its_output",
            "downsample1d",
            "MyTorch HW2P1: Downsample's dLdA made k × the output's width, not the input's: right only when k divides it",
            (
                "    dx = np.zeros(shape, dtype=dout.dtype)\n",
                "    dx = np.zeros((*dout.shape[:2], *(k * n for n in dout.shape[2:])), dtype=dout.dtype)\n",
            ),
            function="downsample1d_backward",
            quantity="dx",
            cause=Cause.SHAPE,
        ),
        _v(
            "upsample_forward_zeros_after_the_last_sample",
            "upsample1d",
            "MyTorch HW2P1: Upsample's output k·W wide, k − 1 zeros after the last sample too, where it is k·(W − 1) + 1",
            (
                "    out = np.zeros((*x.shape[:2], *(k * (n - 1) + 1 for n in x.shape[2:])), dtype=x.dtype)\n",
                "    out = np.zeros((*x.shape[:2], *(k * n for n in x.shape[2:])), dtype=x.dtype)\n",
            ),
            function="upsample1d_forward",
            quantity="out",
            cause=Cause.SHAPE,
        ),
        _v(
            "flatten_backward_left_flat",
            "flatten",
            "Flatten's backward gives dout back as it is, (N, C·W), not in the input's shape",
            ("    return dout.reshape(cache).copy()\n", "    return dout.copy()\n"),
            function="flatten_backward",
            quantity="dx",
            cause=Cause.SHAPE,
        ),
        _v(
            "conv_transpose1d_backward_not_downsampled",
            "conv_transpose1d",
            "ConvTranspose1d's dLdA the upsampled input's gradient, not taken back through the Upsample",
            ("    return upsample1d_backward(dup, up_cache), dw, db\n", "    return dup, dw, db\n"),
            function="conv_transpose1d_backward",
            quantity="dx",
            cause=Cause.SHAPE,
        ),
    )
}

#: Different but right ways to write an op: each must pass.
CORRECT: dict[str, LayerVariant] = {
    v.name: v
    for v in (
        _v(
            "relu_backward_from_out",
            "relu",
            "relu caches out and takes dout·[out > 0]: out > 0 exactly where x > 0",
            ("    return np.maximum(x, 0.0), x\n", "    out = np.maximum(x, 0.0)\n    return out, out\n"),
        ),
        _v(
            "batchnorm_test_mode_builds_no_cache",
            "batchnorm",
            "CS231n's handout: the cache built in the train branch alone (None in test mode, whose backward is never taken)",
            (
                "    out = gamma * x_hat + beta\n    return out, (mode, x_hat, gamma, inv_std)\n",
                '    out = gamma * x_hat + beta\n    return out, ((mode, x_hat, gamma, inv_std) if mode == "train" else None)\n',
            ),
        ),
        _v(
            "batchnorm_backward_one_line",
            "batchnorm",
            "batchnorm_backward as the one-line simplified formula (N·dout − Σdout − x̂·Σ(dout·x̂))·γ/(N·σ)",
            _NO_PATHS,
            ("    dx = dx_hat * inv_std\n", "    dx = (N * dout - dbeta - x_hat * dgamma) * gamma * inv_std / N\n"),
        ),
        _v(
            "dropout_test_returns_x",
            "dropout",
            "test mode returns x itself, as CS231n's own solution does: dropout is the identity there",
            ("        out = x.copy()\n", "        out = x\n"),
        ),
    )
}


# The catalogues of other op families, each in a file of its own, collected here.
from tests.layer_variants import rnn  # noqa: E402
from tests.layer_variants.conv import CONV_BUGGY, CONV_CORRECT  # noqa: E402  (it builds on the above)

BUGGY.update(rnn.BUGGY)
CORRECT.update(rnn.CORRECT)
BUGGY.update({v.name: v for v in CONV_BUGGY})
CORRECT.update({v.name: v for v in CONV_CORRECT})
