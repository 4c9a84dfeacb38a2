"""Hostile submissions against the grader and its sandbox: the catalogue in tests/attacks/.

Every attack is graded here, in this process, with `grade_file` against a one-item rubric
(two examples, a 4 s item timeout, 512 MB for the whole submission), and a `Bench` checks
what the grader must achieve besides the score: nothing outside the sandbox changed (the
gradverify package, impl/, references/, the venv's site-packages, the rubric, a classmate's
file next to the submission, a canary in /tmp), again after a pause where the attack left
something that could act later; no process of the submission is left; nothing new in /tmp,
/var/tmp, /dev/shm; no connection reached a port this test listens on; the secret in the
grader's environment appears nowhere; the Markdown report and results.json stay inert; a
classmate's sandbox running beside some attacks keeps working; an honest classmate graded
after some attacks still scores fully; and the attack reported no success of its own.

The attacks run as the user running the tests (as root: bubblewrap, the default), then, when
that is root, as an ordinary user: ONE subprocess, run by the user `gvattack` with
/usr/bin/python3.11 (pyenv's interpreter under /root is not reachable for others) and the
venv's packages through `site.addsitedir`, runs this file as a script, grades the whole
catalogue with the same Bench and writes a JSON summary that the tests here read. It runs
beside this process's own run (about 70 s for both on two cores, against 105 s one after the
other: GRADVERIFY_ATTACKS_SEQUENTIAL=1); the two benches tell their processes and files apart
by owner and tag.

Each bench appends a line with its own tag to the submissions it hands in, so that it tells
its processes and sandbox folders from those of other graders on the machine (other test
files, other runs of this file); the ordinary user's run has its own TMPDIR (its sandbox
folders and PyTorch's cache stay out of /tmp). After both runs, as root, the catalogue is
graded once more in the separate-user mode, forced, with the checkout and the venv closed to
others meanwhile. This file makes many sandbox folders in /tmp and many processes of uid
65534: beside it, tests that count either can be upset, which is why `make test` runs it on
its own after the rest (and `make attacks` alone, writing reports/attacks.md through
$GRADVERIFY_ATTACKS_REPORT). Attacks that succeed today are marked xfail(strict=True) in KNOWN_FAILURES, with the symptom; when one is fixed its test
XPASSes and fails, so the mark must go.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # the ordinary user's run: the venv's packages, and the checkout for tests.attacks
    import site

    site.addsitedir(sys.argv[sys.argv.index("--site") + 1])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib
import dataclasses
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from typing import Any

import numpy as np

from gradverify.cli import grade_line, item_line
from gradverify.grading.feedback import class_summary, render_submission, results_json
from gradverify.grading.items import GradeResult, grade_file, submission_budget
from gradverify.grading.rubric import Rubric, load_rubric
from gradverify.sandbox import engine
from gradverify.sandbox.host import Sandbox
from gradverify.sandbox.processes import TOKEN_VARIABLE
from tests.attacks import (BY_NAME, CATALOGUE, CLASSES, MARKER, PORTS, RUBRIC_LINES, RUBRICS, SEPARATE_USER_OPEN, SUCCESS,
                           Attack)

CHECKOUT = Path(__file__).resolve().parents[1]
#: The rubrics a careless TA would write, which must be refused (Attack.rubric_refused).
CARELESS = frozenset(a.rubric for a in CATALOGUE if a.rubric_refused)
PACKAGE_TREES = [CHECKOUT / "gradverify", CHECKOUT / "properties", CHECKOUT / "impl", CHECKOUT / "references", CHECKOUT / "tests" / "attacks"]
SITE_PACKAGES = CHECKOUT / ".venv" / "lib" / "python3.11" / "site-packages"
SHARED = ("/tmp", "/var/tmp", "/dev/shm")
#: Entries of the shared folders that others make while this file runs (pytest-xdist runs
#: another test file beside it): pytest's folders, other tests' sandbox folders (this
#: file's own are checked by content, `_our_sandbox_folders`), test_sandbox's grader-*
#: folders, tempfile's default names, pip's (test_layout installs with pip --target), this
#: file's benches and the ordinary user's readable copy of the checkout, the CLI's canary
#: (another grader's), and PyTorch's cache of the grader's own references (torchinductor_<user>).
OTHERS = re.compile(r"^(pytest-of-|gradverify-sandbox-|gradverify-canary-|grader-|tmp[a-z0-9_]{8}$|gvattack-bench-|"
                    r"gvattack-canary-|gvattack-code-|torchinductor_|pip-)")
#: Names the attacks leave in shared folders (cleaned up when an attack managed it).
LEFT_BY_ATTACKS = re.compile(r"^(gvattack|results\.json$|submission\.py$|work$|sitecustomize\.py$|usercustomize\.py$|"
                             r"numpy\.py$|codec\.py$|worker\.py$|json\.py$)")
SECRET_VARIABLE = "GRADVERIFY_TEST_SECRET"


#: What the classmate's file has besides the model solution: a function that needs a new task.
CLASSMATE_EXTRA = b"""


def starts_a_thread():
    import threading

    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    return "ok"
