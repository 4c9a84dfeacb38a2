"""Rubric items for the layer protocol: `check = "layer"` (an op of the spec table) and
`check = "update_rule"`, graded in the sandbox like every other item.

The claims: the model solution of every op and rule, handed in as one student file, earns every
point; a catalogued bug loses its op's item, with the cause the generic check gives in process,
and no other item; what a layer changes in place (its parameter dict, an input) and the memory
its outputs share with its inputs are seen across the sandbox's boundary as in one process.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from gradverify.grading import items
from gradverify.grading.kinds import KINDS, item_property
from gradverify.grading.rubric import Item, Rubric
from gradverify.references.compare import Cause
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.optim_spec import OPTIMIZERS
from tests.layer_variants import BUGGY, CORRECT
from tests.layer_variants.optim import SOURCE as OPTIM_SOURCE
from tests.layer_variants.optim import VARIANTS as OPTIM_VARIANTS
from tests.variants.variant import patched

IMPL = Path(__file__).resolve().parents[1] / "impl"
MODULES = ("layers", "rnn_layers", "optim")


def _item(check: str, target: str) -> Item:
    return Item(name=target, title=target, check=check, points=5.0, target=target)


def _rubric(*targets: str) -> Rubric:
    chosen = [_item("update_rule" if t in OPTIMIZERS else "layer", t) for t in targets]
    return Rubric("layers", tuple(chosen), examples=15, item_timeout=60.0, seed=0, require_backprop=False)


def _ops_in(module: str) -> list[str]:
    """The ops and rules whose functions impl/<module>.py defines."""
    impl = importlib.import_module(f"impl.{module}")
    ops = [name for name, op in LAYER_OPS.items() if all(hasattr(impl, fn) for fn in (op.forward, *op.backwards[:1]))]
    return ops + [name for name in OPTIMIZERS if hasattr(impl, name)]


def _one_file(folder: Path) -> Path:
    """impl/layers.py, rnn_layers.py and optim.py as one student file."""
    lines = ["from __future__ import annotations"]
    for module in MODULES:
        lines += [line for line in (IMPL / f"{module}.py").read_text().splitlines() if not line.startswith("from __future__")]
    path = folder / "layers.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_op_and_rule_is_a_rubric_kind_with_its_own_property():
    assert KINDS["layer"].targets == tuple(LAYER_OPS)
    assert KINDS["update_rule"].targets == tuple(OPTIMIZERS)
    assert item_property("layer", "conv").name == "layer_conv_matches_references"
    assert item_property("update_rule", "adam").functions == ("adam",)


def test_the_model_solution_handed_in_as_one_file_earns_every_point(tmp_path):
    rubric = _rubric(*LAYER_OPS, *OPTIMIZERS)
    result = items.grade_file(_one_file(tmp_path), rubric)
    failed = [(r.item.name, r.cause, r.reason) for r in result.items if not r.passed]
    assert failed == []
    assert result.score == result.max_score == 5.0 * (len(LAYER_OPS) + len(OPTIMIZERS))


#: Variants whose verdict needs what a call changed or shared to cross the sandbox's boundary,
#: or that are plain wrong answers: (variant, the cause its op's item fails with).
SANDBOXED = {
    "relu_forward_in_place": Cause.ALIASED,  # out IS x: the sharing rebuilt on the grader's copies
    "batchnorm_running_not_updated": Cause.MISMATCH,  # bn_param written back
    "batchnorm_backward_no_mean_var_paths": Cause.MISMATCH,
    "dropout_seed_ignored": Cause.MISMATCH,
    "conv_backward_padding_not_cropped": Cause.SHAPE,
}


@pytest.mark.parametrize("name", sorted(SANDBOXED))
def test_a_catalogued_bug_loses_its_op_s_item_only(name, tmp_path):
    variant = BUGGY[name]
    neighbours = [op for op in _ops_in(variant.module) if op != variant.op][:2]
    result = items.grade_file(variant.write(tmp_path), _rubric(variant.op, *neighbours))
    by_name = {r.item.name: r for r in result.items}
    assert not by_name[variant.op].passed
    assert by_name[variant.op].cause is SANDBOXED[name]
    assert any(f"{function} {quantity}" in by_name[variant.op].reason for function, quantity, _ in variant.located())
    assert all(by_name[op].passed for op in neighbours)


def test_dropout_returning_its_input_in_test_mode_keeps_the_point(tmp_path):
    variant = CORRECT["dropout_test_returns_x"]
    result = items.grade_file(variant.write(tmp_path), _rubric("dropout"))
    assert [r.passed for r in result.items] == [True]


def test_an_update_rule_that_changes_dw_in_place_loses_its_item(tmp_path):
    path = tmp_path / "optim.py"
    path.write_text(patched(OPTIM_SOURCE, "sgd_modifies_dw", OPTIM_VARIANTS["sgd_modifies_dw"][1]))
    result = items.grade_file(path, _rubric("sgd", "adam"))
    by_name = {r.item.name: r for r in result.items}
    assert by_name["sgd"].cause is Cause.MODIFIED_INPUT
    assert by_name["adam"].passed


def test_an_op_the_file_lacks_is_not_implemented_on_its_item_alone(tmp_path):
    path = tmp_path / "layers.py"
    path.write_text((IMPL / "optim.py").read_text())
    result = items.grade_file(path, _rubric("lstm", "adam"))
    by_name = {r.item.name: r for r in result.items}
    assert by_name["lstm"].cause is Cause.NOT_DEFINED
    assert by_name["adam"].passed
