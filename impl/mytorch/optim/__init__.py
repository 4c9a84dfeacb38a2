"""MyTorch's optim (HW1P1): sgd.py (SGD with torch's momentum buffer)."""
