"""A variant of the bundled impl: one deliberate change, made from textual patches.

A variant is (claim, [(old text, new text), ...]) applied to impl/backprop.py; each
old text must occur exactly once, so a variant can never silently stop applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMPL_SOURCE = Path(__file__).resolve().parents[2] / "impl" / "backprop.py"


def patched(source: Path, name: str, patches: tuple[tuple[str, str], ...]) -> str:
    """The text of `source` with each (old, new) of the variant `name` applied; ValueError when an
    old text does not occur exactly once (a variant whose patch stops applying fails loudly)."""
    text = source.read_text(encoding="utf-8")
    for old, new in patches:
        count = text.count(old)
        if count != 1:
            raise ValueError(f"variant {name}: the text to replace occurs {count} times, expected once: {old!r}")
        text = text.replace(old, new)
    return text


def write_variant(folder: Path, name: str, source: str) -> Path:
    """The variant's source written to `folder`/<name>.py."""
    path = Path(folder) / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    patches: tuple[tuple[str, str], ...]
    #: the default rubric's item where the bug lives (None: a correct variant)
    item: str | None = None
    #: items the bug costs besides its own and those built on it (grading.kinds.BUILDS_ON): a training
    #: loop over steps that fail cannot be right, so a step bug that makes them fail costs it too
    also: tuple[str, ...] = ()
    #: the diagnosis (a gradverify.diagnoses.Diagnosis) its item's hints must name; every
    #: other diagnosis must stay silent on it
    hint: str | None = None
    #: network_gradients computes its layers with the buggy function (rubric.items_lost_to)
    through_network: bool = False
    #: (item, diagnosis) another item it costs must name as well: the network item locating a
    #: dense bug in the layer where its gradient is not the derivative of the network's loss
    elsewhere: tuple[tuple[str, str], ...] = ()

    def lost_items(self, rubric) -> list[str]:
        """The items of `rubric` this bug costs (ItemResult.lost: failed, or a composite item only
        partly right), in rubric order."""
        from gradverify.grading.rubric import items_lost_to

        lost = set(items_lost_to(self.item, rubric, through_network=self.through_network)) | set(self.also)
        return [item.name for item in rubric.items if item.name in lost]

    def source(self) -> str:
        return patched(IMPL_SOURCE, self.name, self.patches)

    def write(self, folder: Path) -> Path:
        return write_variant(folder, self.name, self.source())


def _v(
    name: str,
    item: str | None,
    description: str,
    *patches: tuple[str, str],
    also: tuple[str, ...] = (),
    hint: str | None = None,
    through_network: bool = False,
    elsewhere: tuple[tuple[str, str], ...] = (),
) -> Variant:
    return Variant(name, description, tuple(patches), item, also, hint, through_network, elsewhere)
