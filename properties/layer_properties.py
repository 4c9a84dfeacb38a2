"""The layer protocol's registry: one property per op of the spec table, as verify runs them.

    LAYER_PROPERTIES["layer_batchnorm_matches_references"]   # the generic check of batchnorm

Each runs gradverify.properties.layer_checks.check_layer on the cases its op's strategy draws,
and needs its op's component (`layer_batchnorm`, properties/scope.py): an op the library does
not define, or does not declare, is not in scope. Its cases are drawn in the scope's dtype. Kept apart from properties/checks.py, whose
Property it builds, so that the checks import neither the other's registry.
"""

from __future__ import annotations

from gradverify.properties.checks import Property
from gradverify.properties.layer_checks import check_layer
from gradverify.properties.layer_strategies import layer_cases
from gradverify.properties.scope import layer_component
from gradverify.references.layer_spec import LAYER_OPS, LayerOp

#: Examples per op per unit of the profile's budget (ci: 15), sizes capped at 3: each example runs the op's JAX and torch
#: references and finite differences, and JAX compiles once per op and shape drawn.
LAYER_WEIGHT = 0.1


def layer_property(op: LayerOp, *, max_size: int | None = None, weight: float = LAYER_WEIGHT) -> Property:
    """The generic check of one op as a Property (gradverify.search runs and shrinks it)."""
    return Property(
        name=f"layer_{op.name}_matches_references",
        claim=f"{', '.join(op.functions)} agree with JAX, PyTorch and finite differences, with state and form as the convention says",
        functions=(op.forward, *op.backwards[:1]),  # the alternatives are checked when defined
        strategy=lambda scope: layer_cases(op, max_size=max_size, dtype=scope.dtype, limits=scope.limits_of(op.name)),
        check=check_layer,
        tolerance="autodiff",
        weight=weight,
        needs=(layer_component(op.name),),
        diagnosis="layer",
    )


#: One property per op of the table, in its order.
LAYER_PROPERTIES: dict[str, Property] = {p.name: p for p in (layer_property(op, max_size=3) for op in LAYER_OPS.values())}