"""


#: The runs' outcomes so far, written as Markdown to $GRADVERIFY_ATTACKS_REPORT (make attacks) after each run.
SUMMARY: dict[str, dict[str, dict]] = {}


def _write_summary(run: str, outcomes: dict[str, dict]) -> None:
    SUMMARY[run] = outcomes
    path = os.environ.get("GRADVERIFY_ATTACKS_REPORT")
    if path:
        from gradverify.files import write_atomic
        from tests.attacks import report

        write_atomic(Path(path), report(SUMMARY, command="make attacks", date=time.strftime("%Y-%m-%d")))


def canary_path(user: str, tag: str) -> str:
    """The canary of one bench: a file anyone may write (mode 0666) in /tmp, as CANARY_GLOB finds it."""
    return f"/tmp/gvattack-canary-{user}-{tag}"
ORDINARY_USER = "gvattack"
SYSTEM_PYTHON = "/usr/bin/python3.11"
EXAMPLES, ITEM_TIMEOUT, MEMORY_MB = 2, 4, 512
#: A pause after grading before the second look, for attacks that leave something acting later.
LATER = 1.0

#: Attacks that succeed today: (run, attack) -> the symptom. Each is an xfail(strict=True).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


# --------------------------------------------------------------------------- #
# What the grader's side looks like: files, processes, shared folders, connections.
# --------------------------------------------------------------------------- #


def _digest(path: str) -> tuple:
    try:
        info = os.lstat(path)
    except OSError:
        return ("missing",)
    if stat.S_ISDIR(info.st_mode):
        return ("dir", stat.S_IMODE(info.st_mode))
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path))
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        digest = "unreadable"
    return (digest, info.st_mtime_ns, stat.S_IMODE(info.st_mode))


def _listing(folder: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset({"<unreadable>"})


def _tree(top: Path) -> dict[str, tuple]:
    found = {str(top): _digest(str(top))}
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__"]  # bytecode the grader itself (or another test) writes
        for name in dirs + files:
            path = os.path.join(root, name)
            found[path] = _digest(path)
    return found


def _read(path: str, limit: int = 1 << 20) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _alive(pid: int) -> bool:
    stat_line = _read(f"/proc/{pid}/stat", 4096)
    return bool(stat_line) and stat_line.rsplit(b")", 1)[1].split()[0] != b"Z"


def _parent(pid: int) -> int:
    stat_line = _read(f"/proc/{pid}/stat", 4096)
    try:
        return int(stat_line.rsplit(b")", 1)[1].split()[1])
    except (IndexError, ValueError):
        return 0


def _descends_from_me(pid: int) -> bool:
    for _ in range(64):
        pid = _parent(pid)
        if pid == os.getpid():
            return True
        if pid <= 1:
            return False
    return False


def _tagged(tag: str) -> bytes:
    """The line a bench appends to each submission it hands in: tells its processes and folders
    from those of another run of this file (or of another grader) on the same machine."""
    return f"\n# {MARKER}: run {tag}\n".encode()


def _runs_an_attack(pid: int, tag: str) -> bool:
    """Whether the process runs a submission this run handed in: seen through bubblewrap's root,
    or the submission path in the worker's command line (the other modes), or a fresh interpreter
    an attack started outside any sandbox (daemon_rewrites_later: python -c with 'gvattack' in the code)."""
    if _tagged(tag) in _read(f"/proc/{pid}/root/sandbox/code/submission.py"):
        return True
    cmdline = _read(f"/proc/{pid}/cmdline").split(b"\0")
    code = cmdline[cmdline.index(b"-c") + 1] if b"-c" in cmdline[:-1] else b""
    if b"gvattack" in code and not os.path.exists(f"/proc/{pid}/root/sandbox"):
        return True
    for arg in cmdline:
        if arg.startswith(b"{") and b'"submission"' in arg:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                return _tagged(tag) in _read(json.loads(arg)["submission"])
    return False


def _processes() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


def _our_sandbox_folders(tag: str, *more: str) -> list[str]:
    """Sandbox folders (the grader's private folders) still holding a submission this run handed in."""
    found = []
    for folder in dict.fromkeys([*SHARED, str(getattr(engine, "SHARED_RUNTIME", "/nonexistent")) + "/sandboxes", *more]):
        for entry in _listing(folder):
            path = os.path.join(folder, entry)
            if entry.startswith("gradverify-sandbox-") and _tagged(tag) in _read(os.path.join(path, "code", "submission.py")):
                found.append(path)
    return found


def _owner_of(path: str) -> int | None:
    try:
        return os.lstat(path).st_uid
    except OSError:
        return None


class Listener:
    """Listens where network_local knocks: the first free port of PORTS on 127.0.0.1 and ::1, and
    an abstract unix socket; records every connection and datagram."""

    def __init__(self):
        self.events: list[str] = []
        self.sockets: list[socket.socket] = []
        self.port = None
        for port in PORTS:
            try:
                tcp = socket.create_server(("127.0.0.1", port))
            except OSError:
                continue
            self.port = port
            self.sockets.append(tcp)
            with contextlib.suppress(OSError):
                self.sockets.append(socket.create_server(("::1", port), family=socket.AF_INET6))
            with contextlib.suppress(OSError):
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.bind(("127.0.0.1", port))
                self.sockets.append(udp)
            break
        with contextlib.suppress(OSError):
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.bind("\0gvattack-listener")
            unix.listen()
            self.sockets.append(unix)
        for sock in self.sockets:
            sock.settimeout(0.2)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        while sock.fileno() != -1:
            try:
                if sock.type == socket.SOCK_DGRAM:
                    _data, peer = sock.recvfrom(1024)
                else:
                    conn, peer = sock.accept()
                    conn.close()
                self.events.append(f"{sock.getsockname()!r} from {peer!r}")
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


# --------------------------------------------------------------------------- #
# The report must stay inert.
# --------------------------------------------------------------------------- #

_OWN_HEADINGS = ("## Feedback", "## What the submission printed")
_OWN_TAGS = ("<details open>", "<summary>", "<b>", "</b>", "</summary>", "</details>")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_PIPE = re.compile(r"(?<!\\)\|")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: What a terminal obeys in a line the CLI prints (progress and final lines, gradverify.cli).
_TERMINAL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def outside_code_blocks(markdown: str) -> tuple[list[str], bool]:
    """The lines of `markdown` outside fenced code blocks (CommonMark's rules: a fence closes
    only with the same character, at least as long, and nothing after it), and whether every
    block was closed."""
    lines, fence = [], None
    for line in markdown.split("\n"):
        match = _FENCE.match(line)
        if fence is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
            else:
                lines.append(line)
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) and not match.group(2).strip():
            fence = None
    return lines, fence is None


def without_code_spans(line: str) -> str:
    """`line` with each inline code span (a backtick run, up to the next run of the same length,
    CommonMark's rule) replaced by `code`: what is inside one is shown literally."""
    out, i = [], 0
    while i < len(line):
        if line[i] != "`" or (i and line[i - 1] == "\\"):
            out.append(line[i])
            i += 1
            continue
        j = i
        while j < len(line) and line[j] == "`":
            j += 1
        for run in re.finditer(r"`+", line[j:]):
            if len(run.group()) == j - i:
                out.append("`code`")
                i = j + run.end()
                break
        else:
            out.append(line[i:j])
            i = j
    return "".join(out)


