"""The scope of a run: the components of the protocol a library implements, and what is left out.

    scope = Scope.declared(["dense", "network", "relu", "sigmoid", "identity", "mse"])
    scope.outside(("network_gradients",), ("tanh",), network=True)   # ["tanh"]: not in scope

A component is an activation or a loss of the spec table (gradverify.references.spec), or one of
PARTS: the dense layer, network gradients, the L2 term, the momentum step, the training loop; or
of the layer protocol, an op (`layer_conv`) or an update rule (`optim_adam`).
A library declares the ones it implements (`[tool.gradverify] components`, `verify
--components`), or its course adapter declares what it maps (`Scope.of_adapter`): the standalone
activations and losses apart from those its networks are built of, as the adapter's ACTIVATIONS
and NETWORK_ACTIVATIONS are apart. A check or a case that needs a component outside the scope is
not run: it is "not in scope", never a failure. The names come from the spec, never from the
implementation checked.

A scope also says the floating-point type the layer ops are checked in (`dtype`: "float64", or
"float32" for a library that declares it, `[tool.gradverify] dtype`, `verify --dtype`); the
MLP protocol is checked in float64 whatever it says.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from gradverify.properties.cases import OUTPUT_ACTIVATIONS, ActivationCase, Example, LossCase, TrainCase
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.stack_cases import StackCase
from gradverify.references.layer_spec import LAYER_OPS
from gradverify.references.optim_spec import OPTIMIZERS
from gradverify.references.spec import ACTIVATIONS, LOSSES

#: The components that are not an activation or a loss, with the protocol functions each needs.
PARTS: dict[str, tuple[str, ...]] = {
    "dense": ("dense_forward", "dense_backward"),
    "network": ("network_gradients",),
    "l2": ("network_gradients",),
    "momentum_step": ("sgd_momentum_step",),
    "train": ("train",),
}


def layer_component(op: str) -> str:
    """The component of a layer op (docs/layers.md): `layer_batchnorm` (apart from the MLP's relu)."""
    return f"layer_{op}"


def optim_component(rule: str) -> str:
    """The component of an update rule (docs/layers.md): `optim_adam`."""
    return f"optim_{rule}"


#: The layer protocol's ops as components, with the op each names.
LAYER_COMPONENTS: dict[str, str] = {layer_component(op): op for op in LAYER_OPS}
#: CS231n's update rules as components, with the rule each names.
OPTIM_COMPONENTS: dict[str, str] = {optim_component(rule): rule for rule in OPTIMIZERS}
#: The op each layer function belongs to.
LAYER_FUNCTION_OPS: dict[str, str] = {fn: op.name for op in LAYER_OPS.values() for fn in op.functions}
#: The MLP protocol's components (docs/protocol.md).
MLP_COMPONENTS: tuple[str, ...] = (*ACTIVATIONS, *LOSSES, *PARTS)
#: Every component a library may declare, in the order reports list them: the MLP protocol's, then
#: the ops', then the update rules'.
COMPONENTS: tuple[str, ...] = (*MLP_COMPONENTS, *LAYER_COMPONENTS, *OPTIM_COMPONENTS)
#: The part each protocol function belongs to (activation and loss functions: none, their cases
#: name their component).
FUNCTION_PARTS: dict[str, str] = {fn: part for part, fns in PARTS.items() if part != "l2" for fn in fns}
#: The functions whose cases build networks: their activations and losses are those of the networks.
NETWORK_FUNCTIONS = frozenset({"network_gradients", "train"})


class NotInScope(Exception):
    """Nothing a check draws is in scope; `names`: the components it needs that are not."""

    def __init__(self, names: list[str]):
        super().__init__(", ".join(names))
        self.names = names


def check_components(names: Iterable[Any], what: str = "components") -> tuple[str, ...]:
    """`names` as a tuple of components, in COMPONENTS order; ValueError naming the first one that
    is not a component of the protocol, with the closest valid name, and listing them all."""
    chosen = list(names)
    for name in chosen:
        if not isinstance(name, str) or name not in COMPONENTS:
            close = difflib.get_close_matches(name, COMPONENTS, n=1) if isinstance(name, str) else []
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"{what}: {name!r} is not a component of the protocol; {hint}the components are {', '.join(COMPONENTS)}"
            )
    return tuple(c for c in COMPONENTS if c in chosen)


def _ordered(names: Iterable[str]) -> list[str]:
    """`names` once each, in COMPONENTS order."""
    chosen = set(names)
    return [c for c in COMPONENTS if c in chosen]


def _declared(names: tuple[str, ...] | None, registry: Iterable[str]) -> tuple[str, ...]:
    """An adapter's declaration of names, in registry order; None (no declaration): every one."""
    return tuple(registry) if names is None else tuple(name for name in registry if name in names)


