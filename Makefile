# The two commands of the quick start. Each does its own set-up on a fresh
# machine with only Python 3.11 and pip: a .venv, the project installed in it
# (editable, with torch pinned by constraints.txt), then the job.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test report clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

report: $(STAMP)
	$(BIN)/gradverify verify --profile ci --report reports/verify.md

clean:
	rm -rf $(VENV) .hypothesis .pytest_cache *.egg-info
