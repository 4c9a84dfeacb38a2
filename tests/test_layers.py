"""The layer protocol: its spec table, the generic check on the model solution (impl/layers.py),
an op a library declares itself, the kinks pinned exactly, and the strategies' shrinking."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings

from gradverify.impl import layers, rnn_layers
from gradverify.properties.calls import ImplFailure
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import FD, OwnDifferences, check_layer, directionals
from gradverify.properties.layer_strategies import layer_cases
from gradverify.properties.shared import Rejected
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_FUNCTIONS, LAYER_OPS, Arg, LayerOp, Size

FEW = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)

#: The bundled model solution as one module: impl/layers.py, and impl/rnn_layers.py where CS231n
#: keeps the recurrent ops; the generic check finds each op's functions in either.
MODEL_MODULES = (layers, rnn_layers)
BUNDLED = types.ModuleType("bundled_layers")
BUNDLED.__dict__.update({name: getattr(m, name) for m in MODEL_MODULES for name in m.LAYER_FUNCTIONS})


def _comparisons(impl, case):
    try:
        return check_layer(impl, case)
    except ImplFailure as failure:
        return [failure.comparison()]


def test_the_model_solution_defines_exactly_the_functions_of_the_table_once():
    defined = [name for m in MODEL_MODULES for name in m.LAYER_FUNCTIONS]
    assert sorted(defined) == sorted(LAYER_FUNCTIONS)


@pytest.mark.parametrize("name", LAYER_OPS)
def test_the_model_solution_passes_every_check_of_its_op(name):
    checked = []

    @FEW
    @given(layer_cases(LAYER_OPS[name], max_size=3))
    def run(case):
        try:
            comparisons = check_layer(BUNDLED, case)
        except Rejected:
            return
        checked.append(len(comparisons))
        assert [c.where for c in comparisons if not c.ok] == []

    run()
    assert checked and min(checked) >= 5  # forward and backward against both references at least


def _cube_module(backward_factor: float) -> types.ModuleType:
    module = types.ModuleType("cubes")
    module.cube_forward = lambda x: (x**3, x.copy())
    module.cube_backward = lambda dout, cache: backward_factor * dout * cache**2
    return module


#: An op a library declares of its own: out = x³, with callables for references.
CUBE = LayerOp(
    "cube",
    "out = x³",
    (Arg("x", ("N", "D")),),
    (Size("N"), Size("D")),
    ("dx",),
    torch=lambda a, h: a["x"] ** 3,
    jax=lambda a, h: a["x"] ** 3,
    out_shape=("N", "D"),
)


def test_an_op_a_library_declares_is_checked_and_its_bug_located():
    case = LayerCase(CUBE, (("N", 2), ("D", 3)), (), 0)
    assert all(c.ok for c in check_layer(_cube_module(3.0), case))
    bad = [c for c in check_layer(_cube_module(2.0), case) if not c.ok]
    assert {(c.where.oracle, c.where.function, c.where.quantity) for c in bad} == {
        ("jax", "cube_backward", "dx"),
        ("torch", "cube_backward", "dx"),
        ("finite differences", "cube_backward", "⟨dx, u⟩"),
    }
    assert {c.cause for c in bad} == {Cause.MISMATCH}


def test_an_op_whose_grads_do_not_match_its_differentiable_args_is_refused():
    with pytest.raises(ValueError):
        LayerOp("bad", "", (Arg("x", ("N",)),), (Size("N"),), ("dx", "dw"), torch="", jax="")


def test_relu_takes_the_subgradient_zero_at_its_kink():
    x = np.array([[-1.0, 0.0, 1.0]])
    _, cache = layers.relu_forward(x)
    assert layers.relu_backward(np.array([[2.0, 3.0, 4.0]]), cache).tolist() == [[0.0, 0.0, 4.0]]


def test_svm_loss_takes_the_subgradient_zero_at_a_margin_of_exactly_zero():
    loss, dx = layers.svm_loss(np.array([[1.0, 0.0, 0.5]]), np.array([0]))  # class 1's margin is 0
    assert loss == 0.5 and dx.tolist() == [[-1.0, 0.0, 1.0]]


def test_the_linear_classifiers_svm_losses_take_the_subgradient_zero_at_a_margin_of_exactly_zero():
    """CS231n A1's svm_loss_naive and svm_loss_vectorized, (W, X, y, reg): scores X·W = [1, 0, 0.5]."""
    for loss_of in (layers.svm_loss_naive, layers.svm_loss_vectorized):
        loss, dW = loss_of(np.array([[1.0, 0.0, 0.5]]), np.array([[1.0]]), np.array([0]), 0.0)  # class 1's margin is 0
        assert loss == 0.5 and dW.tolist() == [[-1.0, 0.0, 1.0]]


