"""What a submission returns either becomes numbers the grader compares or is that call's cause.

An integer beyond float64's range (10**400), an array of dtype object, a set: the sandbox sends
them as stand-ins or as Python ints, and the grader's checks would crash on them (OverflowError,
TypeError); `remote.unusable` makes each the call's failure instead. And a NaN where the
expected value is NaN too (a training run that diverges in both) is equal, not a failure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradverify.properties.calls import ImplFailure, call, expect_float
from gradverify.grading.remote import _suite_function, unusable
from gradverify.references.compare import Cause, compare
from gradverify.sandbox.codec import decode_value, encode_value


def _through_the_boundary(value):
    return decode_value(encode_value(value))


@pytest.mark.parametrize(
    "value, words",
    [
        (10**400, "integer too large for a float64 (401 digits)"),
        (np.array([[0.5]], dtype=object), "an array of dtype object where float64 numbers were expected"),
        (np.array([b"bytes"]), "an array of dtype |S5 where float64 numbers were expected"),
        ({1.0, 2.0}, "cannot read as numbers (a set"),
        ([{"W": np.zeros(2), "b": -(10**400)}], "integer too large"),
    ],
)
def test_a_value_the_checks_cannot_convert_is_the_calls_failure(value, words):
    returned = _through_the_boundary(value)
    assert words in unusable(returned)
    remote = _suite_function("loss", lambda *args: returned)
    with pytest.raises(ImplFailure) as failure:
        call(type("M", (), {"loss": staticmethod(remote)}), "loss")
    assert failure.value.cause is Cause.NOT_NUMBERS and words in failure.value.message


@pytest.mark.parametrize("value", [1.5, 10**300, np.zeros((2, 3)), [{"W": np.ones(2), "b": np.ones(1)}], (0.1, [1, 2])])
def test_numbers_and_arrays_of_numbers_are_usable(value):
    assert unusable(_through_the_boundary(value)) is None


def test_an_integer_beyond_float64_is_not_a_number_in_process_either():
    with pytest.raises(ImplFailure) as failure:
        expect_float("loss", 10**400, "the loss")
    assert failure.value.cause is Cause.NOT_NUMBERS


def test_nan_where_the_expected_value_is_nan_too_is_equal():
    got = np.array([1.0, math.nan, math.inf])
    assert compare("batch_losses", got, np.array([1.0, math.nan, math.inf])).ok


@pytest.mark.parametrize("got, expected", [([1.0, math.nan], [1.0, 2.0]), ([1.0, 2.0], [1.0, math.nan])])
def test_nan_on_one_side_only_still_fails(got, expected):
    assert not compare("batch_losses", np.array(got), np.array(expected)).ok


@pytest.mark.parametrize("activation", [np.array(list("tanh")), None, 3, ["tanh"]])
def test_a_step_that_returns_its_activation_as_anything_but_the_name_fails_that_check(activation):
    """An 'activation' entry that comes back as an array (or any other thing) is the step's changed
    entries, a failing comparison, never an error of the grader's own check."""
    import impl
    from gradverify.properties.cases import Architecture, Example, TrainCase
    from gradverify.properties.training_checks import check_momentum_step
    from gradverify.search import run_check

    def step(params, grads, velocity, lr=0.01, momentum=0.9):
        new, vel = impl.sgd_momentum_step(params, grads, velocity, lr=lr, momentum=momentum)
        return [{**layer, "activation": activation} for layer in new], vel

    module = type("Student", (), {"sgd_momentum_step": staticmethod(step)})
    case = TrainCase(Example(Architecture((2, 3, 1), ("tanh", "identity"), "mse", 0.0, 4), 5), 0.1, 0.9, 2, 2)
    comparisons = run_check(check_momentum_step, module, case)  # as the grader runs it
    bad = {c.cause for c in comparisons if not c.ok}
    # step 1's entries changed; impl's own step refuses the changed layers of step 2 as input
    assert bad and bad <= {Cause.CHANGED_ENTRIES, Cause.RAISED}, comparisons
