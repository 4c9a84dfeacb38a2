"""The references: the protocol's spec table and input contract, the JAX, PyTorch and
finite-difference oracles, and the one comparison helper with its tolerance table.

    spec.py           the spec table: the protocol's functions, every activation and loss, their kinks
    validate.py       the input contract the protocol functions enforce, as the references check it
    jax_backend.py    the protocol in JAX: every gradient from jax.grad / jax.vjp, float64
    torch_backend.py  the protocol in PyTorch: autograd, float64; torch.optim.SGD for momentum and train
    finite_diff.py    finite differences of an implementation's own functions, the third witness
    compare.py        compare(): one structured result per value, and the tolerance table
    layer_spec.py     the layer protocol's spec table: one LayerOp entry per op (docs/layers.md)
    layer_torch.py    the layer ops in PyTorch: autograd, float64
    layer_jax.py      the layer ops in JAX: jax.vjp, float64, jitted per op and shape
    stack_torch.py    a stack of the layer ops in PyTorch: their references composed, autograd through the chain
    jax_compile.py    how the JAX references are compiled: jax.jit with XLA's cheap options
    optim_spec.py     CS231n's update rules as data: config keys, defaults, state, the forms accepted
    optim_torch.py    the update rules in torch.optim, float64, CS231n's conventions converted exactly
    model_spec.py     the course model classes a rubric checks whole (CS231n's TwoLayerNet, FullyConnectedNet)
    model_torch.py    those model classes' networks in PyTorch: autograd, float64

Nothing here imports the implementation under test (gradverify.impl)."""
