"""The generator of a hostile submission, an answer key (kept beside the attack catalogue, tests/attacks/, whose files are submissions themselves).

This file is not a submission: `write(path, rubric, seed)` makes one. It grades the bundled model
solution in this process (grade_module, the grader's own code, which is public) through a
recorder that keeps every answer the model solution gives, and writes a .py file that computes
nothing: each protocol function hashes its inputs and returns the answer recorded for them, and
raises LookupError for inputs it never saw. Graded with the seed it was recorded with, it meets
only cases it has answers for, and scores what the model solution scores; so with one public
seed for every student, a key recorded once serves the whole class. Graded with a seed derived
from the course secret and the file's own bytes (grading/secret.py), it meets other cases.

    python -m tests.answer_key OUT.py [--rubric R.toml] [--seed 0] [--check]

With --check, the key is then graded in this process twice: with the seed it was recorded with,
and with one derived from a new course secret and its own bytes (the scores go to stderr).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import sys
import types
import zlib
from pathlib import Path

import numpy as np


def key(function: str, args: tuple, kwargs: dict) -> str:
    """The hash of a call: the function's name and its arguments, encoded alike in the grader's
    process and in the sandbox (arrays by kind, shape and values; dicts by sorted keys)."""
    digest = hashlib.sha256(function.encode())

    def feed(value) -> None:
        if isinstance(value, dict):
            digest.update(b"{")
            for k in sorted(value, key=str):
                feed(str(k))
                feed(value[k])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(b"[")
            for v in value:
                feed(v)
            digest.update(b"]")
        elif isinstance(value, str):
            digest.update(b"s" + value.encode() + b"\0")
        elif value is None or isinstance(value, (bool, np.bool_)):
            digest.update(repr(value if value is None else bool(value)).encode())
        elif isinstance(value, (int, np.integer)):
            digest.update(b"i%d\0" % int(value))
        elif isinstance(value, (float, np.floating)):
            digest.update(b"f" + float(value).hex().encode() + b"\0")
        else:
            array = np.asarray(value)
            array = array.astype(np.float64 if array.dtype.kind in "fc" else np.int64)
            digest.update(b"a" + repr(array.shape).encode() + array.dtype.str.encode() + np.ascontiguousarray(array).tobytes())

    feed(list(args))
    feed(kwargs)
    return digest.hexdigest()


def encode(value):
    """A recorded answer as JSON: arrays as {"a": [dtype, shape, base64 of the bytes]}."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"a": [data.dtype.str, list(data.shape), base64.b64encode(data.tobytes()).decode()]}
    if isinstance(value, dict):
        return {"d": {k: encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"l" if isinstance(value, list) else "t": [encode(v) for v in value]}
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value):
    if isinstance(value, dict):
        if "a" in value:
            dtype, shape, data = value["a"]
            return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()
        if "d" in value:
            return {k: decode(v) for k, v in value["d"].items()}
        if "l" in value:
            return [decode(v) for v in value["l"]]
        return tuple(decode(v) for v in value["t"])
    return value


def record(rubric, seed: int) -> dict[str, object]:
    """Every answer the bundled impl gives while graded by `rubric` with `seed`, by call key."""
    from gradverify import impl
    from gradverify.grading.items import grade_module
    from gradverify.loader import PROTOCOL_FUNCTIONS

    answers: dict[str, object] = {}
    recorder = types.ModuleType("recorder")

    def wrap(name: str):
        original = getattr(impl, name)

        def recorded(*args, **kwargs):
            call = key(name, args, kwargs)  # before the call: the grader's inputs as it gave them
            value = original(*args, **kwargs)
            answers[call] = encode(value)
            return value

        return recorded

    for name in PROTOCOL_FUNCTIONS:
        setattr(recorder, name, wrap(name))
    grade_module(recorder, rubric, seed=seed)
    return answers


TEMPLATE = '''"""Hostile submission (gradverify attack catalogue): an answer key. It computes nothing: every
protocol function looks its answer up by the hash of its inputs ({count} answers, recorded from
the model solution graded with seed {seed})."""

import base64
import hashlib
import json
import zlib

import numpy as np

ANSWERS = json.loads(zlib.decompress(base64.b64decode({blob!r})))

{helpers}

def _answer(function, args, kwargs):
    found = ANSWERS.get(key(function, args, kwargs))
    if found is None:
        raise LookupError(f"{{function}}: these inputs are not in the answer key")
    return decode(found)

'''


def source(answers: dict[str, object], seed: int) -> str:
    """The text of the answer-key submission."""
    from gradverify.loader import PROTOCOL_FUNCTIONS

    blob = base64.b64encode(zlib.compress(json.dumps(answers).encode(), 9)).decode()
    helpers = inspect.getsource(key) + "\n\n" + inspect.getsource(decode)
    text = TEMPLATE.format(count=len(answers), seed=seed, blob=blob, helpers=helpers)
    for name in PROTOCOL_FUNCTIONS:
        text += f"\ndef {name}(*args, **kwargs):\n    return _answer({name!r}, args, kwargs)\n\n"
    return text


def write(path: str | Path, rubric, seed: int) -> Path:
    """Record the answers of a grade of the model solution under `rubric` with `seed`, and write
    the answer-key submission to `path`."""
    path = Path(path)
    path.write_text(source(record(rubric, seed), seed), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    from gradverify.grading.rubric import load_rubric

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--rubric")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="grade the key with its seed and with a derived one")
    args = parser.parse_args(argv)
    rubric = load_rubric(args.rubric)
    written = write(args.out, rubric, args.seed)
    print(f"{written}: {written.stat().st_size} bytes", file=sys.stderr)
    if args.check:
        import importlib.util

        from gradverify.grading.items import grade_module
        from gradverify.grading.secret import grade_seed, one_off_secret, submission_digest

        spec = importlib.util.spec_from_file_location("answer_key", written)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        derived = grade_seed(one_off_secret(), submission_digest(written))
        for label, seed in (("the seed it was recorded with", args.seed), ("a secret-derived seed", derived)):
            graded = grade_module(module, rubric, seed=seed)
            print(
                f"{len(module.ANSWERS)} answers; graded with {label} ({seed}): {graded.score:g} / {graded.max_score:g}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
