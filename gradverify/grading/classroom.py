"""Grading a class: its students found in the folders given (`collect`), then one grader
process per student, `--jobs` at a time.

`collect` names each student by their path inside the class folder and lists what it does not
grade, with why (links, unreadable files, files that are not submissions, folders without one).
A submission is a .py file, a notebook, a zip or a student's folder (a package: grading.handin).
Each student is graded by `python -P -m gradverify.cli grade --results-json … --report … -- PATH`
(with `--package` for a student's folder) in a
process of its own (which runs the submission in its own sandbox), so one submission can never
affect another's grade; its outputs go under `students/` (`student_outputs`). The class
summary is made from the results.json files alone. `-P`: the working folder, perhaps the class
folder itself, is not on a grader process's import path, so no file there can stand in for a
module the grader imports. Each is given the course secret's file (`--secret`), from which it
derives its own submission's seed.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from gradverify.grading import feedback, gradebook, roster
from gradverify.grading.handin import IGNORED_FOLDERS
from gradverify.files import write_atomic
from gradverify.plots import write_with_pictures
from gradverify.markdown import escaped
from gradverify.options import Threshold
from gradverify.sandbox.folder import closed_to_others
from gradverify.terminal import inert

if TYPE_CHECKING:
    from gradverify.grading.rubric import Rubric

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
#: Where a class's grades go without --out.
DEFAULT_OUT = "grades"
#: Seconds a grader process is given on top of the longest its submission may take (its own start,
#: the references' imports and work); a grader process that takes longer is stopped.
GRADER_SLACK_S = 120.0


def worst_case_seconds(rubric: "Rubric", *, adapter: bool = False) -> float:
    """The longest the submission's side of one grade may take under the rubric's timeouts: the
    sandbox's first import (item_timeout), then items.submission_budget (re-imports, each item's
    timeout and diagnosis); with a course adapter, its own import first (item_timeout). The grader's
    own work (its start, the references) comes on top: about 20 s on two cores (reports/benchmarks.md)."""
    from gradverify.grading.items import submission_budget

    return rubric.item_timeout * (2 if adapter else 1) + submission_budget(rubric)


def grader_limit(rubric: "Rubric", *, adapter: bool = False) -> float:
    """Seconds after which a grader process is stopped: its submission's worst case and GRADER_SLACK_S."""
    return GRADER_SLACK_S + worst_case_seconds(rubric, adapter=adapter)


class Skip(str, Enum):
    """Why something found in a class folder is not graded (results.json's `reason`)."""

    SYMLINK = "a symbolic link: links are not followed"
    UNREADABLE = "cannot be read"
    NOT_REGULAR = "not a regular file"
    NOT_PYTHON = "not a submission: expected a .py file, a Jupyter notebook (.ipynb) or a .zip"
    NO_PYTHON = "a folder without a .py file, a notebook or a zip"
    NO_FILE = "a student folder without the file to grade"
    OUTSIDE_FOLDER = "a .py file outside a student folder"


#: What a class folder's file may be to be a student's submission (grading.handin reads each).
SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")


@dataclass(frozen=True)
class Student:
    """One submission of a class: `name`, its path inside the class folder ('/' between folders,
    without its suffix; a student folder's own path), `path`, what is graded (a file, or with
    `package` the student's folder, whose modules import each other), and `home`, the class
    folder (collect's), from which its grader process names it (`inside`), so that its report and
    replay command carry no path of the grading machine."""

    name: str
    path: Path
    package: bool = False
    home: Path | None = None

    @property
    def inside(self) -> str:
        """What is graded, as a path relative to the class folder (the path itself without one)."""
        return os.path.relpath(os.path.abspath(self.path), self.home) if self.home is not None else str(self.path)


@dataclass(frozen=True)
class Skipped:
    """What a class folder holds and is not graded: its `name` (its path inside the class folder,
    a folder's ending in '/'), why (`reason`), and `detail` (the link's target, the system's reason)."""

    name: str
    reason: Skip
    detail: str = ""

    @property
    def why(self) -> str:
        return f"{self.reason.value} ({self.detail})" if self.detail else self.reason.value


