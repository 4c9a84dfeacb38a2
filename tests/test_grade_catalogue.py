"""The catalogue of variants graded (tests/variants): each bug loses exactly its item and what is
built on it, its hint names its cause and no other diagnosis fires; each correct-but-different
implementation scores full marks; partial and fused code gets each item its verdict; correct code
of a restricted domain (a fixed depth, one output unit) is graded on its domain, never to 0."""

from __future__ import annotations

import types
from dataclasses import replace

import numpy as np
import pytest

from gradverify.properties.cases import Architecture, Example, materialize
from gradverify.grading import items as grading
from gradverify.grading.rubric import load_rubric
from gradverify.grading.items import Status
from gradverify.references.compare import Cause
from tests.variants import _NETWORK_START, BUGGY, CORRECT, PARTIAL, RESTRICTED

RUBRIC = load_rubric()
#: The shipped rubric at a third of its examples, for the catalogues of bugs and of correct
#: variants here: each bug still loses its item (coverage cases run first whatever the budget);
#: the full budget grades both catalogues in `make mutation` (reports/mutation.md).
QUICK_RUBRIC = replace(RUBRIC, examples=10)


# --------------------------------------------------------------------------- the catalogue of bugs


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_each_catalogued_bug_loses_points_on_its_item_and_what_needs_it_only(name):
    variant = BUGGY[name]
    result = grading.grade_module(_module(variant.source(), name), QUICK_RUBRIC, submission=name)
    failed = [r.item.name for r in result.items if r.lost]  # failed, or partly right (a composite item's share)
    assert failed == variant.lost_items(RUBRIC), f"{variant.description}: failed {failed}"
    item = next(r for r in result.items if r.item.name == variant.item)
    assert result.score == pytest.approx(RUBRIC.max_score - sum(r.item.points - r.score for r in result.items if r.lost))
    assert all(r.score == 0 for r in result.items if r.lost and r.credit is None)
    assert item.reason and item.details, "a failing item says why, with a case and values"
    named = {h.diagnosis for r in result.items for h in r.hints if h.diagnosis}
    fits = {variant.hint, *(diagnosis for _, diagnosis in variant.elsewhere)}
    assert named <= fits, f"a diagnosis that does not fit {name}: {[h for r in result.items for h in r.hints]}"
    assert variant.hint is None or variant.hint in {h.diagnosis for h in item.hints}, item.hints
    for other, diagnosis in variant.elsewhere:
        assert diagnosis in {h.diagnosis for r in result.items if r.item.name == other for h in r.hints}, other


def test_every_diagnosis_in_the_catalogue_has_a_variant_that_needs_it():
    from gradverify.diagnoses import DIAGNOSES
    from tests import layer_variants
    from tests.test_optim import HINTS

    named = {v.hint for v in BUGGY.values()} | {p.variant.hint for p in PARTIAL.values()}
    named |= {v.hint for v in layer_variants.BUGGY.values()} | set(HINTS.values())  # the layers' and the rules' catalogues
    assert set(DIAGNOSES) <= named, f"diagnoses no variant tests: {sorted(set(DIAGNOSES) - named)}"


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_each_correct_but_different_implementation_scores_full_marks(name):
    variant = CORRECT[name]
    result = grading.grade_module(_module(variant.source(), name), QUICK_RUBRIC, submission=name)
    assert [r.item.name for r in result.items if not r.passed] == [], variant.description


@pytest.fixture(scope="module")
def partial_grades(tmp_path_factory):
    """Each partial variant graded once, through the sandbox."""
    folder = tmp_path_factory.mktemp("partial")
    return {name: grading.grade_file(partial.variant.write(folder), RUBRIC) for name, partial in PARTIAL.items()}


@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_partial_and_fused_code_gets_each_item_its_verdict(name, partial_grades):
    """What a partial implementation leaves out is "not implemented" (in its author's words), what
    it gets wrong fails (a composite item only partly right counts as lost), and everything else
    passes: a network with softmax fused into its cross-entropy is checked with softmax under
    cross-entropy only, softmax under the other losses left out (its own item is not implemented)."""
    partial, result = PARTIAL[name], partial_grades[name]
    status = {r.item.name: r.status for r in result.items}
    assert sorted(n for n, s in status.items() if s == "not implemented") == sorted(partial.missing)
    assert sorted(n for n, s in status.items() if s in ("failed", "partial")) == sorted(partial.wrong)
    missing = [r for r in result.items if r.status == "not implemented"]
    assert all("NotImplementedError: " in r.reason and "fused" in r.reason for r in missing)  # the author's own words
    network = next(r for r in result.items if r.item.name == "network")
    assert network.scope and all("softmax" in line for line in network.scope)


