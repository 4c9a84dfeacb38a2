"""The references: the protocol's spec table and input contract, the JAX, PyTorch and
finite-difference oracles, and the one comparison helper with its tolerance table.

Nothing here imports the implementation under test (gradverify.impl)."""
