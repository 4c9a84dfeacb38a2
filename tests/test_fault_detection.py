"""A handful of the catalogue (tests/variants) under `verify --profile ci`: bugs that show only on
some architectures, batch shapes or hyperparameters are caught, correct-but-different code is
not flagged. The whole catalogue runs in `make mutation`."""

from __future__ import annotations

import types
from dataclasses import replace

import pytest

from gradverify import runner
from gradverify.references.compare import Cause
from gradverify.results import VerifyResult
from tests.variants import BUGGY, CORRECT


def _verify(variant, only: list[str] | None = None) -> VerifyResult:
    module = types.ModuleType(variant.name)
    exec(compile(variant.source(), variant.name, "exec"), module.__dict__)
    return runner.verify(module, impl_spec=variant.name, profile="ci", corpus_dir=None, save_regressions=False, only=only)


@pytest.mark.parametrize(
    "name, caught_by",
    [
        ("network_derivative_at_activation_value", "network_gradients_match_references"),  # only some activations
        ("dense_bias_gradient_mean", "dense_matches_references"),  # only batches of 2+
        ("train_resets_velocity_each_epoch", "train_follows_own_steps"),  # only momentum > 0 and 2+ epochs
        ("l2_gradient_on_biases", "l2_adds_half_lambda_norm"),  # only λ > 0
        ("softmax_without_max_shift", "activations_match_references"),  # only z > 709
    ],
)
def test_a_bug_that_shows_only_sometimes_is_still_caught(name, caught_by):
    """The property meant for it catches it on its own (every check, with 10 seeds: make mutation)."""
    result = _verify(BUGGY[name], only=[caught_by])
    assert [r.name for r in result.failed] == [caught_by]


@pytest.mark.parametrize("name", ["relu_subgradient_one_at_zero"])  # the fixed checks too (kinks): verify only
def test_correct_but_different_code_is_not_flagged(name):
    """Every check of verify --profile ci passes on it. The whole correct catalogue is graded item
    by item in tests/test_grade_catalogue.py, and verified with 10 seeds in make mutation."""
    result = _verify(CORRECT[name])
    assert result.passed, [(r.name, r.error or r.failure.comparisons[0].describe()) for r in result.failed]


# --------------------------------------------------------------------------- make mutation, in small


def test_every_explained_equivalent_mutant_is_a_line_of_impl():
    """An explanation names the very line it explains; when impl changes, it must be looked at again."""
    from benchmarks.mutmut_run import EXPLAINED
    from tests.variants import IMPL_SOURCE

    lines = {line.strip() for line in IMPL_SOURCE.read_text(encoding="utf-8").splitlines()}
    for key in EXPLAINED:
        old = key.split("\n")[0][1:]
        assert old in lines, old


@pytest.mark.parametrize(
    "old, new, equivalent",
    [
        ('x = check_array(where, "x", x, 2)', 'x = check_array(where, "XXxXX", x, 2)', True),
        (
            'grad_z = check_array("dense_backward", "grad_z", grad_z, 2)',
            'grad_z = check_array("DENSE_BACKWARD", "grad_z", grad_z, 2)',
            False,
        ),
        ('raise ValueError(f"{where}: X has {n}")', 'raise ValueError(f"XX{where}: X has {n}XX")', False),
        ("return 2.0 * (p - y) / p.size", "return 3.0 * (p - y) / p.size", False),
        ("return np.where(z > 0, grad_a, 0.0)", "return np.where(z >= 0, grad_a, 0.0)", True),
    ],
)
def test_survivors_are_called_equivalent_only_by_a_stated_reason(old, new, equivalent):
    from benchmarks.mutmut_run import classify

    assert (classify(old, new) is not None) == equivalent


def test_the_catalogue_benchmark_runs_a_variant_through_verify_and_grade():
    from benchmarks import mutation

    from gradverify.grading.rubric import load_rubric

    rubric = load_rubric()  # two of its items, the one the bug is in and another: the smoke stays small
    small = replace(rubric, items=tuple(i for i in rubric.items if i.name in ("mse", "sigmoid")))
    data = mutation.catalogue(
        seeds=1,
        names=["mse_halved", "sigmoid_via_tanh"],
        checks=["losses_match_references", "activations_match_references"],
        rubric=small,
    )
    (bug,), (ok,) = data["buggy"], data["correct"]
    assert bug["caught"] and bug["caught_in_seeds"] == 1 and bug["grade_lost"] == ["mse"]
    assert bug["hints_named"] == ["half"] and bug["hint_right"]
    assert ok["verify_passed"] and ok["grade_score"] == ok["grade_max"]
    assert "| `mse_halved` |" in mutation.render(
        {**data, "summary": mutation.summary(data), "seconds": 1.0, "date": "today", "command": "test"}
    )


def test_every_explained_equivalent_layer_mutant_is_a_line_of_its_file():
    """As for impl/backprop.py: an explanation names a line of the layer ops' file it explains."""
    from benchmarks.mutmut_run import LAYER_EXPLAINED
    from tests.layer_variants import IMPL

    for file, explained in LAYER_EXPLAINED.items():
        lines = {line.strip() for line in (IMPL / f"{file}.py").read_text(encoding="utf-8").splitlines()}
        for key in explained:
            old = key.split("\n")[0][1:]
            assert old in lines, (file, old)


