"""tinynet's classes as the backprop protocol: the adapter its maintainers grade and gate with.

tinynet's Linear keeps its weight as (in, out), the transpose of the protocol's W: the adapter
passes Wᵀ and hands grad_weightᵀ back. An identity layer is a Linear with nothing after it.
Its SGD's velocity v (v ← momentum·v − lr·g) is the protocol's Δw, passed through unchanged.
Mapped: relu and sigmoid, mse, the dense layer, networks of those (and identity) without L2,
the momentum step. Not mapped: every other activation and loss, L2, the training loop.
"""

import numpy as np

import student

ACTIVATIONS = ("relu", "sigmoid")
LOSSES = ("mse",)
NETWORK_ACTIVATIONS = ("identity", "relu", "sigmoid")
NETWORK_LOSSES = ("mse",)
L2 = False

LAYERS = {"relu": "ReLU", "sigmoid": "Sigmoid"}


def _layer(name):
    if name not in LAYERS:
        raise NotImplementedError(f"tinynet has no {name} layer")
    return getattr(student, LAYERS[name])()


def _loss(name):
    if name != "mse":
        raise NotImplementedError(f"tinynet has no {name} loss")
    return student.MSELoss()


def _linear(W, b):
    return student.Linear(np.array(W, dtype=np.float64).T.copy(), np.array(b, dtype=np.float64))


def activation(name, z):
    return _layer(name).forward(z)


def activation_backward(name, z, grad_a):
    layer = _layer(name)
    layer.forward(z)
    return layer.backward(grad_a)


def loss(name, y_pred, y_true):
    return _loss(name).forward(y_pred, y_true)


def loss_backward(name, y_pred, y_true):
    loss_fn = _loss(name)
    loss_fn.forward(y_pred, y_true)
    return loss_fn.backward()


def dense_forward(x, W, b):
    return _linear(W, b).forward(x)


def dense_backward(x, W, grad_z):
    layer = _linear(W, np.zeros(np.shape(W)[0]))
    layer.forward(x)
    grad_x = layer.backward(grad_z)
    return grad_x, layer.grad_weight.T, layer.grad_bias


def network_gradients(net, X, Y):
    if net.get("l2", 0.0):
        raise NotImplementedError("tinynet has no weight decay")
    loss_fn = _loss(net["loss"])
    layers, linears = [], []
    for layer in net["layers"]:
        linears.append(_linear(layer["W"], layer["b"]))
        layers.append(linears[-1])
        if layer["activation"] != "identity":
            layers.append(_layer(layer["activation"]))
    model = student.Sequential(layers)
    value = loss_fn.forward(model.forward(X), Y)
    model.backward(loss_fn.backward())
    return value, [{"W": layer.grad_weight.T, "b": layer.grad_bias} for layer in linears]


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    linears = []
    for layer, grad in zip(params, grads):
        linears.append(_linear(layer["W"], layer["b"]))
        linears[-1].grad_weight = np.array(grad["W"], dtype=np.float64).T
        linears[-1].grad_bias = np.array(grad["b"], dtype=np.float64)
    optimizer = student.SGD(linears, lr=lr, momentum=momentum)
    if velocity is not None:
        optimizer.v_weight = [np.array(v["W"], dtype=np.float64).T for v in velocity]
        optimizer.v_bias = [np.array(v["b"], dtype=np.float64) for v in velocity]
    optimizer.step()
    new_params = [{**layer, "W": lin.weight.T, "b": lin.bias} for layer, lin in zip(params, linears)]
    new_velocity = [{"W": vw.T, "b": vb} for vw, vb in zip(optimizer.v_weight, optimizer.v_bias)]
    return new_params, new_velocity
