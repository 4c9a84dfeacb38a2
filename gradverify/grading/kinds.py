"""The kinds of rubric item: for each `check` a rubric may name, the property that checks it and
the cases it draws (one table, KINDS, that the rubric, the items and the adapters all read).

The layer protocol's kinds name their property by their target: `check = "layer"`,
`target = "batchnorm"` runs `layer_batchnorm_matches_references`, the generic check of the op
(docs/layers.md), `check = "update_rule"`, `target = "adam"`, `optim_adam_matches_torch_optim`, and
`check = "model"`, `target = "fully_connected_net"`, `model_fully_connected_net_matches_torch`, the
student's course class checked whole (references/model_spec.py) (`item_property`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st

from gradverify.properties import strategies
from gradverify.properties.checks import PROPERTIES, Property
from gradverify.properties.layer_properties import LAYER_PROPERTIES
from gradverify.properties.layer_strategies import layer_cases
from gradverify.properties.model_cases import model_cases
from gradverify.properties.model_checks import MODEL_PROPERTIES
from gradverify.properties.optim_properties import OPTIM_PROPERTIES
from gradverify.properties.optim_strategies import optim_cases
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.model_spec import MODELS
from gradverify.references.optim_spec import OPTIMIZERS
from gradverify.references.spec import ACTIVATIONS, LOSSES


class Strategy(Protocol):
    """(target, allowed activations, allowed losses, output activations per loss or None, the L2
    draws of a training run: "mixed", or "zero" through an adapter that maps no L2, for the
    composite kinds the hidden activations apart: None for every allowed one, and for a layer
    item the cases its adapter maps, LAYER_CASES: properties/scope.py Limit) -> strategy"""

    def __call__(
        self,
        target: str | None,
        activations: tuple[str, ...],
        losses: tuple[str, ...],
        outputs: dict[str, tuple[str, ...]] | None,
        l2: str,
        hidden: tuple[str, ...] | None = None,
        limits: tuple[tuple[str, str, Any], ...] = (),
        /,
    ) -> st.SearchStrategy: ...


@dataclass(frozen=True)
class Kind:
    """A kind of rubric item: which property checks it and on which cases."""

    #: the property's name; "{target}" in it stands for the item's target
    prop: str
    strategy: Strategy
    targets: tuple[str, ...] = ()
    #: scored by the share of its domain that is right (grading/domain.py)
    composite: bool = False


#: The networks a grade draws: up to 16 units and 16 samples, so that the JAX reference pads every
#: one into a single bucket and compiles its network kernel once per grade (~2 s cold each; four
#: buckets took half of a cold grade). Shrinking ends at two units and two samples either way.
NETWORK_SIZES = {"max_width": 16, "max_batch": 16}


def _target(target: str | None, kind: str) -> str:
    """The target of an item of `kind`, which needs one (the rubric checks it has one)."""
    if target is None:
        raise ValueError(f"check {kind!r} needs a target")
    return target


KINDS: dict[str, Kind] = {
    "activation": Kind(
        "activations_match_references",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.activation_cases(
            names=(_target(target, "activation"),)
        ),
        tuple(ACTIVATIONS),
    ),
    "loss": Kind(
        "losses_match_references",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.loss_cases(names=(_target(target, "loss"),)),
        tuple(LOSSES),
    ),
    "dense": Kind(
        "dense_matches_references", lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.dense_cases()
    ),
    "network": Kind(
        "network_gradients_match_references",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.examples(
            activations=acts, losses=losses, outputs=outs, hidden=hidden, l2="zero", **NETWORK_SIZES
        ),
        composite=True,
    ),
    "l2": Kind(
        "l2_adds_half_lambda_norm",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.examples(
            activations=acts, losses=losses, outputs=outs, hidden=hidden, l2="positive", **NETWORK_SIZES
        ),
        composite=True,
    ),
    "momentum_step": Kind(
        "momentum_step_matches_torch_sgd", lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.train_cases()
    ),
    "train_loop": Kind(
        "train_follows_own_steps",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): strategies.train_cases(
            activations=acts, losses=losses, outputs=outs, hidden=hidden, l2=l2
        ),
        composite=True,
    ),
    "layer": Kind(
        "layer_{target}_matches_references",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): layer_cases(
            LAYER_OPS[_target(target, "layer")], max_size=3, limits=limits
        ),
        tuple(LAYER_OPS),
    ),
    "update_rule": Kind(
        "optim_{target}_matches_torch_optim",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): optim_cases(OPTIMIZERS[_target(target, "update_rule")]),
        tuple(OPTIMIZERS),
    ),
    "model": Kind(
        "model_{target}_matches_torch",
        lambda target, acts, losses, outs, l2, hidden=None, limits=(): model_cases(MODELS[_target(target, "model")]),
        tuple(MODELS),
    ),
}

#: Every property a rubric item may run, by name.
ITEM_PROPERTIES: dict[str, Property] = {**PROPERTIES, **LAYER_PROPERTIES, **OPTIM_PROPERTIES, **MODEL_PROPERTIES}


def item_property(check: str, target: str | None) -> Property:
    """The property that an item of kind `check` (and `target`, for a kind whose property
    follows it) runs."""
    return ITEM_PROPERTIES[KINDS[check].prop.format(target=target)]


#: Kinds whose check needs another kind's work to be right (the L2 item compares the whole
#: λ > 0 gradient with PyTorch's): a bug in the other kind costs both items.
BUILDS_ON: dict[str, tuple[str, ...]] = {"l2": ("network",)}
#: Kinds whose functions every network is made of (one dense layer per layer). The composite
#: items leave out of their domain what a failed activation or loss item charged, but no network
#: is left without a dense layer: a bug in one costs the composite items too when
#: network_gradients computes its layers with it (grading.rubric.items_lost_to).
IN_EVERY_NETWORK: frozenset[str] = frozenset({"dense"})
