"""The cost check (grading/cost.py): network_gradients must cost like backprop, not like
numerical differentiation, and a submission cannot fake the measurement."""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from gradverify.grading import cost
from gradverify.grading.items import grade_module
from gradverify.grading.rubric import load_rubric
from gradverify.impl import backprop
from gradverify.references.compare import Cause
from tests.attacks import BY_NAME
from tests.variants import CORRECT, IMPL_SOURCE

HIDDEN = ("tanh", "sigmoid", "relu")
OUTPUTS = {"mse": ("identity",), "cce": ("softmax",)}


def _attack(name: str) -> types.ModuleType:
    """The catalogue's attack `name` as it is handed in (Attack.source), loaded in this process."""
    return _source_module(BY_NAME[name].source().decode("utf-8"), name)


def _source_module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def _rubric(tmp_path: Path, *, require_backprop: bool | None = None, items: tuple[str, ...] = ("network",)) -> object:
    lines = ["examples = 3"] + ([f"require_backprop = {str(require_backprop).lower()}"] if require_backprop is not None else [])
    for item in items:
        lines += ["[[items]]", f'name = "{item}"', f'check = "{item}"', "points = 10"]
    path = tmp_path / "rubric.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_rubric(path)


NUMERICAL = ["complex_step_gradients", "extrapolated_differences"]


def test_the_bundled_impl_costs_like_backprop():
    check = cost.run(cost.local_timer(backprop), HIDDEN, OUTPUTS)
    assert check.verdict is cost.Verdict.BACKPROP
    assert check.ratio < cost.THRESHOLD / 10
    assert check.parameters > 3000


@pytest.mark.parametrize("name", ["network_gradients_loops", "relu_subgradient_one_at_zero"])
def test_a_correct_variant_costs_like_backprop(name):
    module = _source_module(CORRECT[name].source(), name)
    check = cost.run(cost.local_timer(module), HIDDEN, OUTPUTS)
    assert check.verdict is cost.Verdict.BACKPROP
    assert check.ratio < cost.THRESHOLD / 4


@pytest.mark.parametrize("name", NUMERICAL)
def test_numerical_gradients_are_judged_numerical(name):
    """The wording is the point: the explanation staff and the student read, checked here alone."""
    check = cost.run(cost.local_timer(_attack(name)), HIDDEN, OUTPUTS)
    assert check.verdict is cost.Verdict.NUMERICAL
    assert check.ratio > 2 * cost.THRESHOLD
    assert "not backprop" in check.explanation and f"{check.parameters:,}-parameter" in check.explanation


@pytest.mark.parametrize("name", NUMERICAL)
def test_numerical_gradients_earn_nothing_on_the_items_that_use_network_gradients(name, tmp_path):
    rubric = _rubric(tmp_path, items=("network", "l2", "train_loop"))
    result = grade_module(_attack(name), rubric)
    assert result.score == 0
    assert {r.cause for r in result.items} == {Cause.NOT_BACKPROP}
    assert {r.failed_at for r in result.items} == {"network_gradients"}


def test_the_rubric_switch_turns_the_check_off(tmp_path):
    result = grade_module(_attack("complex_step_gradients"), _rubric(tmp_path, require_backprop=False))
    assert result.items[0].cause is not Cause.NOT_BACKPROP
    assert result.items[0].passed


def test_the_bundled_impl_keeps_the_network_item_with_the_check_on(tmp_path):
    result = grade_module(backprop, _rubric(tmp_path, require_backprop=True, items=("network", "train_loop")))
    assert [r.passed for r in result.items] == [True, True]


