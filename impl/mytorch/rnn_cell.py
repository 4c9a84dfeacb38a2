import numpy as np

from .nn.activation import Tanh


class RNNCell:
    def __init__(self, input_size, hidden_size):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.activation = Tanh()
        h, d = hidden_size, input_size
        self.W_ih = np.random.randn(h, d)
        self.W_hh = np.random.randn(h, h)
        self.b_ih = np.random.randn(h)
        self.b_hh = np.random.randn(h)
        self.zero_grad()

    def init_weights(self, W_ih, W_hh, b_ih, b_hh):
        self.W_ih = W_ih
        self.W_hh = W_hh
        self.b_ih = b_ih
        self.b_hh = b_hh

    def zero_grad(self):
        h, d = self.hidden_size, self.input_size
        self.dW_ih = np.zeros((h, d))
        self.dW_hh = np.zeros((h, h))
        self.db_ih = np.zeros(h)
        self.db_hh = np.zeros(h)

    def __call__(self, x, h_prev_t):
        return self.forward(x, h_prev_t)

    def forward(self, x, h_prev_t):
        """x (N, D), h_prev_t (N, H) -> h_t (N, H) = tanh(x·W_ihᵀ + b_ih + h_prev_t·W_hhᵀ + b_hh)"""
        return self.activation.forward(x @ self.W_ih.T + self.b_ih + h_prev_t @ self.W_hh.T + self.b_hh)

    def backward(self, delta, h_t, h_prev_l, h_prev_t):
        """delta (N, H) -> (dx (N, D), dh_prev_t (N, H)); adds the gradients averaged over the batch"""
        batch_size = delta.shape[0]
        dz = self.activation.backward(delta, state=h_t)
        self.dW_ih += dz.T @ h_prev_l / batch_size
        self.dW_hh += dz.T @ h_prev_t / batch_size
        self.db_ih += np.sum(dz, axis=0) / batch_size
        self.db_hh += np.sum(dz, axis=0) / batch_size
        return dz @ self.W_ih, dz @ self.W_hh