def test_finite_differences_reject_a_case_on_a_kink():
    case = LayerCase(LAYER_OPS["relu"], (("N", 1), ("D", 2)), (), 0)
    with pytest.raises(Rejected):
        directionals(layers, case, {"x": np.array([[0.0, 1.0]])}, np.array([[1.0, 1.0]]))


@pytest.mark.parametrize("name", ["affine", "batchnorm", "dropout"])
def test_cases_shrink_to_the_smallest_sizes_and_the_first_hyperparameters(name):
    op = LAYER_OPS[name]
    case = find(layer_cases(op), lambda c: True, settings=settings(database=None))
    assert case.sizes == {s.name: (s.low,) if s.many else s.low for s in op.sizes}
    assert case.hypers == {h.name: h.choices[0] for h in op.hypers} and case.seed == 0


def test_a_batchnorm_case_draws_running_averages_of_its_features_and_a_positive_variance():
    case = LayerCase(LAYER_OPS["batchnorm"], (("N", 3), ("D", 2)), (("mode", "test"), ("eps", 1e-5), ("momentum", 0.9)), 4)
    arrays = case.arrays()
    assert arrays["running_mean"].shape == (2,) and np.all(arrays["running_var"] >= 0.5)


def test_a_gru_case_draws_three_gate_blocks_of_h_units():
    case = LayerCase(LAYER_OPS["gru_step"], (("N", 2), ("D", 3), ("H", 2)), (), 0)
    assert case.shapes() == {"x": (2, 3), "prev_h": (2, 2), "Wx": (3, 6), "Wh": (2, 6), "b": (6,)}


def test_gru_step_keeps_prev_h_where_the_update_gate_is_one_and_takes_n_where_it_is_zero():
    """z = σ(±∞) exactly: next_h = prev_h where z = 1, and n = tanh(x Wx_n + b_n + r·(prev_h Wh_n)) where z = 0."""
    x, prev_h = np.array([[1.0]]), np.array([[0.5, -2.0]])
    Wx, Wh = np.zeros((1, 6)), np.zeros((2, 6))
    Wx[0, 4:] = 1.0  # the n block reads x
    b = np.array([0.0, 0.0, np.inf, -np.inf, 0.0, 0.0])  # r = ½, z = (1, 0)
    next_h, _ = rnn_layers.gru_step_forward(x, prev_h, Wx, Wh, b)
    assert next_h.tolist() == [[0.5, np.tanh(1.0)]]


def test_a_case_gives_its_shapes_and_hyperparameters():
    case = LayerCase(LAYER_OPS["affine"], (("N", 2), ("d", (3, 2)), ("M", 4)), (), 0)
    assert case.shapes() == {"x": (2, 3, 2), "w": (6, 4), "b": (4,)}
    assert [a.shape for a in case.arrays().values()] == [(2, 3, 2), (6, 4), (4,)]


def test_an_input_changed_in_place_is_reported_with_its_name():
    module = types.ModuleType("in_place")
    module.relu_forward = lambda x: (np.maximum(x, 0.0, out=x), x)
    module.relu_backward = layers.relu_backward
    case = LayerCase(LAYER_OPS["relu"], (("N", 2), ("D", 3)), (), 1)  # seed 1 draws some x < 0
    assert np.any(case.arrays()["x"] < 0)
    bad = {(c.where.function, c.where.quantity, c.cause) for c in check_layer(module, case) if not c.ok}
    assert ("relu_forward", "x unmodified", Cause.MODIFIED_INPUT) in bad


def _counting(module: types.ModuleType, name: str) -> tuple[types.ModuleType, list[int]]:
    """A copy of `module` whose function `name` counts its calls (in the returned list)."""
    calls = [0]
    counted = types.ModuleType(f"counting_{module.__name__}")
    counted.__dict__.update(module.__dict__)

    def wrapper(*args, **kwargs):
        calls[0] += 1
        return getattr(module, name)(*args, **kwargs)

    setattr(counted, name, wrapper)
    return counted, calls


