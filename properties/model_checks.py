"""The check of a course's model class, whole: the student's class built, its params set, its loss
against the same network in PyTorch (references/model_spec.py, references/model_torch.py).

    comparisons = check_model(impl, case)        # case: a ModelCase; impl defines model_loss

Per case: `model_loss(model, config, params, X, y)` (the adapter builds the class and calls its
`loss(X, y)`) on copies, its result a pair (loss, grads) with grads a dict; the loss against
torch's, each parameter's gradient `grads["W1"]`, … against torch.autograd's (a key missing from
grads is a failure of its own), under the `autodiff` tolerance. Failures name the course's method
(`FullyConnectedNet.loss · grads["W2"][0, 1]`), not model_loss. The class calls the student's own
layer functions, so a bug in one of them shows here too. A fixed class of layers with no loss
(MyTorch's MLP0, MLP1, MLP4) goes through `model_forward_backward(model, params, X, dout)`:
its output, dLdA0 and each Linear's dLdW and dLdb (`layers[2].dLdW`) against torch's VJP of dout.
MyTorch's CNN goes through `model_classify` (its Z, loss, dLdA0 and every layer's dLdW, dLdb
against torch's), its RNNPhonemeClassifier through `model_recurrent` (its logits, and dh0 and the
gradients in the handout's convention: references/model_spec.py).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from gradverify.properties.calls import ImplFailure, call, expect_float, expect_pair, expect_tuple
from gradverify.properties.checks import Property
from gradverify.properties.model_cases import (
    CaptioningCase,
    CNNCase,
    ConvNetCase,
    ModelCase,
    RecurrentCase,
    TrainCase,
    model_cases,
)
from gradverify.references.compare import Cause, Comparison, Where, compare, failed, tolerance_for
from gradverify.references.model_spec import MODELS, ModelSpec

ORACLE = "torch"


def check_model(
    impl: ModuleType, case: ModelCase | CaptioningCase | TrainCase | ConvNetCase | CNNCase | RecurrentCase
) -> list[Comparison]:
    """The loss and every parameter's gradient of the student's class against torch's (for a
    fixed class of layers, its output, dX and every parameter's gradient)."""
    from gradverify.references import model_torch

    if isinstance(case, CNNCase):
        return _check_cnn(impl, case)
    if isinstance(case, RecurrentCase):
        return _check_recurrent(impl, case)
    if isinstance(case, ModelCase) and case.spec.form == "forward_backward":
        return _check_layers(impl, case)
    if isinstance(case, TrainCase):
        return _check_train(impl, case)
    spec, (X, y), params = case.spec, case.data(), case.params()
    reference = {CaptioningCase: model_torch.evaluate_captioning, ConvNetCase: model_torch.evaluate_conv_net}.get(
        type(case), model_torch.evaluate
    )
    result = _called(impl, spec, case.config(), {k: v.copy() for k, v in params.items()}, X.copy(), y.copy())
    value, grads = expect_pair(spec.function, result, "(loss, grads)")
    loss = expect_float(spec.function, value, "the loss")
    if not isinstance(grads, dict):
        raise ImplFailure(
            spec.function, Cause.WRONG_FORM, f"returned grads as {type(grads).__name__}, not a dict by the params' keys"
        )
    extra = (_dropout_masks(impl, case),) if isinstance(case, ModelCase) and case.keep != 1.0 else ()
    expected_loss, expected = reference(case.config(), params, X, y, *extra)
    tol = tolerance_for("autodiff", "float64")
    out = [compare(Where(oracle=ORACLE, function=spec.function, quantity="loss"), loss, expected_loss, tol)]
    return out + _compare_grads(spec.function, grads, expected, lambda key: f'grads["{key}"]')


