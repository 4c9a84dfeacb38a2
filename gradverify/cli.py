"""The `gradverify` command line.

Exit codes: 0 every check holds, 1 a check fails, 2 bad usage or an
implementation that cannot be loaded.

The final verdict goes to stdout, progress and the details of failures to stderr; colour
only on a terminal, never with NO_COLOR set; with GITHUB_ACTIONS=true, verify also prints
one `::error` annotation per failing check to stdout, at the implementation's function.
Text from outside (a submission's messages, causes, file names) is printed through
gradverify.terminal.inert: control characters shown as escapes, never obeyed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from gradverify.options import jobs_option, positive_int, threshold
from gradverify.terminal import inert  # every piece of text from outside that this module prints

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 on bad usage; keep it, say it plainly
        self.print_usage(sys.stderr)
        print(f"gradverify: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _build_parser() -> argparse.ArgumentParser:
    from gradverify import __version__

    parser = _Parser(prog="gradverify", description="Verify hand-written backprop against JAX and PyTorch.")
    parser.add_argument("--version", action="version", version=f"gradverify {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_verify(sub)
    _add_grade(sub)
    s = sub.add_parser("secret", help="the course secret that grades' seeds are derived from")
    s_sub = s.add_subparsers(dest="secret_command", required=True, parser_class=_Parser)
    n = s_sub.add_parser(
        "new",
        help="write a new course secret (mode 0600); never overwrites one",
        description="Exit 0 when written, 2 when the file exists or cannot be written.",
    )
    n.add_argument(
        "path", nargs="?", help="where (default: $GRADVERIFY_SECRET_FILE, else $XDG_CONFIG_HOME/gradverify/course-secret)"
    )
    n.set_defaults(func=_cmd_secret_new)

    t = sub.add_parser(
        "template",
        help="write the student template (every protocol function as a stub), or a course rubric's handout",
        description="Without --rubric: the backprop protocol's template, one file. With --rubric NAME (a course "
        "rubric that ships, e.g. cs231n-a2): its handout, the course's package with every function the rubric "
        "grades a stub, written into the folder PATH. Exit 0 when written, 2 when a file exists or cannot be written.",
    )
    t.add_argument("path", nargs="?", help="where to write it (default: print it; with --rubric, a folder: required)")
    t.add_argument("--rubric", help="a course rubric that ships (cs231n-a2, cs231n-a3): write its handout")
    t.set_defaults(func=_cmd_template)

    return parser


def _add_verify(sub: Any) -> None:
    """The verify command and its options."""
    v = sub.add_parser(
        "verify",
        help="check an implementation against JAX, PyTorch and finite differences",
        description="Exit 0 when every check holds, 1 when any fails, 2 on bad usage or an implementation that cannot be loaded.",
    )
    v.add_argument("--impl", help="module name or path to a .py file (default: [tool.gradverify] impl, else the bundled impl)")
    v.add_argument(
        "--profile",
        choices=["dev", "ci", "thorough"],
        help="dev (quick; the default unless [tool.gradverify] profile says otherwise), ci (deterministic, fixed budget), thorough",
    )
    v.add_argument("--seed", type=int, help="hypothesis seed (ci defaults to 0)")
    v.add_argument("--budget", type=positive_int, help="examples per property, overriding the profile's")
    v.add_argument("--report", help="write the Markdown report here")
    v.add_argument("--junit", help="write JUnit XML here")
    v.add_argument(
        "--property", action="append", dest="only", metavar="NAME", help="run only this check, a name or a glob (repeatable)"
    )
    v.add_argument("--skip", action="append", metavar="PATTERN", help="run none of the checks it matches (repeatable)")
    v.add_argument(
        "--components",
        action="append",
        metavar="NAMES",
        help="the components the library implements, comma-separated (repeatable): activations, losses, dense, "
        "network, l2, momentum_step, train; the others are not in scope (default: [tool.gradverify] components, else all)",
    )
    v.add_argument(
        "--adapter",
        metavar="NAME_OR_FILE",
        help="check the library through a course adapter, as grading does: a .py file or a shipped one (cs231n, layers); "
        "what it does not map is not in scope (default: [tool.gradverify] adapter; docs/adapters.md)",
    )
    v.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        help="what the library's layer ops compute in: float32 inputs, float32 results and float32 tolerances for float32 "
        "(default: [tool.gradverify] dtype, else float64; docs/layers.md)",
    )
    v.add_argument("--replay", metavar="FILE_OR_JSON", help="run exactly one saved counterexample")
    v.add_argument(
        "--regressions",
        metavar="DIR",
        help="the regression corpus folder (default: [tool.gradverify] regressions, else .gradverify/regressions in the project)",
    )
    v.add_argument("--no-save", action="store_true", help="do not add new counterexamples to the corpus")
    v.add_argument("--fail-fast", action="store_true", help="stop at the first check that fails")
    v.add_argument(
        "--jobs",
        type=jobs_option,
        default="auto",
        help="processes that run the checks, each loading the implementation (default auto: one per CPU,"
        " at most 4, for 8 checks or more)",
    )
    v.add_argument("--quiet", action="store_true", help="no progress lines")
    v.add_argument("--no-plots", action="store_true", help="no pictures beside the report (tables and text only)")
    v.set_defaults(func=_cmd_verify)


FAIL_UNDER_HELP = "exit 1 when a score is below SCORE: points (40), or a percentage of the maximum (90%%); stderr says which"


def _add_grade_inputs(g: argparse.ArgumentParser) -> None:
    """What grade takes as one student's submission: --package, --file."""
    g.add_argument(
        "--package",
        action="store_true",
        help="the one folder given is one student's submission (its modules import each other), not a class folder",
    )
    g.add_argument(
        "--file",
        type=_submission_file,
        metavar="NAME",
        help="the file graded in each student's folder or zip, e.g. backprop.py (default: the rubric's submission_file; "
        "without either, the one .py file defining the protocol's functions)",
    )


