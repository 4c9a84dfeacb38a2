"""Backprop, not numerical differentiation: what a submission's network_gradients costs, in forward passes.

    check = run(timer, hidden=("tanh",), outputs={"mse": ("identity",)})   # once per grade
    check.verdict                          # Verdict.BACKPROP, NUMERICAL, WRONG, FAILED or UNMEASURED
    check.explanation                      # the sentence staff and the student read

Backprop has a signature numerical differentiation cannot fake (the cheap-gradient principle):
the whole gradient costs a few forward passes, whatever the number of parameters P, while finite
differences cost one or two forward passes per parameter and complex-step differentiation one
complex forward pass per parameter. So the grader times the submission's network_gradients on
one network of ~3,700 parameters and divides by the time of one forward pass of the same
network, computed here, by trusted NumPy code (`forward_seconds`): backprop measures tens of
forward passes (most of it the sandbox's channel), numerical differentiation thousands
(reports/cost.md). THRESHOLD sits between.

What is trusted, and why: everything that runs in the submission's process can be forged by it
(it can patch the worker), so both times are taken on the grader's side. The forward pass is this
module's own, in this thread's CPU time (`time.thread_time`: another process's load and another
thread of the grader do not count; the matrices are below the size at which OpenBLAS splits a
product over threads, so one thread does all of it). The submission's time is the sandbox's
`timed_call`: the CPU time that all the sandbox's processes used during the call, read by the
grader from their process CPU clocks (every thread counts, ended ones too; and every process:
in the bubblewrap mode even one that ends within the call counts, through the PID namespace's
init that reaps it; docs/security.md says what the other modes miss). Load does not inflate CPU
time as it inflates wall time. The least of up to REPEATS calls is taken. The network is drawn
afresh for each grade, so no answer can be prepared for it.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

import numpy as np

#: The cost network: the input width, the width of each of its two hidden layers, the outputs and
#: the batch; 3,690 parameters with hidden layers (40·40 + 40 twice, 10·40 + 10). Without hidden
#: layers (a submission whose network_gradients implements no hidden activation), one layer of
#: SINGLE inputs and outputs: 3,660 parameters (not 360 inputs and 10 outputs: an input that
#: wide made the channel most of backprop's measure). Large enough that numerical differentiation costs
#: thousands of forward passes; small enough that it mostly ends within a call's limit on a loaded
#: machine (with 5,610 parameters, extrapolated differences took over 10 s there). A batch of 64
#: rather than 32, because a call's CPU time includes the sandbox's channel (decoding the network,
#: encoding the gradients: ~3 ms), which the trusted forward pass does not pay: the more the
#: forward pass costs, the less of backprop's measure is the channel.
INPUTS, HIDDEN, OUTPUTS, BATCH = 40, 40, 10, 64
SINGLE = 60
#: The width of a cost network's one hidden layer, when the code's networks have one: 3,682 parameters.
ONE_HIDDEN = 72
#: A network_gradients that takes more than THRESHOLD forward passes' time is numerical
#: differentiation. Measured (benchmarks/cost.py, two runs, each one and two benchmarks at once
#: on a loaded machine; the last in reports/cost.md): backprop in NumPy, the bundled impl and every
#: correct variant, at most 60; backprop in Python loops over samples and units, the slowest honest
#: style, 530-815; one-sided differences with every perturbed network in one batched forward pass,
#: the cheapest numerical scheme, 4,750 and more; the catalogue's attacks 7,300 and more. 2,000 is
#: a factor of 2.4 from each of the two edges (about their geometric mean), 30 from backprop in NumPy.
THRESHOLD = 2000.0
#: Calls of the submission's network_gradients at most (a call under the threshold ends it), and
#: repetitions of the trusted forward pass, whose least time is taken.
REPEATS = 3
FORWARD_REPEATS = 30
#: Preferred components of the cost network, smooth first: each must be one the submission's
#: network_gradients implements and that the items draw, so refusing one is no way around it.
HIDDEN_ORDER = ("tanh", "sigmoid", "softplus", "identity", "leaky_relu", "relu")
OUTPUT_ORDER = (
    ("mse", "identity"),
    ("sse", "identity"),
    ("bce", "sigmoid"),
    ("cce", "softmax"),
    ("sparse_cce", "softmax"),
    ("mse", "tanh"),
    ("mse", "sigmoid"),
    ("sse", "tanh"),
    ("mae", "identity"),
    ("mape", "identity"),
)


class Verdict(str, Enum):
    """What the cost check found."""

    BACKPROP = "costs like backprop"
    NUMERICAL = "costs like numerical differentiation"
    #: network_gradients answered, but wrongly, on the cost network
    WRONG = "wrong on the cost network"
    #: network_gradients raised, timed out or crashed on the cost network
    FAILED = "failed on the cost network"
    #: nothing to measure: no network_gradients, or no architecture it implements
    UNMEASURED = "not measured"


@dataclass(frozen=True)
class CallTime:
    """One timed call: its wall time and the CPU time of every process that ran it (seconds)."""

    wall: float
    cpu: float

    @property
    def seconds(self) -> float:
        """What the call cost: its CPU time. Not the wall time: on a loaded machine the bundled
        impl's call took 700-900 forward passes' wall time and 27-30 forward passes' CPU time
        (reports/cost.md); the trusted forward pass is measured in CPU time too."""
        return self.cpu


class CallFailed(Exception):
    """A timed call failed: `failure` says how (the suite's ImplFailure), `time` what it had used
    when it was stopped, for a call that timed out (None otherwise)."""

    def __init__(self, failure: BaseException, time: CallTime | None = None):
        super().__init__(str(failure))
        self.failure, self.time = failure, time

    @property
    def timed_out(self) -> bool:
        return self.time is not None and getattr(getattr(self.failure, "cause", None), "name", "") == "TIMEOUT"


#: A timed call of the submission's network_gradients: (net, X, Y) -> ((loss, grads), its time);
#: CallFailed when the call fails.
Timer = Callable[[dict, np.ndarray, np.ndarray], tuple[Any, CallTime]]


@dataclass(frozen=True)
class CostCheck:
    verdict: Verdict
    #: the cost network, in words ("2 hidden layers of 40 tanh units, identity output, mse"), and its parameters
    network: str = ""
    parameters: int = 0
    #: one trusted forward pass (seconds), and each call's cost (CallTime.seconds) in forward passes
    forward_seconds: float = float("nan")
    ratios: tuple[float, ...] = ()
    #: what went wrong (WRONG, FAILED) or why nothing was measured (UNMEASURED)
    reason: str = ""
    #: the seconds the check took, the submission's calls included
    seconds: float = 0.0
    #: the last call was stopped at its time limit, its cost so far already over the threshold
    unfinished: bool = False
    calls: tuple[CallTime, ...] = field(default=(), repr=False)

    @property
    def ratio(self) -> float:
        """The least cost measured, in forward passes (NaN when nothing was timed)."""
        return min(self.ratios) if self.ratios else float("nan")

    @property
    def explanation(self) -> str:
        """The verdict as a sentence for staff and the student ("" for BACKPROP and UNMEASURED)."""
        on = f"on a {self.parameters:,}-parameter network ({self.network})"
        if self.verdict is Verdict.NUMERICAL:
            took = (
                f"had taken {self.ratios[-1]:,.0f} forward passes' time when it was stopped at its time limit"
                if self.unfinished
                else f"took {self.ratio:,.0f} forward passes' time"
            )
            return (
                f"network_gradients {took} {on}, where backprop takes a few: gradients by numerical differentiation, not backprop"
            )
        if self.verdict is Verdict.WRONG:
            return f"network_gradients is wrong {on}, the network on which its cost is measured: {self.reason}"
        if self.verdict is Verdict.FAILED:
            return f"network_gradients {self.reason} {on}, the network on which its cost is measured"
        return ""


# --------------------------------------------------------------------------- the network


def choose(hidden: tuple[str, ...], outputs: dict[str, tuple[str, ...]]) -> tuple[str | None, str, str] | None:
    """(hidden activation or None for a single layer, output activation, loss) of the cost network,
    from the components the submission's network_gradients gets right (grading.items._right_components:
    its hidden activations, its output activations per loss); None when it implements none."""
    pair = next(((loss, out) for loss, out in OUTPUT_ORDER if out in outputs.get(loss, ())), None)
    if pair is None:
        pair = next(((loss, outs[0]) for loss, outs in outputs.items() if outs), None)
    if pair is None:
        return None
    act = next((name for name in HIDDEN_ORDER if name in hidden), None)
    return act, pair[1], pair[0]


def sizes_of(layers: int, outputs: int | None) -> tuple[int, ...]:
    """The cost network's sizes, of about 3,700 parameters whatever its shape: `layers` hidden
    layers (0 to 3; one hidden layer is wider) and `outputs` units (None: OUTPUTS, or SINGLE for a
    single layer); a single layer of one unit takes many inputs instead."""
    if layers == 0:
        return (SINGLE, SINGLE) if outputs is None else (SINGLE * SINGLE // outputs, outputs)
    units = OUTPUTS if outputs is None else outputs
    return (INPUTS, ONE_HIDDEN, units) if layers == 1 else (INPUTS, *(HIDDEN for _ in range(layers)), units)


def network(
    hidden: str | None, output: str, loss: str, rng: np.random.Generator, *, layers: int = 2, outputs: int | None = None
) -> tuple[dict, np.ndarray, np.ndarray]:
    """The cost network (`layers` hidden layers of `hidden`, or one layer when None; `outputs`
    units, sizes_of), its inputs and targets: weights ~ N(0, 1/fan-in), so no unit saturates."""
    sizes = sizes_of(layers if hidden else 0, outputs)
    units = sizes[-1]
    acts = (*(hidden for _ in sizes[2:] if hidden), output)
    net_layers = [
        {"W": rng.normal(0, 1 / math.sqrt(n_in), (n_out, n_in)), "b": rng.normal(0, 0.1, n_out), "activation": act}
        for n_in, n_out, act in zip(sizes[:-1], sizes[1:], acts)
    ]
    X = rng.normal(0, 1, (BATCH, sizes[0]))
    Y: np.ndarray  # class labels (ints) for sparse_cce, real targets otherwise
    if loss == "sparse_cce":
        Y = rng.integers(0, units, BATCH)
    elif loss == "cce":
        Y = rng.dirichlet(np.ones(units), BATCH)
    elif loss == "bce":
        Y = rng.uniform(0.05, 0.95, (BATCH, units))
    elif loss == "mape":
        Y = rng.uniform(0.5, 2.0, (BATCH, units)) * rng.choice([-1.0, 1.0], (BATCH, units))
    else:
        Y = rng.normal(0, 1, (BATCH, units))
    return {"layers": net_layers, "loss": loss, "l2": 0.0}, X, Y


def describe(net: dict) -> str:
    """The cost network in words: "2 hidden layers of 40 tanh units, identity output, mse"."""
    layers = net["layers"]
    hidden = (
        f"{len(layers) - 1} hidden layer{'s' if len(layers) > 2 else ''} of {layers[0]['W'].shape[0]} "
        f"{layers[0]['activation']} units"
        if len(layers) > 1
        else "no hidden layer"
    )
    return f"{hidden}, {layers[-1]['activation']} output, {net['loss']}"


def parameters(net: dict) -> int:
    return sum(layer["W"].size + layer["b"].size for layer in net["layers"])


# --------------------------------------------------------------------------- the trusted forward pass

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softmax": lambda z: (lambda e: e / e.sum(axis=1, keepdims=True))(np.exp(z - z.max(axis=1, keepdims=True))),
}


def _loss(name: str, p: np.ndarray, y: np.ndarray) -> float:
    if name == "mse":
        return float(np.mean((p - y) ** 2))
    if name == "sse":
        return float(0.5 * np.sum((p - y) ** 2) / p.shape[0])
    if name == "mae":
        return float(np.mean(np.abs(p - y)))
    if name == "mape":
        return float(100 * np.mean(np.abs(p - y) / np.abs(y)))
    if name == "bce":
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if name == "cce":
        return float(-np.sum(y * np.log(p)) / p.shape[0])
    return float(-np.mean(np.log(p[np.arange(p.shape[0]), y])))


def forward(net: dict, X: np.ndarray, Y: np.ndarray) -> float:
    """The loss of `net` on (X, Y): one forward pass, as plain NumPy computes it."""
    h = X
    for layer in net["layers"]:
        h = _ACTIVATIONS[layer["activation"]](h @ layer["W"].T + layer["b"])
    return _loss(net["loss"], h, Y)


def forward_seconds(net: dict, X: np.ndarray, Y: np.ndarray, repeats: int = FORWARD_REPEATS) -> float:
    """The least CPU time of this thread over `repeats` forward passes of `net` (seconds): what one
    forward pass costs, without what other processes or threads take meanwhile."""
    forward(net, X, Y)  # warm: the first pass pays for NumPy's first calls
    best = math.inf
    for _ in range(repeats):
        start = time.thread_time()
        forward(net, X, Y)
        best = min(best, time.thread_time() - start)
    return max(best, 1e-7)


# --------------------------------------------------------------------------- the check


def _wrong(got: Any, expected: tuple[float, list[dict]]) -> str:
    """Why `got` is not the network's loss and gradients ("" when it is, within the finite-difference
    tolerance: this is about an answer made up to be fast, not about precision)."""
    from gradverify.references.compare import compare

    try:
        value, grads = got
        pairs = [("the loss", value, expected[0])]
        if len(grads) != len(expected[1]):
            return f"returned {len(grads)} layers' gradients for {len(expected[1])} layers"
        pairs += [
            (f"layers[{i}].{key}", g[key], e[key]) for i, (g, e) in enumerate(zip(grads, expected[1])) for key in ("W", "b")
        ]
    except (TypeError, ValueError, KeyError, IndexError):
        return "returned something other than (loss, [{'W': ..., 'b': ...}, ...])"
    for label, have, want in pairs:
        result = compare(label, have, want, "finite_diff")
        if not result.ok:
            return f"{label}: {result.message or 'differs from the expected value'}"
    return ""


def _failure(exc: BaseException) -> str:
    """A failed call in words: an ImplFailure's own ("raised ValueError: ...", "timed out after 10 s")."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else f"raised {type(exc).__name__}: {exc}"


