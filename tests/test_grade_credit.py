"""A composite item (network, l2, train_loop) scores the share of its domain that is right
(grading/domain.py): refusing a component costs what getting it wrong costs, a file that
handles one corner earns that corner's share, and staff and students see what was not right."""

from __future__ import annotations

import types
from dataclasses import replace

import pytest

from gradverify.grading import domain, items as grading
from gradverify.grading.feedback import MARKS, VERDICTS, render_submission, results_json, student_feedback
from gradverify.grading.rubric import load_rubric
from gradverify.references.spec import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSSES, output_activations
from tests.variants import IMPL_SOURCE

RUBRIC = load_rubric()
COMPOSITE = ("network", "l2", "train_loop")
#: The network and L2 items and the tanh item, at a third of the examples: enough for what is
#: tested here (a training loop over wrong steps that diverge takes long to shrink).
SMALL = replace(RUBRIC, examples=10, items=tuple(i for i in RUBRIC.items if i.name in ("tanh", "network", "l2")))
#: The composite items and the identity item.
CORNER_RUBRIC = replace(RUBRIC, examples=10, items=tuple(i for i in RUBRIC.items if i.name in ("identity", *COMPOSITE)))

#: The network's backward pass takes tanh'(z) as 1 − z² (standalone tanh stays right), in the
#: function network_gradients and train share.
WRONG_TANH = IMPL_SOURCE.read_text(encoding="utf-8").replace(
    '        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a)\n',
    '        grad_z = ACTIVATIONS[layer["activation"]][1](zs[i], grad_a) if layer["activation"] != "tanh" '
    "else grad_a * (1.0 - zs[i] ** 2)\n",
)
#: The same file refusing every network with tanh instead (in network_gradients and train).
REFUSED_TANH = (
    WRONG_TANH
    + """
_backprop_of_the_file = _network_gradients


def _network_gradients(layers, loss, l2, X, Y):
    if any(layer["activation"] == "tanh" for layer in layers):
        raise NotImplementedError("tanh is not supported")
    return _backprop_of_the_file(layers, loss, l2, X, Y)
"""
)
#: network_gradients and train for identity layers under mse only.
CORNER = (
    IMPL_SOURCE.read_text(encoding="utf-8")
    + """
_backprop_of_the_file = _network_gradients


def _network_gradients(layers, loss, l2, X, Y):
    if loss != "mse" or any(layer["activation"] != "identity" for layer in layers):
        raise NotImplementedError("identity layers under mse only")
    return _backprop_of_the_file(layers, loss, l2, X, Y)
"""
)


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def _items(result) -> dict:
    return {r.item.name: r for r in result.items}


@pytest.fixture(scope="module")
def tanh_grades():
    assert WRONG_TANH != IMPL_SOURCE.read_text(encoding="utf-8")
    return {
        name: grading.grade_module(_module(source, name), SMALL, submission=name)
        for name, source in (("wrong", WRONG_TANH), ("refused", REFUSED_TANH))
    }


@pytest.fixture(scope="module")
def corner_grade():
    return grading.grade_module(_module(CORNER, "corner"), CORNER_RUBRIC, submission="corner")


# --------------------------------------------------------------------------- refusing is not cheaper


def test_refusing_tanh_in_the_network_scores_no_more_than_getting_it_wrong(tanh_grades):
    wrong, refused = tanh_grades["wrong"], tanh_grades["refused"]
    assert refused.score <= wrong.score < SMALL.max_score
    for name in ("network", "l2"):
        assert _items(refused)[name].score <= _items(wrong)[name].score, name


def test_a_component_wrong_or_refused_costs_its_share_only(tanh_grades):
    for result in tanh_grades.values():
        network = _items(result)["network"]
        assert network.status == "partial" and 0 < network.score < network.item.points
        not_right = {(r.component.loss, r.component.activation) for r in network.credit.not_right}
        assert ("mse", "tanh") in not_right and (None, "tanh") in not_right
        assert all(activation == "tanh" for _, activation in not_right), not_right