def _add_grade(sub: Any) -> None:
    """The grade command and its options."""
    g = sub.add_parser(
        "grade",
        help="grade student submissions (each run in a sandboxed process)",
        description="Exit 0 when grading completed, whatever the score; 1 with --fail-under and a score below it; "
        "2 when the grader itself could not run.",
    )
    g.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="submissions (.py files, notebooks, zips; with --package, one student's folder), or class folders "
        "of them (a student per file, or per folder)",
    )
    _add_grade_inputs(g)
    g.add_argument(
        "--rubric",
        help="a rubric TOML, or the name of a course rubric that ships (cs231n-a2, …: docs/courses/) (default: the backprop protocol's, "
        "gradverify/grading/rubric.toml)",
    )
    g.add_argument(
        "--adapter",
        metavar="NAME_OR_FILE",
        help="a course adapter mapping the course's own API onto the protocol: a .py file, or a shipped one "
        "(cs231n, layers); default: the rubric's adapter, if it names one (docs/adapters.md)",
    )
    g.add_argument("--report", help="Markdown report (one submission), or the class summary (several)")
    g.add_argument("--results-json", help="Gradescope results.json (one submission), or all results (several)")
    g.add_argument(
        "--out",
        help="folder for the class summary, grades.csv and, in its students/ folder, each student's report (default: "
        "grades); with one submission, its report goes there too and the class summary is made again",
    )
    g.add_argument("--timeout", type=_positive_float, help="wall-clock seconds per item (default: the rubric's)")
    g.add_argument("--memory", type=positive_int, default=2048, help="memory limit of a submission, MiB (default 2048)")
    g.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade even where submissions cannot be isolated (no user namespaces, not root); the grade says so",
    )
    g.add_argument("--jobs", type=positive_int, default=1, help="submissions graded in parallel, one process each")
    g.add_argument("--fail-under", type=threshold, metavar="SCORE", help=FAIL_UNDER_HELP)
    g.add_argument(
        "--secret",
        metavar="FILE",
        help="the course secret each grade's seed is derived from, with the submission (default: "
        "$GRADVERIFY_SECRET_FILE, else $XDG_CONFIG_HOME/gradverify/course-secret, made on first use)",
    )
    g.add_argument(
        "--seed", type=int, metavar="N", help="grade with this seed instead: a replay of the grade whose report gives seed N"
    )
    g.add_argument("--quiet", action="store_true", help="no progress lines")
    g.add_argument("--no-plots", action="store_true", help="no pictures beside the reports (tables and text only)")
    g.add_argument("--sandbox-proven", action="store_true", help=argparse.SUPPRESS)  # a class grade's per-student process
    g.set_defaults(func=_cmd_grade)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _submission_file(text: str) -> str:
    """argparse type of --file: a .py file name without folders."""
    from gradverify.grading.rubric import check_file_name

    try:
        return check_file_name(text, "--file")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: ANSI colours of the marks and the verdict (on a terminal only, never with NO_COLOR set).
