"""mylib: multilayer perceptrons with a hand-written NumPy backprop (mylib.backprop)."""