@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_partial_code_gets_the_diagnosis_of_its_bug_and_no_other(name, partial_grades):
    """Missing functions get no diagnosis; a bug inside the fused network gets its own."""
    variant, result = PARTIAL[name].variant, partial_grades[name]
    named = {r.item.name: {h.diagnosis for h in r.hints if h.diagnosis} for r in result.items}
    assert all(not causes for item, causes in named.items() if item != variant.item), named
    assert variant.hint is None or variant.hint in named[variant.item], named


@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_the_partial_variants_network_verdict_agrees_with_pytorch_directly(name):
    """Outside the grader: each partial variant's network_gradients against torch autograd on
    relu → softmax networks under cce and sparse_cce; they agree exactly when the grade says the
    network item passes."""
    from gradverify.references import torch_backend

    partial = PARTIAL[name]
    module = _module(partial.variant.source(), name)
    agree = []
    for loss in ("cce", "sparse_cce"):
        net, X, Y = materialize(Example(Architecture((3, 4, 3), ("relu", "softmax"), loss, 0.0, 5), 1))
        value, grads = module.network_gradients(net, X, Y)
        want_value, want = torch_backend.network_gradients(net, X, Y)
        agree.append(
            np.isclose(value, want_value, rtol=1e-9)
            and all(np.allclose(g[k], w[k], rtol=1e-9, atol=1e-12) for g, w in zip(grads, want) for k in ("W", "b"))
        )
    assert all(agree) == ("network" not in partial.wrong)


def test_a_bug_inside_a_fused_network_costs_points_its_fix_earns(partial_grades):
    scores = {name: partial_grades[name].score for name in ("fused_softmax_cce", "fused_softmax_cce_times_n")}
    assert scores["fused_softmax_cce_times_n"] < scores["fused_softmax_cce"]


def test_dampened_momentum_is_named_as_such_and_not_as_a_missing_half():
    """With α = ½ a dampened step is exactly ½ of the protocol's: the hint names the dampening."""
    variant = BUGGY["momentum_with_dampening"]
    result = grading.grade_module(_module(variant.source(), variant.name), RUBRIC)
    item = next(r for r in result.items if r.item.name == "momentum_step")
    assert not item.passed and any("dampening" in h for h in item.hints), item.hints
    assert not any("½" in h for h in item.hints)


# --------------------------------------------------------------------------- correct code of a restricted domain


@pytest.fixture(scope="module")
def restricted_grades(tmp_path_factory):
    """Each restricted variant graded once, through the sandbox, with the shipped rubric."""
    folder = tmp_path_factory.mktemp("restricted")
    return {name: grading.grade_file(r.variant.write(folder), RUBRIC) for name, r in RESTRICTED.items()}


@pytest.mark.parametrize("name", sorted(RESTRICTED))
def test_correct_code_of_a_restricted_domain_is_graded_on_its_domain_not_to_zero(name, restricted_grades):
    """A network the code refuses (another depth, more outputs) is outside its domain: every item
    passes but the composite items whose domain holds pairs it cannot have, which earn the share
    it covers, with no diagnosis (nothing is wrong)."""
    restricted, result = RESTRICTED[name], restricted_grades[name]
    status = {r.item.name: r.status for r in result.items}
    assert sorted(n for n, s in status.items() if s is not Status.PASSED) == sorted(restricted.partial), status
    for r in result.items:
        if r.item.name in restricted.partial:
            assert r.status is Status.PARTIAL and 0.5 * r.item.points < r.score < r.item.points, (r.item.name, r.score)
        assert not any(h.diagnosis for h in r.hints), (r.item.name, r.hints)


@pytest.mark.parametrize("name", sorted(RESTRICTED))
def test_the_restricted_variants_agree_with_pytorch_inside_their_domain(name):
    """Outside the grader: on a network inside its domain, each restricted variant's
    network_gradients equals torch autograd's, so its full marks there are earned."""
    from gradverify.references import torch_backend

    restricted = RESTRICTED[name]
    module = _module(restricted.variant.source(), name)
    sizes, activations, loss = restricted.inside
    net, X, Y = materialize(Example(Architecture(sizes, activations, loss, 0.0, 5), 3))
    value, grads = module.network_gradients(net, X, Y)
    want_value, want = torch_backend.network_gradients(net, X, Y)
    assert np.isclose(value, want_value, rtol=1e-9)
    assert all(np.allclose(g[k], w[k], rtol=1e-9, atol=1e-12) for g, w in zip(grads, want) for k in ("W", "b"))
    outside = Architecture((3, 4, 4, 2), ("relu", "relu", "sigmoid"), loss, 0.0, 5)
    with pytest.raises(restricted.refusal):  # and it refuses a network outside: deeper and wider
        module.network_gradients(*materialize(Example(outside, 3)))