def report_problems(result: GradeResult, secret: str) -> list[str]:
    problems = []
    report = render_submission(result)
    lines, closed = outside_code_blocks(report)
    if not closed:
        problems.append("report: a code block is left open")
    if not lines or without_code_spans(lines[0]) != "# Grade: `code`":
        problems.append(f"report: it does not start with its own heading: {lines[0][:120] if lines else ''!r}")
    lines = [without_code_spans(line) for line in lines]
    in_table = False
    for number, line in enumerate(lines):
        if number > 0 and re.match(r"^ {0,3}#{1,6}(\s|$)", line) and line not in _OWN_HEADINGS:
            problems.append(f"report: a heading of the submission's: {line[:80]!r}")
        if re.match(r"^ {0,3}(=+|-+)\s*$", line):
            problems.append(f"report: a setext heading underline: {line[:80]!r}")
        rest = line
        for tag in _OWN_TAGS:
            rest = rest.replace(tag, "")
        if re.search(r"<[A-Za-z!/?]", rest):
            problems.append(f"report: raw HTML: {line[:120]!r}")
        if re.search(r"(?<!\\)\]\(", line):
            problems.append(f"report: a link: {line[:120]!r}")
        if line.startswith("| item | points |"):
            in_table = True
        elif in_table and not line.startswith("|"):
            in_table = False
        borders = len(_PIPE.findall(line))
        if in_table and borders != 5:
            problems.append(f"report: a table row with {borders} cell borders: {line[:120]!r}")
    if re.search(r"(?i)<script|<img", "\n".join(lines)):
        problems.append("report: <script or <img outside a code block")
    if _CONTROL.search(report):
        problems.append(f"report: a control character {_CONTROL.search(report).group()!r}")
    terminal = [grade_line(result.submission, result), *(item_line(i, len(result.items), r) for i, r in enumerate(result.items))]
    if any(_TERMINAL_CONTROL.search(line) for line in terminal):
        problems.append(f"terminal: a control character in {next(line for line in terminal if _TERMINAL_CONTROL.search(line))[:120]!r}")
    document = results_json(result)
    if document["output_format"] != "text" or any(t["output_format"] != "text" for t in document["tests"]):
        problems.append("results.json: an output_format other than text")
    everything = "\n".join([report, json.dumps(document), result.output, result.load_error or "",
                            *(f"{r.cause} {r.details} {r.hints}" for r in result.items)])
    if secret and secret in everything:
        problems.append("the secret from the grader's environment is in the result, output or report")
    return problems


# --------------------------------------------------------------------------- #
# The bench: one grader user's class folder, rubrics, canary, and the checks around a grading.
# --------------------------------------------------------------------------- #


