# The two commands of the quick start. Each does its own set-up on a fresh
# machine with only Python 3.11 and pip: a .venv, the project installed in it
# (editable, with torch pinned by constraints.txt), then the job.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint report clean gradescope bench mutation attacks samples

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

# The suite's tests but the long ones, then the attack catalogue on its own (it counts processes
# and files machine-wide).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --ignore=tests/test_attacks.py -m "not long"
	$(BIN)/python -m pytest -q tests/test_attacks.py

# Lint, format, types and the layers: ruff check and ruff format ([tool.ruff] in pyproject.toml), mypy
# on the gradverify package ([tool.mypy]), then import-linter's contracts ([tool.importlinter]: the
# layers, the sandbox on its own, impl imported by nothing that checks it, no import cycle). .ci/run
# runs it before the tests.
$(VENV)/.lint: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[lint]'
	touch $(VENV)/.lint

lint: $(VENV)/.lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The attack catalogue (tests/attacks, docs/security.md): 65 hostile submissions, as root, as an
# ordinary user and in the separate-user mode; its table in reports/attacks.md.
attacks: $(STAMP)
	GRADVERIFY_ATTACKS_REPORT=reports/attacks.md $(BIN)/python -m pytest -q tests/test_attacks.py
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --ignore=tests/test_attacks.py -m long

# The bundled impl verified (ci profile) into reports/verify.md: generated, so git ignores it
# (.gitignore); the committed samples are in reports/samples/.
report: $(STAMP)
	$(BIN)/gradverify verify --profile ci --report reports/verify.md

# The committed sample reports in reports/samples/, with their pictures (benchmarks/samples.py).
samples: $(STAMP)
	$(BIN)/python -m benchmarks.samples

clean:
	rm -rf $(VENV) .hypothesis .gradverify .pytest_cache *.egg-info

# The Gradescope autograder zip (docs/gradescope/README.md).
gradescope:
	rm -rf dist/autograder && mkdir -p dist/autograder/source
	git archive HEAD | tar -x -C dist/autograder/source
	test ! -f rubric.toml || cp rubric.toml dist/autograder/source/rubric.toml
	test ! -f course-secret || install -m 600 course-secret dist/autograder/source/course-secret
	cp docs/gradescope/setup.sh docs/gradescope/run_autograder dist/autograder/
	cd dist/autograder && rm -f ../autograder.zip && python3 -m zipfile -c ../autograder.zip setup.sh run_autograder source

# Speed and memory: reports/benchmarks.md and reports/benchmarks.json (docs in benchmarks/bench.py).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench

# Fault-detection power (benchmarks/mutation.py): the MLP variant catalogue through verify and
# grade, its fairness over 10 seeds, the layer and update-rule catalogue over 10 seeds (every bug
# caught, located and shrunk, every correct variant passing: benchmarks/layer_catalogue.py), and
# mutmut over impl/backprop.py, impl/layers.py, impl/rnn_layers.py and impl/optim.py with the
# suite's checks as its test command, scored per file; writes reports/mutation.md and .json.
$(VENV)/.mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[mutation]'
	touch $(VENV)/.mutation

mutation: $(VENV)/.mutation
	$(BIN)/python -m benchmarks.mutation --jobs 2
