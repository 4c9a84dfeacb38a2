"""The commands the bench times, each in a fresh process: how one is run and measured (`run`),
and the grade commands of parts 3 and 4 (the bundled impl, a complete CS231n A2 package).

    row = run([gradverify, "verify", "--profile", "ci"], env)   # wall, CPU, exit code, peak RSS
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Wall time, CPU time (user + system, its waited-for children's included), exit code and peak
    RSS (MiB) of a command in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": " ".join(command),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "exit_code": proc.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


#: The rubric of the smoke run's grades: one item, few examples.
TINY_RUBRIC = 'examples = 3\n[[items]]\nname = "s"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 1\n'
#: The smoke run's course rubric: the cs231n adapter, two layer items of few examples.
TINY_COURSE_RUBRIC = (
    'examples = 2\nadapter = "cs231n"\nsubmission_file = "layers.py"\nrequire_backprop = false\n'
    '[[items]]\nname = "a"\ncheck = "layer"\ntarget = "affine"\npoints = 1\n'
    '[[items]]\nname = "m"\ncheck = "update_rule"\ntarget = "sgd_momentum"\npoints = 1\n'
    '[[items]]\nname = "f"\ncheck = "model"\ntarget = "fully_connected_net"\npoints = 1\n'
)


def tiny_rubric_args(folder: Path) -> list[str]:
    """The smoke run's grade arguments: TINY_RUBRIC written to `folder`, passed as --rubric."""
    small = folder / "rubric.toml"
    small.write_text(TINY_RUBRIC)
    return ["--rubric", str(small)]


def grade_one(gradverify: str, rubric: list[str], env: dict, folder: Path) -> dict:
    """`run` of `gradverify grade` on the bundled impl (its results JSON in `folder`), no report."""
    return run(
        [gradverify, "grade", str(ROOT / "impl" / "backprop.py"), "--quiet", "--results-json", str(folder / "r.json"), *rubric],
        env,
    )


def grade_course(gradverify: str, tiny: bool, env: dict, folder: Path) -> dict:
    """`run` of `gradverify grade --rubric cs231n-a2` on a complete submission: the model
    solution as the cs231n/ package (folder/a2/cs231n/layers.py, optim.py, classifiers/fc_net.py
    and classifiers/cnn.py importing the layers as the handout's do), graded as a package."""
    package = folder / "a2" / "cs231n"
    (package / "classifiers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "classifiers" / "__init__.py").write_text("")
    for module in ("layers", "optim"):
        (package / f"{module}.py").write_text((ROOT / "impl" / f"{module}.py").read_text(encoding="utf-8"))
    for module in ("fc_net", "cnn"):
        text = (
            (ROOT / "impl" / f"{module}.py")
            .read_text(encoding="utf-8")
            .replace("from .layers import (", "from ..layers import (")
        )
        (package / "classifiers" / f"{module}.py").write_text(text)
    if tiny:
        (folder / "course.toml").write_text(TINY_COURSE_RUBRIC)
    rubric = str(folder / "course.toml") if tiny else "cs231n-a2"
    command = [gradverify, "grade", "--rubric", rubric, "--package", str(folder / "a2"), "--quiet"]
    measured = run([*command, "--results-json", str(folder / "a2.json")], env)
    results = json.loads((folder / "a2.json").read_text(encoding="utf-8"))
    return {**measured, "score": results["score"], "max_score": results["extra_data"]["max_score"]}
