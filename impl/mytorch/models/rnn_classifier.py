import numpy as np

from ..nn.linear import Linear
from ..rnn_cell import RNNCell


class RNNPhonemeClassifier:
    """Stacked RNNCells over the sequence, a Linear on the last layer's last hidden state: HW3P1's.

    forward(x (N, T, D), h_0 (L, N, H) or None) -> logits (N, output_size);
    backward(delta (N, output_size)) -> dh_0 / N (L, N, H): back-propagation through time, each
    cell adding its gradients averaged over the batch (RNNCell's own), as the handout returns it."""

    def __init__(self, input_size, hidden_size, output_size, num_layers=2):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.rnn = [RNNCell(input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)]
        self.output_layer = Linear(hidden_size, output_size)
        self.hiddens = []  # (T + 1) × (L, N, H): h_0, then each time step's

    def init_weights(self, rnn_weights, linear_weights):
        for cell, weights in zip(self.rnn, rnn_weights):
            cell.init_weights(*weights)
        self.output_layer.W = linear_weights[0]
        self.output_layer.b = linear_weights[1].reshape(-1, 1)

    def __call__(self, x, h_0=None):
        return self.forward(x, h_0)

    def forward(self, x, h_0=None):
        batch_size, seq_len = x.shape[0], x.shape[1]
        hidden = np.zeros((self.num_layers, batch_size, self.hidden_size)) if h_0 is None else h_0.copy()
        self.x = x
        self.hiddens.append(hidden.copy())
        for t in range(seq_len):
            inputs = x[:, t, :]
            for layer, cell in enumerate(self.rnn):
                hidden[layer] = cell.forward(inputs, hidden[layer])
                inputs = hidden[layer]
            self.hiddens.append(hidden.copy())
        return self.output_layer.forward(hidden[-1])

    def backward(self, delta):
        batch_size, seq_len = self.x.shape[0], self.x.shape[1]
        dh = np.zeros((self.num_layers, batch_size, self.hidden_size))
        dh[-1] = self.output_layer.backward(delta)
        for t in range(seq_len, 0, -1):
            for layer in range(self.num_layers - 1, -1, -1):
                h_prev_l = self.x[:, t - 1, :] if layer == 0 else self.hiddens[t][layer - 1]
                dx, dh_prev_t = self.rnn[layer].backward(dh[layer], self.hiddens[t][layer], h_prev_l, self.hiddens[t - 1][layer])
                dh[layer] = dh_prev_t
                if layer > 0:
                    dh[layer - 1] += dx
        return dh / batch_size
