import numpy as np  # noqa: F401 - as the handout's

from ..Conv1d import Conv1d
from ..flatten import Flatten
from ..nn.linear import Linear


class CNN:
    """Conv1d layers, each followed by its activation, then Flatten and one Linear: HW2P1's CNN.

    forward(A (N, C0, W0)) -> Z (N, num_linear_neurons); backward(labels (N, num_linear_neurons),
    one-hot) computes self.loss with the criterion and returns dLdA0 (N, C0, W0), each layer
    setting its dLdW and dLdb."""

    def __init__(
        self,
        input_width,
        num_input_channels,
        num_channels,
        kernel_sizes,
        strides,
        num_linear_neurons,
        activations,
        conv_weight_init_fn,
        bias_init_fn,
        linear_weight_init_fn,
        criterion,
        lr,
    ):
        self.train_mode = True
        self.nlayers = len(num_channels)
        self.activations = activations
        self.criterion = criterion
        self.lr = lr
        self.convolutional_layers = []
        channels, width = num_input_channels, input_width
        for out_channels, kernel, stride in zip(num_channels, kernel_sizes, strides):
            self.convolutional_layers.append(
                Conv1d(
                    channels,
                    out_channels,
                    kernel,
                    stride,
                    weight_init_fn=conv_weight_init_fn,
                    bias_init_fn=bias_init_fn,
                )
            )
            channels, width = out_channels, (width - kernel) // stride + 1
        self.flatten = Flatten()
        self.linear_layer = Linear(channels * width, num_linear_neurons)
        self.linear_layer.W = linear_weight_init_fn(num_linear_neurons, channels * width)
        self.linear_layer.b = bias_init_fn(num_linear_neurons).reshape(-1, 1)

    def forward(self, A):
        for conv, activation in zip(self.convolutional_layers, self.activations):
            A = activation.forward(conv.forward(A))
        self.Z = self.linear_layer.forward(self.flatten.forward(A))
        return self.Z

    def backward(self, labels):
        self.loss = self.criterion.forward(self.Z, labels).sum()
        grad = self.criterion.backward()
        grad = self.flatten.backward(self.linear_layer.backward(grad))
        for conv, activation in zip(self.convolutional_layers[::-1], self.activations[::-1]):
            grad = conv.backward(activation.backward(grad))
        return grad

    def zero_grads(self):
        for conv in self.convolutional_layers:
            conv.conv1d_stride1.dLdW.fill(0.0)
            conv.conv1d_stride1.dLdb.fill(0.0)
        self.linear_layer.dLdW = np.zeros(self.linear_layer.W.shape)
        self.linear_layer.dLdb = np.zeros(self.linear_layer.b.shape)

    def step(self):
        for conv in self.convolutional_layers:
            layer = conv.conv1d_stride1
            layer.W = layer.W - self.lr * layer.dLdW
            layer.b = layer.b - self.lr * layer.dLdb
        self.linear_layer.W = self.linear_layer.W - self.lr * self.linear_layer.dLdW
        self.linear_layer.b = self.linear_layer.b - self.lr * self.linear_layer.dLdb

    def train(self):
        self.train_mode = True

    def eval(self):
        self.train_mode = False
