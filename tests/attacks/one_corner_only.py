"""Hostile submission (gradverify attack catalogue): one corner of the domain. network_gradients
and train handle networks of identity layers under mse only and raise NotImplementedError for
every other architecture, hoping that "over random architectures" means the ones it accepts.
Everything else is the bundled model solution (impl/backprop.py). It must earn that corner's share
of the network item (the pair mse × identity and the hidden activation identity), not the whole.

This file holds only what the attack changes: the bench hands in the model solution
(impl/backprop.py) with this file appended (Attack.on_model_solution), so its names
(np, check_net, LEAKY_SLOPE, ...) are the model solution's.
"""

_backprop_of_the_file = _network_gradients


def _network_gradients(layers, loss, l2, X, Y):
    if loss != "mse" or any(layer["activation"] != "identity" for layer in layers):
        raise NotImplementedError("identity layers under mse only")
    return _backprop_of_the_file(layers, loss, l2, X, Y)
