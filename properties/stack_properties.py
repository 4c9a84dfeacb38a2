"""The stacks as properties verify runs, one per family, beside the single ops' (layer_properties).

    STACK_PROPERTIES["stack_dense_matches_references"]   # affine → … → softmax_loss, by check_stack

Each needs the components of the ops every stack of its family has (`layer_affine`, …): a
library without one is not in scope for it; the optional ops (a batchnorm, a dropout, svm_loss)
are drawn only when in scope, and listed as left out when not (Property.draws). They are
checked in float64 only: for a library declared float32 they are not in scope ("needs float64").
"""

from __future__ import annotations

from gradverify.properties.checks import Property
from gradverify.properties.scope import NotInScope, Scope, layer_component
from gradverify.properties.stack_checks import check_stack
from gradverify.properties.stack_strategies import STRATEGIES, coverage

#: Examples per unit of the profile's budget (ci: 150 -> 15 per family): each runs the chain, its
#: torch reference and a finite difference of the whole chain per array; under ~3 s for all four.
STACK_WEIGHT = 0.1

#: (family, the ops every stack of it has, the ops it may draw, what the stack is)
_FAMILIES = (
    ("dense", ("affine", "relu"), ("batchnorm", "layernorm", "dropout", "softmax_loss", "svm_loss"),
     "affine → [batchnorm|layernorm]? → relu → [dropout]?, 1..3 times, → affine → softmax_loss|svm_loss"),
    ("conv", ("conv", "relu", "affine", "softmax_loss"), ("spatial_batchnorm", "max_pool"),
     "conv → [spatial_batchnorm]? → relu → [max_pool]? → affine → softmax_loss"),
    ("sequence", ("word_embedding", "temporal_affine", "temporal_softmax_loss"), ("rnn", "lstm"),
     "word_embedding → rnn|lstm → temporal_affine → temporal_softmax_loss"),
    ("residual", ("affine", "relu"), ("batchnorm", "layernorm", "dropout", "softmax_loss", "svm_loss"),
     "[affine → relu]? → [f] + x → affine → a loss, f(x) + x with the gradients of f and the skip added"),
)  # fmt: skip


def stack_property(
    family: str, needs: tuple[str, ...], draws: tuple[str, ...], what: str, *, weight: float = STACK_WEIGHT
) -> Property:
    """The stack check of one family as a Property (gradverify.search runs and shrinks it)."""
    strategy = STRATEGIES[family]
    return Property(
        name=f"stack_{family}_matches_references",
        claim=f"{what}: the own ops chained agree with torch autograd and the chain's finite differences",
        functions=tuple(fn for op in needs for fn in _functions(op)),
        strategy=lambda scope: strategy(ops=_float64(scope).layers, limits=scope.limits),
        check=check_stack,
        tolerance="autodiff",
        weight=weight,
        coverage=lambda: coverage(family),
        draws=tuple(map(layer_component, draws)),
        needs=tuple(map(layer_component, needs)),
    )


def _float64(scope: Scope) -> Scope:
    """The scope, when its layer ops are checked in float64; NotInScope naming float64 for a
    library that declared float32: the stacks' references, finite differences and rejection of
    ill-conditioned normalisations are those of float64 (docs/layers.md, Compositions)."""
    if scope.dtype != "float64":
        raise NotInScope(["float64"])
    return scope


def _functions(op: str) -> tuple[str, ...]:
    from gradverify.references.layer_spec import LAYER_OPS

    spec = LAYER_OPS[op]
    return (spec.forward, *spec.backwards[:1])


#: One property per family, in FAMILIES order.
STACK_PROPERTIES: dict[str, Property] = {p.name: p for p in (stack_property(*family) for family in _FAMILIES)}