#: What an adapter maps of a layer op's cases, when not all of them (`LAYER_CASES`, docs/adapters.md):
#: (op, name, allowed) with `name` a size or hyperparameter of the op and `allowed` the tuple of
#: the values it maps, or the name of another size or hyperparameter it must equal (a square
#: kernel: ("conv", "WW", "HH")).
Limit = tuple[str, str, Any]


def limit_text(limit: Limit) -> str:
    """What a limit leaves out, in words: "layer_conv with WW ≠ HH", "layer_batchnorm with mode 'test'"."""
    op, name, allowed = limit
    if isinstance(allowed, str):
        return f"{layer_component(op)} with {name} ≠ {allowed}"
    hyper = next((h for h in LAYER_OPS[op].hypers if h.name == name), None)
    others = [v for v in hyper.choices if v not in allowed] if hyper is not None else []
    left = " or ".join(map(repr, others)) if others else f"other than {' or '.join(map(repr, allowed))}"
    return f"{layer_component(op)} with {name} {left}"


def admits(limits: Iterable[Limit], case: LayerCase) -> bool:
    """Whether a layer case is inside the limits of its op."""
    values = {**dict(case.dims), **dict(case.hyper)}
    for op, name, allowed in limits:
        if op != case.op.name:
            continue
        if isinstance(allowed, str) and values.get(name) != values.get(allowed):
            return False
        if not isinstance(allowed, str) and values.get(name) not in allowed:
            return False
    return True


