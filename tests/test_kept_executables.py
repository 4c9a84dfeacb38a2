"""The JAX references' executables kept between runs (references/jax_compile.py, `Kept`): loaded
instead of traced and compiled again, the same numbers, and never loaded from a file that
someone else could have written."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gradverify.references import jax_backend, jax_compile
from gradverify.references.jax_compile import Kept, keep_executables


assert jax_backend  # imported for JAX's float64, which every reference runs in


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(jax_compile, "_FOLDER", [None])
    keep_executables(tmp_path / "kept")
    return tmp_path / "kept"


def _counting(traces: list[int]):
    """x ↦ sin(x)·y, counting its traces (the Python body runs only when JAX traces it)."""
    import jax.numpy as jnp

    def fun(x, y):
        traces.append(1)
        return jnp.sin(x) * y

    return fun


def test_a_kept_executable_is_loaded_by_the_next_process_with_the_same_numbers(folder):
    traces: list[int] = []
    x = np.linspace(0.0, 1.0, 6).reshape(2, 3)
    first = Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)(x, 2.0)
    assert len(traces) == 1 and len(list(folder.glob("*.jaxexe"))) == 1
    again = Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)  # as a new process would
    np.testing.assert_array_equal(np.asarray(again(x, 2.0)), np.asarray(first))
    assert len(traces) == 1, "loaded, not traced again"
    np.testing.assert_allclose(np.asarray(again(x, 3.0)), np.sin(x) * 3.0, rtol=1e-15)


def test_another_shape_or_name_is_another_executable(folder):
    traces: list[int] = []
    kept = Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)
    kept(np.ones((2, 3)), 1.0)
    kept(np.ones((3, 2)), 1.0)
    Kept(_counting(traces), "sin_times_other", jax_compile.FASTEST_COMPILE)(np.ones((2, 3)), 1.0)
    assert len(traces) == 3 and len(list(folder.glob("*.jaxexe"))) == 3


@pytest.mark.parametrize("spoil", ["writable by others", "truncated"])
def test_a_kept_file_that_cannot_be_trusted_or_read_is_compiled_again(folder, spoil):
    traces: list[int] = []
    x = np.ones((2, 2))
    Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)(x, 1.0)
    (path,) = folder.glob("*.jaxexe")
    if spoil == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.chmod(0o666)
    out = Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)(x, 1.0)
    assert len(traces) == 2, "traced and compiled again"
    np.testing.assert_allclose(np.asarray(out), np.sin(x))
    assert not path.stat().st_mode & 0o022, "and written again, as ours"


def test_a_folder_others_may_write_to_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(jax_compile, "_FOLDER", [None])
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    keep_executables(shared)
    traces: list[int] = []
    Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)(np.ones(2), 1.0)
    assert jax_compile._FOLDER[0] is None and not list(shared.iterdir())


def test_the_folder_is_pruned_to_half_past_its_limit(folder, monkeypatch):
    for i in range(7):
        (folder / f"{i}.jaxexe").write_bytes(b"x")
        os.utime(folder / f"{i}.jaxexe", (i, i))
    monkeypatch.setattr(jax_compile, "KEPT_MAX", 6)
    keep_executables(folder)
    assert sorted(p.name for p in folder.glob("*.jaxexe")) == ["4.jaxexe", "5.jaxexe", "6.jaxexe"], "the newest kept"


def test_a_kept_executable_that_fails_to_run_is_deleted_and_compiled_again(folder, monkeypatch):
    """As one kept by another jax, or one of a compilation JAX loaded from its own cache, which
    serializes without its code and fails with NOT_FOUND when run."""
    import jax

    traces: list[int] = []
    x = np.ones((2, 2))
    Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)(x, 1.0)
    (path,) = folder.glob("*.jaxexe")

    def broken(*args):
        raise jax.errors.JaxRuntimeError("NOT_FOUND: Function sin_fusion not found")

    monkeypatch.setattr(jax_compile, "_load", lambda p: broken if p == path else None)
    out = Kept(_counting(traces), "sin_times", jax_compile.FASTEST_COMPILE)(x, 1.0)
    np.testing.assert_allclose(np.asarray(out), np.sin(x))
    assert len(traces) == 2 and path.is_file(), "compiled and kept again"
