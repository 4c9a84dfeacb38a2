"""The rubric fails loudly: a field it does not have, a value of the wrong type or hidden and
visibility that contradict each other is an error with its line (exit 2 through the CLI), and
docs/rubric.md lists exactly the fields and checks the code has.

A rubric error is a ValueError whose message is all it carries (no field names the item, the
line or the field): the message tells the author what was expected, so its wording is the point
and each message's words are checked by one test; the others look only for where it points.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from gradverify.cli import main
from gradverify.grading.classroom import GRADER_SLACK_S, grader_limit, worst_case_seconds
from gradverify.grading.kinds import KINDS
from gradverify.grading.rubric import DEFAULT_RUBRIC, FIELDS, ITEM_FIELDS, VISIBILITIES, load_rubric

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "rubric.md"
SHIPPED = DEFAULT_RUBRIC.read_text(encoding="utf-8")
TEMPLATE = ROOT / "gradverify" / "grading" / "student_template.py"
#: The shipped rubric's l2 item (its 17th [[items]] table), whose `hidden = true` the cases below rewrite.
L2_ITEM = 'name = "l2"\ntitle = "L2 regularisation"\ncheck = "l2"\npoints = 5\nhidden = true\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, start: str) -> int:
    """The 1-based number of the one line of `text` that starts with `start`, found without the loader."""
    numbers = [n for n, line in enumerate(text.split("\n"), 1) if line.startswith(start)]
    assert len(numbers) == 1, numbers
    return numbers[0]


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ValueError) as info:
        load_rubric(_write(tmp_path, text))
    return str(info.value)


# --------------------------------------------------------------------------- unknown fields


#: A misspelt field at the top level and in an item: (rubric text, the misspelt line, the message).
MISSPELT = {
    "top-level": (
        SHIPPED.replace("\nitem_timeout = 30", "\nitem_timout = 30"),
        "item_timout = 30",
        "unknown top-level field 'item_timout' (line {}); did you mean 'item_timeout'?",
    ),
    "item": (
        SHIPPED.replace(L2_ITEM, L2_ITEM.replace("hidden = true", "hiden = true")),
        "hiden = true",
        "unknown field 'hiden' in item 17 (line {}); did you mean 'hidden'?",
    ),
}


@pytest.mark.parametrize("where", sorted(MISSPELT))
def test_a_misspelt_field_is_an_error_with_its_line_and_the_closest_name(tmp_path, where):
    """The wording is the point: the message names the line and the field meant."""
    text, line, message = MISSPELT[where]
    assert text != SHIPPED
    assert message.format(_line_of(text, line)) in _error(tmp_path, text)


@pytest.mark.parametrize("where", sorted(MISSPELT))
def test_the_cli_exits_2_with_the_message_for_a_misspelt_field(tmp_path, capsys, where):
    """The loader's message, whatever its words, on stderr (its wording is tested above)."""
    text, _line, _message = MISSPELT[where]
    assert main(["grade", str(TEMPLATE), "--rubric", str(_write(tmp_path, text)), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and _error(tmp_path, text) in err


def test_a_key_like_line_inside_a_multiline_string_is_not_taken_for_the_key(tmp_path):
    decoy = 'title = """\n[[items]]\nhiden = true\n"""\n'
    text = decoy + SHIPPED.replace('title = "Backpropagation in NumPy"\n', "").replace(
        L2_ITEM, L2_ITEM.replace("hidden = true", "hiden = true")
    )
    lines = text.split("\n")
    line = len(lines) - lines[::-1].index("hiden = true")  # the last such line: the real key
    assert line > 4
    assert f"'hiden' in item 17 (line {line})" in _error(tmp_path, text)  # where it points: no field of its own


def test_a_top_level_field_after_an_items_header_is_said_to_belong_above_it(tmp_path):
    """The wording is the point: the message says where the field belongs."""
    text = SHIPPED + "item_timeout = 5\n"
    message = _error(tmp_path, text)
    assert f"unknown field 'item_timeout' in item 19 (line {_line_of(text, 'item_timeout = 5')})" in message
    assert "is a top-level field: put it above the first [[items]]" in message


def test_an_item_field_at_the_top_level_is_said_to_belong_under_an_items_header(tmp_path):
    """The wording is the point: the message says where the field belongs."""
    message = _error(tmp_path, "points = 5\n" + SHIPPED)
    assert "unknown top-level field 'points' (line 1); 'points' is a field of an item" in message


def test_an_unknown_field_with_no_close_name_lists_the_valid_ones(tmp_path):
    """The wording is the point: the message lists the fields expected."""
    text = SHIPPED.replace(L2_ITEM, L2_ITEM + "colour = 'red'\n")
    message = _error(tmp_path, text)
    assert f"unknown field 'colour' in item 17 (line {_line_of(text, 'colour =')})" in message
    assert "expected one of " + ", ".join(ITEM_FIELDS) in message


# --------------------------------------------------------------------------- wrong values

ITEM = '[[items]]\nname = "a"\ncheck = "dense"\npoints = 1\n'


@pytest.mark.parametrize(
    "text, expected",
    [
        ("examples = true\n" + ITEM, "(line 1): examples must be an integer >= 1, got True"),
        ("item_timeout = inf\n" + ITEM, "(line 1): item_timeout must be a positive number of seconds, got inf"),
        ("item_timeout = nan\n" + ITEM, "(line 1): item_timeout must be a positive number of seconds, got nan"),
        ("seed = 1.5\n" + ITEM, "(line 1): seed must be an integer, got 1.5"),
        ("title = 3\n" + ITEM, "(line 1): title must be a string, got 3"),
        ('packages = "scipy"\n' + ITEM, "(line 1): packages must be a list of top-level package names, got 'scipy'"),
        (ITEM + 'hidden = "yes"\n', "item 1 (line 5): hidden must be true or false, got 'yes'"),
        (ITEM.replace("points = 1", 'points = "5"'), "item 1 (line 4): points must be a number >= 0, got '5'"),
        (ITEM.replace("points = 1", "points = nan"), "item 1 (line 4): points must be a number >= 0, got nan"),
        (ITEM.replace('name = "a"', "name = 3"), "item 1 (line 2): name must be a non-empty string, got 3"),
        (ITEM + 'title = ["a"]\n', "item 1 (line 5): title must be a string, got ['a']"),
        (ITEM.replace('"dense"', '["dense"]'), "item 1 (line 3): unknown check ['dense']"),
        (ITEM.replace('"dense"', '"dens"'), "did you mean 'dense'?"),
        (ITEM + 'target = "sigmoid"\n', "item 1 (line 5): check 'dense' takes no target"),
        (ITEM.replace('"dense"', '"activation"') + 'target = "tahn"\n', "needs a target from"),
        (ITEM.replace('"dense"', '"activation"'), "item 1 (line 1): check 'activation' needs a target from"),
        (ITEM + 'visibility = "after_due"\n', "did you mean 'after_due_date'?"),
        ('[[items]]\nname = "a"\ncheck = "dense"\n', "item 1 (line 1) needs 'points'"),
        ("items = [1, 2]\n", "(line 1): the rubric needs at least one [[items]] table"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error_with_its_line(tmp_path, text, expected):
    """The wording is the point: each message says what value was expected, checked here alone."""
    assert expected in _error(tmp_path, text)


def test_the_item_of_an_error_is_counted_in_the_files_order(tmp_path):
    second = ITEM.replace('"a"', '"b"').replace('"dense"', '"momentum_step"')
    text = ITEM + second + ITEM.replace('"a"', '"c"').replace('"dense"', '"network"').replace("points = 1", "points = -1")
    message = _error(tmp_path, text)  # its wording is tested above; here where it points
    assert "item 3 (line 12)" in message and "got -1" in message


# --------------------------------------------------------------------------- hidden and visibility


@pytest.mark.parametrize(
    "fields, visibility",
    [
        ("", "visible"),
        ("hidden = true\n", "hidden"),
        ("hidden = false\n", "visible"),
        ('visibility = "hidden"\n', "hidden"),
        ('hidden = true\nvisibility = "hidden"\n', "hidden"),
        ('visibility = "after_due_date"\n', "after_due_date"),
        ('hidden = false\nvisibility = "after_published"\n', "after_published"),
    ],
)
def test_hidden_true_is_gradescope_s_hidden_visibility(tmp_path, fields, visibility):
    (item,) = load_rubric(_write(tmp_path, ITEM + fields)).items
    assert item.visibility == visibility and item.hidden == (visibility == "hidden")


@pytest.mark.parametrize(
    "fields",
    [
        'hidden = true\nvisibility = "after_due_date"\n',
        'hidden = true\nvisibility = "visible"\n',
        'hidden = false\nvisibility = "hidden"\n',
    ],
)
def test_hidden_and_a_visibility_that_contradict_each_other_are_an_error(tmp_path, fields):
    """The wording is the point: the message names the two fields that contradict each other."""
    message = _error(tmp_path, ITEM + fields)
    assert "item 1 (line 5): hidden = " in message and "contradicts visibility" in message


def test_the_shipped_rubric_hides_its_hidden_items_from_students():
    rubric = load_rubric()
    assert {i.name: i.visibility for i in rubric.items if i.visibility != "visible"} == {"l2": "hidden", "train_loop": "hidden"}


# --------------------------------------------------------------------------- docs/rubric.md


def _table(heading: str) -> dict[str, str]:
    """The rows of the table under `## heading` in docs/rubric.md: first cell's `name` -> the row."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): line for line in section.splitlines() if (m := re.match(r"\| `([a-z_0-9]+)` \|", line))}


def test_docs_rubric_lists_every_check_with_exactly_its_targets():
    rows = _table("Checks")
    assert list(rows) == list(KINDS)
    for kind, row in rows.items():
        targets = re.findall(r"`([a-z_0-9]+)`", row.rsplit("|", 2)[1])
        assert targets == list(KINDS[kind].targets), kind


def test_docs_rubric_describes_every_field_and_only_those():
    assert sorted(_table("Top-level fields")) == sorted(FIELDS)
    assert sorted(_table("Item fields")) == sorted(ITEM_FIELDS)
    visibility = _table("Item fields")["visibility"]
    assert re.findall(r'`"([a-z_]+)"`', visibility.split("|")[2]) == list(VISIBILITIES)


def test_the_example_in_docs_rubric_is_a_valid_rubric(tmp_path):
    example = DOC.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    rubric = load_rubric(_write(tmp_path, example))
    assert [i.visibility for i in rubric.items] == ["visible", "after_due_date"] and rubric.max_score == 25


def test_docs_rubric_states_the_shipped_rubric_s_worst_case():
    """The docs' sentence is the point: it must state the number the code computes."""
    worst = worst_case_seconds(load_rubric())
    assert worst == 820 and f"{worst:g} s for the shipped rubric" in " ".join(DOC.read_text(encoding="utf-8").split())


# --------------------------------------------------------------------------- timeouts


@pytest.mark.parametrize("timeout, adapter", [(30.0, False), (5.0, True)])
def test_a_class_grader_process_is_given_its_submission_s_worst_case(timeout, adapter):
    rubric = replace(load_rubric(), item_timeout=timeout)
    n = len(rubric.items)
    worst = timeout * (n + (3 if adapter else 2)) + n * 10  # docs/rubric.md, "Timeouts"
    assert worst_case_seconds(rubric, adapter=adapter) == worst
    assert grader_limit(rubric, adapter=adapter) >= worst + GRADER_SLACK_S


# --------------------------------------------------------------------------- packages


@pytest.mark.parametrize(
    "fields",
    [
        'packages = ["gradverify"]\n',
        'packages = ["gradverify"]\nallow_autodiff = ["gradverify"]\n',
        'packages = ["impl"]\n',  # the checkout's impl/, importable from its folder: the model solution
    ],
)
def test_a_rubric_naming_the_grader_s_own_code_is_refused(tmp_path, fields):
    """The wording is the point: the message says why no rubric may allow it."""
    message = _error(tmp_path, fields + ITEM)
    assert "the grader's own code" in message and "no rubric may allow it" in message


@pytest.mark.parametrize("package", ["jax", "torch", "autograd", "tensorflow"])
def test_an_autodiff_package_is_refused_unless_the_rubric_allows_it(tmp_path, package):
    """The wording is the point: the message says why, and the line that would allow it."""
    message = _error(tmp_path, f'packages = ["numpy", "{package}"]\n' + ITEM)
    assert f"(line 1): packages names '{package}', which differentiates" in message
    assert f"allow_autodiff = ['{package}']" in message


def test_an_autodiff_package_the_rubric_allows_is_accepted_and_kept(tmp_path):
    rubric = load_rubric(_write(tmp_path, 'packages = ["jax", "jaxlib", "scipy"]\nallow_autodiff = ["jax", "jaxlib"]\n' + ITEM))
    assert rubric.packages == ("jax", "jaxlib", "scipy") and rubric.allow_autodiff == ("jax", "jaxlib")


@pytest.mark.parametrize(
    "fields, expected",
    [
        (
            'packages = ["scipy"]\nallow_autodiff = ["scipy"]\n',
            "allow_autodiff names 'scipy', which is not a package that differentiates",
        ),
        ('allow_autodiff = ["jax"]\n', "allow_autodiff names 'jax', which is not in packages: list it there too"),
        ('allow_autodiff = "jax"\n', "allow_autodiff must be a list of top-level package names, got 'jax'"),
    ],
)
def test_allow_autodiff_names_only_autodiff_packages_the_rubric_lists(tmp_path, fields, expected):
    assert expected in _error(tmp_path, fields + ITEM)


def test_the_grader_s_own_dependencies_that_differentiate_are_autodiff_packages():
    import importlib.util

    from gradverify.grading.rubric import AUTODIFF_PACKAGES

    own = ("torch", "functorch", "jax", "jaxlib", "sympy")
    assert all(importlib.util.find_spec(name) is not None for name in own)
    assert set(own) <= AUTODIFF_PACKAGES


def test_the_shipped_rubric_allows_no_package():
    assert load_rubric().packages == () and load_rubric().allow_autodiff == ()


def test_two_items_that_check_the_same_thing_are_refused_with_both_items(tmp_path):
    """A second network item would grade the same bug twice: refused at load, naming both items
    and the line of the second's check (found here without the loader)."""
    text = SHIPPED + '\n[[items]]\nname = "network_again"\ntitle = "Network, again"\ncheck = "network"\npoints = 5\n'
    blocks = text.split("[[items]]")[1:]
    first = next(i for i, block in enumerate(blocks, 1) if 'check = "network"\n' in block)
    line = max(n for n, row in enumerate(text.split("\n"), 1) if row == 'check = "network"')
    message = _error(tmp_path, text)
    assert f"item {len(blocks)} (line {line})" in message and f"is item {first}'s already" in message
    same_target = SHIPPED.replace('target = "tanh"', 'target = "sigmoid"', 1)
    assert "check 'activation' with target 'sigmoid'" in _error(tmp_path, same_target)
