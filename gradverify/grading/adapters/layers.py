"""A class-based layer API as the backprop protocol (shipped adapter: `--adapter layers`).

The course's classes (a "write your own little framework" assignment, in the style of
PyTorch's nn.Module and CMU 11-785's MyTorch):

    Dense(W, b, l2=0.0)            W (out, in), b (out,); l2: λ of the weight decay on W
        forward(x) -> z            z = x·Wᵀ + b (keeps x for backward)
        backward(grad_z) -> grad_x sets self.dW = grad_zᵀ·x + λ·W and self.db = Σ_n grad_z
        penalty() -> float         (λ/2)·‖W‖²
    ReLU(), Sigmoid(), Tanh(), Softmax()
        forward(z) -> a            a = φ(z) (Softmax: over each row)
        backward(grad_a) -> grad_z the vector-Jacobian product at the z of the last forward
    MSELoss(), CrossEntropyLoss()
        forward(y_pred, y_true) -> float    mse: (1/(N·K))·Σ(ŷ − y)²; cross-entropy: −(1/N)·Σ y·log ŷ
                                            (ŷ probabilities, y one-hot or soft targets)
        backward() -> grad_y_pred           ∂loss/∂ŷ at the last forward
    Sequential(layers)
        forward(x), backward(grad) -> grad_x (through the layers in reverse),
        penalty() -> float (the sum of its Dense layers' penalties); attribute layers
    SGD(layers, lr, momentum=0.0)  updates the given Dense layers from their dW and db;
        v_W, v_b: one velocity per layer (zeros at first)
        step(): v ← momentum·v − lr·dW, W ← W + v (likewise b): Keras's convention
    fit(model, loss_fn, optimizer, X, Y, batch_size, epochs) -> list[float]
        batches X[0:bs], X[bs:2bs], … in order (the last may be smaller), no shuffling; per batch
        loss = loss_fn.forward(model.forward(Xb), Yb) + model.penalty(), then
        model.backward(loss_fn.backward()), optimizer.step(); returns each batch's loss before its step

The course's velocity v is the protocol's Δw (Δw(n) = momentum·Δw(n−1) − lr·g(n)), so it passes
through unchanged (a course with torch's convention, buf ← momentum·buf + g, W ← W − lr·buf, would
convert: Δw = −lr·buf; docs/adapters.md says what that costs). An "identity" layer of the protocol
is a Dense layer with no activation layer after it.

Mapped: relu, sigmoid, tanh and softmax; mse and cce; the dense layer; network gradients of
networks built of these (and identity), with L2; the momentum step; the training loop.
Not mapped: leaky_relu, softplus and identity as standalone activations, and the other losses:
the course has no class for them. Networks it cannot express raise NotImplementedError; NETWORK_ACTIVATIONS
and NETWORK_LOSSES declare the others: the composite items' domain, where a refusal counts as
not right.
"""

import numpy as np

import student

ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax")
LOSSES = ("mse", "cce")
#: What its networks map: Dense layers with these activations (identity: none after it) under these losses.
NETWORK_ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh", "softmax")
NETWORK_LOSSES = ("mse", "cce")

#: The course's class of each protocol activation and loss.
LAYERS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}
LOSS_CLASSES = {"mse": "MSELoss", "cce": "CrossEntropyLoss"}


def _course_class(name, table):
    """The student's class for `name` (NotImplementedError if the course has none)."""
    if name not in table:
        raise NotImplementedError(f"the course's layer API has no class for {name}")
    return getattr(student, table[name])


def activation(name, z):
    return _course_class(name, LAYERS)().forward(z)


def activation_backward(name, z, grad_a):
    layer = _course_class(name, LAYERS)()
    layer.forward(z)
    return layer.backward(grad_a)


def loss(name, y_pred, y_true):
    return _course_class(name, LOSS_CLASSES)().forward(y_pred, y_true)


def loss_backward(name, y_pred, y_true):
    loss_fn = _course_class(name, LOSS_CLASSES)()
    loss_fn.forward(y_pred, y_true)
    return loss_fn.backward()


def dense_forward(x, W, b):
    return student.Dense(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)).forward(x)


def dense_backward(x, W, grad_z):
    layer = student.Dense(np.array(W, dtype=np.float64), np.zeros(W.shape[0]))
    layer.forward(x)
    grad_x = layer.backward(grad_z)
    return grad_x, layer.dW, layer.db


def _expressible(net):
    """NotImplementedError unless the course's classes can build `net`."""
    _course_class(net["loss"], LOSS_CLASSES)
    for layer in net["layers"]:
        if layer["activation"] != "identity":
            _course_class(layer["activation"], LAYERS)


def _model(net):
    """(the course's Sequential of `net`, its Dense layers, the loss object); the weights copied."""
    _expressible(net)
    layers, dense = [], []
    for layer in net["layers"]:
        dense.append(
            student.Dense(
                np.array(layer["W"], dtype=np.float64), np.array(layer["b"], dtype=np.float64), l2=float(net.get("l2", 0.0))
            )
        )
        layers.append(dense[-1])
        if layer["activation"] != "identity":
            layers.append(_course_class(layer["activation"], LAYERS)())
    return student.Sequential(layers), dense, _course_class(net["loss"], LOSS_CLASSES)()


def network_gradients(net, X, Y):
    model, dense, loss_fn = _model(net)
    value = loss_fn.forward(model.forward(X), Y) + model.penalty()
    model.backward(loss_fn.backward())
    return value, [{"W": layer.dW, "b": layer.db} for layer in dense]


def sgd_momentum_step(params, grads, velocity, *, lr, momentum):
    dense = []
    for layer, grad in zip(params, grads):
        dense.append(student.Dense(np.array(layer["W"], dtype=np.float64), np.array(layer["b"], dtype=np.float64)))
        dense[-1].dW = np.array(grad["W"], dtype=np.float64)
        dense[-1].db = np.array(grad["b"], dtype=np.float64)
    optimizer = student.SGD(dense, lr=lr, momentum=momentum)
    if velocity is not None:  # the course's v is the protocol's Δw
        optimizer.v_W = [np.array(v["W"], dtype=np.float64) for v in velocity]
        optimizer.v_b = [np.array(v["b"], dtype=np.float64) for v in velocity]
    optimizer.step()
    new_params = [{**layer, "W": d.W, "b": d.b} for layer, d in zip(params, dense)]
    new_velocity = [{"W": vW, "b": vb} for vW, vb in zip(optimizer.v_W, optimizer.v_b)]
    return new_params, new_velocity


def train(net, X, Y, *, lr, momentum=0.0, batch_size, epochs):
    model, dense, loss_fn = _model(net)
    optimizer = student.SGD(dense, lr=lr, momentum=momentum)
    losses = student.fit(model, loss_fn, optimizer, X, Y, batch_size=batch_size, epochs=epochs)
    layers = [{**layer, "W": d.W, "b": d.b} for layer, d in zip(net["layers"], dense)]
    return {**net, "layers": layers}, losses