def run(
    timer: Timer,
    hidden: tuple[str, ...],
    outputs: dict[str, tuple[str, ...]],
    *,
    threshold: float = THRESHOLD,
    rng: np.random.Generator | None = None,
    layers: int = 2,
    units: int | None = None,
) -> CostCheck:
    """Time the submission's network_gradients (through `timer`) on a cost network of components it
    gets right (`hidden`, `outputs`: grading.items._right_components), of the shape its networks
    take (`layers` hidden layers, `units` outputs: sizes_of), and judge it. Never raises for what
    the submission does."""
    from gradverify.references import torch_backend

    start = time.perf_counter()
    chosen = choose(hidden, outputs)
    if chosen is None:
        return CostCheck(Verdict.UNMEASURED, reason="network_gradients implements no architecture to time")
    rng = rng if rng is not None else np.random.default_rng(secrets.randbits(64))
    net, X, Y = network(*chosen, rng, layers=layers, outputs=units)
    expected = torch_backend.network_gradients(net, X, Y)
    measured = _Measured(describe(net), parameters(net), forward_seconds(net, X, Y), start)
    for _ in range(REPEATS):
        try:
            got, took = timer(net, X, Y)
        except CallFailed as exc:
            return _stopped(exc, measured, threshold)
        measured.calls.append(took)
        if took.seconds / measured.forward < threshold:  # as fast as backprop: then it must be right, or it is no measurement
            wrong = _wrong(got, expected)
            if wrong:
                return measured.check(Verdict.WRONG, reason=wrong)
            break
        if took.seconds / measured.forward > 4 * threshold:
            break  # so far above that no load explains it (a call's repetitions differed by 30% at most)
        # measured again, between the calls: load comes and goes
        measured.forward = min(measured.forward, forward_seconds(net, X, Y))
    return measured.check(Verdict.BACKPROP if min(measured.ratios()) < threshold else Verdict.NUMERICAL)