def collect(paths: Sequence[str | os.PathLike], *, file: str | None = None) -> tuple[list[Student], list[Skipped]]:
    """The students of a class given as files and folders (`gradverify grade a.py sec1/ sec2/`),
    and what is not graded, with why; reads names and permissions, never a file's contents.

    Names are paths inside the class folder: relative to the folder holding every argument (the
    folder itself when only one is given), so `sec1/ sec2/` gives sec1/bob and sec2/bob. A .py
    file, a notebook (.ipynb) or a .zip is the student named by its path without its suffix; a
    folder that holds `file` is the student named by the folder (`alice` for alice/backprop.py),
    graded whole as a package (`file` its module graded); a folder without it or any folder is a
    student folder without it, and files outside student folders are not graded. Without `file`,
    a folder below an argument that holds no folder is its student's when it holds exactly one
    .py file, or none and exactly one notebook or zip, or several .py files of which exactly one
    defines the protocol's functions (a package: grading.handin; the only contents read here,
    a MiB of each). Every other folder is walked. Never two students with one name: where a
    file's name without its suffix is another student's, it keeps its suffix.
    Symbolic links are never followed, but for a folder given as an argument (the file itself, a
    file given as an argument, or a folder on its way below an argument): each is listed, as is a file that cannot be read, a file that is not .py and a folder without
    one. ValueError for an argument that does not exist."""
    if file is not None:
        from gradverify.grading.rubric import check_file_name

        check_file_name(file, "the file to grade in each student folder")
    arguments = [os.fspath(p) for p in paths]
    for argument in arguments:
        if not os.path.lexists(argument):
            raise ValueError(f"no such file or folder: {argument}")
    tops = [os.path.abspath(a) if os.path.isdir(a) else os.path.dirname(os.path.abspath(a)) for a in arguments]
    base = os.path.commonpath(tops) if tops else os.getcwd()
    found: list[tuple[str, str, bool, bool]] = []  # (path inside the class folder, what is graded, a student folder's, a package)
    skipped: list[Skipped] = []
    for argument in arguments:
        where = os.path.relpath(os.path.abspath(argument), base)
        if os.path.isdir(argument):  # an argument is taken as given, a link included: the grader named it
            _walk(
                argument,
                "" if where == "." else where,
                file,
                found,
                skipped,
                argument=True,
                own_name=os.path.basename(os.path.abspath(argument)),
            )
        else:
            _take_file(argument, where, found, skipped)
    return [replace(student, home=Path(base)) for student in _named(found)], skipped


def _walk(
    folder: str, where: str, file: str | None, found: list, skipped: list[Skipped], *, argument: bool, own_name: str = ""
) -> None:
    """Collect the folder `folder`, which is `where` inside the class folder ("" for the class folder itself)."""

    def inside(name: str) -> str:
        return f"{where}/{name}" if where else name

    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        skipped.append(Skipped(f"{where or own_name}/", Skip.UNREADABLE, exc.strerror or str(exc)))
        return
    folders = [e for e in entries if e.is_dir(follow_symlinks=False) and e.name not in IGNORED_FOLDERS]
    files = [e for e in entries if not e.is_dir(follow_symlinks=False)]
    python = [e for e in files if e.name.endswith(".py")]
    handed = [e for e in files if e.name.lower().endswith(SUBMISSION_SUFFIXES[1:])]
    if file is not None and any(e.name == file for e in files):  # a student folder: a package with `file` graded
        found.append((where or own_name, folder, True, True))
        return
    if file is None and not argument and not folders:
        own = _own_file(python, handed)
        if own is not None:
            _take_file(own.path, inside(own.name), found, skipped, student=where)
            return
        if _is_package(python):
            found.append((where, folder, True, True))
            return
    if (
        not folders and not argument and (file is not None or not (python or handed))
    ):  # a student's folder, without what is graded
        skipped.append(Skipped(f"{where}/", Skip.NO_FILE if file else Skip.NO_PYTHON, file or ""))
        return
    for entry in files:
        if entry.is_symlink():
            skipped.append(Skipped(inside(entry.name), Skip.SYMLINK, _target(entry.path)))
        elif not entry.name.lower().endswith(SUBMISSION_SUFFIXES):
            skipped.append(Skipped(inside(entry.name), Skip.NOT_PYTHON))
        elif file is not None:
            skipped.append(Skipped(inside(entry.name), Skip.OUTSIDE_FOLDER, f"each student's {file} is graded"))
        else:
            _take_file(entry.path, inside(entry.name), found, skipped)
    for entry in folders:
        _walk(entry.path, inside(entry.name), file, found, skipped, argument=False)


def _own_file(python: list[os.DirEntry], handed: list[os.DirEntry]) -> os.DirEntry | None:
    """The file a folder without folders holds as its student's work: its one .py file, or
    without one its one notebook or zip; None when there is no such one file."""
    if len(python) == 1:
        return python[0]
    return handed[0] if not python and len(handed) == 1 else None