@pytest.mark.parametrize(
    "old, new, equivalent",
    [
        ('H_out = _windows(H, PH, stride, 0, "avg_pool_forward")', "H_out = _windows(H, PH, stride, 0, None)", True),
        (
            'H_out = _windows(H, PH, stride, 0, "avg_pool_forward")',
            'H_out = _windows(H, PH, stride, 1, "avg_pool_forward")',
            False,
        ),
        ('eps = ln_param.get("eps", 1e-5)', 'eps = ln_param.get("eps", None)', False),  # a default no case reaches: a gap
        ("return dout * (x > 0)", "return dout * (x >= 0)", False),  # the layer protocol fixes relu'(0) = 0
        ("mask = None", 'mask = ""', True),
        ("dw = x.reshape(x.shape[0], -1).T @ dout", "dw = x.reshape(x.shape[0], -2).T @ dout", True),
        ("h = hs.reshape(N, T, H)[-1]", "h = hs.reshape(N, T, H)[-2]", False),  # an index, not a reshape's size
    ],
)
def test_layer_survivors_are_called_equivalent_only_by_a_stated_reason(old, new, equivalent):
    from benchmarks.mutmut_run import classify

    assert (classify(old, new, "layers") is not None) == equivalent


def test_the_layer_catalogue_benchmark_catches_locates_and_shrinks_bugs_and_passes_correct_code():
    from benchmarks.layer_catalogue import layer_catalogue, render_layers

    data = layer_catalogue(
        seeds=2, names=["affine_db_mean", "relu_backward_from_out", "adam_without_bias_correction", "adam_efficient_form"]
    )
    assert [(r["family"], r["name"]) for r in data["buggy"]] == [
        ("layer", "affine_db_mean"),
        ("update rule", "adam_without_bias_correction"),
    ]
    for bug in data["buggy"]:
        assert bug["caught_in_seeds"] == bug["located_in_seeds"] == bug["shrunk_in_seeds"] == 2
        assert 1 <= bug["median_examples_to_catch"] <= data["examples_per_search"]
    assert [c["passed_in_seeds"] for c in data["correct"]] == [2, 2]
    assert data["summary"]["caught_in_every_seed"] == 2 and data["summary"]["correct_pass_every_seed"] == 2
    assert "| `affine_db_mean` |" in render_layers({**data, "date": "today", "command": "test"})


def test_an_update_rule_bug_is_located_at_its_rule_step_and_quantity():
    from benchmarks.layer_catalogue import rule_property, search
    from tests.layer_variants.optim import load

    from gradverify.references.optim_spec import OPTIMIZERS

    result = search(rule_property(OPTIMIZERS["sgd"]), load("sgd_modifies_dw"), seed=3)
    (first, *_) = result.failure.comparisons
    assert (first.cause, first.where.function, first.where.quantity) == (Cause.MODIFIED_INPUT, "sgd", "dw")
    assert result.failure.case.w.shape in {(1,), (2,), (1, 1)}  # shrunk


@pytest.mark.parametrize(
    "old, gap",
    [
        ("return slice(p, p + stride * H_out, stride), slice(q, q + stride * W_out, stride)", "GAP_STRIDE"),
        ("if span < 0 or span % stride:", "GAP_TILING"),
        ('eps = ln_param.get("eps", 1e-5)', None),
        ("db = dout.sum(axis=0)", None),
    ],
)
def test_a_layer_survivor_that_changes_behaviour_is_reported_as_the_gap_it_shows(old, gap):
    from benchmarks import mutmut_run

    assert mutmut_run.gap(old, "") == (getattr(mutmut_run, gap) if gap else None)


def test_mutmut_only_measures_the_files_it_names_and_keeps_the_others_with_their_dates(monkeypatch):
    import argparse

    from benchmarks import mutation, mutmut_run

    layers = {"file": "impl/layers.py", "total": 4, "killed": 3, "equivalent": 1, "non_equivalent": 3, "score": 1.0}
    monkeypatch.setattr(
        mutmut_run, "collect", lambda files: {"version": "mutmut 3", "files": {"layers": {**layers, "survivors": []}}}
    )
    old = {"total": 2, "killed": 1, "equivalent": 1, "non_equivalent": 1, "score": 1.0, "survivors": [], "measured": "2026-11-25"}
    args = argparse.Namespace(mutmut_files=["layers"], mutmut_collect=True, jobs=1)
    merged = mutation._mutmut_again(args, old, "test")
    assert list(merged["files"]) == ["backprop", "layers"]
    assert merged["files"]["backprop"]["measured"] == "2026-11-25" and merged["files"]["layers"]["command"] == "test"
    assert (merged["total"], merged["killed"], merged["non_equivalent"]) == (6, 4, 4)


def test_mutmut_files_without_mutmut_only_is_refused(capsys):
    from benchmarks import mutation

    with pytest.raises(SystemExit):
        mutation.main(["--mutmut-files", "layers"])
    assert "--mutmut-only" in capsys.readouterr().err