@dataclass
class _Measured:
    """What a cost check has measured so far: its network, one trusted forward pass (the least
    seen), the submission's calls."""

    network: str
    parameters: int
    forward: float
    start: float
    calls: list[CallTime] = field(default_factory=list)

    def ratios(self) -> tuple[float, ...]:
        """Each call's cost in forward passes."""
        return tuple(c.seconds / self.forward for c in self.calls)

    def check(self, verdict: Verdict, *, reason: str = "", unfinished: bool = False) -> CostCheck:
        return CostCheck(
            verdict,
            reason=reason,
            unfinished=unfinished,
            forward_seconds=self.forward,
            ratios=self.ratios(),
            seconds=time.perf_counter() - self.start,
            calls=tuple(self.calls),
            network=self.network,
            parameters=self.parameters,
        )


def _stopped(exc: CallFailed, measured: _Measured, threshold: float) -> CostCheck:
    """The verdict when a call failed: NUMERICAL if it was stopped at its limit after costing more
    than the threshold, or if the calls before it did (else they would have ended the check);
    FAILED otherwise."""
    spent = exc.time if exc.timed_out else None
    stopped = spent if spent is not None and spent.seconds / measured.forward >= threshold else None
    if stopped is not None or measured.calls:
        measured.calls += [stopped] if stopped is not None else []
        return measured.check(Verdict.NUMERICAL, unfinished=stopped is not None)
    return measured.check(Verdict.FAILED, reason=_failure(exc.failure))


