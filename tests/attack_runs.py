"""The ordinary user's run of the attack catalogue: started by the tests as root, and this file as its script.

When the tests run as root, ONE subprocess, run by the user `gvattack` with /usr/bin/python3.11
(pyenv's interpreter under /root is not reachable for others) and the venv's packages through
`site.addsitedir`, runs this file as a script: it grades the whole catalogue with the same
`Bench` (tests/attack_bench.py) and writes a JSON summary that tests/test_attacks.py reads. It
runs beside the root process's own run (about 70 s for both on two cores, against 105 s one
after the other: GRADVERIFY_ATTACKS_SEQUENTIAL=1); the two benches tell their processes and
files apart by owner and tag. The ordinary user's run has its own TMPDIR (its sandbox folders
and PyTorch's cache stay out of /tmp). Every run's outcomes go to the Markdown table at
$GRADVERIFY_ATTACKS_REPORT (`make attacks`: reports/attacks.md), `write_summary`.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # the ordinary user's run: the venv's packages, and the checkout for tests.attacks
    import site

    site.addsitedir(sys.argv[sys.argv.index("--site") + 1])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

from gradverify.sandbox import engine
from tests.attack_bench import (
    CHECKOUT,
    OTHERS,
    PACKAGE_TREES,
    SECRET_VARIABLE,
    SHARED,
    SITE_PACKAGES,
    Bench,
    canary_path,
    files_under,
    is_alive,
    names_in,
    other_processes,
    path_owner,
    process_owner,
    read_head,
    runs_an_attack,
)
from tests.attacks import CATALOGUE

ORDINARY_USER = "gvattack"
SYSTEM_PYTHON = "/usr/bin/python3.11"
IS_ROOT = os.geteuid() == 0


#: The runs' outcomes so far, written as Markdown to $GRADVERIFY_ATTACKS_REPORT (make attacks) after each run.
SUMMARY: dict[str, dict[str, dict]] = {}


def write_summary(run: str, outcomes: dict[str, dict]) -> None:
    SUMMARY[run] = outcomes
    path = os.environ.get("GRADVERIFY_ATTACKS_REPORT")
    if path:
        from gradverify.files import write_atomic
        from tests.attacks import report

        write_atomic(Path(path), report(SUMMARY, command="make attacks", date=time.strftime("%Y-%m-%d")))


def ordinary_user_ready() -> str | None:
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
    return all(
        engine.reachable_by_others(str(path))
        for path in (
            SITE_PACKAGES / "numpy" / "__init__.py",
            CHECKOUT / "gradverify" / "__init__.py",
            CHECKOUT / "tests" / "attacks" / "__init__.py",
            Path(__file__),
            Path(__file__).with_name("attack_bench.py"),
        )
    )


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
    """The ordinary user's run: started before the tests grade their own attacks, so the two
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
        self.before = {top: files_under(top) for top in PACKAGE_TREES}
        self.site_before = names_in(str(SITE_PACKAGES))
        self.shared_before = Bench.shared()
        self.out = self.folder / "summary.json"
        self.log = open(self.folder / "log.txt", "w+")  # noqa: SIM115 - closed in close()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.folder / "home"),
            "XDG_CACHE_HOME": str(self.folder / "cache"),
            "TMPDIR": str(self.folder / "tmp"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            SECRET_VARIABLE: secret,
        }
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(self.checkout / Path(__file__).relative_to(CHECKOUT)),
                "--site",
                str(self.checkout / SITE_PACKAGES.relative_to(CHECKOUT)),
                "--bench",
                str(self.folder / "bench"),
                "--out",
                str(self.out),
                "--tag",
                self.tag,
            ],
            user=ORDINARY_USER,
            group=ORDINARY_USER,
            extra_groups=[],
            env=env,
            cwd=self.folder / "home",
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
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
            after = files_under(top)
            if after != before:
                problems.append(
                    f"the ordinary user's run changed {top}: "
                    f"{sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))[:5]}"
                )
        if names_in(str(SITE_PACKAGES)) != self.site_before:
            problems.append("the ordinary user's run changed the venv's site-packages")
        if self.canary.read_text() != "the canary sings\n":
            problems.append("the ordinary user's run changed its canary")
        left = [
            pid
            for pid in other_processes()
            if process_owner(pid) in (self.user.pw_uid, engine.NOBODY) and is_alive(pid) and runs_an_attack(pid, self.tag)
        ]
        if left:
            problems.append(
                f"processes of the ordinary user left: {[(p, read_head(f'/proc/{p}/cmdline', 100)) for p in left[:3]]}"
            )
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
        self.result = {
            "outcomes": summary.get("outcomes", {}),
            "control": summary.get("control"),
            "problems": problems,
            "seconds": round(seconds, 1),
            "log": log,
        }
        write_summary("user", self.result["outcomes"])
        return self.result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.copy_folder is not None:
            shutil.rmtree(self.copy_folder, ignore_errors=True)
        if not any(process_owner(pid) == self.user.pw_uid for pid in other_processes()):  # no other run of the user's goes on
            for shared_folder in SHARED:  # the grader's own PyTorch cache (torchinductor_gvattack), if this run made it
                for name in names_in(shared_folder) - self.shared_before[shared_folder]:
                    path = os.path.join(shared_folder, name)
                    if name.startswith("torchinductor_") and path_owner(path) == self.user.pw_uid:
                        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.canary.unlink()


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
