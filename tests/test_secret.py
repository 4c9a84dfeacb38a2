"""No answer key: each grade's seed comes from the course secret and the submission's bytes, so
two submissions draw different cases and nobody without the secret can know them in advance;
the seed is staff's (staff report, results.json's extra_data) and replays the grade; a secret
that others may read is refused; a seed the rubric fixes is a warning."""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import replace

import numpy as np
import pytest

from gradverify.cli import main
from gradverify.grading.classroom import student_outputs
from gradverify.grading import items as grading
from gradverify.grading.feedback import render_submission, results_json
from gradverify.grading.items import GradeResult, ItemResult
from gradverify.grading.rubric import load_rubric
from gradverify.grading.secret import (
    FIXED_SEED_WARNING,
    SECRET_ENV,
    GradeSeed,
    SecretError,
    SeedSource,
    course_secret,
    grade_seed,
    new_secret,
    read_secret,
    submission_digest,
)
from tests.variants import BUGGY, IMPL_SOURCE

RUBRIC = load_rubric()
SMALL_RUBRIC = 'examples = 5\n[[items]]\nname = "sigmoid"\ncheck = "activation"\ntarget = "sigmoid"\npoints = 5\n'
#: The network item alone, as the shipped rubric has it but at a third of its examples.
NETWORK_RUBRIC = replace(RUBRIC, items=tuple(i for i in RUBRIC.items if i.name == "network"), examples=10)
#: The answer-key tests isolate the seed: the cost check (grading/cost.py) times network_gradients on
#: a network drawn afresh for each grade, which no key can hold either, so it is off for them.
KEY_RUBRIC = replace(NETWORK_RUBRIC, require_backprop=False)


# --------------------------------------------------------------------------- the seed of a grade


def test_two_different_submissions_get_different_seeds_and_the_same_bytes_the_same(tmp_path):
    secret = b"s" * 32
    alice, bob, alice_again = tmp_path / "alice.py", tmp_path / "bob.py", tmp_path / "copy" / "alice.py"
    alice.write_text("x = 1\n")
    bob.write_text("x = 2\n")
    alice_again.parent.mkdir()
    alice_again.write_text("x = 1\n")
    seeds = {
        name: grade_seed(secret, submission_digest(path))
        for name, path in [("alice", alice), ("bob", bob), ("alice_again", alice_again)]
    }
    assert seeds["alice"] != seeds["bob"]
    assert seeds["alice"] == seeds["alice_again"] == grade_seed(secret, submission_digest(alice))
    assert all(0 <= seed < 2**53 for seed in seeds.values())


def test_the_seed_depends_on_the_secret_and_on_the_adapter():
    digest = submission_digest(IMPL_SOURCE)
    seeds = {grade_seed(b"a" * 32, digest), grade_seed(b"b" * 32, digest), grade_seed(b"a" * 32, digest, "cs231n")}
    assert len(seeds) == 3


def test_grade_file_takes_the_seed_from_the_secret_else_the_rubric_else_a_replay(tmp_path):
    student = tmp_path / "student.py"
    student.write_text("x = 1\n")
    secret = b"k" * 32
    derived = grading.submission_seed(student, RUBRIC, secret=secret)
    assert derived == GradeSeed(grade_seed(secret, submission_digest(student)), SeedSource.SECRET)
    assert grading.submission_seed(student, replace(RUBRIC, seed=7), secret=secret) == GradeSeed(7, SeedSource.RUBRIC)
    assert grading.submission_seed(student, replace(RUBRIC, seed=7), seed=9, secret=secret) == GradeSeed(9, SeedSource.GIVEN)
    one_off = {grading.submission_seed(student, RUBRIC) for _ in range(2)}
    assert {s.source for s in one_off} == {SeedSource.ONE_OFF} and len(one_off) == 2


def test_the_shipped_rubric_fixes_no_seed():
    assert RUBRIC.seed is None


