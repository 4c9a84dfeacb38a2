"""One spec table (gradverify.references.spec) that every registry follows: the bundled impl,
both oracles, finite differences, the strategies, the cases and the rubric. A component added
to one and not the others fails here."""

from __future__ import annotations

import pytest

from gradverify.properties import cases, strategies
from gradverify.grading.kinds import KINDS
from gradverify.grading.rubric import load_rubric
from gradverify.impl import backprop
from gradverify.references import finite_diff, jax_backend, spec, torch_backend

REGISTRIES = {
    "impl": (backprop.ACTIVATIONS, backprop.LOSSES),
    "jax": (jax_backend.ACTIVATIONS, jax_backend.LOSSES),
    "torch": (torch_backend.ACTIVATIONS, torch_backend.LOSSES),
    "finite differences": (finite_diff.FORWARD, spec.LOSSES),
    "strategies": (strategies.ACTIVATION_NAMES, strategies.LOSS_NAMES),
    "cases": ((*cases.HIDDEN_ACTIVATIONS, "softmax"), cases.OUTPUT_ACTIVATIONS),
}


@pytest.mark.parametrize("who", sorted(REGISTRIES))
def test_every_registry_has_the_spec_names(who):
    activations, losses = REGISTRIES[who]
    assert set(activations) == set(spec.ACTIVATIONS)
    assert set(losses) == set(spec.LOSSES)


def test_the_bundled_impl_follows_the_spec_constants():
    assert tuple(backprop.PROTOCOL_FUNCTIONS) == spec.PROTOCOL_FUNCTIONS
    assert backprop.LEAKY_SLOPE == spec.LEAKY_SLOPE


def test_the_rubric_kinds_target_exactly_the_spec_components():
    assert set(KINDS["activation"].targets) == set(spec.ACTIVATIONS)
    assert set(KINDS["loss"].targets) == set(spec.LOSSES)


def test_the_shipped_rubric_grades_every_spec_component_once():
    items = load_rubric().items
    for kind, names in (("activation", spec.ACTIVATIONS), ("loss", spec.LOSSES)):
        targets = [item.target for item in items if item.check == kind]
        assert sorted(targets) == sorted(names), kind


def test_a_rubric_naming_a_component_the_spec_lacks_is_rejected(tmp_path):
    path = tmp_path / "rubric.toml"
    path.write_text('[[items]]\nname = "gelu"\ncheck = "activation"\ntarget = "gelu"\npoints = 5\n')
    with pytest.raises(ValueError, match="needs a target from"):
        load_rubric(path)


def test_probability_losses_end_in_probability_outputs():
    for name, loss in spec.LOSSES.items():
        outputs = spec.output_activations(name)
        assert outputs and set(outputs) <= set(spec.ACTIVATIONS)
        if loss.needs_probabilities:
            assert all(spec.ACTIVATIONS[a].probabilities for a in outputs), name