def _is_package(python: list[os.DirEntry]) -> bool:
    """Whether a folder's .py files are one student's package: exactly one of them (not a link)
    defines the protocol's functions (grading.handin.defines_protocol), the others its modules."""
    return sum(1 for entry in python if not entry.is_symlink() and _defines_protocol(entry.path)) == 1


def _defines_protocol(path: str) -> bool:
    """Whether the .py file at `path` (not through a link; its first MiB) defines one of the protocol's functions."""
    from gradverify.grading.handin import defines_protocol, open_regular

    try:
        with open_regular(path) as reading:
            return defines_protocol(reading.read(1 << 20))
    except OSError:
        return False


def _target(path: str) -> str:
    try:
        return f"to {os.readlink(path)}"
    except OSError:
        return ""


def _take_file(path: str, where: str, found: list, skipped: list[Skipped], *, student: str | None = None) -> None:
    """The file `path` (`where` inside the class folder) as a student's (the student folder
    `student`'s, if given), or why it cannot be: a symbolic link, not a regular file, not .py, unreadable."""
    name = student if student is not None else where
    if os.path.islink(path):
        skipped.append(Skipped(where, Skip.SYMLINK, _target(path)))
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        skipped.append(Skipped(where, Skip.UNREADABLE, exc.strerror or str(exc)))
        return
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    if not regular:
        skipped.append(Skipped(where, Skip.NOT_REGULAR))
    elif student is None and not path.lower().endswith(SUBMISSION_SUFFIXES):
        skipped.append(Skipped(where, Skip.NOT_PYTHON))
    else:
        found.append((name, path, student is not None, False))


def _named(found: list[tuple[str, str, bool, bool]]) -> list[Student]:
    """A distinct name per submission: the path inside the class folder, without its suffix for a
    file of its own; where that is another's name too, a file of its own keeps its suffix (its
    full path, which no other file has). The same file found twice is one student."""
    unique = list({os.path.abspath(entry[1]): entry for entry in reversed(found)}.values())[::-1]
    full = [False] * len(unique)

    def name(i: int) -> str:
        where, _, folder, _package = unique[i]
        return where if folder or full[i] else where.rsplit(".", 1)[0]

    while True:
        holders: dict[str, list[int]] = {}
        for i in range(len(unique)):
            holders.setdefault(name(i), []).append(i)
        clashing = [i for group in holders.values() if len(group) > 1 for i in group if not unique[i][2] and not full[i]]
        if not clashing:
            break
        for i in clashing:
            full[i] = True
    return sorted((Student(name(i), Path(unique[i][1]), unique[i][3]) for i in range(len(unique))), key=lambda s: s.name)


def _escape_part(part: str) -> str:
    """One part of a student's name as a file name: '%', '.', what is not printable (control
    characters, a newline) and the bytes of a name that is not UTF-8 written as %XX, the rest kept.
    With '%' escaped no two names give one file name; with '.' escaped a student's outputs
    (`<stem>.md`, `<stem>.json`, the pictures `<stem>.<key>.svg`) are told apart from every other
    student's and from the folders on their way, none of which holds a '.'."""
    out = []
    for ch in part:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8 (os.fsdecode's surrogateescape)
            out.append(f"%{code - 0xDC00:02X}")
        elif ch in "%." or not ch.isprintable():
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
    return "".join(out)


def student_outputs(out: Path, name: str) -> tuple[Path, Path]:
    """Where the grade of the student `name` goes: (report, results.json), under out/students/
    mirroring the name's folders, every part written so that no two students' outputs, their
    pictures beside the report, or a folder on their way can be one file (_escape_part)."""
    stem = out / "students" / "/".join(_escape_part(part) for part in name.split("/"))
    return stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".json")


def _absolute(name: str) -> str:
    """A path given to grade as a path from the grader process's folder (the class folder); a
    shipped adapter's name as it is."""
    return os.path.abspath(name) if os.path.exists(name) else name


