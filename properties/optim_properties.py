"""The update rules' registry: one property per rule of the table, as verify runs them.

    OPTIM_PROPERTIES["optim_adam_matches_torch_optim"]   # adam's steps against torch.optim.Adam

Each runs gradverify.properties.optim_checks.check_optimizer on the cases its rule's strategy
draws, and needs its rule's component (`optim_adam`, properties/scope.py): a rule the library
does not define, or does not declare, is not in scope. A rule with several accepted forms
(Adam: torch's, and CS231n's efficient one) names them in `forms`, and the run reports which
held on every case (PropertyResult.forms). Kept apart from properties/checks.py, as the layer
ops' registry is.
"""

from __future__ import annotations

from types import ModuleType

from gradverify.properties.checks import Property
from gradverify.properties.optim_cases import OptimCase
from gradverify.properties.optim_checks import check_optimizer
from gradverify.properties.optim_strategies import optim_cases
from gradverify.properties.scope import optim_component
from gradverify.references.compare import Comparison
from gradverify.references.optim_spec import OPTIMIZERS, Optimizer

#: Examples per rule per unit of the profile's budget (ci: 150, so 30): each example runs 3–5
#: steps of the rule and of torch.optim once per form, a few milliseconds.
OPTIM_WEIGHT = 0.2


def _check(opt: Optimizer):
    def check(impl: ModuleType, case: OptimCase) -> list[Comparison]:
        return check_optimizer(opt, getattr(impl, opt.name), case).reported

    return check


def optim_property(opt: Optimizer, *, weight: float = OPTIM_WEIGHT) -> Property:
    """The step-by-step check of one update rule as a Property (gradverify.search runs and shrinks it)."""
    forms = " or ".join(form.name for form in opt.forms)
    return Property(
        name=f"optim_{opt.name}_matches_torch_optim",
        claim=f"{opt.name}'s next_w and {', '.join(opt.state) or 'config'} agree with {forms} after every step, inputs kept",
        functions=(opt.name,),
        strategy=lambda scope: optim_cases(opt),
        check=_check(opt),
        tolerance="autodiff",
        weight=weight,
        needs=(optim_component(opt.name),),
        diagnosis="optim",
        forms=tuple(form.name for form in opt.forms) if len(opt.forms) > 1 else (),
    )


#: One property per rule of the table, in its order.
OPTIM_PROPERTIES: dict[str, Property] = {p.name: p for p in map(optim_property, OPTIMIZERS.values())}
