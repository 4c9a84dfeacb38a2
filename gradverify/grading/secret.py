"""The course secret, and the seed of a grade derived from it and from the submission.

    path = secret_path(None)                        # --secret, else $GRADVERIFY_SECRET_FILE, else the default
    key = course_secret(path)                       # read it; the default file is made on first use
    seed = grade_seed(key, submission_digest("alice.py"), adapter="cs231n")

The cases a grade draws are hypothesis's, from a seed. With one public seed for every student
and the model solution public, anyone can record the answers to those cases once and submit a
file that only looks them up. So the seed of a grade is HMAC-SHA256(course secret, SHA-256 of
the submission's bytes and the course adapter's name), cut to 53 bits: without the secret
nobody can compute it, two submissions draw different cases, and a file that prints its cases
learns nothing it can use (changing one byte of it changes all of them). Staff replay a grade
exactly with its seed (`gradverify grade FILE --seed N`), which the staff report and
results.json's extra_data give.

The secret is a file that only its owner may read (mode 0600, as ssh wants of a private key):
one readable by group or others is refused (SecretError), since a student who can read it can
compute every case. The default file, $XDG_CONFIG_HOME/gradverify/course-secret (else
~/.config/gradverify/course-secret), is made the first time a grade needs it; a file named by
--secret or GRADVERIFY_SECRET_FILE must exist (`gradverify secret new PATH` makes one).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

#: The environment variable naming the secret file (`--secret` wins over it).
SECRET_ENV = "GRADVERIFY_SECRET_FILE"
#: Random bytes in a new secret (written as hex), and the fewest a secret file must hold.
SECRET_BYTES = 32
MIN_SECRET_BYTES = 16
#: Seeds are below 2**53: exact in results.json for every JSON reader (JavaScript's numbers
#: are doubles), and far more than a class needs to keep its submissions' seeds apart.
SEED_BITS = 53
#: What the HMAC of a seed starts with: a secret used elsewhere never yields these seeds.
_DOMAIN = b"gradverify grade seed v1\0"


class SecretError(ValueError):
    """A secret file that cannot be used: missing, readable by others, unreadable or too short.
    The message says which file and what to do."""


class SeedSource(enum.Enum):
    """Where the seed of a grade came from (the staff report says it in these words)."""

    SECRET = "derived from the course secret and the submission's bytes"
    ONE_OFF = (
        "derived from a secret drawn for this grade alone and the submission's bytes (no course secret "
        "given): nobody could know the cases in advance, but a regrade draws other ones"
    )
    RUBRIC = "fixed by the rubric: every student gets the same cases, so an answer key can be built"
    GIVEN = "given to the grader (--seed): every submission graded with it gets the same cases"


@dataclass(frozen=True)
class GradeSeed:
    """The seed of one grade and where it came from."""

    value: int
    source: SeedSource

    @property
    def shared(self) -> bool:
        """True when every submission graded so gets the same cases (a rubric's or a given seed)."""
        return self.source in (SeedSource.RUBRIC, SeedSource.GIVEN)


#: The staff report's and stderr's warning for a seed the rubric fixes.
FIXED_SEED_WARNING = (
    "the rubric fixes the seed: every student gets the same cases: an answer key can be built "
    "(remove `seed` from the rubric to derive each grade's seed from the course secret)"
)


def default_path() -> Path:
    """$XDG_CONFIG_HOME/gradverify/course-secret, else ~/.config/gradverify/course-secret."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "gradverify" / "course-secret"


def secret_path(option: str | Path | None) -> tuple[Path, bool]:
    """(the secret file to use, whether it is the default one): `option` (--secret), else
    $GRADVERIFY_SECRET_FILE, else default_path()."""
    chosen = option or os.environ.get(SECRET_ENV)
    return (Path(chosen), False) if chosen else (default_path(), True)


def new_secret(path: str | Path) -> Path:
    """Write a new secret (SECRET_BYTES random bytes, as hex) to `path`, mode 0600; a folder it
    makes for it is 0700. SecretError if `path` exists (a secret is never overwritten: the grades
    made with it could no longer be replayed) or cannot be written."""
    path = Path(path)
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise SecretError(f"{path} exists; not overwriting it (the grades made with it could no longer be replayed)") from None
    except OSError as exc:
        raise SecretError(f"cannot write the secret {path}: {exc.strerror or exc}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask
        handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
    return path


def read_secret(path: str | Path) -> bytes:
    """The secret in `path` (its bytes, surrounding whitespace removed). SecretError when the
    file is missing, not a regular file, readable or writable by group or others, owned by
    another user (root's excepted), unreadable, or shorter than MIN_SECRET_BYTES."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretError(f"no course secret at {path}; make one with `gradverify secret new {path}`") from None
    except OSError as exc:
        raise SecretError(f"cannot read the course secret {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SecretError(f"the course secret {path} is not a regular file")
    if info.st_mode & 0o077:
        raise SecretError(
            f"the course secret {path} has permissions {stat.S_IMODE(info.st_mode):04o}: it must be "
            f"readable by its owner only, or anyone who reads it can compute every student's cases; "
            f"`chmod 600 {path}`"
        )
    if info.st_uid not in (os.geteuid(), 0):
        raise SecretError(f"the course secret {path} belongs to another user (uid {info.st_uid}); it must be yours")
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise SecretError(f"cannot read the course secret {path}: {exc.strerror or exc}") from None
    if len(key) < MIN_SECRET_BYTES:
        raise SecretError(
            f"the course secret {path} holds {len(key)} bytes, fewer than {MIN_SECRET_BYTES}: too "
            f"short to keep cases secret; make a new one with `gradverify secret new PATH`"
        )
    return key


def course_secret(path: Path, *, default: bool, announce=None) -> bytes:
    """The secret in `path`; the default file (`default`) is made first when missing, and
    `announce` (e.g. print to stderr) is called with one line saying where. SecretError as
    read_secret and new_secret."""
    if default and not path.exists():
        new_secret(path)
        if announce is not None:
            announce(
                f"made a new course secret at {path} (mode 0600): keep it with the grading setup; "
                f"regrades need the same one to draw the same cases"
            )
    return read_secret(path)


def submission_digest(path: str | Path) -> bytes:
    """SHA-256 of the file's bytes, read in chunks; of no bytes when it cannot be read (its grade
    is then a load error)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except OSError:
        return hashlib.sha256(b"").digest()


def grade_seed(secret: bytes, digest: bytes, adapter: str = "") -> int:
    """The seed of a grade: HMAC-SHA256(secret, domain, `digest` (the SHA-256 of the submission's
    bytes, submission_digest), the course adapter's name), its first 53 bits: a non-negative int
    below 2**53."""
    message = _DOMAIN + digest + b"\0" + adapter.encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def one_off_secret() -> bytes:
    """A secret for one grade alone, when no course secret is given."""
    return secrets.token_bytes(SECRET_BYTES)
