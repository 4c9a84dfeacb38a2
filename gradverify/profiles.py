"""The run profiles (dev, ci, thorough) and the hypothesis settings and home folder a run uses."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, settings


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    #: hypothesis examples for a property of weight 1
    budget: int
    derandomize: bool
    database: bool
    description: str


PROFILES: dict[str, Profile] = {
    "dev": Profile(
        name="dev",
        budget=30,
        derandomize=False,
        database=True,
        description="quick: random seed, failures remembered in .gradverify/hypothesis/",
    ),
    "ci": Profile(
        name="ci",
        budget=150,
        derandomize=True,
        database=False,
        description="deterministic (fixed seed), fixed budget, no hypothesis database",
    ),
    "thorough": Profile(
        name="thorough",
        budget=1000,
        derandomize=False,
        database=True,
        description="many examples: random seed, failures remembered",
    ),
}

#: This process's temporary hypothesis folder, once use_hypothesis_home(None) has named one.
_temporary_home: Path | None = None


def use_hypothesis_home(folder: Path | None) -> None:
    """Where hypothesis keeps files of its own (its cache of the constants of local modules;
    by default `.hypothesis/` in the working folder): `folder`, or with None a temporary folder
    of this process, named on first use, made only if hypothesis writes and removed at exit. It
    is a setting of the whole process, so only gradverify's own entry points make it (importing
    this module sets nothing): gradverify.verify gives the dev and thorough profiles
    <project>/.gradverify/hypothesis/, the ci profile and grading keep nothing; inside someone
    else's process (the pytest plugin, in a user's test run) it is left as that process has it.
    HYPOTHESIS_STORAGE_DIRECTORY, when set, is left to decide."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(folder if folder is not None else _temporary_hypothesis_home())


def _temporary_hypothesis_home() -> Path:
    """This process's temporary hypothesis folder: named once, removed when the process that
    named it exits (never by a forked child)."""
    global _temporary_home
    if _temporary_home is None:
        _temporary_home = Path(tempfile.gettempdir()) / f"gradverify-hypothesis-{os.getpid()}-{secrets.token_hex(6)}"
        atexit.register(_remove_temporary_home, _temporary_home, os.getpid())
    return _temporary_home


def _remove_temporary_home(folder: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def hypothesis_settings(profile: Profile, examples: int, database_dir: Path | None) -> settings:
    use_database = profile.database and database_dir is not None
    return settings(
        max_examples=examples,
        derandomize=profile.derandomize,
        database=hypothesis.database.DirectoryBasedExampleDatabase(str(database_dir)) if use_database else None,
        deadline=None,
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
        if use_database
        else [Phase.explicit, Phase.generate, Phase.shrink],
    )
