"""Grading student submissions with the suite's properties, item by item.

rubric.py            the rubric: items, points, visibility, validated from TOML (rubric.toml and rubrics/ ship)
kinds.py             the kinds of item (a rubric's `check`): the property each runs and how it draws cases
items.py             grading one submission item by item, in the sandbox
domain.py            a composite item's credit: the share of its domain (components) that is right
cost.py              backprop, not numerical differentiation: network_gradients timed in forward passes
secret.py            the course secret, and each grade's seed derived from it and the submission
remote.py            the sandboxed submission as the suite calls it
feedback.py          results.json, the staff report of one submission, the class summary
handin.py            what a student hands in (a .py, a folder, a zip, a notebook) read for the sandbox
classroom.py         grading a folder of submissions, one grader process each
roster.py            the class's record in its grades folder (class.json): who, what each handed in
gradebook.py         the class's grades as a CSV an LMS imports (grades.csv), safe in a spreadsheet
adapters/            course adapters: a course's own API mapped onto the protocol (cs231n.py, layers.py, mytorch.py ship)
course_names.py      a failure said in the course's words: the adapter's COURSE_NAMES, the student's orientation, its SNIPPETS
student_template.py  the file handed out: every protocol function a stub
course_template.py   a course rubric's handout: the course's package, each graded function a stub
"""