class Bench:
    """Grades attacks as the current user and checks everything around each grading."""

    def __init__(self, folder: Path, secret: str, tag: str):
        self.folder = folder
        self.secret = secret
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.uid = os.getuid()
        self.tag = tag
        self.canary = Path(canary_path(self.user, tag))
        self.submissions = folder / "submissions"  # the class folder: each attack is handed in beside its classmates
        self.classmate = self.submissions / "classmate.py"
        self.honest = self.submissions / "honest.py"
        self.rubrics: dict[str, Rubric] = {}
        self.listener = Listener()
        self.results: dict[str, GradeResult] = {}
        self.outcomes: dict[str, dict] = {}
        self.home = Path(os.path.expanduser("~"))
        folder.chmod(0o755)
        self.submissions.mkdir(mode=0o755, exist_ok=True)  # a class folder as a grader keeps it: readable by others
        self._originals: dict[Path, bytes] = {}
        #: modes reset() gives the bench's files other than 0644 (0666 for the canary)
        self.modes: dict[Path, int] = {}
        source = (CHECKOUT / "impl" / "backprop.py").read_bytes()
        self._originals[self.classmate] = source + CLASSMATE_EXTRA
        self._originals[self.honest] = source
        for name, (check, target, points) in RUBRICS.items():
            # no seed: each grade's seed is derived from a course secret of this bench's and the file, as in a course
            text = (f'title = "attack: {name}"\nexamples = {EXAMPLES}\nitem_timeout = {ITEM_TIMEOUT}\n'
                    f'{RUBRIC_LINES.get(name, "")}\n'
                    f'[[items]]\nname = "{name}"\ntitle = "{name}"\ncheck = "{check}"\npoints = {points}\n')
            if target:
                text += f'target = "{target}"\n'
            self._originals[self.rubric_path(name)] = text.encode()
        self._originals[self.canary] = b"the canary sings\n"
        self.course_secret = secrets.token_bytes(32)
        self.reset()
        for name in RUBRICS.keys() - CARELESS:  # those are refused: their attacks load them (Bench.run)
            self.rubrics[name] = load_rubric(self.rubric_path(name))
        self._made: dict[str, tuple[bytes, list[str]]] = {}

    def rubric_path(self, name: str) -> Path:
        return self.folder / f"rubric-{name}.toml"

    def reset(self) -> None:
        """The bench's files as they were (only rewritten where an attack changed them)."""
        for path, data in self._originals.items():
            try:
                same = path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                path.write_bytes(data)
            with contextlib.suppress(PermissionError):
                path.chmod(self.modes.get(path, 0o666 if path == self.canary else 0o644))

    def warm_up(self) -> dict[str, float]:
        """Grade the honest file on every rubric with a long timeout: the references' first use
        (JAX and PyTorch imports, compilation) is slow, and the honest control must score fully."""
        return {name: grade_file(self.honest, rubric, timeout=120, memory_mb=MEMORY_MB).score
                for name, rubric in self.rubrics.items()}

    def close(self) -> None:
        self.listener.close()
        with contextlib.suppress(OSError):
            self.canary.unlink()

    # -- looks ------------------------------------------------------------------ #

    def snapshot(self) -> dict[str, Any]:
        files: dict[str, tuple] = {}
        for top in PACKAGE_TREES:
            files.update(_tree(top))
        for path in [self.classmate, self.honest, self.canary, *(self.rubric_path(n) for n in RUBRICS)]:
            files[str(path)] = _digest(str(path))
        for pth in SITE_PACKAGES.glob("*.pth"):
            files[str(pth)] = _digest(str(pth))
        for dotfile in (".bashrc", ".profile", ".bash_profile"):
            files[str(self.home / dotfile)] = _digest(str(self.home / dotfile))
        listings = {folder: _listing(folder) for folder in ["/", str(SITE_PACKAGES), str(CHECKOUT), str(self.home),
                                                            os.getcwd(), str(self.folder)]}
        return {"files": files, "listings": listings}

    @staticmethod
    def shared() -> dict[str, frozenset[str]]:
        return {folder: _listing(folder) for folder in SHARED}

    def leftovers(self, nobody_before: set[int]) -> list[int]:
        """Processes of the graded submission still alive: this user's, uid 65534's (new ones) or a
        separate-user sandbox's uid, that run a catalogue file, or that carry the sandbox's variable and descend from this
        process. (Other graders may run on the machine, e.g. another checkout grading as uid 65534;
        their processes are not this test's.)"""
        found = []
        token = f"{TOKEN_VARIABLE}=".encode()
        for pid in _processes():
            owner = _owner(pid)
            if (owner not in (self.uid, engine.NOBODY) and owner not in engine.SANDBOX_UIDS) \
                    or (owner == engine.NOBODY and pid in nobody_before) or not _alive(pid):
                continue
            if _runs_an_attack(pid, self.tag) or (token in _read(f"/proc/{pid}/environ") and _descends_from_me(pid)):
                found.append(pid)
        return found

    # -- one attack ----------------------------------------------------------------- #

    def run(self, attack: Attack, *, unsafe: bool = False, record: bool = True, source: bytes | None = None) -> dict:
        """Grade `attack` and check everything around it; the outcome, with `problems` empty when
        the grader achieved all it must. (`unsafe`: without a sandbox, to show the checks catch it;
        `source`: the attack's file as the test changed it.)"""
        began = time.monotonic()
        self.reset()
        problems: list[str] = []
        if attack.rubric_refused:
            return self._careless_rubric(attack, began, record)
        rubric = self.rubrics[attack.rubric]
        if source is None and attack.made_by:
            source, problems = self.made(attack)
            problems = list(problems)
        elif source is None:
            source = attack.source()
        submission = self.submissions / (attack.submit_as or attack.file)
        submission.write_bytes(source + _tagged(self.tag))
        submission.chmod(0o644)
        before, shared_before = self.snapshot(), self.shared()
        nobody_before = {pid for pid in _processes() if _owner(pid) == engine.NOBODY}
        events_before = len(self.listener.events)
        classmate, prober, stop, disturbed = None, None, threading.Event(), []
        if attack.classmate_running:
            classmate = Sandbox(self.classmate, call_timeout=10, import_timeout=20, memory_mb=MEMORY_MB, unsafe=unsafe)
            classmate.start()
            prober = threading.Thread(target=self._keep_classmate_busy, args=(classmate, stop, disturbed), daemon=True)
            prober.start()
        start = time.monotonic()
        result = None
        try:
            result = grade_file(submission, rubric, memory_mb=MEMORY_MB, timeout=attack.item_timeout, unsafe=unsafe,
                                secret=self.course_secret)
        except Exception as exc:  # noqa: BLE001 - that is a finding
            problems.append(f"grading raised {type(exc).__name__}: {exc}")
        wall = time.monotonic() - start
        if classmate is not None:
            stop.set()
            prober.join()
            if disturbed:
                problems.append(f"a classmate's sandbox running beside it could not work: {disturbed[0]}")
            problems += self._classmate_problems(classmate)
            classmate.close()
        budget = submission_budget(dataclasses.replace(rubric, item_timeout=attack.item_timeout or rubric.item_timeout))
        if wall > budget + 30:
            problems.append(f"grading took {wall:.0f} s, beyond the rubric's budget + 30 s")
        time.sleep(0.05)
        problems += self._compare(before, shared_before, nobody_before, "after grading")
        if attack.waits:
            time.sleep(LATER)
            problems += self._compare(before, shared_before, nobody_before, f"{LATER:g} s later")
        if len(self.listener.events) > events_before:
            problems.append(f"connections arrived: {self.listener.events[events_before:][:3]}")
        if result is not None:
            if record:
                self.results[attack.name] = result
            problems += report_problems(result, self.secret)
            if result.score > attack.honest + 1e-9:
                problems.append(f"scored {result.score:g} where its honest work earns {attack.honest:g}")
            for line in result.output.splitlines():
                if SUCCESS in line:
                    problems.append(f"the attack reports: {line.strip()[:160]}")
                    break
        if attack.probe:
            probe = grade_file(self.honest, rubric, memory_mb=MEMORY_MB, unsafe=unsafe)
            if probe.score != probe.max_score or "POISON" in probe.output:
                problems.append(f"an honest classmate graded next scored {probe.score:g} / {probe.max_score:g}: "
                                f"{probe.items[0].cause or probe.output[:120]}")
        self.reset()
        first = result.items[0] if result and result.items else None
        outcome = {"attack": attack.name, "user": self.user, "score": result.score if result else None,
                   "max": result.max_score if result else None, "seconds": round(wall, 2),
                   "sandbox": result.sandbox if result else None,
                   "cause": (result.load_error or (first.cause if first else "")) if result else "",
                   "problems": problems, "checked_in": round(time.monotonic() - began, 2)}
        if record:
            self.outcomes[attack.name] = outcome
        return outcome

    def made(self, attack: Attack) -> tuple[bytes, list[str]]:
        """The file of an attack that tests/ writes for the bench's rubric (Attack.made_by), made
        once per bench; the answer key is proven live first: graded in this process with the seed
        it was recorded with, it must earn its item in full (else its 0 under the bench's own
        seed would prove nothing: that is a problem of the outcome)."""
        if attack.name not in self._made:
            import importlib
            import types

            from gradverify.grading.items import grade_module

            maker = importlib.import_module(attack.made_by)
            rubric = self.rubrics[attack.rubric]
            text = maker.source(maker.record(rubric, 0), 0)
            module = types.ModuleType(attack.name)
            exec(compile(text, attack.file, "exec"), module.__dict__)
            control = grade_module(module, rubric, seed=0)
            dead = [] if control.score == control.max_score else [
                f"not a live key: graded with the seed it was recorded with, it scored {control.score:g} / {control.max_score:g}"]
            self._made[attack.name] = (text.encode(), dead)
        return self._made[attack.name]

    def _careless_rubric(self, attack: Attack, began: float, record: bool) -> dict:
        """An attack whose rubric must be refused: loading it raises ValueError naming the package,
        and nothing of the submission runs (no grade)."""
        problems: list[str] = []
        before, shared_before = self.snapshot(), self.shared()
        nobody_before = {pid for pid in _processes() if _owner(pid) == engine.NOBODY}
        package = re.search(r'packages = \["(\w+)"\]', RUBRIC_LINES[attack.rubric]).group(1)
        cause = ""
        try:
            load_rubric(self.rubric_path(attack.rubric))
            problems.append(f"the rubric of {RUBRIC_LINES[attack.rubric].strip()} was accepted")
        except ValueError as exc:
            cause = str(exc)
            if package not in cause:
                problems.append(f"the rubric was refused without naming {package}: {cause}")
        problems += self._compare(before, shared_before, nobody_before, "after the rubric was read")
        outcome = {"attack": attack.name, "user": self.user, "score": None, "max": None,
                   "seconds": round(time.monotonic() - began, 2), "sandbox": None, "cause": cause, "problems": problems,
                   "checked_in": round(time.monotonic() - began, 2)}
        if record:
            self.outcomes[attack.name] = outcome
        return outcome

    @staticmethod
    def _keep_classmate_busy(classmate: Sandbox, stop: threading.Event, disturbed: list[str]) -> None:
        """While the attack is graded, the classmate's sandbox (used by this thread alone) keeps
        starting a thread, as any submission may."""
        while not stop.wait(0.1):
            try:
                classmate.module.starts_a_thread()
            except Exception as exc:  # noqa: BLE001 - that is the finding
                disturbed.append(str(exc))

    def _classmate_problems(self, classmate: Sandbox) -> list[str]:
        from gradverify.impl import backprop

        rng = np.random.default_rng(0)
        net = {"layers": [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3), "activation": "tanh"}], "loss": "mse", "l2": 0.0}
        X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
        try:
            got = classmate.module.network_gradients(net, X, Y)
        except Exception as exc:  # noqa: BLE001
            return [f"a classmate's sandbox running beside it was disturbed: {exc}"]
        if not np.isclose(got[0], backprop.network_gradients(net, X, Y)[0]):
            return ["a classmate's sandbox running beside it answered wrongly"]
        return []

    def _compare(self, before: dict, shared_before: dict, nobody_before: set[int], when: str) -> list[str]:
        problems = []
        after = self.snapshot()
        changed = [path for path in before["files"].keys() | after["files"].keys()
                   if before["files"].get(path) != after["files"].get(path)]
        if changed:
            problems.append(f"{when}: the grader's files changed: {sorted(changed)[:5]}")
            self._remove_planted(changed)
        for folder, names in after["listings"].items():
            new = names - before["listings"].get(folder, frozenset())
            gone = before["listings"].get(folder, frozenset()) - names
            if folder in ("/", str(CHECKOUT), str(self.home)):  # others work there too: only what attacks would leave
                new, gone = {n for n in new if LEFT_BY_ATTACKS.match(n) or n == "autograder"}, set()
            if new or gone:
                problems.append(f"{when}: {folder} listing changed: new {sorted(new)[:5]}, gone {sorted(gone)[:5]}")
                self._remove_planted([os.path.join(folder, n) for n in new])
        # What a submission leaves in the shared folders has a name of the catalogue's or belongs to the user its
        # child runs as on the host (uid 65534, or this user when it is not root); others on the machine (other
        # test files, other graders) leave files there too.
        children = {engine.NOBODY} | ({self.uid} if self.uid != 0 else set())
        for folder, names in self.shared().items():
            new = {n for n in names - shared_before[folder] if not OTHERS.match(n)
                   and (LEFT_BY_ATTACKS.match(n) or _owner_of(os.path.join(folder, n)) in children
                        or _owner_of(os.path.join(folder, n)) in engine.SANDBOX_UIDS)}
            if new:
                problems.append(f"{when}: left in {folder}: {sorted(new)[:5]}")
                self._remove_planted([os.path.join(folder, n) for n in new if LEFT_BY_ATTACKS.match(n)])
        for folder in _our_sandbox_folders(self.tag, tempfile.gettempdir()):
            problems.append(f"{when}: the sandbox folder {folder} was left behind")
        left = self.leftovers(nobody_before)
        if left:
            problems.append(f"{when}: processes left: {[(pid, _read(f'/proc/{pid}/cmdline', 100)) for pid in left[:3]]}")
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        return problems

    @staticmethod
    def _remove_planted(paths: list[str]) -> None:
        """Remove what an attack managed to plant (only names the catalogue uses)."""
        for path in paths:
            if LEFT_BY_ATTACKS.match(os.path.basename(path)) and os.path.lexists(path):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)