def test_the_refused_components_are_named_as_refused(tanh_grades):
    network = _items(tanh_grades["refused"])["network"]
    assert {r.verdict for r in network.credit.not_right} == {domain.Verdict.REFUSED}
    assert all("tanh is not supported" in r.why for r in network.credit.not_right)


# --------------------------------------------------------------------------- a corner earns its share


def _corner_share() -> float:
    pairs = sum(len(output_activations(loss)) for loss in LOSSES)
    return 0.5 * 1 / pairs + 0.5 * 1 / len(HIDDEN_ACTIVATIONS)


def test_an_identity_and_mse_only_file_earns_that_corner_s_share_of_each_composite_item(corner_grade):
    for name in COMPOSITE:
        r = _items(corner_grade)[name]
        right = {(c.component.loss, c.component.activation) for c in r.credit.components if c.verdict == "right"}
        assert right == {("mse", "identity"), (None, "identity")}, (name, right)
        assert r.status == "partial" and r.score == round(r.item.points * _corner_share(), 2), name
        assert r.score < r.item.points / 5


def test_the_domain_has_every_loss_output_pair_and_every_hidden_activation():
    components = domain.components()
    assert len(components) == sum(len(output_activations(loss)) for loss in LOSSES) + len(HIDDEN_ACTIVATIONS)
    assert {c.activation for c in components if c.kind == "output"} == set(ACTIVATIONS)


@pytest.mark.parametrize(
    "right_pairs, right_hidden, share", [(2, 1, 0.5 * 2 / 4 + 0.5 * 1 / 2), (4, 0, 0.5), (0, 2, 0.5), (0, 0, 0.0)]
)
def test_the_share_is_half_for_the_output_pairs_and_half_for_the_hidden_activations(right_pairs, right_hidden, share):
    pairs = [domain.Component(a, "mse") for a in ("identity", "sigmoid", "tanh", "relu")]
    hidden = [domain.Component(a) for a in ("identity", "tanh")]
    results = [
        domain.ComponentResult(c, domain.Verdict.RIGHT if i < right_pairs else domain.Verdict.WRONG) for i, c in enumerate(pairs)
    ]
    results += [
        domain.ComponentResult(c, domain.Verdict.RIGHT if i < right_hidden else domain.Verdict.REFUSED)
        for i, c in enumerate(hidden)
    ]
    assert domain.Credit(tuple(results)).share == pytest.approx(share)


def test_a_domain_of_one_kind_gives_that_kind_the_whole_item():
    results = (
        domain.ComponentResult(domain.Component("identity", "mse"), domain.Verdict.RIGHT),
        domain.ComponentResult(domain.Component("tanh", "mse"), domain.Verdict.WRONG),
    )
    assert domain.Credit(results).share == pytest.approx(0.5)


def test_what_a_standalone_item_charged_is_left_out_of_the_domain():
    lost = {("activation", "tanh"): "failed", ("loss", "cce"): "not implemented"}
    plan = domain.plan(domain.components(), lost, lambda arch: arch, lambda *a: None)
    assert not any(c.activation == "tanh" for c in plan.components)
    assert domain.Component("softmax", "cce") in plan.optional
    assert any("'tanh'" in line and "its own item failed" in line for line in plan.left_out)


# --------------------------------------------------------------------------- what staff and students see


def test_the_staff_report_shows_the_share_and_what_was_not_right_item_by_item(corner_grade):
    """The item's row by its status's mark and share; what was not right by each component named
    (the line's wording is tested on the student's feedback)."""
    report = render_submission(corner_grade)
    network = _items(corner_grade)["network"]
    assert network.status == "partial"
    assert f"| {network.score:g} / 20 | {MARKS[network.status]} {network.credit.share:.0%} right |" in report
    lines = [line for line in report.splitlines() if line.startswith("Not right: ")]
    assert network.credit.not_right and all(_named(r.component, lines) for r in network.credit.not_right)


