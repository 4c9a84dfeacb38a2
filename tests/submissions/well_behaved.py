"""A submission that behaves: values of every kind the protocol uses, and a few it doesn't."""

import math
import os
import sys

import numpy as np

CONSTANT = 3
TABLE = {"a": 1}


class Helper:
    """A class is a top-level callable too."""


def outer():
    def inner():
        return 1

    return inner()


def echo(value):
    return value


def arrays_and_tuple(seed):
    rng = np.random.default_rng(seed)
    grads = [{"W": rng.normal(size=(4, 3)), "b": rng.normal(size=4)}, {"W": rng.normal(size=(2, 4)), "b": rng.normal(size=2)}]
    return (float(rng.normal()), grads)


def with_nan():
    return np.array([1.0, math.nan, 3.0])


def wrong_shape():
    return np.zeros((3, 7))


def a_set():
    return {1, 2, 3}


def a_generator():
    return (i for i in range(3))


def noisy():
    print("one", flush=True)
    print("two", file=sys.stderr, flush=True)
    os.write(1, b"three\n")
    print("four")
    return "done"


def modules_loaded():
    return sorted({name.split(".")[0] for name in sys.modules})


def environment():
    return dict(os.environ), os.getcwd(), os.listdir(".")


def identity():
    return os.getuid(), os.getgid(), os.readlink("/proc/self/ns/net")


def visible_processes():
    return sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())


def standard_modules_work():
    import random
    import statistics

    return statistics.mean([random.random() for _ in range(3)]) >= 0 and float(np.random.default_rng(0).normal()) != 0


def listing(path):
    return sorted(os.listdir(path))


def read(path):
    with open(path) as handle:
        return handle.read()


def importable(names):
    """Which of these modules this process could import."""
    import importlib.util

    return sorted(name for name in names if importlib.util.find_spec(name) is not None)
