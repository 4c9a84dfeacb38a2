"""How the JAX references are compiled: `jit`, jax.jit with XLA's cheap compilation options, and
`kept`, the same with each executable kept between runs.

    from .jax_compile import jit, kept
    _dense_forward = jit(_dense)
    _network = kept(_network_loss, "network_loss")     # loaded, not traced again, by the next run

Every reference call is a few numbers to a few thousand, and the suite draws new shapes (the layer
ops: nearly every case) or new buckets (the networks) all the time, so compiling costs far more
than running. Every reference compiles with FASTEST_COMPILE (one layer case in ~30 ms (conv) to
~110 ms (lstm_step) of CPU instead of ~230 to ~400 ms with XLA's defaults) but the networks wider
than the default buckets, whose code runs on many thousands of numbers: FAST_COMPILE
(jax_backend._by_size). `verify --profile ci`'s MLP checks: ~11 s of CPU instead of ~16 s
(benchmarks/bench.py, part 6; docs/layers.md, "Speed"). The arithmetic is the same float64
computation: the options change how XLA generates code, not what it computes.

A kept executable (`Kept`) is found again by its signature: the function's name and static
values, its arguments' tree, shapes and dtypes, jax and the backend, and the source of this
package, so any change to a reference compiles anew. JAX's own persistent cache saves only the
compiling; a kept executable saves the tracing and lowering too, which a layer case's new
shape or a network bucket costs in every run otherwise (~10 to ~45 ms a shape, ~1 s a bucket).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

#: XLA's compile options for gradverify's own jits (a user's JAX code in the same process keeps its
#: own settings). FAST_COMPILE turns off the CPU fusion emitters: a compilation takes ~2.5× less
#: CPU, and the code runs as fast (the benchmarks' large network: 21.6 ms a check instead of 22.1).
FAST_COMPILE: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}
#: FASTEST_COMPILE turns off LLVM's optimisations as well: ~5× less CPU than XLA's defaults, but the
#: code runs slower on big arrays (the large network's batched check: 41 ms instead of 23), which
#: a layer case or a network of the default buckets never feels.
FASTEST_COMPILE: dict[str, Any] = {**FAST_COMPILE, "xla_backend_optimization_level": 0}


def jit(fun: Callable[..., Any], *, options: dict[str, Any] = FASTEST_COMPILE, **kwargs: Any) -> Any:
    """jax.jit(fun, **kwargs) compiled with XLA's `options`."""
    return jax.jit(fun, compiler_options=options, **kwargs)


# --------------------------------------------------------------------------- #
# Executables kept between runs: `kept`, a jit whose compiled code is saved by signature.
# --------------------------------------------------------------------------- #

#: The folder of the kept executables (None: none kept); set by jax_backend.enable_persistent_cache.
_FOLDER: list[Path | None] = [None]
#: When the folder holds more than KEPT_MAX files, the least recently used are removed down to half.
KEPT_MAX = 6000


def keep_executables(folder: Path | None) -> None:
    """Keep the executables of `kept` functions in `folder` (made 0700 if missing; None: keep none).
    A folder that another user owns, or that others may write to, is not used: a kept executable
    is machine code this process runs. Prunes it to KEPT_MAX / 2 files when over KEPT_MAX."""
    if folder is not None:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _ours(folder):
                folder = None
            else:
                _prune(folder)
        except OSError:
            folder = None
    _FOLDER[0] = folder


