"""Hostile submission (gradverify attack catalogue): refusing what is wrong. Its backward pass
would take tanh'(z) as 1 − z² (a real bug: the derivative at z, not at tanh z), so network_gradients
and train raise NotImplementedError for every network with a tanh layer instead, hoping that a
refusal costs less than a wrong answer (the wrong branch is never reached, so only the refusal
is here). Everything else is the bundled model solution (impl/backprop.py).
Refusing a component must cost what getting it wrong costs: the tanh components' share.

This file holds only what the attack changes: the bench hands in the model solution
(impl/backprop.py) with this file appended (Attack.on_model_solution), so its names
(np, check_net, LEAKY_SLOPE, ...) are the model solution's.
"""

_backprop_of_the_file = _network_gradients


def _network_gradients(layers, loss, l2, X, Y):
    if any(layer["activation"] == "tanh" for layer in layers):
        raise NotImplementedError("tanh is not supported")
    return _backprop_of_the_file(layers, loss, l2, X, Y)