def test_require_backprop_must_be_true_or_false(tmp_path):
    path = tmp_path / "rubric.toml"
    path.write_text('require_backprop = "yes"\n[[items]]\nname = "n"\ncheck = "network"\npoints = 1\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\(line 1\): require_backprop must be true or false, got .yes."):
        load_rubric(path)


RAISES_WHEN_LARGE = IMPL_SOURCE.read_text(encoding="utf-8") + textwrap.dedent("""
    _honest = network_gradients

    def network_gradients(net, X, Y):
        if sum(np.size(layer["W"]) for layer in net["layers"]) > 1000:
            raise ValueError("network_gradients: too large")
        return _honest(net, X, Y)
""")


def test_failing_only_on_the_cost_network_loses_the_items_that_check_the_gradients(tmp_path):
    result = grade_module(
        _source_module(RAISES_WHEN_LARGE, "raises_when_large"), _rubric(tmp_path, items=("network", "train_loop"))
    )
    network, train_loop = result.items
    assert not network.passed and "raised ValueError" in network.reason and "cost is measured" in network.reason
    assert train_loop.passed  # its own loop of its own steps: a bug in the gradients is the network item's


@pytest.fixture(scope="module")
def sandbox_timer():
    """Times through a sandbox of the given source, on the grader's side."""
    from gradverify.sandbox import Sandbox

    boxes = []

    def make(path: Path) -> cost.Timer:
        box = Sandbox(path)
        box.start()
        boxes.append(box)
        return cost.sandbox_timer(box, timeout=60)

    yield make
    for box in boxes:
        box.close()


def test_the_bundled_impl_costs_like_backprop_in_the_sandbox(sandbox_timer):
    check = cost.run(sandbox_timer(IMPL_SOURCE), HIDDEN, OUTPUTS)
    assert check.verdict is cost.Verdict.BACKPROP


#: Numerical gradients that try to fake the measurement: the forward pass, NumPy's functions
#: and its own functions made slow in its process (a trusted baseline measured there would grow),
#: and the parameters split between a thread and forked children (time the worker's process does
#: not see as its own). The gradient is central differences of the impl's own loss.
FAKER = IMPL_SOURCE.read_text(encoding="utf-8") + textwrap.dedent("""
    import os, threading, time, pickle

    def _slow(fn):
        def slow(*args, **kwargs):
            end = time.process_time() + 0.002
            while time.process_time() < end:
                pass
            return fn(*args, **kwargs)
        return slow

    _FAST = {"tanh": np.tanh, "identity": lambda z: z}
    np.tanh, np.matmul, np.exp = _slow(np.tanh), _slow(np.matmul), _slow(np.exp)
    dense_forward, activation = _slow(dense_forward), _slow(activation)

    def _value(layers, name, X, Y):
        h = X
        for layer in layers:
            h = _FAST[layer["activation"]](h @ layer["W"].T + layer["b"])
        return float(np.mean((h - Y) ** 2))

    def _partials(layers, name, X, Y, jobs):
        out = []
        for i, key, index in jobs:
            moved = [dict(layer) for layer in layers]
            for step in (1e-6, -1e-6):
                moved[i][key] = layers[i][key].copy()
                moved[i][key][index] += step
                out.append(_value(moved, name, X, Y))
        return [(a - b) / 2e-6 for a, b in zip(out[0::2], out[1::2])]

    def network_gradients(net, X, Y):
        layers, name = net["layers"], net["loss"]
        jobs = [(i, key, index) for i, layer in enumerate(layers) for key in ("W", "b") for index in np.ndindex(*layer[key].shape)]
        parts = [jobs[k::4] for k in range(4)]
        results = [None] * 4
        children = []
        for k in (0, 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(write, pickle.dumps(_partials(layers, name, X, Y, parts[k])))
                os._exit(0)
            os.close(write)
            children.append((k, pid, read))
        thread = threading.Thread(target=lambda: results.__setitem__(2, _partials(layers, name, X, Y, parts[2])))
        thread.start()
        results[3] = _partials(layers, name, X, Y, parts[3])
        thread.join()
        for k, pid, read in children:
            data = b""
            while chunk := os.read(read, 1 << 20):
                data += chunk
            results[k] = pickle.loads(data)
            os.waitpid(pid, 0)
        grads = [{key: np.zeros(layer[key].shape) for key in ("W", "b")} for layer in layers]
        for part, values in zip(parts, results):
            for (i, key, index), value in zip(part, values):
                grads[i][key][index] = value
        return _value(layers, name, X, Y), grads
""")


def test_slow_own_functions_threads_and_forks_cannot_fake_the_cost(sandbox_timer, tmp_path):
    path = tmp_path / "faker.py"
    path.write_text(FAKER, encoding="utf-8")
    check = cost.run(sandbox_timer(path), ("tanh",), {"mse": ("identity",)})
    assert check.verdict is cost.Verdict.NUMERICAL, check


def test_the_cost_network_is_drawn_afresh_so_no_answer_can_be_prepared():
    first, second = (cost.network("tanh", "identity", "mse", np.random.default_rng(seed))[0] for seed in (1, 2))
    assert not np.array_equal(first["layers"][0]["W"], second["layers"][0]["W"])


@pytest.mark.parametrize(
    "hidden, outputs, expected",
    [
        (("relu", "tanh"), {"cce": ("softmax",), "mse": ("identity", "tanh")}, ("tanh", "identity", "mse")),
        ((), {"bce": ("sigmoid",)}, (None, "sigmoid", "bce")),
        (("relu",), {}, None),
    ],
)
def test_the_cost_network_is_made_of_components_the_submission_implements(hidden, outputs, expected):
    assert cost.choose(hidden, outputs) == expected


def test_a_process_that_ends_or_is_reaped_elsewhere_takes_nothing_off_the_cpu_time():
    from gradverify.sandbox.processes import sandbox_cpu

    before = {10: 5.0, 11: 100.0}
    after = {10: 5.5, 12: 0.25}  # 11 ended (its time went to a reaper outside), 12 started
    assert sandbox_cpu(before, after) == pytest.approx(0.75)


SLEEPS_WHEN_LARGE = IMPL_SOURCE.read_text(encoding="utf-8") + textwrap.dedent("""
    import time
    _honest = network_gradients

    def network_gradients(net, X, Y):
        if sum(np.size(layer["W"]) for layer in net["layers"]) > 1000:
            time.sleep(60)
        return _honest(net, X, Y)
""")

BURNS_WHEN_LARGE = SLEEPS_WHEN_LARGE.replace("time.sleep(60)", "while True:\n            pass")


@pytest.mark.parametrize(
    "source, verdict",
    [(SLEEPS_WHEN_LARGE, cost.Verdict.FAILED), (BURNS_WHEN_LARGE, cost.Verdict.NUMERICAL)],
    ids=["sleeps", "burns"],
)
def test_a_call_stopped_at_its_limit_is_judged_by_the_cpu_time_it_had_used(tmp_path, source, verdict):
    path = tmp_path / "stopped.py"
    path.write_text(source, encoding="utf-8")
    from gradverify.sandbox import Sandbox

    with Sandbox(path) as box:
        check = cost.run(cost.sandbox_timer(box, timeout=2), ("tanh",), {"mse": ("identity",)})
    assert check.verdict is verdict
    assert ("timed out after 2 s" in check.explanation) == (verdict is cost.Verdict.FAILED)  # how a call failed: no field
    assert check.unfinished == (verdict is cost.Verdict.NUMERICAL)
