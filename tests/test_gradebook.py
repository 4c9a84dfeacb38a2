"""grades.csv: one row per student an LMS imports, and no cell a spreadsheet runs as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from gradverify.grading.gradebook import grades_csv, safe_cell


def _document(student: str, score: float, items: dict[str, float], max_score: float = 10.0) -> dict:
    tests = [{"score": points, "extra_data": {"item": name}} for name, points in items.items()]
    return {"score": score, "tests": tests, "extra_data": {"student": student, "max_score": max_score}}


def test_each_student_is_a_row_of_score_maximum_each_item_and_status():
    graded = [_document("alice", 7.5, {"mse": 5.0, "network": 2.5}), _document("bob", 10.0, {"mse": 5.0, "network": 5.0})]
    rows = list(csv.reader(grades_csv(graded, [("carol.txt", "not a .py file")]).splitlines()))
    assert rows[0] == ["student", "score", "max_score", "mse", "network", "status"]
    assert rows[1:3] == [["alice", "7.5", "10.0", "5.0", "2.5", "graded"], ["bob", "10.0", "10.0", "5.0", "5.0", "graded"]]
    assert rows[3] == ["carol.txt", "", "", "", "", "not graded: not a .py file"]


def test_an_item_a_student_has_no_test_for_is_an_empty_cell():
    graded = [_document("alice", 5.0, {"mse": 5.0, "l2": 0.0}), _document("bob", 5.0, {"mse": 5.0})]
    rows = list(csv.DictReader(grades_csv(graded).splitlines()))
    assert [r["l2"] for r in rows] == ["0.0", ""]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1", "-x", "@SUM(A1)", "\tx", "\rx"])
def test_no_cell_starts_a_spreadsheet_formula(name):
    text = grades_csv([_document(name, 1.0, {"mse": 1.0})], [(name, "=1+1")])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][0] == "'" + name and rows[2][0] == "'" + name
    assert rows[2][-1] == "not graded: =1+1"  # starts with "n": as it is
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_numbers_stay_numbers():
    assert safe_cell(-1.0) == -1.0 and safe_cell("plain") == "plain"
