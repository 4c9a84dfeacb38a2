"""Copies of the bundled impl with one deliberate change each, made from textual patches.

A variant is (claim, [(old text, new text), ...]) applied to impl/backprop.py; each
old text must occur exactly once, so a variant can never silently stop applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMPL_SOURCE = Path(__file__).resolve().parents[2] / "impl" / "backprop.py"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    patches: tuple[tuple[str, str], ...]

    def source(self) -> str:
        text = IMPL_SOURCE.read_text(encoding="utf-8")
        for old, new in self.patches:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"variant {self.name}: the text to replace occurs {count} times, expected once: {old!r}")
            text = text.replace(old, new)
        return text

    def write(self, folder: Path) -> Path:
        path = Path(folder) / f"{self.name}.py"
        path.write_text(self.source(), encoding="utf-8")
        return path


SIGMOID_DERIVATIVE_FROM_Z = Variant(
    "sigmoid_derivative_from_z",
    "σ'(z) computed from z instead of σ(z): z·(1 − z)",
    (('''    s = _sigmoid(z)
    return grad_a * s * (1.0 - s)''', '''    return grad_a * z * (1.0 - z)'''),),
)
