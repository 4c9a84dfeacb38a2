"""The rubric: which items a submission is graded on, their points and visibility.

    rubric = load_rubric()            # the shipped grading/rubric.toml
    rubric = load_rubric("course.toml")

Each item names a kind of check (grading/kinds.py's `KINDS`: the suite property it runs and
the cases it draws) and, for activations and losses, a target from the spec table
(gradverify.references.spec), so a rubric can only name components the suite checks.
A rubric may name a course adapter (`adapter = "course_api.py"`, relative to the rubric, or
a shipped one's name: grading/adapters/), through which submissions in the course's own
API are graded. Each item's visibility is Gradescope's own (VISIBILITIES; `hidden = true` is
visibility "hidden"), written to results.json for Gradescope to enforce.

Every field is described in docs/rubric.md. A field the rubric does not have (`hiden`,
`item_timout`), a value of the wrong type, or hidden and visibility that contradict each other
is an error that names its line and, for a misspelling, the closest valid name; never ignored.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradverify.grading.kinds import BUILDS_ON, IN_EVERY_NETWORK, KINDS

DEFAULT_RUBRIC = Path(__file__).resolve().with_name("rubric.toml")
#: The course rubrics that ship (gradverify/grading/rubrics/), by name: `--rubric cs231n-a2`.
SHIPPED_RUBRICS: dict[str, Path] = {
    path.stem: path for path in sorted(Path(__file__).resolve().with_name("rubrics").glob("*.toml"))
}


def rubric_path(name: str | Path | None) -> Path:
    """The rubric file `name` stands for: a shipped course rubric's name (SHIPPED_RUBRICS), else a
    path (None: the default rubric)."""
    if not name:
        return DEFAULT_RUBRIC
    if isinstance(name, str) and name in SHIPPED_RUBRICS and not Path(name).exists():
        return SHIPPED_RUBRICS[name]
    return Path(name)


#: Gradescope's visibility values, from its results.json spec: "hidden" tests are never shown to students,
#: "after_due_date" ones once the assignment's due date has passed, "after_published" ones once staff
#: publish the grades; staff always see every test.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: The fields of a rubric: at the top level, and in each [[items]] table (docs/rubric.md describes each).
FIELDS = (
    "title",
    "examples",
    "item_timeout",
    "seed",
    "packages",
    "allow_autodiff",
    "adapter",
    "submission_file",
    "require_backprop",
    "items",
)
ITEM_FIELDS = ("name", "title", "check", "target", "points", "hidden", "visibility")


@dataclass(frozen=True)
class Item:
    name: str
    title: str
    check: str
    points: float
    target: str | None = None
    #: who sees the item's test on Gradescope, and when (VISIBILITIES); `hidden = true` in a rubric
    #: is visibility "hidden"
    visibility: str = "visible"

    @property
    def hidden(self) -> bool:
        """Never shown to students (Gradescope's "hidden"): only staff see the item and its feedback."""
        return self.visibility == "hidden"


@dataclass(frozen=True)
class Rubric:
    title: str
    items: tuple[Item, ...]
    examples: int = 30
    item_timeout: float = 30.0
    #: a seed every grade uses (every student then gets the same cases: an answer key can be
    #: built); None, the default: each grade's seed comes from the course secret and the
    #: submission (grading/secret.py)
    seed: int | None = None
    path: str = ""
    #: top-level packages a submission may import besides the standard library and NumPy
    packages: tuple[str, ...] = ()
    #: the course adapter: a shipped adapter's name or an absolute path ("" for none)
    adapter: str = ""
    #: in a class folder of one folder per student, the file graded in each ("" for none: grading/classroom.collect)
    submission_file: str = ""
    #: the packages of `packages` that differentiate for the submission (AUTODIFF_PACKAGES), which
    #: the rubric allows on purpose; the staff report and the student's feedback name them
    allow_autodiff: tuple[str, ...] = ()
    #: the cost check (grading/cost.py): a network_gradients that costs like numerical
    #: differentiation, not backprop, earns nothing for the items that use it
    require_backprop: bool = True

    @property
    def max_score(self) -> float:
        return sum(item.points for item in self.items)


def _read(path: Path) -> tuple[dict, "_Source"]:
    """The rubric's TOML as data, and its text for the line numbers of what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        shipped = f" (a rubric that ships is one of {', '.join(SHIPPED_RUBRICS)})" if not path.exists() else ""
        raise ValueError(f"cannot read the rubric {path}: {exc.strerror}{shipped}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the rubric {path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text), _Source(path, text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"the rubric {path} is not valid TOML: {exc}") from None


def _items(raw_items: Any, path: Path, source: "_Source") -> list["Item"]:
    """The [[items]] tables, each validated, with names used once and no two items checking the
    same thing (a second network item would grade the same bug twice)."""
    if not isinstance(raw_items, list) or not raw_items or not all(isinstance(raw, dict) for raw in raw_items):
        raise ValueError(
            f"{path}{source.at('items')}: the rubric needs at least one [[items]] table, and items must be [[items]] tables"
        )
    items: list[Item] = []
    names: set[str] = set()
    checked: dict[tuple[str, str | None], int] = {}
    for i, raw in enumerate(raw_items):
        _known_fields(raw, source, ("items", i))
        items.append(_item(raw, i, source))
        item = items[-1]
        if item.name in names:
            raise ValueError(f"{path}: item {i + 1}{source.at('items', i, 'name')}: the name {item.name!r} is used twice")
        names.add(item.name)
        what = (item.check, item.target)
        if what in checked:
            target = f" with target {item.target!r}" if item.target else ""
            raise ValueError(
                f"{path}: item {i + 1}{source.at('items', i, 'check')}: check {item.check!r}{target} is item "
                f"{checked[what] + 1}'s already; each thing is graded by one item, or one bug would cost its points twice"
            )
        checked[what] = i
    return items


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Read and validate a rubric (a path, or a shipped course rubric's name: rubric_path); ValueError
    saying what is wrong and on which line: a field the
    rubric does not know (with the closest valid name), a value of the wrong type, a check or target
    the suite does not have, hidden and visibility that contradict each other."""
    path = rubric_path(path)
    data, source = _read(path)
    _known_fields(data, source, ())
    items = _items(data.get("items"), path, source)
    title, examples = data.get("title", "Backpropagation"), data.get("examples", 30)
    timeout, seed = data.get("item_timeout", 30), data.get("seed")
    if not isinstance(title, str):
        raise ValueError(f"{path}{source.at('title')}: title must be a string, got {title!r}")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"{path}{source.at('examples')}: examples must be an integer >= 1, got {examples!r}")
    if not _number(timeout) or timeout <= 0:
        raise ValueError(f"{path}{source.at('item_timeout')}: item_timeout must be a positive number of seconds, got {timeout!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"{path}{source.at('seed')}: seed must be an integer, got {seed!r}")
    packages, allow_autodiff = _packages(data.get("packages", []), data.get("allow_autodiff", []), path, source)
    submission_file = data.get("submission_file", "")
    if submission_file != "":
        try:
            check_file_name(submission_file, "submission_file")
        except ValueError as exc:
            raise ValueError(f"{path}{source.at('submission_file')}: {exc}") from None
    require_backprop = data.get("require_backprop", True)
    if not isinstance(require_backprop, bool):
        raise ValueError(
            f"{path}{source.at('require_backprop')}: require_backprop must be true or false, got {require_backprop!r}"
        )
    return Rubric(
        title,
        tuple(items),
        examples,
        float(timeout),
        seed,
        str(path),
        packages,
        _adapter(data.get("adapter", ""), path, source),
        allow_autodiff=allow_autodiff,
        submission_file=submission_file,
        require_backprop=require_backprop,
    )


def check_file_name(name: Any, what: str) -> str:
    """`name` if it is the name of a Python file in a folder (`backprop.py`: a string ending in .py,
    without '/'), else ValueError saying so of `what` (submission_file, --file)."""
    if not isinstance(name, str) or not name.endswith(".py") or "/" in name or "\0" in name or name in (".py", "..py"):
        raise ValueError(f"{what} must be a file name ending in .py, without folders (e.g. backprop.py), got {name!r}")
    return name


#: Top-level packages that differentiate for a submission: automatic differentiation (and the
#: array libraries built on it), symbolic differentiation, numerical differentiation. A rubric's
#: `packages` lists one only if its `allow_autodiff` names it too. Of the grader's own
#: dependencies: torch (and functorch, which ships with it), jax, jaxlib and sympy (torch's).
AUTODIFF_PACKAGES = frozenset(
    {
        "torch",
        "functorch",
        "jax",
        "jaxlib",
        "flax",
        "equinox",
        "optax",
        "haiku",
        "trax",
        "tensorflow",
        "keras",
        "tf_keras",
        "autograd",
        "mxnet",
        "chainer",
        "paddle",
        "mygrad",
        "tinygrad",
        "micrograd",
        "theano",
        "aesara",
        "pytensor",
        "casadi",
        "sympy",
        "numdifftools",
        "findiff",
        "dynet",
        "mlx",
    }
)
#: The grader's own top-level package: never in `packages`, allowed or not (its model solution,
#: gradverify.impl, would be importable).
GRADER_PACKAGES = frozenset({"gradverify"})


def _packages(packages: Any, allowed: Any, path: Path, source: "_Source") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The rubric's `packages` and `allow_autodiff`, checked: lists of top-level names; none of
    the grader's own code (GRADER_PACKAGES, or a folder of this checkout such as impl/); a package
    that differentiates (AUTODIFF_PACKAGES) only if allow_autodiff names it, and allow_autodiff
    naming only such packages of `packages`. ValueError saying which name and why."""
    for field, value in (("packages", packages), ("allow_autodiff", allowed)):
        if not isinstance(value, list) or not all(isinstance(p, str) and p.isidentifier() for p in value):
            raise ValueError(f"{path}{source.at(field)}: {field} must be a list of top-level package names, got {value!r}")
    for field, value in (("packages", packages), ("allow_autodiff", allowed)):
        own = [name for name in value if name in GRADER_PACKAGES or _grader_folder(name)]
        if own:
            raise ValueError(
                f"{path}{source.at(field)}: {field} names {own[0]!r}, the grader's own code: its model "
                f"solution would be importable by every submission; no rubric may allow it"
            )
    refused = [name for name in packages if name in AUTODIFF_PACKAGES and name not in allowed]
    if refused:
        raise ValueError(
            f"{path}{source.at('packages')}: packages names {', '.join(map(repr, refused))}, which "
            f"differentiate{'s' if len(refused) == 1 else ''} for the submission (its gradients would not "
            f"be its own work); if the course means it, say so: allow_autodiff = {refused!r}"
        )
    stray = [name for name in allowed if name not in AUTODIFF_PACKAGES or name not in packages]
    if stray:
        name = stray[0]
        why = (
            "is not a package that differentiates (allow_autodiff is for those of AUTODIFF_PACKAGES: "
            f"{', '.join(sorted(AUTODIFF_PACKAGES))})"
            if name not in AUTODIFF_PACKAGES
            else "is not in packages: list it there too"
        )
        raise ValueError(f"{path}{source.at('allow_autodiff')}: allow_autodiff names {name!r}, which {why}")
    return tuple(packages), tuple(allowed)


def _grader_folder(name: str) -> bool:
    """Whether the top-level package `name`, as the grader's interpreter finds it, is (or lies in)
    a folder of the grader's own packages: gradverify's, its impl's or its references' (an
    editable checkout's impl/ is importable as `impl` from the checkout's folder)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
        own = [importlib.util.find_spec(package) for package in ("gradverify", "gradverify.impl", "gradverify.references")]
    except (ImportError, ValueError, AttributeError):
        return False
    if spec is None:
        return False
    roots: set[Path] = set()
    for package in own:
        if package is None or package.submodule_search_locations is None:
            return False
        roots |= {Path(folder).resolve() for folder in package.submodule_search_locations}
    places = [
        Path(p).resolve()
        for p in [*(spec.submodule_search_locations or ()), spec.origin]
        if p and p not in ("built-in", "frozen")
    ]
    return any(place == root or root in place.parents for place in places for root in roots)


def _number(value: Any) -> bool:
    """A finite int or float (TOML's true, inf and nan are not)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _known_fields(table: dict, source: "_Source", keys: tuple) -> None:
    """ValueError for the first field of `table` (the top level when `keys` is (), else an item) that
    a rubric does not have, with its line and the closest valid name, or where it belongs: a
    top-level field written after an [[items]] header is, to TOML, a field of that item."""
    allowed, elsewhere = (ITEM_FIELDS, FIELDS) if keys else (FIELDS, ITEM_FIELDS)
    there = (
        "a top-level field: put it above the first [[items]] (TOML reads every key after an [[items]] "
        "header as part of that item)"
        if keys
        else "a field of an item: put it under an [[items]] header"
    )
    for key in table:
        if key in allowed:
            continue
        at = source.at(*keys, key)
        message = (
            f"{source.path}: unknown field {key!r} in item {keys[1] + 1}{at}"
            if keys
            else f"{source.path}: unknown top-level field {key!r}{at}"
        )
        close = difflib.get_close_matches(key, allowed, n=1)
        misplaced = [key] if key in elsewhere else difflib.get_close_matches(key, elsewhere, n=1)
        if key in elsewhere:
            message += f"; {key!r} is {there}"
        elif close:
            message += f"; did you mean {close[0]!r}?"
        elif misplaced:
            message += f"; did you mean {misplaced[0]!r}? That is {there}"
        else:
            message += f"; expected one of {', '.join(allowed)}"
        raise ValueError(message)


def _adapter(value: Any, path: Path, source: "_Source") -> str:
    """The rubric's `adapter`: "" for none, a shipped adapter's name, or the absolute path of the
    file it names relative to the rubric's folder; ValueError if there is no such adapter."""
    from gradverify.grading.adapters import SHIPPED, resolve

    if not isinstance(value, str):
        raise ValueError(
            f"{path}{source.at('adapter')}: adapter must be a string (a .py file relative to the rubric, "
            f"or one of {', '.join(SHIPPED)}), got {value!r}"
        )
    if not value or value in SHIPPED:
        return value
    try:
        return str(resolve(value, path.resolve().parent))
    except ValueError as exc:
        raise ValueError(f"{path}{source.at('adapter')}: {exc}") from None


def _suggest(value: Any, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _item(raw: dict, index: int, source: "_Source") -> Item:
    def where(key: str | None = None) -> str:
        """ "path: item 7 (line 41)": the line of `key` when the item sets it, else of its header."""
        at = source.at("items", index, key) if key is not None and key in raw else source.at("items", index)
        return f"{source.path}: item {index + 1}{at}"

    for key in ("name", "check", "points"):
        if key not in raw:
            raise ValueError(f"{where()} needs {key!r}")
    name, title = raw["name"], raw.get("title", raw["name"])
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where('name')}: name must be a non-empty string, got {name!r}")
    if not isinstance(title, str):
        raise ValueError(f"{where('title')}: title must be a string, got {title!r}")
    kind = raw["check"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(
            f"{where('check')}: unknown check {kind!r}; expected one of {sorted(KINDS)}{_suggest(kind, list(KINDS))}"
        )
    target = raw.get("target")
    targets = KINDS[kind].targets
    if targets and (not isinstance(target, str) or target not in targets):
        raise ValueError(
            f"{where('target')}: check {kind!r} needs a target from {list(targets)}, got {target!r}{_suggest(target, targets)}"
        )
    if not targets and "target" in raw:
        raise ValueError(
            f"{where('target')}: check {kind!r} takes no target (it checks one function for every "
            f"component), got {target!r}; remove the target"
        )
    points = raw["points"]
    if not _number(points) or points < 0:
        raise ValueError(f"{where('points')}: points must be a number >= 0, got {points!r}")
    hidden = raw.get("hidden", False)
    if not isinstance(hidden, bool):
        raise ValueError(f"{where('hidden')}: hidden must be true or false, got {hidden!r}")
    visibility = raw.get("visibility", "hidden" if hidden else "visible")
    if not isinstance(visibility, str) or visibility not in VISIBILITIES:
        raise ValueError(
            f"{where('visibility')}: visibility must be one of {list(VISIBILITIES)}, got {visibility!r}"
            f"{_suggest(visibility, VISIBILITIES)}"
        )
    if "hidden" in raw and (visibility == "hidden") != hidden:
        raise ValueError(
            f"{where('hidden')}: hidden = {str(hidden).lower()} contradicts visibility = {visibility!r}: "
            f'hidden = true is visibility = "hidden" (students never see the item); keep one of the two'
        )
    return Item(name, title, kind, float(points), target, visibility)


class _Source:
    """A rubric's text, to say on which line a value is set (tomllib gives no positions): the first
    line after which tomllib's own reading of the text holds the value. A prefix of the text that
    ends inside a multi-line string or array does not parse and is passed over, so a key-like line
    inside a string is never taken for a key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.split("\n")
        self._docs: dict[int, dict | None] = {}

    def _doc(self, n: int) -> dict | None:
        """The first `n` lines as TOML, or None when they end inside a value."""
        if n not in self._docs:
            try:
                self._docs[n] = tomllib.loads("\n".join(self.lines[:n]))
            except tomllib.TOMLDecodeError:
                self._docs[n] = None
        return self._docs[n]

    def _holds(self, n: int, keys: tuple) -> bool:
        """Whether the longest prefix of at most `n` lines that parses holds `keys` (monotone in n)."""
        while n > 0 and self._doc(n) is None:
            n -= 1
        node: Any = self._doc(n) if n > 0 else {}
        for key in keys:
            if isinstance(key, int) and isinstance(node, list) and key < len(node):
                node = node[key]
            elif isinstance(key, str) and isinstance(node, dict) and key in node:
                node = node[key]
            else:
                return False
        return True

    def line(self, *keys: str | int) -> int | None:
        """The 1-based line where `keys` is set (("items", 6, "hidden"): the key `hidden` of the
        seventh [[items]] table; ("items", 6): its header), or None if the text does not set it."""
        if not self._holds(len(self.lines), keys):
            return None
        low, high = 0, len(self.lines)  # the prefix of `low` lines lacks the value, of `high` holds it
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self._holds(middle, keys) else (middle, high)
        start = high - 1  # the value ends on line `high`; it starts after the last prefix that parses
        while start > 0 and self._doc(start) is None:
            start -= 1
        for number in range(start, high):
            text = self.lines[number].strip()
            if text and not text.startswith("#"):
                return number + 1
        return high

    def at(self, *keys: str | int) -> str:
        """ " (line N)" for the line where `keys` is set, "" when the text does not set it."""
        number = self.line(*keys)
        return f" (line {number})" if number else ""


def items_lost_to(item: str, rubric: "Rubric", *, through_network: bool = False) -> list[str]:
    """The items, in rubric order, that a bug in item `item` alone costs: that item, and those
    whose kind builds on its kind (BUILDS_ON). A bug in an activation or a loss costs nothing
    more: the composite items leave out the components it is part of. With `through_network`
    (network_gradients computes its layers with the item's functions), a bug in a kind
    IN_EVERY_NETWORK (dense) costs every composite item too: no network is left to check
    without it."""
    kind = next(i.check for i in rubric.items if i.name == item)
    everywhere = through_network and kind in IN_EVERY_NETWORK
    return [
        i.name
        for i in rubric.items
        if i.name == item or kind in BUILDS_ON.get(i.check, ()) or (everywhere and KINDS[i.check].composite)
    ]