def _command(student: Student, out: Path, args: argparse.Namespace) -> list[str]:
    """The grader process of one student, run in the class folder (student.home): its outputs,
    the rubric, the adapter and the secret by absolute path, the submission by its path inside."""
    report, results = student_outputs(out.resolve(), student.name)
    command = [
        sys.executable,
        "-P",
        "-m",
        "gradverify.cli",
        "grade",
        "--quiet",
        "--results-json",
        str(results),
        "--report",
        str(report),
        "--memory",
        str(args.memory),
    ]
    if args.rubric:
        from gradverify.grading.rubric import rubric_path

        command += ["--rubric", os.path.abspath(rubric_path(args.rubric))]
    if args.adapter:
        command += ["--adapter", _absolute(args.adapter)]
    if args.timeout:
        command += ["--timeout", str(args.timeout)]
    if getattr(args, "seed", None) is not None:
        command += ["--seed", str(args.seed)]
    elif getattr(args, "secret", None):  # each process derives its own submission's seed from it
        command += ["--secret", os.path.abspath(args.secret)]
    if args.unsafe_no_sandbox:
        command.append("--unsafe-no-sandbox")
    if getattr(args, "no_plots", False):
        command.append("--no-plots")
    if getattr(args, "file", None):
        command += ["--file", args.file]
    if student.package:
        command.append("--package")
    command.append("--sandbox-proven")  # grade_many ran the canary before the first of them
    return command + ["--", student.inside]  # after "--": a file named "-x.py" is no option


