"""Variants of impl/layers.py that every single-op check passes and a stack fails: an op that
hands out an array it goes on writing to. Each is located by the stack check (the layer index,
function and quantity of a failing comparison), and kept apart from tests/layer_variants' BUGGY,
whose variants the single-op check must catch.

Both keep their outputs in a buffer per shape, reused from call to call, to save an allocation
(`np.matmul(..., out=buf)`): each call's result is right when it is returned, so an op checked
alone passes; in a stack the next call of the op writes over an array another op still holds.
"""

from __future__ import annotations

from gradverify.references.compare import Cause
from tests.layer_variants import LayerVariant, _v

_BUFFERS = (
    "def affine_forward(x, w, b):\n",
    '''_BUFFERS = {}


def _buffer(owner, shape):
    """A buffer of `shape` kept for `owner` and reused by its every call."""
    return _BUFFERS.setdefault((owner, shape), np.empty(shape))


def affine_forward(x, w, b):
''',
)

#: Bugs only a stack shows.
STACK_BUGGY: dict[str, LayerVariant] = {
    v.name: v
    for v in (
        _v(
            "affine_forward_reuses_its_output",
            "affine",
            "affine_forward writes out into a buffer it reuses: in affine → relu → affine with as many hidden units "
            "as classes, the second affine overwrites the first's out, which relu's cache holds, so relu's backward "
            "reads the wrong signs",
            _BUFFERS,
            (
                "    out = x.reshape(x.shape[0], -1) @ w + b\n",
                '    out = _buffer("affine_forward", (x.shape[0], w.shape[1]))\n'
                "    np.matmul(x.reshape(x.shape[0], -1), w, out=out)\n"
                "    out += b\n",
            ),
            function="affine_forward",
            quantity="out",
            cause=Cause.ALIASED,
        ),
        _v(
            "affine_backward_reuses_its_dx",
            "affine",
            "affine_backward writes dx into a buffer it reuses: in a chain each dx is used up by the op before it "
            "at once, but at a fork the upstream gradient is still needed for the skip when the fork's first "
            "affine writes its own dx over it",
            _BUFFERS,
            (
                "    dx = (dout @ w.T).reshape(x.shape)\n",
                '    dx = _buffer("affine_backward", x.shape)\n    dx[...] = (dout @ w.T).reshape(x.shape)\n',
            ),
            function="affine_backward",
            quantity="dx",
            cause=Cause.ALIASED,
        ),
    )
}

#: The stack family whose property the catalogue's test runs on each variant. Both are located
#: where the array is handed out a second time (Cause.ALIASED, at the affine that reuses it);
#: the numbers they get wrong are shown on fixed stacks (tests/test_layer_stacks.py): relu's dx
#: and the first affine's gradients, and a fork's summed dx.
FAMILY = {"affine_forward_reuses_its_output": "dense", "affine_backward_reuses_its_dx": "residual"}
