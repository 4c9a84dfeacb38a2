"""The bench of the attack catalogue (tests/attacks/): grades one attack and checks all around it.

A `Bench` grades an attack with `grade_file` against a one-item rubric (two examples, a 4 s item
timeout, 512 MB for the whole submission) and checks what the grader must achieve besides the
score: nothing outside the sandbox changed (the gradverify package, impl/, references/, the
venv's site-packages, the rubric, a classmate's file next to the submission, a canary in /tmp),
again after a pause where the attack left something that could act later; no process of the
submission is left; nothing new in /tmp, /var/tmp, /dev/shm; no connection reached a port the
bench listens on; the secret in the grader's environment appears nowhere; the Markdown report
and results.json stay inert; a classmate's sandbox running beside some attacks keeps working; an
honest classmate graded after some attacks still scores fully; and the attack reported no
success of its own.

Each bench appends a line with its own tag to the submissions it hands in, so that it tells
its processes and sandbox folders from those of other graders on the machine (other test
files, other runs of the catalogue). tests/test_attacks.py runs benches; tests/attack_runs.py
runs one as an ordinary user.
"""

from __future__ import annotations

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
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from gradverify.cli import grade_line, item_line
from gradverify.grading.feedback import render_submission, results_json
from gradverify.grading.items import GradeResult, grade_file, submission_budget
from gradverify.grading.rubric import Rubric, load_rubric
from gradverify.sandbox import engine
from gradverify.sandbox.host import Sandbox
from gradverify.sandbox.processes import TOKEN_VARIABLE
from tests.attacks import CATALOGUE, MARKER, PORTS, RUBRIC_LINES, RUBRICS, SUCCESS, Attack

CHECKOUT = Path(__file__).resolve().parents[1]
#: The rubrics a careless TA would write, which must be refused (Attack.rubric_refused).
CARELESS = frozenset(a.rubric for a in CATALOGUE if a.rubric_refused)
PACKAGE_TREES = [
    CHECKOUT / "gradverify",
    CHECKOUT / "properties",
    CHECKOUT / "impl",
    CHECKOUT / "references",
    CHECKOUT / "tests" / "attacks",
]
SITE_PACKAGES = CHECKOUT / ".venv" / "lib" / "python3.11" / "site-packages"
SHARED = ("/tmp", "/var/tmp", "/dev/shm")
#: Entries of the shared folders that others make while the catalogue runs (pytest-xdist runs
#: another test file beside it): pytest's folders, other tests' sandbox folders (a bench's
#: own are checked by content, `_our_sandbox_folders`), test_sandbox_isolation's
#: grader-* folders, tempfile's default names, pip's (test_layout installs with pip --target), the
#: benches and the ordinary user's readable copy of the checkout, the CLI's canary
#: (another grader's), and PyTorch's cache of the grader's own references (torchinductor_<user>).
OTHERS = re.compile(
    r"^(pytest-of-|gradverify-sandbox-|gradverify-canary-|grader-|tmp[a-z0-9_]{8}$|gvattack-bench-|"
    r"gvattack-canary-|gvattack-code-|torchinductor_|pip-)"
)
#: Names the attacks leave in shared folders (cleaned up when an attack managed it).
LEFT_BY_ATTACKS = re.compile(
    r"^(gvattack|results\.json$|submission\.py$|work$|sitecustomize\.py$|usercustomize\.py$|"
    r"numpy\.py$|codec\.py$|worker\.py$|json\.py$)"
)
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


def canary_path(user: str, tag: str) -> str:
    """The canary of one bench: a file anyone may write (mode 0666) in /tmp, as CANARY_GLOB finds it."""
    return f"/tmp/gvattack-canary-{user}-{tag}"


EXAMPLES, ITEM_TIMEOUT, MEMORY_MB = 2, 4, 512
#: A pause after grading before the second look, for attacks that leave something acting later.
LATER = 1.0


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