def _grade(student: Student, out: Path, args: argparse.Namespace, limit: float) -> tuple[str, dict | None, str]:
    """(name, results.json document or None, error)"""
    name = student.name
    try:
        done = subprocess.run(
            _command(student, out, args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=limit,
            cwd=student.home,
        )
    except subprocess.TimeoutExpired:
        return name, None, f"the grader process took longer than {limit:g} s"
    results = student_outputs(out.resolve(), name)[1]
    if done.returncode != 0 or not results.is_file():
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return name, None, f"the grader process failed (exit {done.returncode}): {tail}"
    return name, json.loads(results.read_text(encoding="utf-8")), ""


def _canary_failure(rubric: "Rubric", args: argparse.Namespace) -> str:
    """Why the sandbox does not work here (gradverify.sandbox.canary), or "" when it does or when the
    CLI proved it already; once, before any per-student process starts."""
    if getattr(args, "sandbox_proven", False):
        return ""
    from gradverify.sandbox import canary

    try:
        canary.prove(
            packages=rubric.packages,
            memory_mb=getattr(args, "memory", 2048),
            unsafe=getattr(args, "unsafe_no_sandbox", False),
            timeout=rubric.item_timeout,
        )
    except canary.SandboxUnavailable as exc:
        return str(exc)
    args.sandbox_proven = True
    return ""


def _class_folders(files: Sequence[Path], args: argparse.Namespace, rubric: "Rubric") -> list[Path]:
    """What no student's child may read during a class grade (separate-user mode): the folders
    given and those holding the submissions, and the rubric."""
    given = [Path(name) for name in getattr(args, "files", []) if Path(name).is_dir()]
    return [*dict.fromkeys([*given, *(path.resolve().parent for path in files)]), *([Path(rubric.path)] if rubric.path else [])]


def _write_summary(
    args: argparse.Namespace, path: Path, graded: list[dict], errors: dict[str, str], skipped: Sequence[Skipped]
) -> None:
    """The class summary at `path` (its pictures beside it, written before it, unless --no-plots)
    with what was not graded and why, grades.csv beside it (gradebook.py); with
    args.results_json, every result in one file."""
    not_graded = [*errors.items(), *((escaped(s.name), s.why) for s in skipped)]
    write_atomic(path.parent / "grades.csv", gradebook.grades_csv(graded, not_graded))
    drawing = graded and not getattr(args, "no_plots", False)
    write_with_pictures(
        path,
        lambda drawn: feedback.class_summary(graded, drawn=drawn, not_graded=not_graded),
        (lambda: feedback.summary_pictures(graded)) if drawing else None,
    )
    if args.results_json:
        combined = {
            "submissions": graded,
            "errors": errors,
            "not_graded": [{"student": escaped(s.name), "reason": s.reason.name, "why": s.why} for s in skipped],
        }
        write_atomic(args.results_json, feedback.dump(combined))


def grade_many(students: list[Student], args: argparse.Namespace, skipped: Sequence[Skipped] = ()) -> int:
    """Grade `students` (classroom.collect), `args.jobs` at a time: each student's report and
    results.json under args.out/students/ (student_outputs), the class summary (args.report, else
    args.out/summary.md) with what is not graded and why (`skipped`, and the grader processes that
    failed), and with args.results_json all of it in one file."""
    from gradverify.grading.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    if args.timeout:
        rubric = replace(rubric, item_timeout=args.timeout)
    out = Path(args.out or DEFAULT_OUT)
    out.mkdir(parents=True, exist_ok=True)
    limit = grader_limit(rubric, adapter=bool(args.adapter or rubric.adapter))
    broken = _canary_failure(rubric, args)
    if broken:
        print(f"gradverify: {inert(broken)}", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    names = [student.name for student in students]
    shown = {name: escaped(name) for name in names}  # no two alike (escaped), and text a report can hold
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    closed = closed_to_others(
        _class_folders([s.path for s in students], args, rubric), unsafe=getattr(args, "unsafe_no_sandbox", False)
    )
    with closed, ThreadPoolExecutor(max_workers=args.jobs) as pool:  # the pool ends first, then the folders reopen
        futures = [pool.submit(_grade, student, out, args, limit) for student in students]
        for count, future in enumerate(futures, 1):
            name, document, error = future.result()
            if document is None:
                errors[name] = error
            else:
                document.setdefault("extra_data", {})["student"] = shown[name]
                results[name] = document
            if not args.quiet:
                score = f"{document['score']:g}" if document else f"ERROR: {error}"
                print(f"[{count:>3}/{len(students)}] {inert(shown[name])}: {inert(score)}", file=sys.stderr, flush=True)
    graded = [results[n] for n in names if n in results]
    summary_path = Path(args.report) if args.report else out / "summary.md"
    _write_summary(args, summary_path, graded, {shown[n]: e for n, e in errors.items()}, skipped)
    record = roster.Roster(str(summary_path.resolve()), errors=dict(errors))
    for student in students:
        record.students[student.name] = {"path": os.path.abspath(student.path), "package": student.package}
    record.not_graded = [{"student": s.name, "reason": s.reason.name, "detail": s.detail} for s in skipped]
    roster.save(out, record)
    wall = time.perf_counter() - start
    left_out = f"; {len(skipped)} not graded (listed in the summary)" if skipped else ""
    print(
        f"gradverify: graded {len(results)} of {len(students)} submissions in {wall:.1f} s "
        f"with {args.jobs} job(s){left_out}; summary: {inert(summary_path)}",
        file=sys.stderr,
    )
    if errors:
        return EXIT_USAGE
    if args.fail_under is not None and _below(args.fail_under, results, shown):
        return EXIT_FAIL
    return EXIT_OK


def _below(threshold: Threshold, results: dict[str, dict], shown: dict[str, str]) -> bool:
    """Whether a score is below --fail-under; each such score (the first ten) said on stderr, with
    what it was compared with."""
    low = {n: d for n, d in results.items() if threshold.below(d["score"], d["extra_data"]["max_score"])}
    for name, doc in list(low.items())[:10]:
        print(f"gradverify: {inert(shown[name])}: {threshold.why(doc['score'], doc['extra_data']['max_score'])}", file=sys.stderr)
    if len(low) > 10:
        print(f"gradverify: … and {len(low) - 10} more below --fail-under", file=sys.stderr)
    return bool(low)


def record_one(
    out: Path, path: str | os.PathLike, document: dict, write_report: Callable[[Path], None], *, package: bool, plots: bool
) -> tuple[str, Path]:
    """One student graded again on their own (`grade bob.py --out grades/`): their results.json
    `document` and report (`write_report(path)` writes it) put where the class grade put theirs (the student the
    class's roster knows at `path`; else one named by the file or folder, as collect would name
    it alone), the roster updated, and the class summary and grades.csv made again from every
    student's results.json. (the student's name, the summary's path)"""
    out.mkdir(parents=True, exist_ok=True)
    record = roster.load(out) or roster.Roster(str((out / "summary.md").resolve()))
    name = record.name_of(path) or _name_alone(record, Path(path))
    document.setdefault("extra_data", {})["student"] = escaped(name)
    report_path, results_path = student_outputs(out, name)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(results_path, feedback.dump(document))
    write_report(report_path)
    record.enrol(name, path, package=package)
    roster.save(out, record)
    graded, errors = roster.documents(record, lambda n: student_outputs(out, n)[1])
    for student, doc in graded.items():
        doc.setdefault("extra_data", {})["student"] = escaped(student)
    skipped = [
        Skipped(e["student"], Skip[e["reason"]], e.get("detail", ""))
        for e in record.not_graded
        if e.get("reason") in Skip.__members__
    ]
    summary = Path(record.summary)
    options = argparse.Namespace(results_json=None, no_plots=not plots)
    _write_summary(options, summary, [graded[n] for n in sorted(graded)], {escaped(n): e for n, e in errors.items()}, skipped)
    return name, summary


def _name_alone(record: roster.Roster, path: Path) -> str:
    """The name of a student the roster does not know: the file's name without its suffix (a
    folder's name), kept whole where another submission has that name already."""
    name = path.resolve().name if path.is_dir() else path.name.rsplit(".", 1)[0]
    return name if name not in record.students else path.resolve().name
