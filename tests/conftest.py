"""Shared fixtures: every backend of the protocol, by name, small example networks, and sandboxes
on tests/submissions files."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Tests that use hypothesis directly run deterministically with a fixed budget, as in CI.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")

#: Every implementation of the protocol the project ships, by name.
BACKENDS = {"impl": "gradverify.impl", "jax": "gradverify.references.jax_backend", "torch": "gradverify.references.torch_backend"}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return importlib.import_module(BACKENDS[request.param])


def small_net(loss: str = "mse", out_activation: str = "identity", l2: float = 0.0, seed: int = 0) -> dict:
    """A 3-4-2 network with tanh hidden units."""
    rng = np.random.default_rng(seed)
    return {
        "layers": [
            {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=4), "activation": "tanh"},
            {"W": rng.normal(size=(2, 4)), "b": rng.normal(size=2), "activation": out_activation},
        ],
        "loss": loss,
        "l2": l2,
    }


@pytest.fixture
def sandbox():
    """A factory of started sandboxes on tests/submissions files, closed after the test."""
    from gradverify.sandbox.host import Sandbox
    from tests.sandboxes import SUBMISSIONS

    opened = []

    def make(name, **options) -> Sandbox:
        settings = {"call_timeout": 1.0, "import_timeout": 10.0, **options}
        box = Sandbox(SUBMISSIONS / name, **settings)
        opened.append(box)
        box.start()
        return box

    yield make
    for box in opened:
        box.close()


@pytest.fixture(autouse=True)
def _run_in_a_scratch_folder(tmp_path_factory, monkeypatch):
    """Every test runs from a folder of its own, so that a run's files (.gradverify/) never land
    in the checkout; a test that wants a project makes one and changes into it."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True, scope="session")
def _course_secret_of_the_session(tmp_path_factory):
    """`gradverify grade` in these tests derives its seeds from a course secret of the session's
    own (GRADVERIFY_SECRET_FILE), never from, or into, the user's ~/.config/gradverify."""
    import os

    from gradverify.grading.secret import SECRET_ENV, new_secret

    before = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = str(new_secret(tmp_path_factory.mktemp("secret") / "course-secret"))
    yield
    if before is None:
        os.environ.pop(SECRET_ENV, None)
    else:
        os.environ[SECRET_ENV] = before
