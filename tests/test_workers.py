"""verify's checks in several processes (gradverify.workers): the serial run's results, whatever
becomes of a worker; and the results that travel between processes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import gradverify
from gradverify.cli import main
from gradverify.results import CheckStatus
from gradverify.workers import AUTO_MIN_CHECKS, auto_jobs
from tests.layer_variants import BUGGY

#: a buggy op, a correct one and a stack of them: failures, passes and a stack case to carry
CHECKS = ["layer_affine_matches_references", "layer_relu_matches_references", "stack_dense_matches_references"]


def _summary(run) -> list[tuple]:
    return [(r.name, r.status, r.examples, r.failure.case_description if r.failure else None, r.hints) for r in run.results]


def test_a_run_in_two_processes_has_the_serial_runs_results(tmp_path):
    path = BUGGY["affine_db_mean"].write(tmp_path)
    serial = gradverify.verify(str(path), profile="ci", properties=CHECKS, save_regressions=False, project=tmp_path)
    shared = gradverify.verify(str(path), profile="ci", properties=CHECKS, save_regressions=False, project=tmp_path, jobs=2)
    assert _summary(shared) == _summary(serial)
    assert [r.status for r in shared.results] == [CheckStatus.FAILED, CheckStatus.PASSED, CheckStatus.FAILED]


def test_a_workers_new_counterexamples_are_saved_and_listed(tmp_path):
    path = BUGGY["affine_db_mean"].write(tmp_path)
    corpus = tmp_path / "corpus"
    run = gradverify.verify(str(path), profile="ci", properties=CHECKS, regressions=corpus, project=tmp_path, jobs=3)
    saved = [r.failure.corpus_path for r in run.results if r.failure]
    assert len(saved) == 2 and run.new_regressions == saved, "both failures saved, in the suite's order"
    assert all(Path(p).is_file() for p in saved)


_DIES_IN_A_WORKER = """
import os
from gradverify.impl import layers as _layers
from gradverify.impl.layers import *  # noqa: F403


def _in_the_main_process_only(function):
    def call(*args, **kwargs):
        if os.getpid() != int(os.environ["GRADVERIFY_TEST_MAIN_PID"]):
            os._exit(3)  # a worker dies on its first case
        return function(*args, **kwargs)

    return call


relu_forward = _in_the_main_process_only(_layers.relu_forward)
affine_forward = _in_the_main_process_only(_layers.affine_forward)
dropout_forward = _in_the_main_process_only(_layers.dropout_forward)
"""


def test_a_worker_that_dies_leaves_its_check_to_the_main_process(tmp_path, monkeypatch):
    path = tmp_path / "dies_in_a_worker.py"
    path.write_text(_DIES_IN_A_WORKER)
    monkeypatch.setenv("GRADVERIFY_TEST_MAIN_PID", str(os.getpid()))
    checks = ["layer_affine_matches_references", "layer_relu_matches_references", "layer_dropout_matches_references"]
    run = gradverify.verify(str(path), profile="ci", properties=checks, save_regressions=False, project=tmp_path, jobs=2)
    assert [r.name for r in run.results] == checks
    assert all(r.status is CheckStatus.PASSED for r in run.results), [(r.name, r.status) for r in run.results]


def test_several_jobs_need_an_implementation_a_worker_can_load_again():
    from gradverify import impl

    with pytest.raises(ValueError, match="1 for a loaded module"):
        gradverify.verify(impl, jobs=2)
    with pytest.raises(ValueError, match="1 or more"):
        gradverify.verify("gradverify.impl", jobs=0)


def test_auto_starts_no_worker_for_a_short_run():
    assert auto_jobs(AUTO_MIN_CHECKS - 1) == 1
    assert 1 <= auto_jobs(48) <= 4


def test_verify_refuses_a_bad_jobs_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["verify", "--jobs", "many"])
    assert info.value.code == 2 and "expected a positive integer, got 'many'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["conv_dw_not_accumulated_over_batch", "max_pool_backward_to_every_element"])
def test_a_failing_layer_result_pickles_with_its_case(name, tmp_path):
    """A layer case holds its op, whose shape rules are lambdas: the op travels by its name
    (workers' answers and pytest-xdist's reports pickle results)."""
    variant = BUGGY[name]
    path = variant.write(tmp_path)
    run = gradverify.verify(
        str(path), profile="ci", properties=[f"layer_{variant.op}_matches_references"], save_regressions=False, project=tmp_path
    )
    failure = run.results[0].failure
    back = pickle.loads(pickle.dumps(run.results[0]))
    assert back.failure.case.op is failure.case.op and back.failure.case_description == failure.case_description
