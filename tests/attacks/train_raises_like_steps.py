"""Hostile submission (gradverify attack catalogue): train fails exactly like the steps it is compared with."""


def network_gradients(net, X, Y):
    raise ValueError("unsupported network")


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    raise ValueError("unsupported network")


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    raise ValueError("unsupported network")
