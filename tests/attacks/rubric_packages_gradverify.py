"""Hostile submission (gradverify attack catalogue): a careless rubric. Graded with a rubric whose
`packages` lists gradverify (a TA who wanted the sandbox to "have the grader"), it imports the
model solution from the package. The rubric must be refused before anything runs: gradverify in
the sandbox is the answer, and a runtime built with it would serve it to later submissions too.
"""

from gradverify.impl.backprop import *  # noqa: F401,F403 - the whole point
