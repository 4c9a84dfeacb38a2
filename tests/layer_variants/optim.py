"""Variants of impl/optim.py, CS231n's update rules: bugs students write in Adam, RMSProp and
momentum, each with where the generic check (properties/optim_checks.py) must find it, and right
forms that must pass. tests/test_optim.py checks each with one case; make mutation searches each
with 10 seeds (benchmarks/layer_catalogue.py).

    VARIANTS["adam_without_bias_correction"]   # (rule, patches, (cause, step, quantity))
    load("adam_without_bias_correction").adam  # the patched rule
"""

from __future__ import annotations

import types
from pathlib import Path

from gradverify.references.compare import Cause
from tests.variants.variant import patched

SOURCE = Path(__file__).resolve().parents[2] / "impl" / "optim.py"

#: name: (rule, patches, (cause, step, quantity) of the first failure, or None for a correct form)
VARIANTS = {
    "adam_without_bias_correction": (
        "adam",
        (("m_hat = m / (1 - beta1**t)", "m_hat = m"), ("v_hat = v / (1 - beta2**t)", "v_hat = v")),
        (Cause.MISMATCH, 1, "next_w"),
    ),
    "adam_t_incremented_after_use": (
        "adam",
        (
            ('t = config["t"] + 1', 't = config["t"]'),
            ('config["t"], config["m"], config["v"] = t, m, v', 'config["t"], config["m"], config["v"] = t + 1, m, v'),
        ),
        (Cause.NAN, 1, "next_w"),  # 1 − β₁⁰ = 0: m/0 and v/0, then ∞/∞
    ),
    "rmsprop_eps_inside_sqrt": (
        "rmsprop",
        (('(np.sqrt(cache) + config["epsilon"])', 'np.sqrt(cache + config["epsilon"])'),),
        (Cause.MISMATCH, 1, "next_w"),
    ),
    "sgd_momentum_velocity_sign_flipped": (
        "sgd_momentum",
        (
            (
                'v = config["momentum"] * v - config["learning_rate"] * dw',
                'v = config["momentum"] * v + config["learning_rate"] * dw',
            ),
            ("    next_w = w + v\n    config", "    next_w = w - v\n    config"),
        ),
        (Cause.MISMATCH, 1, "velocity"),
    ),
    "sgd_in_place": (  # CS231n's own starter code: w updated in place and returned, which its Solver allows
        "sgd",
        (('next_w = w - config["learning_rate"] * dw\n', 'w -= config["learning_rate"] * dw\n    next_w = w\n'),),
        None,
    ),
    "sgd_modifies_dw": (
        "sgd",
        (('next_w = w - config["learning_rate"] * dw\n', 'dw *= config["learning_rate"]\n    next_w = w - dw\n'),),
        (Cause.MODIFIED_INPUT, 1, "dw"),
    ),
    "adam_without_t_in_config": (
        "adam",
        (('config["t"], config["m"], config["v"] = t, m, v', 'config["m"], config["v"] = m, v'),),
        (Cause.MISMATCH, 1, "t"),  # t stays at the 0 the first call's setdefault put in config
    ),
    "adam_efficient_form": (
        "adam",
        (
            (
                "m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)\n"
                '    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])',
                'alpha = config["learning_rate"] * np.sqrt(1 - beta2**t) / (1 - beta1**t)\n'
                '    next_w = w - alpha * m / (np.sqrt(v) + config["epsilon"])',
            ),
        ),
        None,
    ),
}
BUGGY = [name for name, (_, _, first) in VARIANTS.items() if first is not None]


def load(name: str) -> types.ModuleType:
    module = types.ModuleType(f"optim_variant_{name}")
    exec(compile(patched(SOURCE, name, VARIANTS[name][1]), str(SOURCE), "exec"), module.__dict__)  # noqa: S102
    return module
