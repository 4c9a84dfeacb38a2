"""Run mutmut over impl/ with the suite as its test command, and classify every survivor.

mutmut 3 ([tool.mutmut] in pyproject.toml) copies impl/ with all its mutants into mutants/,
runs benchmarks/mutmut_suite.py (every gradverify check on the mutated impl) and records an
exit code per mutant in mutants/impl/backprop.py.meta. A survivor is either explained as
equivalent — by a rule below, or by a reason written for that very change in EXPLAINED —
or it counts against the score.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
META = ROOT / "mutants" / "impl" / "backprop.py.meta"
MUTMUT = Path(sys.executable).with_name("mutmut")
KILLED = {1, 3, 36, 37, 24, -24, 152, 255}  # failed tests, pytest error, timeouts, type check
SURVIVED = {0}

_KINK = (
    "equivalent under the protocol: the value at the kink z = 0 only, where {what}; any subgradient is "
    "accepted there (kink_subgradients)"
)
_GUARD = (
    "equivalent: a redundant guard against 0·log 0 or 0/0; where x = 0 the outer np.where already gives 0, "
    "and elsewhere nothing changes"
)
_AXIS = "equivalent: every array reaching it is 2-D (check_array asks for that), where axis=+1 and axis=-1 are the same axis"
_EXPLANATIONS: dict[str, list[tuple[str, str]]] = {
    _GUARD: [
        (
            "return np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))",
            "return np.where(x == 0, 0.0, x / np.where(None, 1.0, y))",
        ),
        (
            "return np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))",
            "return np.where(x == 0, 0.0, x / np.where(x == 0, 2.0, y))",
        ),
        (
            "return np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))",
            "return np.where(None, 0.0, x / np.where(x == 0, 1.0, y))",
        ),
        ("safe = np.where(x == 0, 1.0, y)", "safe = np.where(x == 0, 2.0, y)"),
        ("safe = np.where(x == 0, 1.0, y)", "safe = np.where(None, 1.0, y)"),
        ("return np.where(x == 0, 0.0, x * np.log(safe))", "return np.where(None, 0.0, x * np.log(safe))"),
    ],
    _KINK.format(what="relu and leaky_relu give 0 either way"): [
        ("return np.where(z > 0, z, LEAKY_SLOPE * z)", "return np.where(z >= 0, z, LEAKY_SLOPE * z)"),
        ("return np.where(z > 0, z, 0.0)", "return np.where(z >= 0, z, 0.0)"),
    ],
    _KINK.format(what="relu'(0) becomes 1 and leaky_relu'(0) becomes 1 instead of 0 and 0.01"): [
        ("return np.where(z > 0, grad_a, LEAKY_SLOPE * grad_a)", "return np.where(z >= 0, grad_a, LEAKY_SLOPE * grad_a)"),
        ("return np.where(z > 0, grad_a, 0.0)", "return np.where(z >= 0, grad_a, 0.0)"),
    ],
    "equivalent: at z = 0 both branches of the stable sigmoid give exactly 1/(1 + 1) = 0.5": [
        ("return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))", "return np.where(z > 0, 1.0 / (1.0 + e), e / (1.0 + e))")
    ],
    _AXIS: [
        ("return e / e.sum(axis=-1, keepdims=True)", "return e / e.sum(axis=+1, keepdims=True)"),
        ("e = np.exp(z - z.max(axis=-1, keepdims=True))", "e = np.exp(z - z.max(axis=+1, keepdims=True))"),
        (
            "return s * (grad_a - np.sum(grad_a * s, axis=-1, keepdims=True))",
            "return s * (grad_a - np.sum(grad_a * s, axis=+1, keepdims=True))",
        ),
    ],
    (
        "equivalent: None, str, bytes and dict still end in the same ValueError a few lines on (np.asarray "
        "rejects them, or None becomes a 0-d array and fails the dimension check); only the wording differs"
    ): [
        (
            "if value is None or isinstance(value, (str, bytes, dict)):",
            "if value is None and isinstance(value, (str, bytes, dict)):",
        )
    ],
    "equivalent: a dtype kind is one character, and 'X' is no dtype kind, so 'XXiuXX' accepts exactly 'i' and 'u'": [
        ('if arr.dtype.kind not in "iu":', 'if arr.dtype.kind not in "XXiuXX":')
    ],
    (
        "equivalent: without velocity, np.zeros_like(None) is a 0-d zero that NumPy treats as the scalar 0, so "
        "Δw = −η·g + α·0 has the same values and dtype"
    ): [
        (
            "previous = velocity[i][key] if velocity is not None else np.zeros_like(p[key])",
            "previous = velocity[i][key] if velocity is not None else np.zeros_like(None)",
        )
    ],
}

#: Survivors explained one by one: the change (as `-old` / `+new`) and why no allowed input can tell it apart.
EXPLAINED: dict[str, str] = {f"-{old}\n+{new}": why for why, pairs in _EXPLANATIONS.items() for old, new in pairs}

WORDING = (
    "equivalent: only the wording of an error message changes; the protocol fixes the exception type "
    "and that the message starts with the function's name, not the words"
)
WARNINGS = "equivalent: numpy's floating-point warning settings; the values, and so every gradient, are unchanged"
MESSAGE_ONLY = (
    "equivalent: the line only builds words of an error message (`source` and `bound` feed nothing "
    "else); the ValueError is raised all the same"
)


def _tokens(line: str) -> list[tuple[int, str]]:
    try:
        return [
            (t.type, t.string)
            for t in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []


def _only_strings_differ(old: str, new: str) -> bool:
    """The lines differ only where one has a string (or f-string part) and the other a string or None,
    and not in the first argument of a check_* call: that is `where`, the function's name that the
    protocol asks every message to start with."""
    a, b = _tokens(old), _tokens(new)
    if not a or len(a) != len(b):
        return False
    where_args = {
        i + 2 for i, (t, s) in enumerate(a[:-2]) if t == tokenize.NAME and s.startswith("check_") and a[i + 1][1] == "("
    }
    stringy = {tokenize.STRING} | (
        {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}
    )
    for i, ((ta, sa), (tb, sb)) in enumerate(zip(a, b)):
        if sa == sb:
            continue
        keeps_prefix = not sa.startswith('f"{where}:') or sb.startswith('f"{where}:')
        if ta in stringy and (tb in stringy or sb == "None") and i not in where_args and keeps_prefix:
            continue
        return False
    return True


def classify(old: str, new: str) -> str | None:
    """The reason a surviving change is equivalent, or None when none applies."""
    key = f"-{old.strip()}\n+{new.strip()}"
    if key in EXPLAINED:
        return EXPLAINED[key]
    if "np.errstate(" in old:
        return WARNINGS
    if re.match(r"\s*(source|bound) = |\s*if high is not None:$", old):
        return MESSAGE_ONLY
    message_line = re.search(r"check_\w+\(|like_params\(|ValueError\(|^\s*f\"|^\s*\"", old)
    if message_line and _only_strings_differ(old, new):
        return WORDING
    return None


def _diff(name: str) -> tuple[str, str]:
    shown = subprocess.run([str(MUTMUT), "show", name], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    old = "\n".join(line[1:] for line in shown.splitlines() if line.startswith("-") and not line.startswith("---"))
    new = "\n".join(line[1:] for line in shown.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return old, new


def run(max_children: int = 2) -> dict:
    """mutmut run from scratch, then the counts, the score and every survivor with its verdict."""
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    version = subprocess.run([sys.executable, "-m", "pip", "show", "mutmut"], capture_output=True, text=True).stdout
    version = next((line.split(":", 1)[1].strip() for line in version.splitlines() if line.startswith("Version:")), "?")
    done = subprocess.run(
        [str(MUTMUT), "run", "--max-children", str(max_children)], cwd=ROOT, capture_output=True, text=True, timeout=3600
    )
    if not META.is_file():
        raise SystemExit(f"mutmut produced no results:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    codes = json.loads(META.read_text())["exit_code_by_key"]
    survivors = []
    for name, code in sorted(codes.items()):
        if code in KILLED:
            continue
        old, new = _diff(name)
        verdict = classify(old, new) if code in SURVIVED else None
        survivors.append(
            {
                "name": name,
                "exit_code": code,
                "diff": f"{old.strip()} → {new.strip()}",
                "verdict": verdict or f"NOT EXPLAINED (status {code})",
                "equivalent": verdict is not None,
            }
        )
    killed = sum(1 for c in codes.values() if c in KILLED)
    equivalent = sum(1 for s in survivors if s["equivalent"])
    total = len(codes)
    return {
        "version": f"mutmut {version}",
        "total": total,
        "killed": killed,
        "timeout": sum(1 for c in codes.values() if c in {36, 24, -24, 152, 255}),
        "survived": sum(1 for c in codes.values() if c in SURVIVED),
        "other": sum(1 for c in codes.values() if c not in KILLED and c not in SURVIVED),
        "equivalent": equivalent,
        "non_equivalent": total - equivalent,
        "score": killed / max(1, total - equivalent),
        "survivors": survivors,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