@dataclass(frozen=True)
class Scope:
    """What a run checks. activations, losses: those of the activation and loss functions;
    network_activations, network_losses: those networks (network_gradients, train) are built of;
    parts: the PARTS in scope; layers: the layer ops in scope (by op name); optimizers: the
    update rules in scope (by name); limits: the cases of an op in scope that are left out (an
    adapter's LAYER_CASES); dtype: what the layer ops are checked in
    (gradverify.references.compare.DTYPES). The default is the whole of both protocols, in
    float64."""

    activations: tuple[str, ...] = tuple(ACTIVATIONS)
    losses: tuple[str, ...] = tuple(LOSSES)
    network_activations: tuple[str, ...] = tuple(ACTIVATIONS)
    network_losses: tuple[str, ...] = tuple(LOSSES)
    parts: tuple[str, ...] = tuple(PARTS)
    layers: tuple[str, ...] = tuple(LAYER_OPS)
    optimizers: tuple[str, ...] = tuple(OPTIMIZERS)
    limits: tuple[Limit, ...] = ()
    dtype: str = "float64"

    @classmethod
    def declared(cls, names: Iterable[Any]) -> "Scope":
        """The scope of a library that implements the components `names` (ValueError for a name
        that is not one: check_components)."""
        chosen = check_components(names)
        activations = tuple(a for a in ACTIVATIONS if a in chosen)
        losses = tuple(loss for loss in LOSSES if loss in chosen)
        parts = tuple(p for p in PARTS if p in chosen)
        return cls(
            activations,
            losses,
            activations,
            losses,
            parts,
            tuple(op for c, op in LAYER_COMPONENTS.items() if c in chosen),
            tuple(rule for c, rule in OPTIM_COMPONENTS.items() if c in chosen),
        )

    @classmethod
    def of_adapter(cls, adapter: Any) -> "Scope":
        """What a course adapter (gradverify.grading.adapters.Adapter) maps: the functions it
        defines, the activations and losses it declares (None: every one), L2 unless L2 = False;
        of the layer protocol, the ops whose forward and backward (or loss function) it defines,
        the update rules it defines, and the limits of its LAYER_CASES."""
        functions = adapter.functions
        both = ("activation" in functions) and ("activation_backward" in functions)
        scored = ("loss" in functions) and ("loss_backward" in functions)
        parts = [p for p, fns in PARTS.items() if all(fn in functions for fn in fns)]
        return cls(
            _declared(adapter.activations, ACTIVATIONS) if both else (),
            _declared(adapter.losses, LOSSES) if scored else (),
            _declared(adapter.network_activations, ACTIVATIONS),
            _declared(adapter.network_losses, LOSSES),
            tuple(p for p in parts if p != "l2" or adapter.l2),
            tuple(name for name, op in LAYER_OPS.items() if all(fn in functions for fn in (op.forward, *op.backwards[:1]))),
            tuple(rule for rule in OPTIMIZERS if rule in functions),
            tuple(getattr(adapter, "layer_cases", ())),
        )

    def within(self, other: "Scope") -> "Scope":
        """What both scopes hold (the limits of either), in this scope's dtype."""

        def both(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(name for name in mine if name in theirs)

        return Scope(
            both(self.activations, other.activations),
            both(self.losses, other.losses),
            both(self.network_activations, other.network_activations),
            both(self.network_losses, other.network_losses),
            both(self.parts, other.parts),
            both(self.layers, other.layers),
            both(self.optimizers, other.optimizers),
            tuple(dict.fromkeys((*self.limits, *other.limits))),
            self.dtype,
        )

    def limits_of(self, op: str) -> tuple[Limit, ...]:
        """The limits of layer op `op`."""
        return tuple(limit for limit in self.limits if limit[0] == op)

    def left_out(self, components: Iterable[str]) -> list[str]:
        """What the limits leave out of the layer ops among `components`, in words (limit_text)."""
        ops = {LAYER_COMPONENTS[c] for c in components if c in LAYER_COMPONENTS}
        return [limit_text(limit) for limit in self.limits if limit[0] in ops]

    @property
    def whole(self) -> bool:
        """Whether every component is in scope (nothing is left out), whatever the dtype."""
        return replace(self, dtype=WHOLE.dtype) == WHOLE

    def has_function(self, function: str) -> bool:
        """Whether protocol function `function` is in scope: its part, or for the activation and
        loss functions, any activation or loss."""
        if function in ("activation", "activation_backward"):
            return bool(self.activations)
        if function in ("loss", "loss_backward"):
            return bool(self.losses)
        if function in LAYER_FUNCTION_OPS:
            return LAYER_FUNCTION_OPS[function] in self.layers
        if function in OPTIMIZERS:
            return function in self.optimizers
        return FUNCTION_PARTS[function] in self.parts

    def outside(self, functions: Iterable[str], components: Iterable[str] = (), *, network: bool | None = None) -> list[str]:
        """What of a check's `functions` (their parts) and `components` is not in scope, in
        COMPONENTS order. The activations and losses are those of networks when `network`
        (default: when a function builds networks), else those of the standalone functions."""
        functions = tuple(functions)
        networks = any(fn in NETWORK_FUNCTIONS for fn in functions) if network is None else network
        held = {
            *self.parts,
            *map(layer_component, self.layers),
            *map(optim_component, self.optimizers),
            *(self.network_activations if networks else self.activations),
            *(self.network_losses if networks else self.losses),
        }
        needed = [FUNCTION_PARTS[fn] for fn in functions if fn in FUNCTION_PARTS] + list(components)
        return [name for name in _ordered(needed) if name not in held]

    def case_outside(self, functions: tuple[str, ...], case: Any) -> list[str]:
        """What of a check of `functions` on `case` is not in scope: the case's activation or
        loss, the layers, loss and L2 of its network when the functions build one, a layer
        case's op when the case is outside its limits, or the ops of a stack (and those of its
        layers outside their limits)."""
        if isinstance(case, ActivationCase) or isinstance(case, LossCase):
            return self.outside(functions, (case.name,), network=False)
        if isinstance(case, LayerCase) and not admits(self.limits, case):
            return [layer_component(case.op.name)]
        if isinstance(case, StackCase):
            limited = [layer_component(layer.op.name) for layer in case.layers if not admits(self.limits, layer)]
            return _ordered([*self.outside(functions, tuple(layer_component(op.name) for op in case.ops)), *limited])
        example = case.example if isinstance(case, TrainCase) else case
        if isinstance(example, Example) and any(fn in NETWORK_FUNCTIONS for fn in functions):
            arch = example.arch
            return self.outside(functions, (*arch.activations, arch.loss, *(("l2",) if arch.l2 > 0 else ())), network=True)
        return self.outside(functions)

    def activation_names(self) -> tuple[str, ...]:
        """The activations the activation functions are checked on; NotInScope when none is."""
        if not self.activations:
            raise NotInScope(list(ACTIVATIONS))
        return self.activations

    def loss_names(self) -> tuple[str, ...]:
        """The losses the loss functions are checked on; NotInScope when none is."""
        if not self.losses:
            raise NotInScope(list(LOSSES))
        return self.losses

    def network_draws(self, l2: str = "mixed") -> dict[str, Any]:
        """The options of strategies.architectures for networks in scope: their activations, losses
        and L2 draws ("mixed" becomes "zero" without "l2"); NotInScope when no loss in scope has an
        output activation in scope (or "positive" L2 draws are asked for without "l2")."""
        usable = [loss for loss in self.network_losses if any(a in self.network_activations for a in OUTPUT_ACTIVATIONS[loss])]
        if not usable or (l2 == "positive" and "l2" not in self.parts):
            raise NotInScope(self.outside((), (*ACTIVATIONS, *LOSSES, *(("l2",) if l2 == "positive" else ())), network=True))
        return {
            "activations": self.network_activations,
            "losses": tuple(usable),
            "l2": "zero" if l2 == "mixed" and "l2" not in self.parts else l2,
        }


#: The whole protocol: the scope of a run that declares nothing.
WHOLE = Scope()
