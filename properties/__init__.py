"""What is checked (gradverify.properties): the properties and everything they are made of.

    cases.py            a case is a structure plus a seed; the arrays follow from it
    strategies.py       hypothesis strategies over cases, small by default, shrinking to one unit
    checks.py           the registries: the properties and the fixed checks, each with a one-line claim
    component_checks.py the activations, losses and dense layer against the references, at kinks, in the tails
    network_checks.py   the network's gradients: references, finite differences, batch mean, L2, descent
    training_checks.py  sgd_momentum_step and train against torch.optim.SGD and the own steps in a loop
    bad_input_checks.py bad input rejected with a ValueError naming the function, edge input accepted
    shared.py           what the checks share: the oracles, Rejected and Counterexample, layer comparisons
    bad_inputs.py       bad input, and input just inside the bounds, for every protocol function
    worked_examples.py  worked examples from the literature, through the protocol functions
    calls.py            calling code under test: whatever it does becomes an ImplFailure with a cause
    scope.py            the components a library declares, and which checks and cases they leave out
    reproduce.py        a failing case as Python a student runs: its inputs written out, the check's calls
    layer_cases.py      a layer op's case: its op, sizes, hyperparameters and seed; the arrays follow
    layer_strategies.py hypothesis strategies over a layer op's cases, consistent shapes, shrinking
    layer_checks.py     the generic check every layer op runs: references, finite differences, form, state
    layer_properties.py the layer ops as properties, one per op of the table
    stack_cases.py      a stack case: layer cases in a chain ending in a loss, with at most one residual fork
    stack_strategies.py hypothesis strategies over stacks of each family, shapes that chain, shrinking
    stack_checks.py     the stack check: the own ops in a chain against torch autograd and the chain's differences
    stack_properties.py the stack families as properties, beside the single ops'
    optim_cases.py      an update rule's case: the rule, w's shape, the steps, a seed, a config
    optim_strategies.py hypothesis strategies over an update rule's cases: w, its gradients, a config
    optim_checks.py     the check of an update rule: its steps against torch.optim, state and form
    optim_properties.py the update rules as properties, one per rule of the table
    model_cases.py      a course model class's case: its sizes, reg, normalisation, seed; and their strategy
    model_checks.py     the check of a model class whole against PyTorch, and its properties (rubric items only)

It imports gradverify.references and nothing else of gradverify: running the properties, and
reporting them, is the application's (gradverify.runner, gradverify.report).
"""