def test_a_rubric_may_still_fix_a_seed(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("seed = 12\n" + SMALL_RUBRIC)
    assert load_rubric(path).seed == 12


# --------------------------------------------------------------------------- the secret file


def test_a_new_secret_is_readable_by_its_owner_only_and_never_overwritten(tmp_path):
    path = new_secret(tmp_path / "course" / "course-secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    first = read_secret(path)
    assert len(first) >= 32
    with pytest.raises(SecretError, match="exists; not overwriting it"):
        new_secret(path)
    assert read_secret(path) == first


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_a_secret_that_group_or_others_may_read_or_write_is_refused(tmp_path, mode):
    path = new_secret(tmp_path / "course-secret")
    path.chmod(mode)
    with pytest.raises(SecretError, match=f"has permissions {mode:04o}: it must be readable by its owner only"):
        read_secret(path)


def test_the_cli_refuses_a_group_readable_secret_with_exit_2(tmp_path, capsys):
    path = new_secret(tmp_path / "course-secret")
    path.chmod(0o640)
    student = tmp_path / "student.py"
    shutil.copy(IMPL_SOURCE, student)
    assert main(["grade", str(student), "--secret", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"the course secret {path} has permissions 0640" in err and f"chmod 600 {path}" in err


def test_a_named_secret_file_must_exist_and_the_default_one_is_made_on_first_use(tmp_path, monkeypatch):
    with pytest.raises(SecretError, match="no course secret at .*gradverify secret new"):
        course_secret(tmp_path / "missing", default=False)
    lines: list[str] = []
    made = tmp_path / "config" / "gradverify" / "course-secret"
    key = course_secret(made, default=True, announce=lines.append)
    assert made.is_file() and stat.S_IMODE(made.stat().st_mode) == 0o600
    assert len(lines) == 1 and str(made) in lines[0]
    assert course_secret(made, default=True, announce=lines.append) == key and len(lines) == 1


def test_secret_new_writes_one_and_refuses_to_overwrite_it(tmp_path, capsys):
    path = tmp_path / "course-secret"
    assert main(["secret", "new", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    assert main(["secret", "new", str(path)]) == 2
    assert "exists; not overwriting it" in capsys.readouterr().err and path.read_bytes() == before


def test_the_default_secret_lives_under_xdg_config_home(tmp_path, monkeypatch):
    from gradverify.grading.secret import secret_path

    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert secret_path(None) == (tmp_path / "gradverify" / "course-secret", True)
    monkeypatch.setenv(SECRET_ENV, str(tmp_path / "env-secret"))
    assert secret_path(None) == (tmp_path / "env-secret", False)
    assert secret_path(str(tmp_path / "given")) == (tmp_path / "given", False)


# --------------------------------------------------------------------------- what staff see


def _result(seed: GradeSeed) -> GradeResult:
    item = RUBRIC.items[0]
    return GradeResult("alice.py", RUBRIC, [ItemResult(item, True, item.points, examples=30)], sandbox="bubblewrap", seed=seed)


def test_the_staff_report_and_results_json_give_the_seed_and_its_replay_command():
    result = _result(GradeSeed(123456789, SeedSource.SECRET))
    report = render_submission(result)
    assert "Seed: 123456789, derived from the course secret" in report
    assert "`gradverify grade alice.py --seed 123456789`" in report
    assert FIXED_SEED_WARNING not in report
    document = results_json(result)
    assert document["extra_data"]["seed"] == 123456789 and document["extra_data"]["seed_source"] == "secret"
    shown_to_students = json.dumps([document["output"], [t["output"] for t in document["tests"]]])
    assert "123456789" not in shown_to_students


def test_a_seed_fixed_by_the_rubric_is_a_warning_in_the_staff_report_and_results_json():
    result = _result(GradeSeed(0, SeedSource.RUBRIC))
    report = render_submission(result)
    assert FIXED_SEED_WARNING in report
    assert report.index(FIXED_SEED_WARNING) < report.index("| item |")  # before the table
    assert results_json(result)["extra_data"]["seed_warning"] == FIXED_SEED_WARNING


def test_a_seed_fixed_by_the_rubric_is_a_warning_on_stderr(tmp_path, capsys):
    rubric = tmp_path / "r.toml"
    rubric.write_text("seed = 0\n" + SMALL_RUBRIC)
    assert main(["grade", str(tmp_path / "missing.py"), "--rubric", str(rubric)]) == 2  # stops before grading
    assert f"WARNING: {FIXED_SEED_WARNING}" in capsys.readouterr().err


@pytest.fixture(scope="module")
def graded_twice(tmp_path_factory):
    """A bug graded through the CLI with a course secret, then replayed with the seed its
    results.json gives: (secret's text, first results.json, first report, replay's results.json)."""
    folder = tmp_path_factory.mktemp("replay")
    rubric = folder / "rubric.toml"
    rubric.write_text(
        "examples = 10\n" + "\n".join(f'[[items]]\nname = "{n}"\ncheck = "{n}"\npoints = 5\n' for n in ("dense", "network"))
    )
    secret = new_secret(folder / "course-secret")
    student = BUGGY["relu_derivative_without_mask"].write(folder)
    outputs = []
    for name, extra in (("first", ["--secret", str(secret)]), ("replay", None)):
        if extra is None:
            extra = ["--seed", str(outputs[0][0]["extra_data"]["seed"])]
        assert (
            main(
                [
                    "grade",
                    str(student),
                    "--rubric",
                    str(rubric),
                    "--results-json",
                    str(folder / f"{name}.json"),
                    "--report",
                    str(folder / f"{name}.md"),
                    "--no-plots",
                    "--quiet",
                    *extra,
                ]
            )
            == 0
        )
        outputs.append((json.loads((folder / f"{name}.json").read_text()), (folder / f"{name}.md").read_text()))
    return secret.read_text().strip(), outputs[0], outputs[1][0], student


def test_a_grade_s_seed_comes_from_the_secret_and_the_file(graded_twice):
    secret, (first, _), _, student = graded_twice
    assert first["extra_data"]["seed_source"] == "secret"
    assert first["extra_data"]["seed"] == grade_seed(secret.encode(), submission_digest(student))


def test_the_seed_in_results_json_replays_the_grade_exactly(graded_twice):
    _, (first, _), replay, _ = graded_twice
    assert replay["extra_data"]["seed"] == first["extra_data"]["seed"] and replay["extra_data"]["seed_source"] == "given"

    def verdicts(document):
        return [(t["extra_data"]["item"], t["score"], t["output"]) for t in document["tests"]]

    assert verdicts(replay) == verdicts(first)
    assert [t["status"] for t in first["tests"]] == ["passed", "failed"]  # the bug is in the network


def test_the_secret_never_appears_in_the_report_or_results_json(graded_twice):
    secret, (first, report), replay, _ = graded_twice
    for text in (report, json.dumps(first), json.dumps(replay)):
        assert secret not in text and secret[:16] not in text


# --------------------------------------------------------------------------- the answer key


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory):
    """An answer key recorded from the model solution graded on the network item with seed 0
    (the seed every grade used when the rubric fixed it)."""
    from tests import answer_key

    return answer_key.write(tmp_path_factory.mktemp("key") / "answer_key.py", KEY_RUBRIC, seed=0)


def test_an_answer_key_earns_the_network_item_with_the_seed_it_was_recorded_with(answer_key):
    """The control: the key is real (it answers every case of that seed), so its 0 below is the
    seed's doing."""
    result = grading.grade_file(answer_key, KEY_RUBRIC, seed=0)
    (network,) = result.items
    assert network.passed and result.score == 20, network.reason


def test_an_answer_key_scores_zero_on_the_network_item_with_a_secret_derived_seed(answer_key, tmp_path):
    secret = read_secret(new_secret(tmp_path / "course-secret"))
    result = grading.grade_file(answer_key, KEY_RUBRIC, secret=secret)
    (network,) = result.items
    assert result.seed.source is SeedSource.SECRET and result.seed.value != 0
    assert result.score == 0 and not network.passed
    assert "not in the answer key" in network.reason, network.reason


@pytest.mark.parametrize("check", ["network", "l2", "train_loop"])
def test_the_fixed_cases_of_a_composite_item_are_drawn_with_the_grade_seed(check):
    """At a small budget no search runs and the fixed cases alone decide (one per component):
    were they the same at every seed, a key of them would earn the item whatever the secret."""
    from gradverify.properties.cases import Architecture, materialize

    arch = Architecture((2, 3, 2), ("tanh", "identity"), "mse", 0.0, 3)

    def data(seed):
        case = grading.composite_case(check, arch, seed=seed)
        example = getattr(case, "example", case)
        assert example.seed == seed
        return materialize(example)[1]  # X

    first, again, other = data(11), data(11), data(12)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.long
def test_each_class_grader_process_derives_its_own_submission_s_seed_from_the_secret(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(IMPL_SOURCE, folder / "alice.py")
    BUGGY["sigmoid_derivative_from_z"].write(folder)
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(SMALL_RUBRIC)
    secret = new_secret(tmp_path / "course-secret")
    out = tmp_path / "grades"
    assert (
        main(
            [
                "grade",
                str(folder),
                "--jobs",
                "2",
                "--out",
                str(out),
                "--quiet",
                "--no-plots",
                "--rubric",
                str(rubric),
                "--secret",
                str(secret),
            ]
        )
        == 0
    )
    key = read_secret(secret)
    for name in ("alice", "sigmoid_derivative_from_z"):
        extra = json.loads(student_outputs(out, name)[1].read_text())["extra_data"]
        assert extra["seed_source"] == "secret"
        assert extra["seed"] == grade_seed(key, submission_digest(folder / f"{name}.py")), name


def test_the_python_api_reads_the_secret_it_is_given_and_refuses_one_others_may_read(tmp_path):
    import gradverify

    path = new_secret(tmp_path / "course-secret")
    path.chmod(0o644)
    student = tmp_path / "student.py"
    shutil.copy(IMPL_SOURCE, student)
    with pytest.raises(SecretError, match="has permissions 0644"):
        gradverify.grade(student, secret=path)