def names_in(folder: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset({"<unreadable>"})


def files_under(top: Path) -> dict[str, tuple]:
    found = {str(top): _digest(str(top))}
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__"]  # bytecode the grader itself (or another test) writes
        for name in dirs + files:
            path = os.path.join(root, name)
            found[path] = _digest(path)
    return found


def read_head(path: str, limit: int = 1 << 20) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""


def process_owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def is_alive(pid: int) -> bool:
    stat_line = read_head(f"/proc/{pid}/stat", 4096)
    return bool(stat_line) and stat_line.rsplit(b")", 1)[1].split()[0] != b"Z"


def _parent(pid: int) -> int:
    stat_line = read_head(f"/proc/{pid}/stat", 4096)
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
    from those of another run of the catalogue (or of another grader) on the same machine."""
    return f"\n# {MARKER}: run {tag}\n".encode()


def runs_an_attack(pid: int, tag: str) -> bool:
    """Whether the process runs a submission this run handed in: seen through bubblewrap's root,
    or the submission path in the worker's command line (the other modes), or a fresh interpreter
    an attack started outside any sandbox (daemon_rewrites_later: python -c with 'gvattack' in the code)."""
    if _tagged(tag) in read_head(f"/proc/{pid}/root/sandbox/code/submission.py"):
        return True
    cmdline = read_head(f"/proc/{pid}/cmdline").split(b"\0")
    code = cmdline[cmdline.index(b"-c") + 1] if b"-c" in cmdline[:-1] else b""
    if b"gvattack" in code and not os.path.exists(f"/proc/{pid}/root/sandbox"):
        return True
    for arg in cmdline:
        if arg.startswith(b"{") and b'"submission"' in arg:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                return _tagged(tag) in read_head(json.loads(arg)["submission"])
    return False


def other_processes() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


def _our_sandbox_folders(tag: str, *more: str) -> list[str]:
    """Sandbox folders (the grader's private folders) still holding a submission this run handed in."""
    found = []
    for folder in dict.fromkeys([*SHARED, str(getattr(engine, "SHARED_RUNTIME", "/nonexistent")) + "/sandboxes", *more]):
        for entry in names_in(folder):
            path = os.path.join(folder, entry)
            if entry.startswith("gradverify-sandbox-") and _tagged(tag) in read_head(os.path.join(path, "code", "submission.py")):
                found.append(path)
    return found


def path_owner(path: str) -> int | None:
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
        problems.append(
            f"terminal: a control character in {next(line for line in terminal if _TERMINAL_CONTROL.search(line))[:120]!r}"
        )
    document = results_json(result)
    if document["output_format"] != "text" or any(t["output_format"] != "text" for t in document["tests"]):
        problems.append("results.json: an output_format other than text")
    everything = "\n".join(
        [
            report,
            json.dumps(document),
            result.output,
            result.load_error or "",
            *(f"{r.reason} {r.details} {r.hints}" for r in result.items),
        ]
    )
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
            text = (
                f'title = "attack: {name}"\nexamples = {EXAMPLES}\nitem_timeout = {ITEM_TIMEOUT}\n'
                f"{RUBRIC_LINES.get(name, '')}\n"
                f'[[items]]\nname = "{name}"\ntitle = "{name}"\ncheck = "{check}"\npoints = {points}\n'
            )
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
        return {
            name: grade_file(self.honest, rubric, timeout=120, memory_mb=MEMORY_MB).score for name, rubric in self.rubrics.items()
        }

    def close(self) -> None:
        self.listener.close()
        with contextlib.suppress(OSError):
            self.canary.unlink()

    # -- looks ------------------------------------------------------------------ #

    def snapshot(self) -> dict[str, Any]:
        files: dict[str, tuple] = {}
        for top in PACKAGE_TREES:
            files.update(files_under(top))
        for path in [self.classmate, self.honest, self.canary, *(self.rubric_path(n) for n in RUBRICS)]:
            files[str(path)] = _digest(str(path))
        for pth in SITE_PACKAGES.glob("*.pth"):
            files[str(pth)] = _digest(str(pth))
        for dotfile in (".bashrc", ".profile", ".bash_profile"):
            files[str(self.home / dotfile)] = _digest(str(self.home / dotfile))
        listings = {
            folder: names_in(folder)
            for folder in ["/", str(SITE_PACKAGES), str(CHECKOUT), str(self.home), os.getcwd(), str(self.folder)]
        }
        return {"files": files, "listings": listings}

    @staticmethod
    def shared() -> dict[str, frozenset[str]]:
        return {folder: names_in(folder) for folder in SHARED}

    def leftovers(self, nobody_before: set[int]) -> list[int]:
        """Processes of the graded submission still alive: this user's, uid 65534's (new ones) or a
        separate-user sandbox's uid, that run a catalogue file, or that carry the sandbox's variable and descend from this
        process. (Other graders may run on the machine, e.g. another checkout grading as uid 65534;
        their processes are not this test's.)"""
        found = []
        token = f"{TOKEN_VARIABLE}=".encode()
        for pid in other_processes():
            owner = process_owner(pid)
            if (
                (owner not in (self.uid, engine.NOBODY) and owner not in engine.SANDBOX_UIDS)
                or (owner == engine.NOBODY and pid in nobody_before)
                or not is_alive(pid)
            ):
                continue
            if runs_an_attack(pid, self.tag) or (token in read_head(f"/proc/{pid}/environ") and _descends_from_me(pid)):
                found.append(pid)
        return found

    # -- one attack ----------------------------------------------------------------- #

    def run(self, attack: Attack, *, unsafe: bool = False, record: bool = True, source: bytes | None = None) -> dict:
        """Grade `attack` and check everything around it; the outcome, with `problems` empty when
        the grader achieved all it must. (`unsafe`: without a sandbox, to show the checks catch it;
        `source`: the attack's file as the test changed it.)"""
        began = time.monotonic()
        self.reset()
        if attack.rubric_refused:
            return self._careless_rubric(attack, began, record)
        rubric = self.rubrics[attack.rubric]
        submission, problems = self._write_submission(attack, source)
        before, shared_before = self.snapshot(), self.shared()
        nobody_before = {pid for pid in other_processes() if process_owner(pid) == engine.NOBODY}
        events_before = len(self.listener.events)
        result, wall, grading_problems = self._grade(attack, submission, rubric, unsafe)
        problems += grading_problems
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
            problems += self._result_problems(attack, result)
        if attack.probe:
            problems += self._probe_problems(rubric, unsafe)
        self.reset()
        outcome = self._outcome(attack, result, wall, problems, began)
        if record:
            self.outcomes[attack.name] = outcome
        return outcome

    def _grade(
        self, attack: Attack, submission: Path, rubric: Rubric, unsafe: bool
    ) -> tuple[GradeResult | None, float, list[str]]:
        """Grade `submission`, beside a classmate's sandbox kept busy when the attack asks for one
        (Attack.classmate_running): the result (None when grading raised), its wall time, and the
        problems: grading raising, the classmate's sandbox disturbed."""
        problems: list[str] = []
        classmate, prober, stop, disturbed = None, None, threading.Event(), []
        if attack.classmate_running:
            classmate = Sandbox(self.classmate, call_timeout=10, import_timeout=20, memory_mb=MEMORY_MB, unsafe=unsafe)
            classmate.start()
            prober = threading.Thread(target=self._keep_classmate_busy, args=(classmate, stop, disturbed), daemon=True)
            prober.start()
        start = time.monotonic()
        result = None
        try:
            result = grade_file(
                submission, rubric, memory_mb=MEMORY_MB, timeout=attack.item_timeout, unsafe=unsafe, secret=self.course_secret
            )
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
        return result, wall, problems

    def _outcome(self, attack: Attack, result: GradeResult | None, wall: float, problems: list[str], began: float) -> dict:
        """What `run` returns and records of one attack: its grade (None when grading raised), where
        it ran, the first item's cause and the problems found."""
        first = result.items[0] if result and result.items else None
        return {
            "attack": attack.name,
            "user": self.user,
            "score": result.score if result else None,
            "max": result.max_score if result else None,
            "seconds": round(wall, 2),
            "sandbox": result.sandbox if result else None,
            "cause": (result.load_error or (first.reason if first else "")) if result else "",
            "problems": problems,
            "checked_in": round(time.monotonic() - began, 2),
        }

    def _write_submission(self, attack: Attack, source: bytes | None) -> tuple[Path, list[str]]:
        """The attack's file in the submissions folder, tagged (as the test changed it, made by
        tests/ for the rubric, or as written), and the problems of making it."""
        problems: list[str] = []
        if source is None and attack.made_by:
            source, made_problems = self.made(attack)
            problems = list(made_problems)
        elif source is None:
            source = attack.source()
        submission = self.submissions / (attack.submit_as or attack.file)
        submission.write_bytes(source + _tagged(self.tag))
        submission.chmod(0o644)
        return submission, problems

    def _result_problems(self, attack: Attack, result) -> list[str]:
        """What is wrong with the grade itself: its reports, a score above the honest work's, the
        attack's own success line in its output."""
        problems = report_problems(result, self.secret)
        if result.score > attack.honest + 1e-9:
            problems.append(f"scored {result.score:g} where its honest work earns {attack.honest:g}")
        for line in result.output.splitlines():
            if SUCCESS in line:
                problems.append(f"the attack reports: {line.strip()[:160]}")
                break
        return problems

    def _probe_problems(self, rubric, unsafe: bool) -> list[str]:
        """An honest classmate graded next must score in full, unpoisoned."""
        probe = grade_file(self.honest, rubric, memory_mb=MEMORY_MB, unsafe=unsafe)
        if probe.score != probe.max_score or "POISON" in probe.output:
            return [
                f"an honest classmate graded next scored {probe.score:g} / {probe.max_score:g}: "
                f"{probe.items[0].reason or probe.output[:120]}"
            ]
        return []

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
            dead = (
                []
                if control.score == control.max_score
                else [
                    f"not a live key: graded with the seed it was recorded with, it scored {control.score:g} / {control.max_score:g}"
                ]
            )
            self._made[attack.name] = (text.encode(), dead)
        return self._made[attack.name]

    def _careless_rubric(self, attack: Attack, began: float, record: bool) -> dict:
        """An attack whose rubric must be refused: loading it raises ValueError naming the package,
        and nothing of the submission runs (no grade)."""
        problems: list[str] = []
        before, shared_before = self.snapshot(), self.shared()
        nobody_before = {pid for pid in other_processes() if process_owner(pid) == engine.NOBODY}
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
        outcome = {
            "attack": attack.name,
            "user": self.user,
            "score": None,
            "max": None,
            "seconds": round(time.monotonic() - began, 2),
            "sandbox": None,
            "cause": cause,
            "problems": problems,
            "checked_in": round(time.monotonic() - began, 2),
        }
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
        net = {
            "layers": [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3), "activation": "tanh"}],
            "loss": "mse",
            "l2": 0.0,
        }
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
        changed = [
            path
            for path in before["files"].keys() | after["files"].keys()
            if before["files"].get(path) != after["files"].get(path)
        ]
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
            new = {
                n
                for n in names - shared_before[folder]
                if not OTHERS.match(n)
                and (
                    LEFT_BY_ATTACKS.match(n)
                    or path_owner(os.path.join(folder, n)) in children
                    or path_owner(os.path.join(folder, n)) in engine.SANDBOX_UIDS
                )
            }
            if new:
                problems.append(f"{when}: left in {folder}: {sorted(new)[:5]}")
                self._remove_planted([os.path.join(folder, n) for n in new if LEFT_BY_ATTACKS.match(n)])
        for folder in _our_sandbox_folders(self.tag, tempfile.gettempdir()):
            problems.append(f"{when}: the sandbox folder {folder} was left behind")
        left = self.leftovers(nobody_before)
        if left:
            problems.append(f"{when}: processes left: {[(pid, read_head(f'/proc/{pid}/cmdline', 100)) for pid in left[:3]]}")
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
