"""A failing case as Python a student runs (properties/reproduce.py): it rebuilds the case's
inputs exactly and makes the check's calls, so running it beside the student's functions gives
what the grader saw."""

from __future__ import annotations

import types
from dataclasses import replace

import numpy as np
import pytest

from gradverify.grading.feedback import item_output
from gradverify.grading.items import grade_module
from gradverify.grading.rubric import load_rubric
from gradverify.impl import backprop
from gradverify.properties.cases import ActivationCase, Architecture, DenseCase, Example, LossCase, TrainCase, materialize
from gradverify.properties.reproduce import MAX_NUMBERS, snippet
from gradverify.properties.training_checks import momentum_gradients
from tests.variants import BUGGY


def run(code: str, module=backprop) -> dict:
    """The snippet run where `module`'s functions are defined, as a student's notebook cell."""
    namespace = {name: getattr(module, name) for name in dir(module) if not name.startswith("__")}
    exec(compile(code, "snippet", "exec"), namespace)  # noqa: S102 - the snippet the grader wrote
    return namespace


def test_an_activation_snippet_rebuilds_z_and_grad_a_to_the_last_bit():
    case = ActivationCase("tanh", 2, 3, seed=7)
    z, grad_a = case.arrays()
    ran = run(snippet(case))
    assert np.array_equal(ran["z"], z) and np.array_equal(ran["grad_a"], grad_a)
    assert np.array_equal(ran["grad_z"], backprop.activation_backward("tanh", z, grad_a))


def test_a_loss_snippet_keeps_integer_labels_integers():
    case = LossCase("sparse_cce", 3, 4, seed=2)
    ran = run(snippet(case))
    assert ran["y_true"].dtype.kind == "i" and np.array_equal(ran["y_true"], case.arrays()[1])
    assert ran["value"] == backprop.loss("sparse_cce", *case.arrays())


def test_a_dense_snippet_calls_forward_and_backward():
    case = DenseCase(2, 3, 2, seed=4)
    ran = run(snippet(case))
    for got, expected in zip(
        (ran["grad_x"], ran["grad_W"], ran["grad_b"]), backprop.dense_backward(*case.arrays()[:2], case.arrays()[3])
    ):
        assert np.array_equal(got, expected)


def test_a_network_snippet_rebuilds_the_net_and_its_data():
    case = Example(Architecture((2, 3, 1), ("tanh", "sigmoid"), "bce", l2=0.01, batch=2), seed=11)
    net, X, Y = materialize(case)
    ran = run(snippet(case))
    assert ran["net"]["l2"] == 0.01 and [layer["activation"] for layer in ran["net"]["layers"]] == ["tanh", "sigmoid"]
    assert ran["loss_value"] == backprop.network_gradients(net, X, Y)[0]


def test_a_momentum_snippet_takes_the_checks_three_steps_with_its_gradients():
    case = TrainCase(Example(Architecture((2, 1), ("identity",), "mse"), seed=3), lr=0.1, momentum=0.9, batch_size=1, epochs=1)
    ran = run(snippet(case, ("sgd_momentum_step",)))
    params, velocity = materialize(case.example)[0]["layers"], None
    for grads in momentum_gradients(case, params):
        params, velocity = backprop.sgd_momentum_step(params, grads, velocity, lr=0.1, momentum=0.9)
    assert np.array_equal(ran["params"][0]["W"], params[0]["W"])


def test_a_case_too_large_to_write_out_has_no_snippet():
    assert snippet(ActivationCase("relu", MAX_NUMBERS, 2, seed=0)) is None
    assert snippet(object()) is None


@pytest.fixture(scope="module")
def tanh_bug():
    module = types.ModuleType("tanh_bug")
    exec(compile(BUGGY["tanh_derivative_from_z"].source(), "tanh_bug", "exec"), module.__dict__)  # noqa: S102
    rubric = load_rubric()
    rubric = replace(rubric, examples=10, items=tuple(i for i in rubric.items if i.name == "tanh"))
    return module, grade_module(module, rubric, submission="tanh_bug.py").items[0]


def test_a_failed_items_snippet_shows_the_student_the_wrong_value_the_grader_saw(tanh_bug):
    module, item = tanh_bug
    assert not item.passed and item.reproduce
    ran = run(item.reproduce, module)
    z, grad_a = ran["z"], ran["grad_a"]
    assert not np.allclose(ran["grad_z"], grad_a * (1 - np.tanh(z) ** 2))  # the bug, reproduced
    assert "To run the failing case yourself" in item_output(item) and "    grad_z = activation_backward" in item_output(item)
