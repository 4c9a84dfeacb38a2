"""Command-line option types that the CLI and the pytest plugin share."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


def positive_int(text: str) -> int:
    """argparse type of a positive integer option: the CLI's --budget, --memory and --jobs, the
    pytest plugin's --gradverify-budget."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def jobs_option(text: str) -> int | str:
    """argparse type of verify's --jobs: "auto" or a positive integer."""
    return "auto" if text == "auto" else positive_int(text)


@dataclass(frozen=True)
class Threshold:
    """grade --fail-under: a score in points (`percent` False) or a share of the rubric's maximum,
    in percent ("90%")."""

    value: float
    percent: bool = False

    def below(self, score: float, max_score: float) -> bool:
        """Whether `score` (of `max_score`) is below the threshold."""
        return self.measure(score, max_score) < self.value

    def measure(self, score: float, max_score: float) -> float:
        """The score as the threshold counts it: points, or percent of the maximum (a rubric of
        no points scores 100%)."""
        if not self.percent:
            return score
        return 100.0 * score / max_score if max_score > 0 else 100.0

    def why(self, score: float, max_score: float) -> str:
        """What was compared, in words: "48 of 48 points, below --fail-under 100 (points; the
        maximum is 48: write 100% for a share of it)"."""
        if self.percent:
            return f"{self.measure(score, max_score):.4g}% of the {max_score:g} points, below --fail-under {self.value:g}%"
        beyond = (
            f" (points; the maximum is {max_score:g}: write {self.value:g}% for a share of it)" if self.value > max_score else ""
        )
        return f"{score:g} of {max_score:g} points, below --fail-under {self.value:g}{beyond}"


def threshold(text: str) -> Threshold:
    """argparse type of --fail-under: points ("40") or a share of the maximum ("90%"), at least 0."""
    percent = text.strip().endswith("%")
    number = text.strip().removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected points (40) or a percentage of the maximum (90%), got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of points or a percentage of at least 0, got {text!r}")
    return Threshold(value, percent)