def _named(component: domain.Component, lines: list[str]) -> bool:
    """Whether a line names the component, alone or with others of its loss ("mse with identity, sigmoid")."""
    return any(
        component.describe() in line
        or component.loss is not None
        and f"{component.loss} with " in line
        and component.activation in line
        or component.loss is None
        and repr(component.activation) in line
        and "hidden activations" in line
        for line in lines
    )


def test_the_student_feedback_and_results_json_say_the_share_and_each_component(corner_grade):
    """The wording is the point: the sentence of the share earned and a component's "Not right"
    line, as the student reads them, checked here alone."""
    network = _items(corner_grade)["network"]
    feedback = student_feedback(network)
    assert feedback.startswith(f"{VERDICTS[network.status]}: ") and f"Earned {network.score:g} of 20 points" in feedback
    hidden = [line for line in feedback.splitlines() if line.startswith("Not right: the hidden activations ")]
    assert len(hidden) == 1 and "'tanh'" in hidden[0] and ": not implemented (counts as not right): " in hidden[0]
    test = next(t for t in results_json(corner_grade)["tests"] if t["extra_data"]["item"] == "network")
    assert test["score"] == network.score and test["extra_data"]["status"] == "partial"
    verdicts = {(c["loss"], c["activation"]): c["verdict"] for c in test["extra_data"]["components"]}
    assert verdicts[("mse", "identity")] == "right" and verdicts[("bce", "sigmoid")] == "refused"


# --------------------------------------------------------------------------- nothing left to check


def _nothing_checked(left: tuple[domain.LeftOut, ...]) -> grading.ItemResult:
    """A network item whose output pairs were all left out (`left`), its hidden activations unchecked."""
    hidden = tuple(
        domain.ComponentResult(domain.Component(a), domain.Verdict.UNCHECKED, "no output layer is right to check it under")
        for a in ("relu", "tanh")
    )
    item = next(i for i in RUBRIC.items if i.name == "network")
    credit = domain.Credit(hidden, left)
    reason = f"network_gradients: {domain.nothing_left(left)}"
    return grading.ItemResult(item, False, 0.0, reason=reason, credit=credit, scope=grading.credit_lines(credit))


MSE_FAILED = tuple(domain.LeftOut(domain.Component(a, "mse"), domain.Charged.FAILED) for a in ("identity", "sigmoid"))
REFUSED = tuple(
    domain.LeftOut(domain.Component(a, loss), domain.Charged.NOT_IMPLEMENTED, "network_gradients: is not implemented")
    for loss, a in (("bce", "sigmoid"), ("cce", "softmax"))
)


def test_a_network_that_refuses_all_it_is_given_is_not_implemented_and_one_left_nothing_is_not():
    assert _nothing_checked(REFUSED).status is grading.Status.NOT_IMPLEMENTED
    assert _nothing_checked(MSE_FAILED + REFUSED).status is grading.Status.NOT_IMPLEMENTED
    assert _nothing_checked(MSE_FAILED).status is grading.Status.FAILED  # nothing refused: its failures were charged


def test_nothing_left_to_check_names_the_loss_it_implements_and_never_says_none():
    """The wording is the point: what the reason says when no output layer was left to check."""
    implemented = domain.nothing_left(MSE_FAILED + REFUSED)
    assert "implements the loss 'mse'" in implemented and "own item failed" in implemented and "none" not in implemented
    assert "is not implemented for any loss" in domain.nothing_left(REFUSED)


def test_what_an_item_was_checked_without_is_one_line_grouped_by_loss():
    """The wording is the point: one "Checked without" line per item, each loss once with its
    output activations; the unchecked hidden activations one "Not right" line."""
    feedback = student_feedback(_nothing_checked(MSE_FAILED + REFUSED)).splitlines()
    checked = [line for line in feedback if line.startswith("Checked without")]
    assert checked == [
        "Checked without what its own items charged. A part's own item failed: mse with identity, sigmoid. "
        "Not implemented, here as in its own item: bce with sigmoid; cce with softmax."
    ]
    assert [line for line in feedback if line.startswith("Not right")] == [
        "Not right: the hidden activations 'relu', 'tanh': not checked (counts as not right): "
        "no output layer is right to check it under"
    ]
