import numpy as np

from .nn.activation import Sigmoid, Tanh


class GRUCell:
    """One sample at a time: x (input_size,), h_prev_t (hidden_size,)."""

    def __init__(self, input_size, hidden_size):
        self.d, self.h = input_size, hidden_size
        h, d = hidden_size, input_size
        self.Wrx, self.Wzx, self.Wnx = (np.random.randn(h, d) for _ in range(3))
        self.Wrh, self.Wzh, self.Wnh = (np.random.randn(h, h) for _ in range(3))
        self.brx, self.bzx, self.bnx, self.brh, self.bzh, self.bnh = (np.random.randn(h) for _ in range(6))
        self.dWrx, self.dWzx, self.dWnx = (np.zeros((h, d)) for _ in range(3))
        self.dWrh, self.dWzh, self.dWnh = (np.zeros((h, h)) for _ in range(3))
        self.dbrx, self.dbzx, self.dbnx, self.dbrh, self.dbzh, self.dbnh = (np.zeros(h) for _ in range(6))
        self.r_act, self.z_act, self.h_act = Sigmoid(), Sigmoid(), Tanh()

    def init_weights(self, Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh):
        self.Wrx, self.Wzx, self.Wnx, self.Wrh, self.Wzh, self.Wnh = Wrx, Wzx, Wnx, Wrh, Wzh, Wnh
        self.brx, self.bzx, self.bnx, self.brh, self.bzh, self.bnh = brx, bzx, bnx, brh, bzh, bnh

    def __call__(self, x, h_prev_t):
        return self.forward(x, h_prev_t)

    def forward(self, x, h_prev_t):
        """r = σ(Wrx·x + brx + Wrh·h + brh), z likewise, n = tanh(Wnx·x + bnx + r·(Wnh·h + bnh)),
        h_t = (1 − z)·n + z·h"""
        self.x, self.hidden = x, h_prev_t
        self.r = self.r_act.forward(self.Wrx @ x + self.brx + self.Wrh @ h_prev_t + self.brh)
        self.z = self.z_act.forward(self.Wzx @ x + self.bzx + self.Wzh @ h_prev_t + self.bzh)
        self.hn = self.Wnh @ h_prev_t + self.bnh
        self.n = self.h_act.forward(self.Wnx @ x + self.bnx + self.r * self.hn)
        return (1 - self.z) * self.n + self.z * h_prev_t

    def backward(self, delta):
        """delta (hidden_size,) -> (dx (input_size,), dh_prev_t (hidden_size,)); sets this sample's gradients"""
        dn = delta * (1 - self.z)
        dz = delta * (self.hidden - self.n)
        dan = self.h_act.backward(dn, state=self.n)
        dar = self.r_act.backward(dan * self.hn)
        daz = self.z_act.backward(dz)
        self.dWnx, self.dbnx = np.outer(dan, self.x), dan
        self.dWnh, self.dbnh = np.outer(dan * self.r, self.hidden), dan * self.r
        self.dWzx, self.dbzx = np.outer(daz, self.x), daz
        self.dWzh, self.dbzh = np.outer(daz, self.hidden), daz
        self.dWrx, self.dbrx = np.outer(dar, self.x), dar
        self.dWrh, self.dbrh = np.outer(dar, self.hidden), dar
        dx = dan @ self.Wnx + daz @ self.Wzx + dar @ self.Wrx
        dh_prev_t = delta * self.z + (dan * self.r) @ self.Wnh + daz @ self.Wzh + dar @ self.Wrh
        return dx, dh_prev_t