def _dropout_masks(impl: ModuleType, case: ModelCase) -> list:
    """Each hidden layer's dropout mask as the student's own dropout_forward draws it from the
    case's seed: its output on ones of the layer's shape, in train mode (references/model_spec.py)."""
    out = []
    for width in case.hidden:
        param = {"mode": "train", "p": case.keep, "seed": case.dropout_seed}
        result = expect_pair("dropout_forward", call(impl, "dropout_forward", np.ones((case.N, width)), param), "(out, cache)")
        out.append(np.asarray(result[0], dtype=np.float64))
    return out


def _called(impl: ModuleType, spec: ModelSpec, *args: Any) -> Any:
    """The adapter's function of the class (spec.protocol) called on `args`; a failure named as
    the student's method, which is what raised or returned it."""
    try:
        return call(impl, spec.protocol, spec.name, *args)
    except ImplFailure as exc:
        raise ImplFailure(spec.function, exc.cause, exc.message, exception=exc.exception, detail=exc.detail) from None


def _results(impl: ModuleType, spec: ModelSpec, args: tuple, form: str) -> tuple:
    """The adapter's function of the class called on `args`: its result, the tuple `form` names
    ("(out, dX, grads)"), whose last element is a dict of the layers' gradients."""
    result = expect_tuple(spec.function, _called(impl, spec, *args), form.count(",") + 1, form)
    if not isinstance(result[-1], dict):
        raise ImplFailure(
            spec.function, Cause.WRONG_FORM, f"gave its layers' gradients as {type(result[-1]).__name__}, not a dict"
        )
    return result


def _compare_grads(function: str, grads: dict, expected: dict, label: Callable[[str], str]) -> list[Comparison]:
    """Each parameter's gradient against torch's, labelled label(key); a key missing from `grads`
    a failure of its own."""
    out, tol = [], tolerance_for("autodiff", "float64")
    for key, right in expected.items():
        where = Where(oracle=ORACLE, function=function, quantity=label(key))
        if key not in grads:
            out.append(failed(where, Cause.WRONG_FORM, f"gave no {label(key)}, the gradient of params[{key!r}]"))
        else:
            out.append(compare(where, grads[key], right, tol))
    return out


#: The batch draws LinearClassifier.train may use: np.random.choice with replacement (the
#: handout's hint) or without; the comparisons are against the one whose final W holds.
BATCH_DRAWS = {"np.random.choice (with replacement)": True, "np.random.choice(replace=False)": False}


def _check_train(impl: ModuleType, case: TrainCase) -> list[Comparison]:
    """LinearClassifier.train run on a LinearSVM after np.random.seed: its final W and each
    iteration's loss against the replayed stream's, of either batch draw (BATCH_DRAWS)."""
    from gradverify.references import model_torch

    spec, (X, y) = case.spec, case.data()
    W, history = expect_pair(
        spec.function, _called(impl, spec, case.config(), X.copy(), y.copy(), case.seed), "(W, loss_history)"
    )
    tol, tried = tolerance_for("autodiff", "float64"), []
    for form, replace in BATCH_DRAWS.items():
        right_W, right_history = model_torch.evaluate_linear_train(case.config(), X, y, case.seed, replace)
        where = Where(oracle=f"torch, batches by {form}", function=spec.function)
        found = [
            compare(where.at(quantity="self.W"), W, right_W, tol),
            compare(where.at(quantity="loss_history"), history, right_history, tol),
        ]
        if all(c.ok for c in found):
            return found
        tried.append(found)
    return tried[0]  # neither holds: said against the handout's hint, batches with replacement


def _check_layers(impl: ModuleType, case: ModelCase) -> list[Comparison]:
    """A fixed class of Linear and ReLU layers (MyTorch's MLPs): model_forward_backward's output
    against torch's forward, its dX and each Linear's dLdW and dLdb against torch's VJP of dout."""
    from gradverify.references import model_torch

    spec, (X, _), params, dout = case.spec, case.data(), case.params(), case.cotangent()
    out, dX, grads = _results(impl, spec, ({k: v.copy() for k, v in params.items()}, X.copy(), dout.copy()), "(out, dX, grads)")
    right_out, right_dX, expected = model_torch.evaluate_layers(params, X, dout)
    tol = tolerance_for("autodiff", "float64")
    return [
        compare(Where(oracle=ORACLE, function=f"{spec.cls}.forward", quantity="out"), out, right_out, tol),
        compare(Where(oracle=ORACLE, function=spec.function, quantity="dLdA0"), dX, right_dX, tol),
        *_compare_grads(spec.function, grads, expected, lambda key: f"layers[{2 * int(key[1:])}].dLd{key[0]}"),
    ]