# --------------------------------------------------------------------------- #
# The tests, as the current user.
# --------------------------------------------------------------------------- #

try:
    import pytest
except ImportError:  # pragma: no cover - the script run has pytest through the venv's site folder
    pytest = None

if pytest is not None:
    BWRAP = engine.bwrap_works()[0]
    IS_ROOT = os.geteuid() == 0
    RUN = "root" if IS_ROOT else "user"
    root_only = pytest.mark.skipif(not IS_ROOT, reason="needs root: it creates and runs as an ordinary user")

    def _params(run: str) -> list:
        return [pytest.param(a, id=a.name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(run, a.name)])]
                             if (run, a.name) in KNOWN_FAILURES else []) for a in CATALOGUE]

    @pytest.fixture(scope="module")
    def secret():
        """A secret in the grader's environment: set in this process (whose /proc/<pid>/environ
        keeps showing its environment as it started), and in the starting environment of a
        process of the grader's that holds it, as a grading harness would (and of the ordinary
        user's run)."""
        value = "gvsecret-" + secrets.token_hex(12)
        old = os.environ.get(SECRET_VARIABLE)
        os.environ[SECRET_VARIABLE] = value
        holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env={**os.environ},
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield value
        finally:
            holder.kill()
            holder.wait()
            if old is None:
                os.environ.pop(SECRET_VARIABLE, None)
            else:
                os.environ[SECRET_VARIABLE] = old

    @pytest.fixture(scope="module")
    def bench(secret, request):
        if not os.environ.get("GRADVERIFY_ATTACKS_SEQUENTIAL"):  # the ordinary user's run goes on beside this one
            request.getfixturevalue("ordinary_user_started")
        try:
            engine.choose()
        except engine.SandboxUnavailable as exc:
            pytest.skip(f"no sandbox here: {exc}")
        folder = Path(tempfile.mkdtemp(prefix=f"gvattack-bench-{pwd.getpwuid(os.getuid()).pw_name}-", dir="/var/tmp"))
        bench = Bench(folder, secret, secrets.token_hex(6))
        try:
            control = bench.warm_up()
            assert all(score == RUBRICS[name][2] for name, score in control.items()), f"the honest control: {control}"
            yield bench
        finally:
            bench.close()
            shutil.rmtree(folder, ignore_errors=True)
            _write_summary(RUN, bench.outcomes)

    @pytest.mark.parametrize("attack", _params(RUN))
    def test_attack_as_the_current_user(bench, attack):
        outcome = bench.run(attack)
        assert outcome["problems"] == [], f"{attack.name} ({attack.cls}): {outcome}"

    def test_the_catalogue_covers_every_class_and_each_attack_is_a_file():
        from tests.attacks import FOLDER

        assert {a.cls for a in CATALOGUE} == set(CLASSES)
        assert len(CATALOGUE) >= 25
        files = {p.name for p in FOLDER.glob("*.py")} - {"__init__.py"}
        assert files == {a.file for a in CATALOGUE if not a.made_by}
        assert all(MARKER in a.path.read_text(encoding="utf-8") for a in CATALOGUE if not a.made_by)

    def test_the_class_summary_of_every_attack_stays_inert(bench):
        if not bench.results:
            pytest.skip("no attack was graded in this run")
        summary = class_summary([results_json(r) for r in bench.results.values()])
        lines, closed = outside_code_blocks(summary)
        assert closed
        assert [line for line in lines if line.startswith("#")] == ["# Class summary", "## Most common failures"]
        assert not re.search(r"(?i)<script|<img|(?<!\\)\]\(", summary)
        assert bench.secret not in summary

    # -- the separate-user mode ---------------------------------------------------- #

    @root_only
    def test_a_forced_separate_user_mode_refuses_an_interpreter_others_cannot_reach(bench, monkeypatch):
        exe = engine.runtime()["exe"]
        if engine.reachable_by_others(exe):
            pytest.skip(f"{exe} is reachable by others, so the separate-user mode would run (see the next test)")
        modes = {path: os.stat(path).st_mode for path in engine.grader_paths()}
        monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
        with pytest.raises(engine.SandboxUnavailable, match="not reachable"):
            grade_file(BY_NAME["env_secrets"].path, bench.rubrics["loss"], memory_mb=MEMORY_MB)
        assert {path: os.stat(path).st_mode for path in engine.grader_paths()} == modes  # nothing locked on the way

    @contextlib.contextmanager
    def separate_user_mode(bench: Bench, monkeypatch):
        """The separate-user mode, forced, with what the grader closes (its own files, the rubric,
        the class folder) closed before the bench looks (engine.lock, held by this process, so
        each grade joins it), and given back afterwards by engine.unlock: every mode as it was."""
        exe = engine.runtime()["exe"]
        if not engine.reachable_by_others(exe):
            pytest.skip(f"the separate-user mode cannot run here: the grader's interpreter {exe} is not reachable by "
                        "other users; grading refuses with SandboxUnavailable (tested above)")
        rubrics = [Path(r.path) for r in bench.rubrics.values() if r.path]
        locked = [*engine.grader_paths(), *map(str, rubrics), str(bench.submissions)]
        modes = {path: stat.S_IMODE(os.stat(path).st_mode) for path in locked}
        lease = engine.lock(locked)
        bench.modes.update({path: 0o640 for path in rubrics})
        monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.USER.value)
        try:
            yield
        finally:
            for path in rubrics:
                bench.modes.pop(path, None)
            engine.unlock(lease)
            monkeypatch.delenv(engine.MODE_VARIABLE)
        assert {path: stat.S_IMODE(os.stat(path).st_mode) for path in locked} == modes, "a permission was not given back"

    @root_only
    def test_every_attack_in_the_separate_user_mode(bench, ordinary_user_done, monkeypatch):
        """The catalogue in the separate-user mode, forced (the mode of containers that forbid user
        namespaces): each submission runs as a uid of its own, with the grader's venv, package,
        checkout, rubric and class folder closed to others (engine.lock, chmod o-rwx; given back
        afterwards, once the ordinary user's run, which reads them, is over). Every attack is held
        but those of SEPARATE_USER_OPEN, the mode's documented limits (what they may still reach
        is tested on its own below). Under make test one attack of each class runs; all of them
        under make attacks (or GRADVERIFY_ATTACKS_FULL=1)."""
        # make test: one attack of each class (the mode's limits aside); make attacks: the whole catalogue
        every = os.environ.get("GRADVERIFY_ATTACKS_REPORT") or os.environ.get("GRADVERIFY_ATTACKS_FULL")
        attacks = CATALOGUE if every else [
            sorted((a for a in CATALOGUE if a.cls == cls), key=lambda a: a.name in SEPARATE_USER_OPEN)[0] for cls in CLASSES]
        with separate_user_mode(bench, monkeypatch):
            outcomes = {a.name: bench.run(a, record=False) for a in attacks}
        _write_summary("separate-user", outcomes)
        assert {o["sandbox"] for o in outcomes.values() if not BY_NAME[o["attack"]].rubric_refused} == {engine.Mode.USER.value}
        assert {name: o["problems"] for name, o in outcomes.items() if o["problems"] and name not in SEPARATE_USER_OPEN} == {}

    def only_where_the_mode_protects(source: str, bench: Bench) -> bytes:
        """copy_classmate searching only what the separate-user mode claims to protect: the bench's
        class folder (where its planted classmate is), the bench's folder, other sandboxes' folders
        and running children's /proc entries (a classmate's sandbox runs beside it). Whatever else
        on the machine it may read is the mode's documented limit (SEPARATE_USER_OPEN)."""
        patterns = ["/proc/[0-9]*/cwd/*.py", "/proc/[0-9]*/cwd/../code/submission.py", f"{bench.submissions}/*.py",
                    "/tmp/gradverify-sandbox-*/code/submission.py",
                    f"{engine.SHARED_RUNTIME}/sandboxes/gradverify-sandbox-*/code/submission.py"]
        searched, count = re.subn(r"^PATTERNS = \[.*?\]\n", f"PATTERNS = {patterns!r}\n", source, count=1, flags=re.S | re.M)
        searched, walks = re.subn(r'os\.walk\("/",', f"os.walk({str(bench.folder)!r},", searched)
        assert count == walks == 1, "copy_classmate changed: its PATTERNS or its walk from / are not where they were"
        return searched.encode()

    @root_only
    def test_in_the_separate_user_mode_no_classmate_the_mode_protects_can_be_copied(bench, ordinary_user_done, monkeypatch):
        """copy_classmate finds any classmate's file others can read on the machine (a documented
        limit of the mode: another grader's copy in /tmp did it); what the mode claims is that the
        class folder, other sandboxes' folders and a running classmate's child are out of reach,
        so it is handed in searching those alone, beside the bench's planted classmate and a
        classmate's sandbox running as it is graded."""
        attack = BY_NAME["copy_classmate"]
        assert attack.classmate_running
        source = only_where_the_mode_protects(attack.path.read_text(encoding="utf-8"), bench)
        with separate_user_mode(bench, monkeypatch):
            outcome = bench.run(attack, record=False, source=source)
        assert outcome["sandbox"] == engine.Mode.USER.value
        assert outcome["problems"] == [], outcome

    # -- as an ordinary user ---------------------------------------------------------- #

    def _ordinary_user_ready() -> str | None:
        """Why the ordinary user's run cannot happen here, or None."""
        if not IS_ROOT:
            return "not root"
        if not os.access(SYSTEM_PYTHON, os.X_OK):
            return f"{SYSTEM_PYTHON} is missing (the ordinary user needs an interpreter outside /root)"
        done = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if done.stdout.strip() != str(sys.version_info[:2]):
            return f"{SYSTEM_PYTHON} is Python {done.stdout.strip()}, the venv's packages are for {sys.version_info[:2]}"
        return None

    #: What the ordinary user's run reads of the checkout (besides the venv's site-packages).
    READ_BY_THE_ORDINARY_USER = ("pyproject.toml", "gradverify", "properties", "impl", "references", "tests")

    def _readable_by_others() -> bool:
        """Whether the ordinary user can read the checkout and the venv where they are."""
        return all(engine.reachable_by_others(str(path)) for path in (
            SITE_PACKAGES / "numpy" / "__init__.py", CHECKOUT / "gradverify" / "__init__.py",
            CHECKOUT / "tests" / "attacks" / "__init__.py", Path(__file__)))

    def _link_tree(source: Path, target: Path) -> None:
        """`source` at `target`: files hard-linked, or copied (across filesystems, or when others
        cannot read the file: a link shares the file's mode, a copy is made readable)."""
        def link(src: str, dst: str) -> None:
            if os.stat(src).st_mode & 0o004:
                try:
                    os.link(src, dst)
                    return
                except OSError:
                    pass
            shutil.copy2(src, dst)
            os.chmod(dst, 0o644)

        shutil.copytree(source, target, symlinks=True, copy_function=link, ignore=shutil.ignore_patterns("__pycache__"))

    def readable_copy(top: Path) -> Path:
        """The checkout's READ_BY_THE_ORDINARY_USER and the venv's site-packages under `top` (a
        folder others may enter), laid out as in the checkout: for a clone that sits where other
        users cannot enter (a `mktemp -d` folder, 0700). The files are hard links of the checkout's
        (root's, readable, not writable by the ordinary user: what it changes through them shows in
        the checkout), the folders root's and 0755; setuptools' editable finder is the one file
        rewritten, mapping the gradverify package to the copy's folders instead of the checkout's."""
        copy = top / "checkout"
        copy.mkdir()
        for name in READ_BY_THE_ORDINARY_USER:
            source = CHECKOUT / name
            if source.is_dir():
                _link_tree(source, copy / name)
            elif source.is_file():
                shutil.copy2(source, copy / name)
        site = copy / SITE_PACKAGES.relative_to(CHECKOUT)
        _link_tree(SITE_PACKAGES, site)
        for finder in site.glob("__editable__*finder.py"):
            text = finder.read_text(encoding="utf-8")
            mapped = text
            for name in ("gradverify", "properties", "impl", "references"):
                mapped = mapped.replace(repr(str(CHECKOUT / name)), repr(str(copy / name)))
            if mapped == text:
                raise RuntimeError(f"{finder} maps gradverify to no folder of {CHECKOUT}: the venv is not this checkout's")
            finder.unlink()  # a link of the venv's own file: replaced, never written through
            finder.write_text(mapped, encoding="utf-8")
        for root, _dirs, _files in os.walk(top):
            os.chmod(root, 0o755)
        for path in (copy / "pyproject.toml", *site.glob("__editable__*finder.py")):
            with contextlib.suppress(FileNotFoundError):
                path.chmod(0o644)
        return copy

    class OrdinaryUserRun:
        """The ordinary user's run: started before this process grades its own attacks, so the two
        go side by side (each bench tells its processes and files by their owner), finished
        when its results are first wanted."""

        def __init__(self, secret: str):
            try:
                pwd.getpwnam(ORDINARY_USER)
            except KeyError:
                subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", ORDINARY_USER], check=True)
            self.user = pwd.getpwnam(ORDINARY_USER)
            self.folder = Path(tempfile.mkdtemp(prefix=f"gvattack-bench-{ORDINARY_USER}-", dir="/var/tmp"))
            for sub in ("home", "cache", "tmp", "bench"):
                (self.folder / sub).mkdir(mode=0o755)
            for path in (self.folder, *(self.folder / sub for sub in ("home", "cache", "tmp", "bench"))):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            # the user's own only: its bench opens its class folder to others as a grader keeps one,
            # and the separate-user run going on beside it (another uid) must not find those files
            self.folder.chmod(0o700)
            # the checkout and the venv where the ordinary user can read them: as they are, or a copy
            self.copy_folder = None if _readable_by_others() else Path(tempfile.mkdtemp(prefix="gvattack-code-", dir="/var/tmp"))
            self.checkout = readable_copy(self.copy_folder) if self.copy_folder else CHECKOUT
            self.tag = secrets.token_hex(6)
            self.canary = Path(canary_path(ORDINARY_USER, self.tag))
            self.canary.write_text("the canary sings\n")
            self.canary.chmod(0o666)
            self.before = {top: _tree(top) for top in PACKAGE_TREES}
            self.site_before = _listing(str(SITE_PACKAGES))
            self.shared_before = Bench.shared()
            self.out = self.folder / "summary.json"
            self.log = open(self.folder / "log.txt", "w+")  # noqa: SIM115 - closed in close()
            env = {"PATH": "/usr/bin:/bin", "HOME": str(self.folder / "home"), "XDG_CACHE_HOME": str(self.folder / "cache"),
                   "TMPDIR": str(self.folder / "tmp"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                   SECRET_VARIABLE: secret}
            self.start = time.monotonic()
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(self.checkout / Path(__file__).relative_to(CHECKOUT)),
                 "--site", str(self.checkout / SITE_PACKAGES.relative_to(CHECKOUT)), "--bench", str(self.folder / "bench"), "--out", str(self.out),
                 "--tag", self.tag],
                user=ORDINARY_USER, group=ORDINARY_USER, extra_groups=[], env=env, cwd=self.folder / "home",
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
            self.result: dict | None = None

        def finish(self) -> dict:
            if self.result is not None:
                return self.result
            try:
                code = self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
            seconds = time.monotonic() - self.start
            self.log.seek(0)
            log = self.log.read()[-3000:]
            problems = []
            if code != 0 or not self.out.is_file():
                problems.append(f"the ordinary user's run failed (exit {code}): {log}")
            summary = json.loads(self.out.read_text()) if self.out.is_file() else {}
            # What root sees of the whole run: the checkout, the venv, the canary, processes and files of the user.
            time.sleep(0.2)
            for top, before in self.before.items():
                after = _tree(top)
                if after != before:
                    problems.append(f"the ordinary user's run changed {top}: "
                                    f"{sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))[:5]}")
            if _listing(str(SITE_PACKAGES)) != self.site_before:
                problems.append("the ordinary user's run changed the venv's site-packages")
            if self.canary.read_text() != "the canary sings\n":
                problems.append("the ordinary user's run changed its canary")
            left = [pid for pid in _processes() if _owner(pid) in (self.user.pw_uid, engine.NOBODY) and _alive(pid)
                    and _runs_an_attack(pid, self.tag)]
            if left:
                problems.append(f"processes of the ordinary user left: {[(p, _read(f'/proc/{p}/cmdline', 100)) for p in left[:3]]}")
                for pid in left:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            for shared_folder, names in Bench.shared().items():
                for name in names - self.shared_before[shared_folder]:
                    path = os.path.join(shared_folder, name)
                    with contextlib.suppress(OSError):
                        if os.lstat(path).st_uid == self.user.pw_uid and not OTHERS.match(name):
                            problems.append(f"the ordinary user's run left {path}")
                            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
            self.result = {"outcomes": summary.get("outcomes", {}), "control": summary.get("control"),
                           "problems": problems, "seconds": round(seconds, 1), "log": log}
            _write_summary("user", self.result["outcomes"])
            return self.result

        def close(self) -> None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            if self.copy_folder is not None:
                shutil.rmtree(self.copy_folder, ignore_errors=True)
            if not any(_owner(pid) == self.user.pw_uid for pid in _processes()):  # no other run of the user's goes on
                for shared_folder in SHARED:  # the grader's own PyTorch cache (torchinductor_gvattack), if this run made it
                    for name in _listing(shared_folder) - self.shared_before[shared_folder]:
                        path = os.path.join(shared_folder, name)
                        if name.startswith("torchinductor_") and _owner_of(path) == self.user.pw_uid:
                            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):
                self.canary.unlink()

    @pytest.fixture(scope="module")
    def ordinary_user_started(secret):
        """The ordinary user's run, started (None, with the reason, where it cannot happen)."""
        why = _ordinary_user_ready()
        run = None if why else OrdinaryUserRun(secret)
        try:
            yield run, why
        finally:
            if run is not None:
                run.close()

    @pytest.fixture(scope="module")
    def ordinary_user_run(ordinary_user_started):
        run, why = ordinary_user_started
        if run is None:
            pytest.skip(f"the ordinary user's run cannot happen here: {why}")
        return run.finish()

    @root_only
    def test_the_ordinary_users_run_graded_everything_and_left_nothing(ordinary_user_run):
        assert ordinary_user_run["problems"] == []
        assert ordinary_user_run["control"] == {name: float(points) for name, (_c, _t, points) in RUBRICS.items()
                                                if name not in CARELESS}
        assert set(ordinary_user_run["outcomes"]) == set(BY_NAME)

    @root_only
    @pytest.mark.parametrize("attack", _params("user"))
    def test_attack_as_an_ordinary_user(ordinary_user_run, attack):
        outcome = ordinary_user_run["outcomes"].get(attack.name)
        assert outcome is not None, f"not graded in the ordinary user's run: {ordinary_user_run['log']}"
        assert outcome["sandbox"] == (None if attack.rubric_refused else engine.Mode.BWRAP.value)
        assert outcome["problems"] == [], f"{attack.name} ({attack.cls}): {outcome}"