#: (dtype, forward calls, rel): the joint difference equals the sum of the per-arg ones to within
#: the rounding of the forward in that dtype (float32: ~3e-6 of the value, measured)
@pytest.mark.parametrize("dtype, forward_calls, rel", [("float64", 2, 1e-7), ("float32", 4, 1e-4)])
def test_finite_differences_move_every_arg_at_once_in_two_forward_calls_four_in_float32(dtype, forward_calls, rel):
    case = LayerCase(LAYER_OPS["lstm_step"], (("N", 2), ("D", 2), ("H", 2)), (), 3, dtype)  # six differentiable args
    counted, calls = _counting(rnn_layers, "lstm_step_forward")
    arrays, douts = case.arrays(), (case.cotangent((2, 2), 0), case.cotangent((2, 2), 1))
    fd = OwnDifferences(counted, case, arrays, douts)
    assert calls[0] == forward_calls
    assert fd.joint == pytest.approx(sum(directionals(rnn_layers, case, arrays, douts).values()), rel=rel, abs=1e-9)


def test_a_passing_case_compares_one_joint_finite_difference_per_backward():
    case = LayerCase(LAYER_OPS["batchnorm"], (("N", 3), ("D", 2)), (("mode", "train"), ("eps", 1e-5), ("momentum", 0.9)), 1)
    fd = [c for c in check_layer(layers, case) if c.where.oracle == FD]
    assert [(c.where.function, c.where.quantity, c.ok) for c in fd] == [
        ("batchnorm_backward", "⟨(dx, dgamma, dbeta), u⟩", True),
        ("batchnorm_backward_alt", "⟨(dx, dgamma, dbeta), u⟩", True),
    ]


def test_a_failing_joint_difference_is_followed_by_one_per_grad_that_names_the_wrong_one():
    wrong = types.ModuleType("wrong_db")
    wrong.__dict__.update(layers.__dict__)
    wrong.affine_backward = lambda dout, cache: (lambda dx, dw, db: (dx, dw, 2.0 * db))(*layers.affine_backward(dout, cache))
    case = LayerCase(LAYER_OPS["affine"], (("N", 2), ("d", (2,)), ("M", 2)), (), 0)
    fd = {c.where.quantity: c.ok for c in check_layer(wrong, case) if c.where.oracle == FD}
    assert fd == {"⟨dx, u⟩": True, "⟨dw, u⟩": True, "⟨db, u⟩": False, "⟨(dx, dw, db), u⟩": False}


def test_the_cheaply_compiled_jax_reference_gives_what_eager_jax_gives():
    import jax

    from gradverify.references import layer_jax

    op = LAYER_OPS["conv"]
    case = LayerCase(op, tuple(dict(N=2, C=2, F=2, H=3, W=3, HH=2, WW=2).items()), (("stride", 1), ("pad", 1)), 0)
    arrays, dout = case.arrays(), case.cotangent((2, 2, 4, 4))
    got = layer_jax.evaluate(op, arrays, case.hypers, dout)
    out, vjp = jax.vjp(
        lambda x, w, b: layer_jax.conv({"x": x, "w": w, "b": b}, case.hypers), arrays["x"], arrays["w"], arrays["b"]
    )
    assert np.allclose(got.out, out, rtol=1e-13, atol=1e-14)
    assert all(np.allclose(g, e, rtol=1e-13, atol=1e-14) for g, e in zip(got.grads, vjp(dout), strict=True))


def test_a_new_dropout_seed_does_not_compile_the_jax_reference_again():
    from gradverify.references import layer_jax

    op = LAYER_OPS["dropout"]
    compiled = layer_jax._compiled(op, (("mode", "train"),))  # the seed is not part of the key
    sizes = []
    for seed in (0, 1, 123):
        case = LayerCase(op, (("N", 2), ("D", 3)), (("mode", "train"), ("p", 0.5), ("seed", seed)), 5)
        layer_jax.evaluate(op, {**case.arrays(), "mask": np.ones((2, 3))}, case.hypers, case.cotangent((2, 3)))
        sizes.append(compiled._cache_size())
    assert sizes[0] >= 1 and sizes[1] == sizes[2] == sizes[0]  # compiled for the first seed's shape only