def test_an_asserted_depth_is_graded_as_a_depth_refused_with_not_implemented(restricted_grades):
    """`assert len(layers) == 2` says the network's depth is outside the code's domain exactly
    as NotImplementedError does: every item gets the same status and score."""
    asserted, refused = restricted_grades["fixed_depth_asserted"], restricted_grades["fixed_depth_two_layers"]
    assert [(r.item.name, r.status, r.score) for r in asserted.items] == [(r.item.name, r.status, r.score) for r in refused.items]
    assert asserted.score == RUBRIC.max_score


def _only(*names: str):
    """QUICK_RUBRIC with only the items `names`."""
    return replace(QUICK_RUBRIC, items=tuple(item for item in RUBRIC.items if item.name in names))


#: network_gradients asserting what the domain probes never break, 3 samples (domain.CASE_BATCH):
#: the search's draws of other batch sizes break it; and sigmoid's derivative asserting one row,
#: which most of its item's cases break.
_ASSERTS_INSIDE = (
    (
        _NETWORK_START,
        '    """network_gradients on validated input."""\n    assert X.shape[0] == 3\n    xs, zs = _forward(layers, X)\n',
    ),
    (
        "    s = _sigmoid(z)\n    return grad_a * s * (1.0 - s)",
        "    assert z.shape[0] == 1\n    s = _sigmoid(z)\n    return grad_a * s * (1.0 - s)",
    ),
)


def test_an_assertion_outside_the_domain_probes_stays_a_failure():
    """An AssertionError refuses a network only on a probe of the domain: on a case of a shape the
    probes were taken on (another batch size) it fails the composite item, and in a component's
    own item it fails the item, as any exception does (never "not implemented")."""
    from tests.variants import IMPL_SOURCE

    source = IMPL_SOURCE.read_text(encoding="utf-8")
    for old, new in _ASSERTS_INSIDE:
        assert source.count(old) == 1
        source = source.replace(old, new)
    result = grading.grade_module(_module(source, "asserts_inside"), _only("sigmoid", "network"))
    status = {r.item.name: (r.status, r.cause) for r in result.items}
    assert status["sigmoid"] == (Status.FAILED, Cause.RAISED), status
    network = next(r for r in result.items if r.item.name == "network")
    assert network.status in (Status.FAILED, Status.PARTIAL) and network.cause is Cause.RAISED, status


def test_a_component_whose_part_that_exists_is_wrong_is_wrong_not_missing():
    """bce's value summed over the outputs with no loss_backward('bce'): the value is compared all
    the same and its mismatch comes first, so the bce item fails (and is left out of the network
    draws); with the value right, the component is only missing."""
    from gradverify.properties.cases import LossCase
    from gradverify.properties.component_checks import check_losses
    from gradverify.references.compare import MISSING

    variant = BUGGY["bce_summed_over_outputs_without_gradient"]
    wrong = _module(variant.source(), variant.name)
    missing_only = _module(
        variant.source().replace(
            "np.sum(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p), axis=1)", "_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p)"
        ),
        "missing_only",
    )
    case = LossCase("bce", 3, 2, 0, "soft")
    bad = [c for c in check_losses(wrong, case) if not c.ok]
    assert bad[0].cause is Cause.MISMATCH and bad[0].where.function == "loss"
    assert bad[-1].cause in MISSING and bad[-1].where.function == "loss_backward"
    assert [c.cause for c in check_losses(missing_only, case) if not c.ok] == [Cause.NOT_IMPLEMENTED]


# --------------------------------------------------------------------------- which items a bug costs


@pytest.mark.parametrize(
    "name, lost",
    [
        ("sigmoid_derivative_from_z", ["sigmoid"]),
        ("bce_gradient_sign_flipped", ["bce"]),
        ("dense_weight_gradient_transposed", ["dense"]),
        ("dense_transposed_in_every_network", ["dense", "network", "l2", "train_loop"]),
    ],
)
def test_a_bug_costs_the_items_the_stated_rule_names_and_all_their_points(name, lost):
    """README and docs/rubric.md: a bug in an activation or a loss costs its own item only (the
    composite items leave its components out); one in dense_backward costs the dense item, and
    the network, L2 and training-loop items too when network_gradients computes its layers with
    it (no network is left without it: 43 points)."""
    variant = BUGGY[name]
    assert variant.lost_items(RUBRIC) == lost
    result = grading.grade_module(_module(variant.source(), name), QUICK_RUBRIC, submission=name)
    assert [r.item.name for r in result.items if r.lost] == lost
    assert RUBRIC.max_score - result.score == pytest.approx(sum(r.item.points for r in result.items if r.item.name in lost))