# --------------------------------------------------------------------------- #
# The ordinary user's run: this file as a script.
# --------------------------------------------------------------------------- #


def main(argv: list[str]) -> int:
    folder = Path(argv[argv.index("--bench") + 1])
    out = Path(argv[argv.index("--out") + 1])
    bench = Bench(folder, os.environ.get(SECRET_VARIABLE, ""), argv[argv.index("--tag") + 1])
    try:
        control = bench.warm_up()
        for attack in CATALOGUE:
            bench.run(attack)
    finally:
        bench.close()
    out.write_text(json.dumps({"control": control, "outcomes": bench.outcomes}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))


if pytest is not None:
    #: Attacks the checks must catch when nothing isolates them.
    #: (daemon_rewrites_later is left out: whether its daemon acts within the bench's pause depends on the
    #: machine's load, and a check that passes by timing proves nothing)
    CAUGHT_WITHOUT_SANDBOX = ("import_gradverify_impl", "env_secrets", "network_local")

    @pytest.fixture(scope="module")
    def ordinary_user_done(ordinary_user_started):
        """The ordinary user's run, if it is going on, is over (its bench must not see what follows)."""
        run, _why = ordinary_user_started
        if run is not None:
            run.finish()

    def test_the_checks_catch_attacks_graded_without_a_sandbox(bench, ordinary_user_done, monkeypatch):
        """The checks can fail: with --unsafe-no-sandbox, these attacks score, leak the secret,
        connect to the listener, and leave a daemon that rewrites the canary; the bench sees each."""
        monkeypatch.setenv(engine.MODE_VARIABLE, engine.Mode.NONE.value)
        for name in CAUGHT_WITHOUT_SANDBOX:
            outcome = bench.run(BY_NAME[name], unsafe=True, record=False)
            assert outcome["sandbox"] == engine.Mode.NONE.value
            assert outcome["problems"], f"{name} went unnoticed without a sandbox: {outcome}"
