"""The user's project: where a run's files go, and its `[tool.gradverify]` settings.

The project is the nearest folder, from the working folder up, that holds a
`pyproject.toml` or a `.git`; failing that, the working folder itself. A run writes
only under `<project>/.gradverify/` (unless told otherwise): the regression corpus in
`regressions/` and, for the dev and thorough profiles, hypothesis's database in
`hypothesis/`, each with one subfolder per implementation, so a counterexample found on
one implementation is never replayed against another; hypothesis's own cache goes in
`hypothesis/` too with those profiles, and into a temporary folder removed at exit with ci
(profiles.use_hypothesis_home), never into the working folder. Nothing is ever written into
the installed package.

    [tool.gradverify]
    regressions = ".gradverify/regressions"   # relative to the project folder
    components = ["dense", "network", "relu", "identity", "mse"]   # what the library implements
    adapter = "course_api.py"                 # relative to the project folder, or a shipped name
    dtype = "float32"                         # what the layer ops compute in (default float64)
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

STATE_DIR = ".gradverify"
#: The settings [tool.gradverify] may hold, with what each must be.
SETTINGS: dict[str, type] = {
    "regressions": str,
    "impl": str,
    "profile": str,
    "checks": list,
    "skip": list,
    "components": list,
    "adapter": str,
    "dtype": str,
}
#: The settings that are lists of names or glob patterns of checks (gradverify.runner.select), or
#: of components (gradverify.properties.scope).
PATTERN_LISTS = ("checks", "skip", "components")


def find_project(start: Path | None = None) -> Path:
    """The nearest folder from `start` (default: the working folder) up that holds a
    pyproject.toml or a .git; `start` itself when there is none."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return start


def load_settings(project: Path) -> dict[str, Any]:
    """[tool.gradverify] of the project's pyproject.toml ({} when there is none);
    ValueError naming the file and the setting when it is malformed."""
    path = project / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    settings = data.get("tool", {}).get("gradverify", {})
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: [tool.gradverify] must be a table")
    for key, value in settings.items():
        if key not in SETTINGS:
            raise ValueError(f"{path}: unknown setting {key!r} in [tool.gradverify]; expected one of {sorted(SETTINGS)}")
        if not isinstance(value, SETTINGS[key]):
            raise ValueError(f"{path}: [tool.gradverify] {key} must be a {SETTINGS[key].__name__}, got {value!r}")
        if key in PATTERN_LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            what = "component names" if key == "components" else "check names or patterns"
            raise ValueError(f"{path}: [tool.gradverify] {key} must be a list of {what}, got {value!r}")
    return settings


def regressions_root(project: Path, settings: dict[str, Any], override: str | Path | None = None) -> Path:
    """The corpus folder: `override` (relative to the working folder), else the setting
    (relative to the project), else <project>/.gradverify/regressions."""
    if override is not None:
        return Path(override).resolve()
    if "regressions" in settings:
        return (project / settings["regressions"]).resolve()
    return project / STATE_DIR / "regressions"


def hypothesis_root(project: Path) -> Path:
    return project / STATE_DIR / "hypothesis"


def impl_key(spec: str, project: Path) -> str:
    """What identifies an implementation across runs: a module name as given; a file by its
    path relative to the project (absolute when it lies outside)."""
    if spec.endswith(".py") or "/" in spec or Path(spec).is_file():
        path = Path(spec).resolve()
        try:
            return path.relative_to(project).as_posix()
        except ValueError:
            return path.as_posix()
    return spec


def impl_folder(root: Path, key: str) -> Path:
    """The subfolder of `root` for the implementation `key`: readable, and distinct per key."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[-60:] or "impl"
    return root / f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def state_folders(project: Path, spec: str, regressions: str | Path | None = None) -> tuple[Path, Path]:
    """(corpus folder, hypothesis database folder) of the implementation `spec` in `project`;
    `regressions` overrides the corpus root (ValueError for a malformed [tool.gradverify])."""
    key = impl_key(spec, project)
    corpus_root = regressions_root(project, load_settings(project), regressions)
    return impl_folder(corpus_root, key), impl_folder(hypothesis_root(project), key)
