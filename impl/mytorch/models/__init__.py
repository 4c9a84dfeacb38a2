"""MyTorch's models (HW1P1): mlp.py (MLP0, MLP1, MLP4: Linear and ReLU layers of fixed widths)."""