GREEN, RED, YELLOW = "32", "31", "33"
MARK_COLOURS = {
    "pass": GREEN,
    "PASS": GREEN,
    "FAIL": RED,
    "ERROR": RED,
    "n/i": YELLOW,
    "part": YELLOW,
    "n/a": YELLOW,
    "scope": "",
}
#: The progress mark of each verify status (a failure's: FAIL).
STATUS_MARKS = {
    "passed": "pass",
    "error": "ERROR",
    "not implemented": "n/i",
    "partly implemented": "part",
    "not in scope": "scope",
}


def _use_colour(stream) -> bool:
    """Colour on a terminal only, and not when NO_COLOR is set (no-color.org) or TERM is dumb."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _paint(text: str, mark: str, stream) -> str:
    """`text` in the colour of `mark` when `stream` takes colour."""
    colour = MARK_COLOURS.get(mark)
    return f"\033[{colour}m{text}\033[0m" if colour and _use_colour(stream) else text


def _progress(index: int, total: int, name: str, result) -> None:
    """One line per check on stderr; on a terminal, the running check is shown first."""
    from gradverify.results import CheckKind

    tty = sys.stderr.isatty()
    if result is None:
        if tty:
            print(f"[{index + 1:>2}/{total}] ...   {name}", end="\r", file=sys.stderr, flush=True)
        return
    mark = STATUS_MARKS.get(result.status, "FAIL")
    from gradverify.report import form_text

    detail = f"{'fixed' if result.kind is CheckKind.FIXED else f'{result.examples} examples'}, {result.seconds:.1f} s"
    if result.passed and form_text(result):
        detail += f"; {form_text(result)}"
    if result.not_in_scope:
        detail += f"; not in scope: {', '.join(result.not_in_scope)}"
    if not result.in_scope:
        detail = f"not in scope: needs {', '.join(result.not_in_scope)}"
    line = f"[{index + 1:>2}/{total}] {_paint(f'{mark:<5}', mark, sys.stderr)} {name} ({detail})"
    print(line + (" " * 8 if tty else ""), file=sys.stderr, flush=True)


def _cmd_verify(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from gradverify import project
    from gradverify.loader import ImplLoadError, NotAnImplementation

    try:
        root = project.find_project()
        settings = project.load_settings(root)
        result = _verify(args, settings, root)
    except NotAnImplementation as exc:
        print(f"gradverify: {inert(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ImplLoadError as exc:
        print(f"gradverify: cannot load the implementation: {inert(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"gradverify: {inert(exc)}", file=sys.stderr)
        return EXIT_USAGE
    from gradverify.report import render_markdown

    result.seconds = time.perf_counter() - started  # wall time, imports included
    for problem in result.corpus_problems:  # entries skipped (unreadable, too large), also in the report
        print(f"gradverify: regression corpus: {problem}", file=sys.stderr)
    markdown = render_markdown(result)
    _write_outputs(args, result, markdown)
    if result.not_implemented:
        from gradverify.report import missing_line

        print(f"  {inert(missing_line(result, markdown=False))}", file=sys.stderr)
    from gradverify.report import check_lines, protocol_lines

    for line in protocol_lines(result):
        print(f"gradverify: {line}", file=sys.stderr)

    for r in result.failed:
        for line in check_lines(r):
            print(f"  {inert(line)}", file=sys.stderr)
    from gradverify.report import verdict_line

    verdict = "PASS" if result.passed else "FAIL"
    sys.stderr.flush()
    print(
        f"gradverify: {_paint(verdict, verdict, sys.stdout)} — {verdict_line(result)} ({result.seconds:.1f} s)"
        + (f"; report: {args.report}" if args.report else ""),
        flush=True,
    )
    return EXIT_OK if result.passed else EXIT_FAIL


def _verify(args: argparse.Namespace, settings: dict[str, Any], root: Any) -> Any:
    """gradverify.verify with the options of the command line, else the project's settings (an
    adapter the settings name is relative to the project folder); ValueError for bad ones."""
    import gradverify
    from gradverify.grading.adapters import SHIPPED
    from gradverify.library import components_of
    from gradverify.references.compare import check_dtype

    if args.components is not None:
        components = components_of(args.components, "--components")
    else:
        components = components_of(settings.get("components"), "[tool.gradverify] components")
    adapter = args.adapter or settings.get("adapter")
    dtype = args.dtype or check_dtype(settings.get("dtype", "float64"), "[tool.gradverify] dtype")
    return gradverify.verify(
        args.impl or settings.get("impl", gradverify.BUNDLED_IMPL),
        profile=args.profile or settings.get("profile", "dev"),
        seed=args.seed,
        budget=args.budget,
        properties=args.only if args.only is not None else settings.get("checks"),
        skip=args.skip if args.skip is not None else settings.get("skip"),
        components=components,
        adapter=str(root / adapter) if adapter and not args.adapter and adapter not in SHIPPED else adapter,
        dtype=dtype,
        regressions=args.regressions,
        save_regressions=not args.no_save,
        replay=args.replay,
        fail_fast=args.fail_fast,
        progress=None if args.quiet else _progress,
        jobs=args.jobs,
    )


def _write_outputs(args: argparse.Namespace, result: Any, markdown: str) -> None:
    """The report (with its pictures, written first, unless --no-plots), the JUnit XML, and on
    GitHub Actions the step summary and the annotations."""
    from gradverify.files import write_atomic
    from gradverify.report import github_annotations, render_junit, step_summary, write_report

    if args.report:
        write_report(args.report, result, drawing=not args.no_plots)
    if args.junit:
        write_atomic(args.junit, render_junit(result))
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as handle:
            handle.write(step_summary(markdown))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(result, _locator(result.impl)):
            print(line)


def _locator(spec: str):
    """Finds where the loaded implementation `spec` defines a protocol function: (file relative
    to the workspace when inside it, first line), or None."""
    import inspect
    from pathlib import Path

    from gradverify.loader import loaded

    module = loaded(spec)
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()

    def locate(function: str):
        fn = getattr(module, function, None)
        if fn is None:
            return None
        try:
            source = inspect.getsourcefile(fn)
            if source is None:
                return None
            path = Path(source).resolve()
            line = inspect.getsourcelines(fn)[1]
        except (TypeError, OSError):  # not a Python function, or no source
            return None
        return (path.relative_to(workspace).as_posix() if path.is_relative_to(workspace) else str(path)), line

    return locate


class _Usage(Exception):
    """A grade that cannot start (bad usage, no sandbox, a broken rubric or adapter): its message,
    already made inert, is printed and the exit status is EXIT_USAGE."""


def _cmd_grade(args: argparse.Namespace) -> int:
    try:
        rubric = _rubric_of(args)
        if args.file:  # the file graded in a student's folder, a package or a zip
            rubric = dataclasses.replace(rubric, submission_file=args.file)
        one, students, skipped = _students_of(args, rubric)
        _prove_sandbox(args, rubric, warm_references=one)
        adapter = _adapter_of(args, rubric)
        secret = _secret_of(args, rubric)
    except _Usage as exc:
        print(f"gradverify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if one:
        return _grade_one(students[0].path, rubric, args, adapter, secret)
    if args.seed is not None:
        print(f"gradverify: WARNING: --seed {args.seed}: every submission gets the same cases", file=sys.stderr)
    from gradverify.grading import classroom

    return classroom.grade_many(students, args, skipped)


def _rubric_of(args: argparse.Namespace) -> Any:
    """The rubric (--rubric, else the shipped one), warning when it fixes the seed."""
    from gradverify.grading.rubric import load_rubric

    try:
        rubric = load_rubric(args.rubric)
    except ValueError as exc:
        raise _Usage(inert(exc)) from None
    if rubric.seed is not None and args.seed is None:
        from gradverify.grading.secret import FIXED_SEED_WARNING

        print(f"gradverify: WARNING: {FIXED_SEED_WARNING}", file=sys.stderr)
    return rubric


def _students_of(args: argparse.Namespace, rubric: Any) -> tuple[bool, list, list]:
    """(one submission given, the students found, what was skipped and why)."""
    from gradverify.grading import classroom
    from gradverify.markdown import escaped

    if args.package:
        if len(args.files) != 1 or not os.path.isdir(args.files[0]) or os.path.islink(args.files[0]):
            raise _Usage("--package grades one student's folder: give exactly one folder (not a link)")
        folder = Path(args.files[0])
        return True, [classroom.Student(folder.resolve().name, folder, package=True)], []
    one = len(args.files) == 1 and not os.path.isdir(args.files[0])
    try:
        students, skipped = classroom.collect(args.files, file=args.file or rubric.submission_file or None)
    except ValueError as exc:
        raise _Usage(inert(escaped(str(exc)))) from None
    if one and skipped:
        raise _Usage(f"{inert(escaped(args.files[0]))}: {inert(escaped(skipped[0].why))}")
    if not students:
        raise _Usage(
            "\n".join(
                [
                    "no submissions found (.py files, notebooks, zips, or folders of them)",
                    *(f"  {inert(escaped(entry.name))}: {inert(escaped(entry.why))}" for entry in skipped),
                ]
            )
        )
    return one, students, skipped


def _prove_sandbox(args: argparse.Namespace, rubric: Any, *, warm_references: bool) -> None:
    """The isolation mode chosen (a warning without one), and the sandbox proven to run NumPy."""
    from gradverify.sandbox import engine

    try:
        mode = engine.choose(args.unsafe_no_sandbox)
    except engine.SandboxUnavailable as exc:
        raise _Usage(inert(exc)) from None
    if mode is engine.Mode.NONE:
        print(
            "gradverify: WARNING: --unsafe-no-sandbox: submissions run as your user, with your files and network", file=sys.stderr
        )
    broken = None if args.sandbox_proven else _sandbox_broken(rubric, args, warm_references=warm_references)
    if broken:
        raise _Usage(inert(broken))


def _adapter_of(args: argparse.Namespace, rubric: Any) -> Any:
    """The course adapter (--adapter, else the rubric's), or None: staff's file, checked once,
    before any submission runs."""
    from gradverify.grading import adapters

    if not (args.adapter or rubric.adapter):
        return None
    try:
        return adapters.load(
            args.adapter or rubric.adapter,
            unsafe=args.unsafe_no_sandbox,
            memory_mb=args.memory,
            timeout=args.timeout or rubric.item_timeout,
        )
    except adapters.AdapterError as exc:
        raise _Usage(inert(exc)) from None


def _secret_of(args: argparse.Namespace, rubric: Any) -> bytes | None:
    """The course secret the seeds come from (read, or made, once), or None when a seed is given;
    args.secret is set to its path, which each class grader process reads."""
    if args.seed is not None or rubric.seed is not None:
        return None
    from gradverify.grading.secret import SecretError, course_secret, secret_path

    path, default = secret_path(args.secret)
    try:
        secret = course_secret(path, default=default, announce=lambda line: print(f"gradverify: {line}", file=sys.stderr))
    except SecretError as exc:
        raise _Usage(inert(exc)) from None
    args.secret = str(path.resolve())
    return secret


def item_line(index: int, total: int, r, stream=None) -> str:
    """The progress line of one graded item (an ItemResult), its mark coloured when `stream` takes
    colour; what came from the submission (its reason) made inert."""
    mark = {"passed": "pass", "partial": "part", "not mapped": "n/a"}.get(r.status, "FAIL")
    points = f"{r.score:g}/{r.item.points:g}" if r.mapped else "not mapped"
    return (
        f"[{index + 1:>2}/{total}] {_paint(f'{mark:<4}', mark, stream)} {inert(r.item.title)} ({points}, {r.seconds:.1f} s)"
        + (f": {inert(r.reason)}" if r.reason else "")
    )


def grade_line(path, result) -> str:
    """The final line of one grade (a GradeResult): the file, its score, why it could not be loaded."""
    load = f" (could not be loaded: {inert(result.load_error)})" if result.load_error else ""
    return f"gradverify: {inert(path)}: {result.score:g} / {result.max_score:g}{load} ({result.seconds:.1f} s)"


def _sandbox_broken(rubric, args: argparse.Namespace, *, warm_references: bool) -> str | None:
    """Before the first submission (a class grade's parent proves it for its per-student processes):
    why the sandbox does not work here (gradverify.sandbox.canary), or None. With `warm_references`,
    the references (JAX, PyTorch) are imported meanwhile, as the grade would first."""
    import threading

    from gradverify.grading import items
    from gradverify.sandbox import canary

    if warm_references:  # the canary mostly waits for its child: the grade's first import goes on beside it
        threading.Thread(target=items._import_references, name="gradverify-references", daemon=True).start()
    try:
        canary.prove(
            packages=rubric.packages,
            memory_mb=args.memory,
            unsafe=args.unsafe_no_sandbox,
            timeout=args.timeout or rubric.item_timeout,
        )
    except canary.SandboxUnavailable as exc:
        return str(exc)
    args.sandbox_proven = True
    return None


def _grade_one(path, rubric, args: argparse.Namespace, adapter=None, secret: bytes | None = None) -> int:
    import json

    from gradverify.files import write_atomic
    from gradverify.plots import write_with_pictures
    from gradverify.grading import feedback, items as grading
    from gradverify.references import jax_backend
    from gradverify.profiles import use_hypothesis_home

    use_hypothesis_home(None)  # hypothesis's own files in a temporary folder, never the working folder
    jax_backend.enable_persistent_cache()

    def progress(index: int, total: int, r) -> None:
        if not args.quiet:
            print(item_line(index, total, r, sys.stderr), file=sys.stderr, flush=True)

    from gradverify.sandbox import FileNotCopied, SandboxUnavailable

    try:
        result = grading.grade_file(
            path,
            rubric,
            timeout=args.timeout,
            memory_mb=args.memory,
            progress=progress,
            unsafe=args.unsafe_no_sandbox,
            adapter=adapter,
            seed=args.seed,
            secret=secret,
        )
    except (SandboxUnavailable, FileNotCopied) as exc:
        print(f"gradverify: {inert(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if args.report:  # with its pictures beside it, written before it (not with --no-plots)
        write_with_pictures(
            args.report,
            lambda drawn: feedback.render_submission(result, drawn),
            None if args.no_plots else lambda: feedback.submission_pictures(result),
        )
    if args.results_json:
        write_atomic(args.results_json, json.dumps(feedback.results_json(result), indent=2, ensure_ascii=False) + "\n")
    print(grade_line(result.submission, result), flush=True)
    if args.out is not None:
        _into_class(result, path, args)
    if args.fail_under is not None and args.fail_under.below(result.score, result.max_score):
        why = args.fail_under.why(result.score, result.max_score)
        print(f"gradverify: {inert(result.submission)}: {why}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _into_class(result: Any, path: Any, args: argparse.Namespace) -> None:
    """One submission graded with --out: its report and results.json where the class grade put
    the student's, and the class summary and grades.csv made again (grading.classroom.record_one)."""
    from gradverify.grading import classroom, feedback
    from gradverify.plots import write_with_pictures

    def write_report(where: Path) -> None:
        pictures = None if args.no_plots else lambda: feedback.submission_pictures(result)
        write_with_pictures(where, lambda drawn: feedback.render_submission(result, drawn), pictures)

    name, summary = classroom.record_one(
        Path(args.out), path, feedback.results_json(result), write_report, package=result.package, plots=not args.no_plots
    )
    print(
        f"gradverify: {inert(name)}'s grade is in {inert(args.out)}; class summary made again: {inert(summary)}", file=sys.stderr
    )


def _cmd_secret_new(args: argparse.Namespace) -> int:
    from gradverify.grading.secret import SecretError, new_secret, secret_path

    try:
        path = new_secret(args.path or secret_path(None)[0])
    except SecretError as exc:
        print(f"gradverify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"gradverify: wrote a new course secret to {path} (mode 0600): keep it with the grading setup, never in "
        f"a repository or where students can read it",
        file=sys.stderr,
    )
    return EXIT_OK


def _cmd_handout(name: str, folder: str | None) -> int:
    """Write the handout of the shipped course rubric `name` into `folder` (never overwriting)."""
    from pathlib import Path

    from gradverify.grading.course_template import HANDOUTS, handout
    from gradverify.grading.rubric import load_rubric

    if name not in HANDOUTS:
        print(f"gradverify: no handout for {name!r}; the course rubrics with one: {', '.join(HANDOUTS)}", file=sys.stderr)
        return EXIT_USAGE
    if not folder:
        print("gradverify: template --rubric needs the folder to write the handout into", file=sys.stderr)
        return EXIT_USAGE
    files = handout(load_rubric(name), name)
    root = Path(folder)
    existing = [rel for rel in files if (root / rel).exists()]
    if existing:
        print(f"gradverify: {root / existing[0]} exists; not overwriting it", file=sys.stderr)
        return EXIT_USAGE
    try:
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            with open(root / rel, "x", encoding="utf-8") as handle:
                handle.write(text)
    except OSError as exc:
        print(f"gradverify: cannot write the handout into {root}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"gradverify: wrote {', '.join(files)} into {root}")
    return EXIT_OK


def _cmd_template(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.rubric:
        return _cmd_handout(args.rubric, args.path)
    text = (Path(__file__).resolve().parent / "grading" / "student_template.py").read_text(encoding="utf-8")
    if not args.path:
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(args.path)
    try:
        with open(target, "x", encoding="utf-8") as handle:  # "x": never overwrite
            handle.write(text)
    except FileExistsError:
        print(f"gradverify: {target} exists; not overwriting it", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError:
        print(f"gradverify: cannot write {target}: the folder {target.parent} does not exist", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"gradverify: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
