"""Command-line option types that the CLI and the pytest plugin share."""

from __future__ import annotations

import argparse


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