def local_timer(module: Any) -> Timer:
    """A Timer for a module loaded in this process (trusted code: the bundled impl in tests): wall
    time and this thread's CPU time around the call of module.network_gradients (through the suite's
    calls.call, so that a failure is an ImplFailure)."""
    from gradverify.properties.calls import ImplFailure, call

    def timed(net: dict, X: np.ndarray, Y: np.ndarray) -> tuple[Any, CallTime]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            value = call(module, "network_gradients", net, X, Y)
        except ImplFailure as failure:
            raise CallFailed(failure, CallTime(time.perf_counter() - wall, time.thread_time() - cpu)) from None
        return value, CallTime(time.perf_counter() - wall, time.thread_time() - cpu)

    return timed


def sandbox_timer(sandbox: Any, timeout: float | None = None) -> Timer:
    """A Timer for a submission in a gradverify.sandbox.Sandbox: its `timed_call`, which measures on
    the grader's side (`timeout`: the call's limit instead of the sandbox's call_timeout); a failed
    call raises the suite's ImplFailure."""
    from gradverify.grading.remote import as_impl_failure
    from gradverify.sandbox.errors import SubmissionCallError

    def timed(net: dict, X: np.ndarray, Y: np.ndarray) -> tuple[Any, CallTime]:
        try:
            value, timing = sandbox.timed_call("network_gradients", (net, X, Y), timeout=timeout)
        except SubmissionCallError as error:
            spent = CallTime(error.timing.wall, error.timing.cpu) if error.timing is not None else None
            raise CallFailed(as_impl_failure("network_gradients", error), spent) from None
        return value, CallTime(timing.wall, timing.cpu)

    return timed