# --------------------------------------------------------------------------- #
# Keys a parameter dict may leave out (LayerOp.omittable, LayerCase.omitted)
# --------------------------------------------------------------------------- #

_BN = LAYER_OPS["batchnorm"]
_BN_HYPER = (("mode", "train"), ("eps", 1e-5), ("momentum", 0.9))


def test_batchnorm_may_leave_eps_momentum_and_its_running_averages_to_their_defaults():
    assert _BN.omittable == ("eps", "momentum", "running_mean", "running_var")
    assert LAYER_OPS["layernorm"].omittable == ("eps",) and LAYER_OPS["dropout"].omittable == ()


def test_the_strategy_draws_dicts_with_keys_left_out_and_shrinks_to_every_key_given():
    left_out = find(layer_cases(_BN), lambda case: set(case.omitted) == set(_BN.omittable))
    assert dict(left_out.hyper)["eps"] == 1e-5 and dict(left_out.hyper)["momentum"] == 0.9  # the defaults
    assert find(layer_cases(_BN), lambda case: True).omitted == ()


def test_a_case_that_leaves_keys_out_passes_neither_them_nor_its_running_averages():
    from gradverify.properties.layer_checks import param_dict

    case = LayerCase(_BN, (("N", 2), ("D", 2)), _BN_HYPER, 0, omitted=("eps", "running_mean"))
    arrays = case.arrays()
    assert not arrays["running_mean"].any() and arrays["running_var"].all()
    assert set(param_dict(_BN, arrays, case.hypers, case.omitted)) == {"mode", "momentum", "running_var"}
    assert "bn_param without eps, running_mean" in case.describe()


def test_a_saved_case_keeps_the_keys_it_left_out():
    from gradverify.properties.cases import case_from_json, case_to_json

    case = LayerCase(_BN, (("N", 2), ("D", 2)), _BN_HYPER, 0, omitted=("momentum", "running_var"))
    assert case_from_json(case_to_json(case)) == case
    with pytest.raises(ValueError, match="may leave out of its dict only eps, momentum"):
        case_from_json({**case_to_json(case), "omitted": ["mode"]})


def _batchnorm_with(old: str, new: str) -> types.ModuleType:
    module = types.ModuleType("variant")
    source = Path(layers.__file__).read_text(encoding="utf-8")
    assert source.count(old) == 1
    exec(compile(source.replace(old, new), "variant.py", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("mode", ["train", "test"])
def test_the_model_solution_passes_with_every_key_left_to_its_default(mode):
    case = LayerCase(_BN, (("N", 3), ("D", 2)), (("mode", mode), ("eps", 1e-5), ("momentum", 0.9)), 1, omitted=_BN.omittable)
    assert [c.describe() for c in check_layer(layers, case) if not c.ok] == []


def test_a_forward_that_needs_a_key_the_dict_left_out_fails_as_raised():
    needs_eps = _batchnorm_with('    eps = bn_param.get("eps", 1e-5)\n', '    eps = bn_param["eps"]\n')
    with pytest.raises(ImplFailure) as failure:
        check_layer(needs_eps, LayerCase(_BN, (("N", 2), ("D", 2)), _BN_HYPER, 0, omitted=("eps",)))
    assert (failure.value.function, failure.value.cause, failure.value.exception) == (
        "batchnorm_forward",
        Cause.RAISED,
        "KeyError",
    )
    assert all(c.ok for c in check_layer(needs_eps, LayerCase(_BN, (("N", 2), ("D", 2)), _BN_HYPER, 0)))


def test_train_mode_that_stores_no_running_averages_when_the_dict_had_none_fails_at_them():
    stores_only_given = _batchnorm_with(
        '        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu\n',
        '        if "running_mean" in bn_param:\n'
        '            bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu\n',
    )
    case = LayerCase(_BN, (("N", 2), ("D", 2)), _BN_HYPER, 0, omitted=("running_mean",))
    failed = {(c.where.function, c.where.quantity) for c in check_layer(stores_only_given, case) if not c.ok}
    assert failed == {("batchnorm_forward", "bn_param['running_mean']")}
