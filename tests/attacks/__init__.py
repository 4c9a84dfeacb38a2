"""A catalogue of hostile submissions: what a student who attacks the grader would hand in.

Each attack is one file here, a whole submission (it defines the protocol functions it
needs, like grading/student_template.py) that tries one kind of mischief against the
grader or its sandbox; or, for the attacks that are the model solution with one part changed,
only that part (Attack.on_model_solution: what is handed in is impl/backprop.py with the file
appended, so the attack is never a stale copy of the model solution). tests/test_attacks.py grades every one against a one-item rubric
and checks what the grader must achieve:

- ``score 0``: the attack does no honest work, so it must earn nothing;
- ``scored only for honest work``: the attack also implements its item honestly (the
  mse loss, 10 points) and may earn those points, but nothing it did besides may show
  outside the sandbox.

In both cases nothing outside the sandbox may change (the grader's package, the venv, the
rubric, a classmate's file, a canary in /tmp, the shared temporary folders), no process may
be left, no secret may leak, no connection may arrive, the report must stay inert, and the
attack must not report a success of its own (it prints ``ATTACK-SUCCEEDED: ...`` when it
managed something from inside).

Attacks do not know where the grader keeps its files; they search, or try the paths a
grader is known to use (/work/main, /autograder, the venv). Where an attack would harm
the machine if the sandbox failed (kill -9 -1, SIGSTOP of the grader, changing the
grader's own files), it checks first whether it is evidently outside any sandbox (it sees
more than 30 processes) and then only reports what it could have done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FOLDER = Path(__file__).resolve().parent
MODEL_SOLUTION = FOLDER.parents[1] / "impl" / "backprop.py"
#: Every attack file carries this line, so that the tests can tell its processes and folders.
MARKER = "gradverify attack catalogue"
#: What an attack prints when it managed something from inside the sandbox.
SUCCESS = "ATTACK-SUCCEEDED"
#: The canary file an attack tries to change, and the ports a test listens on.
CANARY_GLOB = "/tmp/gvattack-canary*"
PORTS = (47391, 47392, 47393, 47394)

CLASSES = (
    "cheating by import or file search",
    "answer keys",
    "autodiff libraries",
    "numerical differentiation instead of backprop",
    "rubric loopholes",
    "tampering with grader files/venv/results",
    "persistence into later runs",
    "background processes",
    "spying on / sabotaging classmates",
    "killing the grader",
    "secrets (env vars) and network",
    "memory / process / disk / CPU exhaustion",
    "huge and malformed replies",
    "report injection",
)

#: The one-item rubrics an attack is graded against: check, target, points.
RUBRICS = {
    "loss": ("loss", "mse", 10),
    "network": ("network", None, 10),
    "l2": ("l2", None, 10),
    "train_loop": ("train_loop", None, 10),
    "network_without_cost_check": ("network", None, 10),
    "packages_gradverify": ("network", None, 10),
    "packages_jax": ("network", None, 10),
}
#: What some of those rubrics say besides (careless ones among them, as a TA might write them).
RUBRIC_LINES = {
    # an answer key fails the cost check whatever the seed (its network is drawn afresh): without
    # the check, the seed alone must defeat it
    "network_without_cost_check": "require_backprop = false\n",
    "packages_gradverify": 'packages = ["gradverify"]\n',
    "packages_jax": 'packages = ["jax"]\n',
}


def corner_share(right: Callable[[object], bool]) -> float:
    """The share of the network item's domain (grading/domain.py, no adapter, nothing charged
    elsewhere) that a file earns when the components for which `right(component)` holds are
    right and every other one is not: what a refusing or corner-only file may score at most."""
    from gradverify.grading import domain

    credit = domain.Credit(tuple(domain.ComponentResult(c, domain.Verdict.RIGHT if right(c) else domain.Verdict.REFUSED)
                                 for c in domain.components()))
    return credit.share


def _points_of(share: float, points: float = 10) -> float:
    return round(points * share, 2)  # as grading.items scores a composite item


@dataclass(frozen=True)
class Attack:
    name: str
    cls: str
    description: str
    #: the one-item rubric it is graded against (RUBRICS)
    rubric: str = "loss"
    #: the points its honest part earns: the most it may score
    honest: float = 0.0
    #: the file name it is handed in under (default: its own)
    submit_as: str | None = None
    #: it leaves something that would act later: the grader's side is looked at again after a while
    waits: bool = False
    #: an honest classmate is graded right after it and must be unaffected
    probe: bool = False
    #: an honest classmate's sandbox runs while it is graded (and keeps starting a thread), and must be unaffected
    classmate_running: bool = False
    #: a shorter item timeout (seconds) for attacks that only hang, to keep the catalogue quick
    item_timeout: float | None = None
    #: the rubric must be refused before anything of the submission runs (a careless rubric)
    rubric_refused: bool = False
    #: the module of tests/ that writes the file for the bench's rubric (it has none in tests/attacks)
    made_by: str | None = None
    #: its file holds only what it changes: it is handed in as impl/backprop.py with the file appended
    on_model_solution: bool = False

    @property
    def file(self) -> str:
        return f"{self.name}.py"

    @property
    def path(self) -> Path:
        return FOLDER / self.file

    def source(self) -> bytes:
        """What is handed in (but for a `made_by` attack, which the bench makes): the file, after
        the model solution when `on_model_solution`."""
        own = self.path.read_bytes()
        return MODEL_SOLUTION.read_bytes() + b"\n\n" + own if self.on_model_solution else own

    @property
    def must(self) -> str:
        if self.rubric_refused:
            return "the rubric refused"
        return "score 0" if self.honest == 0 else f"at most {self.honest:g} (its honest work)"


(C_IMPORT, C_KEYS, C_AUTODIFF, C_NUMERICAL, C_RUBRIC, C_TAMPER, C_PERSIST, C_BACKGROUND, C_CLASSMATES, C_KILL, C_SECRETS, C_EXHAUST,
 C_REPLIES, C_REPORT) = CLASSES

CATALOGUE: tuple[Attack, ...] = (
    # -- cheating by import or file search
    Attack("import_gradverify_impl", C_IMPORT, "from gradverify.impl.backprop import * (the grader's own model solution)", "network"),
    Attack("import_impl_backprop", C_IMPORT, "from impl.backprop import *, after putting likely checkout folders on sys.path", "network"),
    Attack("import_reference_backends", C_IMPORT, "the grader's PyTorch and JAX references as the implementation", "network"),
    Attack("filesystem_search", C_IMPORT, "os.walk from / for backprop.py or any file defining network_gradients, exec the first that works", "network"),
    Attack("known_paths_and_proc", C_IMPORT, "read the solution through known paths, /proc/*/root, /proc/*/cwd and cached .pyc files", "network"),
    # -- answer keys
    Attack("answer_key", C_KEYS, "no computation: each function looks its answer up by the hash of its inputs, in a key recorded "
           "from the model solution graded with seed 0 (the seed every grade used when the rubric fixed it); made by "
           "tests/answer_key.py for the bench's rubric, whose cost check is off so that the seed alone must defeat it",
           "network_without_cost_check", made_by="tests.answer_key"),
    # -- autodiff libraries
    Attack("autodiff_torch", C_AUTODIFF, "network_gradients by torch.autograd (after adding the venv to sys.path)", "network"),
    Attack("autodiff_jax", C_AUTODIFF, "network_gradients by jax.grad (after adding the venv to sys.path)", "network"),
    Attack("autodiff_any_library", C_AUTODIFF, "try every third-party library that could differentiate or cheat (autograd, scipy, sympy, ...)", "network"),
    # -- numerical differentiation instead of backprop
    Attack("complex_step_gradients", C_NUMERICAL, "network_gradients by complex-step differentiation of its own forward pass "
           "(exact to rounding, one complex forward pass per parameter); the rest is the model solution", "network", on_model_solution=True),
    Attack("extrapolated_differences", C_NUMERICAL, "network_gradients by twice Richardson-extrapolated central differences "
           "of its own forward pass (six forward passes per parameter); the rest is the model solution", "network", on_model_solution=True),
    # -- rubric loopholes
    Attack("l2_term_only", C_RUBRIC, "network_gradients returns only the L2 term and its gradient", "l2"),
    Attack("train_raises_like_steps", C_RUBRIC, "sgd_momentum_step, train and network_gradients all raise the same error", "train_loop"),
    Attack("train_loop_degenerate_steps", C_RUBRIC, "zero gradients, a no-op step and a train that returns the net and [0.0] per batch: agrees with its own loop", "train_loop"),
    Attack("lying_values", C_RUBRIC, "returns NaN, inf, objects whose __eq__/__float__/__array__ lie, ndarray subclasses", "loss"),
    Attack("modify_inputs", C_RUBRIC, "changes the arrays and dicts it is given in place, returns them as its results", "network"),
    Attack("refuses_wrong_tanh", C_RUBRIC, "its tanh derivative is wrong inside the network, so network_gradients refuses every "
           "network with tanh (NotImplementedError): a refusal must cost what the wrong answer costs, tanh's share",
           "network", _points_of(corner_share(lambda c: c.activation != "tanh")), on_model_solution=True),
    Attack("one_corner_only", C_RUBRIC, "network_gradients handles identity layers under mse only and refuses the rest: it "
           "earns that corner's share (mse × identity, hidden identity), not the item", "network",
           _points_of(corner_share(lambda c: c.activation == "identity" and c.loss in ("mse", None))), on_model_solution=True),
    Attack("rubric_packages_gradverify", C_RUBRIC, 'graded with a rubric of packages = ["gradverify"]: imports the model '
           "solution from the package", "packages_gradverify", rubric_refused=True),
    Attack("rubric_packages_jax", C_RUBRIC, 'graded with a rubric of packages = ["jax"] and no allow_autodiff: '
           "network_gradients by jax.grad", "packages_jax", rubric_refused=True),
    Attack("hijack_worker", C_RUBRIC, "patches the worker (__main__) to forge replies and ids ahead of the grader", "loss"),
    # -- tampering
    Attack("write_venv_and_site", C_TAMPER, "plant a .pth in every site-packages folder it can name (venv, system, numpy's)", "loss", 10, probe=True),
    Attack("write_grader_package", C_TAMPER, "open the gradverify package, impl, references and the sandbox's worker for writing, plant files", "loss", 10, probe=True),
    Attack("rewrite_rubric_and_results", C_TAMPER, "find rubric .toml and results.json / reports and rewrite them to 100 points, write /autograder/results", "loss", 10),
    Attack("inherited_descriptors", C_TAMPER, "look for leaked file descriptors (files, folders, the grader's sockets) and write or fchdir through them", "loss", 10),
    Attack("privilege_escape", C_TAMPER, "setuid(0), new user namespace, mount, chroot, ptrace, /dev/mem, /proc/sys, cgroups", "loss", 10),
    Attack("write_kernel_sysctls", C_TAMPER, "write the host kernel's global settings (core_pattern, randomize_va_space, ...) "
           "through /proc/sys, each with the value it already has", "loss", 10),
    Attack("symlink_traps", C_TAMPER, "symlinks and hard links to the grader's files in every folder it can write, for the clean-up to follow", "loss", 10),
    # -- persistence
    Attack("daemon_rewrites_later", C_PERSIST, "double fork + setsid + exec with an empty environment; the daemon rewrites canary, classmate, rubric, results later", "loss", 10, waits=True, probe=True),
    Attack("poison_next_child", C_PERSIST, "write sitecustomize/numpy look-alikes wherever a later child would import them, then crash to get a fresh child", "loss", 10, probe=True),
    Attack("fill_shared_tmp", C_PERSIST, "leave files in /tmp, /var/tmp, /dev/shm, HOME; fill them; one file larger than the file-size limit", "loss", 10, probe=True),
    # -- background processes
    Attack("background_processes", C_BACKGROUND, "sleepers that ignore SIGTERM, a new process group, a daemon, an exec with an empty environment", "loss", 10, waits=True),
    Attack("cpu_burn_in_background", C_BACKGROUND, "busy-looping threads and forked children while it answers honestly", "loss", 10),
    # -- classmates
    Attack("copy_classmate", C_CLASSMATES, "find a classmate's submission (files, other sandboxes, /proc) and hand in its network_gradients", "network", classmate_running=True),
    Attack("sabotage_classmates", C_CLASSMATES, "overwrite classmates' files, kill and SIGSTOP every other process it can see", "loss", 10, classmate_running=True),
    Attack("starve_classmates_of_processes", C_CLASSMATES, "hold 60 sleeping children (under the 64 allowed) while a classmate's "
           "sandbox runs, so that a process limit the two shared would leave the classmate unable to start a thread", "loss", 10,
           classmate_running=True),
    Attack("spy_proc", C_CLASSMATES, "read environ, cmdline, maps and memory of every visible process, /etc/shadow, ssh keys", "loss", 10),
    # -- killing the grader
    Attack("kill_grader", C_KILL, "SIGKILL its parent, its process group and (kill -9 -1) everything it may", "loss"),
    Attack("stop_grader_at_import", C_KILL, "SIGSTOP its parent and (kill -STOP -1) everything, at import", "loss"),
    # -- secrets and network
    Attack("env_secrets", C_SECRETS, "print, raise and return the environment of itself, its parent and pid 1", "loss"),
    Attack("network_local", C_SECRETS, "connect to 127.0.0.1/::1 on the test's ports, an abstract unix socket, docker/X11 sockets", "loss"),
    Attack("network_external", C_SECRETS, "DNS and TCP to public addresses", "loss"),
    # -- exhaustion
    Attack("fork_bomb", C_EXHAUST, "exponential fork (8 generations, up to 256 processes)", "loss"),
    Attack("fork_bomb_with_chatter", C_EXHAUST, "the same, while a thread and every child print a byte every 50 ms", "loss"),
    Attack("memory_across_forks", C_EXHAUST, "6 children of 150 MB each, each under the per-process limit, together over the 512 MB of the submission", "loss", 10),
    Attack("memory_across_forks_with_chatter", C_EXHAUST, "the same, while a thread and every child print a byte every 20 ms", "loss", 10),
    Attack("memory_in_memfd", C_EXHAUST, "900 MB in memfd_create files: memory that is neither address space nor resident", "loss", 10),
    Attack("memory_in_socket_buffers", C_EXHAUST, "900 MB written into socketpairs and never read: kernel memory of no process", "loss", 10),
    Attack("thread_bomb", C_EXHAUST, "1500 threads with small stacks (threads are tasks, not processes)", "loss", 10, item_timeout=2),
    Attack("memory_hog", C_EXHAUST, "allocate far beyond the limit at once and gradually", "loss"),
    # -- replies
    Attack("huge_list_of_dicts", C_REPLIES, "return a 200 MB list of {}", "loss"),
    Attack("deeply_nested", C_REPLIES, "return lists and dicts nested 100000 deep", "loss"),
    Attack("huge_string", C_REPLIES, "return a 200 MB string", "loss"),
    Attack("malformed_frames", C_REPLIES, "garbage, a 4 GB length, ids ahead and a flood of stale frames on the channel", "loss"),
    Attack("unconvertible_values", C_REPLIES, "a loss of 10**400, an object-dtype gradient, a set: values the grader's checks cannot convert", "loss"),
    # -- report injection
    Attack("markdown_in_output", C_REPORT, "print fences, '# 100 / 100', <script>, <img onerror>, links, pipes, control and bidi characters", "loss"),
    Attack("markdown_in_exceptions", C_REPORT, "exceptions (and an exception class name, and sys.exit) carrying the same", "loss"),
    Attack("markdown_in_names", C_REPORT, "top-level callables named with Markdown and HTML, and dunder names", "loss"),
    Attack("markdown_in_load_error", C_REPORT, "an import that fails with Markdown and HTML in its message", "loss"),
    Attack("terminal_escapes", C_REPORT, "ANSI/OSC sequences in messages and the file name: overprint the score line, OSC 52 clipboard",
           "loss", submit_as="student\x1b[2K\r\x1b]52;c;ZXZpbAo=\x07.py"),
    Attack("markdown_file_name", C_REPORT, "handed in under a file name full of Markdown and HTML", "loss",
           submit_as="x](javascript:alert(1)) <img src=x onerror=alert(1)> # 100 | 100 <!--.py"),
    # -- implementing nothing
    Attack("implements_nothing", C_RUBRIC, "the template as handed out: every function raises NotImplementedError", "loss"),
    Attack("only_raises", C_RUBRIC, "every function raises, returns None or exits", "loss"),
    Attack("only_hangs", C_EXHAUST, "every function loops forever (SIGTERM ignored)", "loss", item_timeout=1),
    Attack("hangs_at_import", C_EXHAUST, "an endless loop at import with SIGTERM and SIGINT ignored", "loss", item_timeout=1),
)

BY_NAME = {attack.name: attack for attack in CATALOGUE}
assert len(BY_NAME) == len(CATALOGUE) and all(a.cls in CLASSES for a in CATALOGUE)


def table() -> str:
    """The catalogue as a Markdown table."""
    rows = ["| attack | file | class | what it does | the grader must achieve |", "|---|---|---|---|---|"]
    rows += [f"| {a.name} | {a.file} | {a.cls} | {a.description} | {a.must} |" for a in CATALOGUE]
    return "\n".join(rows)


#: The runs of the catalogue, as tests/test_attacks.py names them: who grades, in which mode.
RUNS = {
    "root": "root, bubblewrap",
    "user": "an ordinary user, bubblewrap",
    "separate-user": "root, separate-user (forced)",
}


def _cell(outcome: dict | None) -> str:
    if outcome is None:
        return "not run"
    score = "refused" if outcome.get("score") is None else f"{outcome['score']:g}/{outcome['max']:g}"
    verdict = "held" if not outcome["problems"] else f"**open**: {len(outcome['problems'])} problem(s)"
    return f"{score}, {verdict}, {outcome['seconds']:.1f} s"


#: What the separate-user mode does not protect (docs/security.md, "What is not protected"): the
#: attacks that may still find something there, and why. The throwaway container is the wall.
SEPARATE_USER_OPEN = {
    "filesystem_search": "it reads world-readable files: a readable copy of the model solution anywhere in the container is found",
    "copy_classmate": "it reads world-readable files: a classmate's file others can read anywhere in the container (another "
                      "grader's copy in /tmp) is found; the class folder and other sandboxes are tested on their own",
    "privilege_escape": "forced on a machine that allows user namespaces, the child can create one (the mode is meant for containers that forbid them)",
    "symlink_traps": "it can hard-link world-writable files of the container into its own folder",
    "sabotage_classmates": "it sees every process of the container (it cannot signal or read those of other uids)",
    "spy_proc": "it sees every process of the container and its command line (not its environment or memory)",
    "kill_grader": "it sees every process of the container (kill -1 reaches only its own uid's)",
    "stop_grader_at_import": "it sees every process of the container (kill -1 reaches only its own uid's)",
    "network_local": "it shares the container's network",
    "network_external": "it shares the container's network",
}


def report(runs: dict[str, dict[str, dict]], *, command: str, date: str) -> str:
    """The catalogue's results as Markdown: one row per attack, one column per run (RUNS), each
    cell the score, whether the grader held (no problem found by the bench) and the grading time.
    `runs`: run name -> attack name -> the outcome Bench.run returned."""
    names = [run for run in RUNS if runs.get(run)]
    held = {run: sum(not o["problems"] for o in runs[run].values()) for run in names}
    lines = [
        "# Attack catalogue",
        "",
        f"Measured {date} (`{command}`): {len(CATALOGUE)} hostile submissions (tests/attacks/, threat model in "
        "docs/security.md), each graded against a one-item rubric with a 512 MB, 4 s budget, and checked by "
        "tests/test_attacks.py's bench: the score is no more than the attack's honest work earns, nothing outside the "
        "sandbox changed, no process or file is left, no secret leaked, no connection arrived, the report stays inert.",
        "",
        "| run | held | most seconds for one attack |",
        "|---|---|---|",
    ]
    lines += [f"| {RUNS[run]} | {held[run]} / {len(runs[run])} | {max(o['seconds'] for o in runs[run].values()):.1f} |"
              for run in names]
    lines += ["", "| class | attack | must | " + " | ".join(RUNS[run] for run in names) + " |",
              "|---|---|---|" + "---|" * len(names)]
    for cls in CLASSES:
        for attack in (a for a in CATALOGUE if a.cls == cls):
            cells = " | ".join(_cell(runs[run].get(attack.name)) for run in names)
            lines.append(f"| {cls} | {attack.name} | {attack.must} | {cells} |")
    failed = [(run, name, o["problems"]) for run in names for name, o in runs[run].items() if o["problems"]]
    if failed:
        lines += ["", "## Open", "", "Where the grader did not hold; in the separate-user mode, the documented limits of "
                  "that mode (SEPARATE_USER_OPEN, docs/security.md) and why.", ""]
        lines += [f"- {RUNS[run]}, {name}: {'; '.join(p)[:400]}"
                  + (f" (documented: {SEPARATE_USER_OPEN[name]})" if run == "separate-user" and name in SEPARATE_USER_OPEN else "")
                  for run, name, p in failed]
    return "\n".join(lines) + "\n"
