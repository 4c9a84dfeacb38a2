#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# The autograder zip holds this file, run_autograder and the gradverify source in source/
# (with the course's rubric.toml and course-secret, when the checkout had them).
set -euo pipefail
AUTOGRADER=${AUTOGRADER:-/autograder}
SOURCE="$AUTOGRADER/source"
TORCH_VERSION=${TORCH_VERSION:-2.13.0}

# Python 3.11 or newer (Gradescope's Ubuntu images ship an older python3).
if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
fi
python3.11 -m venv "$SOURCE/.venv"
"$SOURCE/.venv/bin/python" -m pip install --upgrade pip
# The CPU build of torch: PyPI's default wheel is a CUDA build of several GB.
"$SOURCE/.venv/bin/python" -m pip install --index-url https://download.pytorch.org/whl/cpu "torch==$TORCH_VERSION"
"$SOURCE/.venv/bin/python" -m pip install "$SOURCE"
# A mistake in the course rubric (a misspelt field, a wrong type) fails the build here, with its
# line, rather than every submission later.
if [ -f "$SOURCE/rubric.toml" ]; then
    "$SOURCE/.venv/bin/python" - "$SOURCE/rubric.toml" <<'PY'
import sys
from gradverify.grading.rubric import load_rubric
try:
    load_rubric(sys.argv[1])
except ValueError as exc:
    sys.exit(f"gradverify: {exc}")
PY
fi
# The course secret every grade's seed is derived from (with the submission): the one packed
# with the zip, else a new one for this image (regrades on a rebuilt image then draw other cases).
if [ ! -f "$SOURCE/course-secret" ]; then
    "$SOURCE/.venv/bin/gradverify" secret new "$SOURCE/course-secret"
fi
chmod 600 "$SOURCE/course-secret"
# Warm the JAX compilation cache so each student's run starts faster.
"$SOURCE/.venv/bin/gradverify" grade "$SOURCE/impl/backprop.py" --secret "$SOURCE/course-secret" --quiet \
    --results-json /tmp/warmup.json || true
