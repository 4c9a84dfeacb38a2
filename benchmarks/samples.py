"""`make samples`: the committed sample reports in reports/samples/, regenerated with their pictures.

    verify.md                              the bundled impl: `gradverify verify --profile ci` (what `make report` writes)
    sigmoid_derivative_from_z.md           verify on a catalogued bug (tests/variants): σ'(z) taken from z
    class_summary.md                       `gradverify grade` on a class of eight: the model solution (alice),
                                           the template (dave) and six catalogued bugs
    train_resets_velocity_each_epoch.md    one student's grade report from that class (the staff report)

Each report's old pictures are removed first, so a picture a report no longer draws does not
linger. The submissions are written into a private temporary folder and graded from there; the
reports name them by that folder's relative paths.

    .venv/bin/python -m benchmarks.samples
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "reports" / "samples"
#: The class graded for the class summary: the model solution, the template, six bugs.
BUGS = (
    "dense_weight_gradient_transposed",
    "momentum_with_dampening",
    "sigmoid_derivative_from_z",
    "softmax_diagonal_jacobian",
    "sse_without_half",
    "train_resets_velocity_each_epoch",
)
#: The student whose own grade report is a sample: a training bug, so its loss curves show.
STUDENT = "train_resets_velocity_each_epoch"


def _gradverify(*args: str, cwd: Path) -> None:
    command = [str(Path(sys.executable).with_name("gradverify")), *args]
    print("$", " ".join(args), file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL)
    if done.returncode not in (0, 1):  # 1: a failing verify, which is what a sample of a bug shows
        raise SystemExit(f"gradverify {args[0]} failed (exit {done.returncode})")


def _clear(out: Path, stem: str) -> None:
    for old in out.glob(f"{stem}.*.svg"):
        old.unlink()


def _write_class(folder: Path) -> None:
    """alice: the model solution; dave: the student template; one file per bug."""
    from tests.variants import BUGGY

    folder.mkdir()
    shutil.copy(ROOT / "impl" / "backprop.py", folder / "alice.py")
    shutil.copy(ROOT / "gradverify" / "grading" / "student_template.py", folder / "dave.py")
    for name in BUGS:
        BUGGY[name].write(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(SAMPLES), help="folder for the samples (default: reports/samples)")
    out = Path(parser.parse_args(argv).out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:  # mode 0700: the submissions are no one else's to read
        work = Path(tmp)
        _write_class(work / "class")
        corpus = ["--no-save", "--regressions", str(work / "corpus")]
        _clear(out, "verify")
        _gradverify("verify", "--profile", "ci", *corpus, "--quiet", "--report", str(out / "verify.md"), cwd=ROOT)
        _clear(out, "sigmoid_derivative_from_z")
        _gradverify(
            "verify",
            "--impl",
            "class/sigmoid_derivative_from_z.py",
            "--profile",
            "ci",
            *corpus,
            "--quiet",
            "--report",
            str(out / "sigmoid_derivative_from_z.md"),
            cwd=work,
        )
        _clear(out, "class_summary")
        _gradverify(
            "grade", "class", "--out", "grades", "--jobs", "2", "--quiet", "--report", str(out / "class_summary.md"), cwd=work
        )
        _clear(out, STUDENT)
        for produced in (work / "grades" / "students").glob(f"{STUDENT}.*"):
            if produced.suffix in (".md", ".svg"):
                shutil.copy(produced, out / produced.name)
    print(f"samples written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