def _check_cnn(impl: ModuleType, case: CNNCase) -> list[Comparison]:
    """MyTorch's CNN: model_classify's Z, loss, dLdA0 and each layer's dLdW and dLdb against torch's."""
    from gradverify.references import model_torch

    spec, (X, Y), params = case.spec, case.data(), case.params()
    args = (case.config(), {k: v.copy() for k, v in params.items()}, X.copy(), Y.copy())
    Z, loss, dX, grads = _results(impl, spec, args, "(Z, loss, dLdA0, grads)")
    right_Z, right_loss, right_dX, expected = model_torch.evaluate_cnn(case.config(), params, X, Y)
    tol = tolerance_for("autodiff", "float64")

    def label(key: str) -> str:
        if key in ("W", "b"):
            return f"linear_layer.dLd{key}"
        return f"convolutional_layers[{key[1:]}].conv1d_stride1.dLd{key[0]}"

    return [
        compare(Where(oracle=ORACLE, function=f"{spec.cls}.forward", quantity="Z"), Z, right_Z, tol),
        compare(
            Where(oracle=ORACLE, function=spec.function, quantity="self.loss"),
            expect_float(spec.function, loss, "the loss"),
            right_loss,
            tol,
        ),
        compare(Where(oracle=ORACLE, function=spec.function, quantity="dLdA0"), dX, right_dX, tol),
        *_compare_grads(spec.function, grads, expected, label),
    ]


def _check_recurrent(impl: ModuleType, case: RecurrentCase) -> list[Comparison]:
    """MyTorch's RNNPhonemeClassifier: model_recurrent's logits against torch's; dh0 and each
    cell's dW_ih, dW_hh, db_ih, db_hh against torch's VJP of delta over N (the handout returns
    dh / batch_size, RNNCell averages), the output Linear's dLdW and dLdb against the VJP itself."""
    from gradverify.references import model_torch

    spec, (X, h0, delta), params = case.spec, case.data(), case.params()
    args = (case.config(), {k: v.copy() for k, v in params.items()}, X.copy(), h0.copy(), delta.copy())
    logits, dh0, grads = _results(impl, spec, args, "(logits, dh0, grads)")
    right_logits, right_dh0, vjp = model_torch.evaluate_recurrent(case.config(), params, X, h0, delta)
    expected = {key: g if key in ("W", "b") else g / case.N for key, g in vjp.items()}
    tol = tolerance_for("autodiff", "float64")

    def label(key: str) -> str:
        if key in ("W", "b"):
            return f"output_layer.dLd{key}"
        return f"rnn[{key[-1]}].d{key[:-1]}"

    return [
        compare(Where(oracle=ORACLE, function=f"{spec.cls}.forward", quantity="logits"), logits, right_logits, tol),
        compare(Where(oracle=ORACLE, function=spec.function, quantity="dh_0"), dh0, right_dh0 / case.N, tol),
        *_compare_grads(spec.function, grads, expected, label),
    ]


def model_property(spec: ModelSpec) -> Property:
    """The check of one class as a Property (gradverify.search runs and shrinks it)."""
    return Property(
        name=f"model_{spec.name}_matches_torch",
        claim=f"{spec.function} gives the loss and every parameter's gradient of the same network in PyTorch",
        functions=(spec.protocol,),
        strategy=lambda scope: model_cases(spec),
        check=check_model,
        tolerance="autodiff",
    )


#: One property per class of the table: the rubric's `model` items run them (verify does not).
MODEL_PROPERTIES: dict[str, Property] = {p.name: p for p in (model_property(spec) for spec in MODELS.values())}
