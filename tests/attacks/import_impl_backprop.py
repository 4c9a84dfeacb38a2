"""Hostile submission (gradverify attack catalogue): from impl.backprop import *, from likely checkouts."""

import os
import sys

GUESSES = ["/work/main", "/autograder/source", "/autograder", os.getcwd(), os.path.expanduser("~"),
           "/work/main/.venv/lib/python3.11/site-packages", "/usr/local/lib/python3.11/site-packages"]
for guess in GUESSES:
    if guess not in sys.path:
        sys.path.append(guess)
for name in ("impl.backprop", "backprop", "properties.impl", "impl"):
    try:
        module = __import__(name, fromlist=["network_gradients"])
        network_gradients = module.network_gradients
        print("ATTACK-SUCCEEDED: imported", name, "from", getattr(module, "__file__", "?"))
        break
    except Exception:  # noqa: BLE001
        continue
