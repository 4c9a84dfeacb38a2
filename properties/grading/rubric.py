"""The rubric: which items a submission is graded on, their points and visibility.

    rubric = load_rubric()            # the shipped grading/rubric.toml
    rubric = load_rubric("course.toml")

Each item names a kind of check (`KINDS`: the suite property it runs and the cases it
draws) and, for activations and losses, a target from the spec table
(gradverify.references.spec), so a rubric can only name components the suite checks.
A rubric may name a course adapter (`adapter = "course_api.py"`, relative to the rubric, or
a shipped one's name: grading/adapters/), through which submissions in the course's own
API are graded.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

from gradverify import strategies
from gradverify.references.spec import ACTIVATIONS, LOSSES

DEFAULT_RUBRIC = Path(__file__).resolve().with_name("rubric.toml")
#: Gradescope's visibility values.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Kind:
    """A kind of rubric item: which property checks it and on which cases."""

    prop: str
    #: (target, allowed activations, allowed losses, output activations per loss or None, the L2
    #: draws of a training run: "mixed", or "zero" through an adapter that maps no L2) -> strategy
    strategy: Callable[[str | None, tuple[str, ...], tuple[str, ...], dict | None, str], st.SearchStrategy]
    targets: tuple[str, ...] = ()
    #: drawn only from components whose items passed
    composite: bool = False


#: The networks a grade draws: up to 16 units and 16 samples, so that the JAX reference pads every
#: one into a single bucket and compiles its network kernel once per grade (~2 s cold each; four
#: buckets took half of a cold grade). Shrinking ends at two units and two samples either way.
NETWORK_SIZES = {"max_width": 16, "max_batch": 16}

KINDS: dict[str, Kind] = {
    "activation": Kind("activations_match_references", lambda t, a, l, o, l2: strategies.activation_cases(names=(t,)),
                       tuple(ACTIVATIONS)),
    "loss": Kind("losses_match_references", lambda t, a, l, o, l2: strategies.loss_cases(names=(t,)), tuple(LOSSES)),
    "dense": Kind("dense_matches_references", lambda t, a, l, o, l2: strategies.dense_cases()),
    "network": Kind("network_gradients_match_references",
                    lambda t, a, l, o, l2: strategies.examples(activations=a, losses=l, outputs=o, l2="zero", **NETWORK_SIZES),
                    composite=True),
    "l2": Kind("l2_adds_half_lambda_norm",
               lambda t, a, l, o, l2: strategies.examples(activations=a, losses=l, outputs=o, l2="positive", **NETWORK_SIZES),
               composite=True),
    "momentum_step": Kind("momentum_step_matches_torch_sgd", lambda t, a, l, o, l2: strategies.train_cases()),
    "train_loop": Kind("train_follows_own_steps",
                       lambda t, a, l, o, l2: strategies.train_cases(activations=a, losses=l, outputs=o, l2=l2),
                       composite=True),
}


#: Kinds whose check needs another kind's work to be right (the L2 item compares the whole
#: λ > 0 gradient with PyTorch's): a bug in the other kind costs both items.
BUILDS_ON: dict[str, tuple[str, ...]] = {"l2": ("network",)}


@dataclass(frozen=True)
class Item:
    name: str
    title: str
    check: str
    points: float
    target: str | None = None
    hidden: bool = False
    visibility: str = "visible"


@dataclass(frozen=True)
class Rubric:
    title: str
    items: tuple[Item, ...]
    examples: int = 30
    item_timeout: float = 30.0
    seed: int = 0
    path: str = ""
    #: top-level packages a submission may import besides the standard library and NumPy
    packages: tuple[str, ...] = ()
    #: the course adapter: a shipped adapter's name or an absolute path ("" for none)
    adapter: str = ""

    @property
    def max_score(self) -> float:
        return sum(item.points for item in self.items)


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Read and validate a rubric; ValueError saying what is wrong and where."""
    path = Path(path) if path else DEFAULT_RUBRIC
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the rubric {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"the rubric {path} is not valid TOML: {exc}") from None
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ValueError(f"the rubric {path} needs at least one [[items]] table")
    items, names = [], set()
    for i, raw in enumerate(raw_items):
        items.append(_item(raw, f"{path}: item {i + 1}"))
        if items[-1].name in names:
            raise ValueError(f"{path}: item {i + 1}: the name {items[-1].name!r} is used twice")
        names.add(items[-1].name)
    examples, timeout, seed = data.get("examples", 30), data.get("item_timeout", 30), data.get("seed", 0)
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"{path}: examples must be an integer >= 1, got {examples!r}")
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{path}: item_timeout must be a positive number of seconds, got {timeout!r}")
    if not isinstance(seed, int):
        raise ValueError(f"{path}: seed must be an integer, got {seed!r}")
    packages = data.get("packages", [])
    if not isinstance(packages, list) or not all(isinstance(p, str) and p.isidentifier() for p in packages):
        raise ValueError(f"{path}: packages must be a list of top-level package names, got {packages!r}")
    return Rubric(str(data.get("title", "Backpropagation")), tuple(items), examples, float(timeout), seed, str(path),
                  tuple(packages), _adapter(data.get("adapter", ""), path))


def _adapter(value: Any, path: Path) -> str:
    """The rubric's `adapter`: "" for none, a shipped adapter's name, or the absolute path of the
    file it names relative to the rubric's folder; ValueError if there is no such adapter."""
    from gradverify.grading.adapters import SHIPPED, resolve

    if not isinstance(value, str):
        raise ValueError(f"{path}: adapter must be a string (a .py file relative to the rubric, or one of "
                         f"{', '.join(SHIPPED)}), got {value!r}")
    if not value or value in SHIPPED:
        return value
    try:
        return str(resolve(value, path.resolve().parent))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _item(raw: Any, where: str) -> Item:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    for key in ("name", "check", "points"):
        if key not in raw:
            raise ValueError(f"{where} needs {key!r}")
    kind = raw["check"]
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown check {kind!r}; expected one of {sorted(KINDS)}")
    target = raw.get("target")
    if KINDS[kind].targets and target not in KINDS[kind].targets:
        raise ValueError(f"{where}: check {kind!r} needs a target from {list(KINDS[kind].targets)}, got {target!r}")
    points = raw["points"]
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ValueError(f"{where}: points must be a number >= 0, got {points!r}")
    visibility = raw.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise ValueError(f"{where}: visibility must be one of {list(VISIBILITIES)}, got {visibility!r}")
    return Item(str(raw["name"]), str(raw.get("title", raw["name"])), kind, float(points), target,
                bool(raw.get("hidden", False)), visibility)


def items_lost_to(item: str, rubric: "Rubric") -> list[str]:
    """The items, in rubric order, that a bug in item `item` alone costs: that item, and those
    whose kind builds on its kind (BUILDS_ON)."""
    kind = next(i.check for i in rubric.items if i.name == item)
    return [i.name for i in rubric.items if i.name == item or kind in BUILDS_ON.get(i.check, ())]