def _ours(path: Path) -> bool:
    """Owned by this process's user, and writable by no one else."""
    info = path.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _prune(folder: Path) -> None:
    files = list(folder.glob("*.jaxexe"))
    if len(files) > KEPT_MAX:
        for path in sorted(files, key=lambda p: p.stat().st_mtime)[: len(files) - KEPT_MAX // 2]:
            path.unlink(missing_ok=True)


def _fingerprint() -> str:
    """What a kept executable was made by: jax and jaxlib, the backend, x64, and the source of
    every module of gradverify.references (any change to a reference compiles anew)."""
    import jaxlib

    digest = hashlib.sha256()
    device = jax.devices()[0]
    digest.update(repr((jax.__version__, jaxlib.__version__, device.platform, device.client.platform_version)).encode())
    digest.update(repr(jax.config.read("jax_enable_x64")).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


class Kept:
    """jit(fun) with `options`, whose executable for each signature of its arguments (their tree,
    shapes and dtypes) is loaded from the kept folder when there, else compiled and saved there:
    a later process skips tracing, lowering and compiling (~30 to ~200 ms a layer case's shape, ~1 s
    a network bucket's), where JAX's own cache saves the compiling only. `name` says which
    function it is, with whatever static values its closure holds (layer_jax: the op and its
    static hyperparameters). Only arrays and Python scalars as arguments, no keywords."""

    _fingerprint: str | None = None

    def __init__(self, fun: Callable[..., Any], name: str, options: dict[str, Any]) -> None:
        self.jitted, self.name, self.options = jit(fun, options=options), name, options
        self.compiled: dict[Any, Any] = {}

    def __call__(self, *args: Any) -> Any:
        folder = _FOLDER[0]
        if folder is None:
            return self.jitted(*args)
        leaves, tree = jax.tree.flatten((args, {}))
        signature = (tree, tuple((np.shape(x), np.result_type(x).str, isinstance(x, (int, float))) for x in leaves))
        compiled = self.compiled.get(signature)
        if compiled is not None:
            return compiled(*args)
        path = self._path(folder, signature)
        loaded = _load(path)
        if loaded is not None:
            try:
                out = loaded(*args)
            except jax.errors.JaxRuntimeError:  # kept by another jax, or broken: compiled again
                path.unlink(missing_ok=True)
            else:
                self.compiled[signature] = loaded
                return out
        compiled = self.compiled[signature] = self._compile(path, args)
        return compiled(*args)

    def _cache_size(self) -> int:
        """The executables this process holds, as jax.jit's `_cache_size`."""
        return len(self.compiled) if _FOLDER[0] is not None else self.jitted._cache_size()

    def _path(self, folder: Path, signature: Any) -> Path:
        if Kept._fingerprint is None:
            Kept._fingerprint = _fingerprint()
        key = repr((self.name, str(signature[0]), signature[1], sorted(self.options.items()), Kept._fingerprint))
        return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.jaxexe"

    def _compile(self, path: Path, args: tuple) -> Any:
        from jax.experimental import serialize_executable
        from jax.experimental.compilation_cache import compilation_cache

        # compiled anew, past JAX's own cache: an executable JAX loads from there serializes without
        # its code (it then fails with NOT_FOUND: Function … not found when loaded from here). JAX
        # decides once per process whether its cache is used, and then no longer reads the setting:
        # reset_cache makes it decide again, before the compilation and after.
        before = jax.config.jax_enable_compilation_cache  # type: ignore[attr-defined]
        jax.config.update("jax_enable_compilation_cache", False)
        compilation_cache.reset_cache()
        try:
            compiled = self.jitted.lower(*args).compile()
        finally:
            jax.config.update("jax_enable_compilation_cache", before)
            compilation_cache.reset_cache()
        try:
            _write(path, pickle.dumps(serialize_executable.serialize(compiled)))
        except (OSError, ValueError, NotImplementedError, pickle.PicklingError):
            pass  # not kept: the next process compiles it again
        return compiled


def _load(path: Path) -> Any:
    """The executable kept at `path`, or None: missing, unreadable, or a file this process's user
    does not own alone (someone else could have put machine code there)."""
    from jax.experimental import serialize_executable

    try:
        if not _ours(path):
            return None
        payload, in_tree, out_tree = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, checked above
        os.utime(path)
        return serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
    except Exception:  # noqa: BLE001 - missing, truncated or from elsewhere: compiled again
        return None


def _write(path: Path, data: bytes) -> None:
    """`data` to `path` whole or not at all (a temporary file in its folder, then renamed), 0600."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def kept(fun: Callable[..., Any], name: str, *, options: dict[str, Any] = FASTEST_COMPILE) -> Kept:
    """Kept(fun, name, options): jit with its executables kept between runs."""
    return Kept(fun, name, options)
