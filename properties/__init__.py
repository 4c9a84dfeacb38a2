"""What is checked (gradverify.properties): the properties and everything they are made of.

    cases.py            a case is a structure plus a seed; the arrays follow from it
    strategies.py       hypothesis strategies over cases, small by default, shrinking to one unit
    checks.py           the properties, each a named check with a one-line claim, and the fixed checks
    bad_inputs.py       bad input, and input just inside the bounds, for every protocol function
    worked_examples.py  worked examples from the literature, through the protocol functions
    calls.py            calling code under test: whatever it does becomes an ImplFailure with a cause

It imports gradverify.references and nothing else of gradverify: running the properties, and
reporting them, is the application's (gradverify.runner, gradverify.report).
"""
