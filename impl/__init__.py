"""The bundled implementation under test: hand-written NumPy backprop of both protocols, the
MLP's (impl/backprop.py, docs/protocol.md) and the layers' (impl/layers.py and
impl/rnn_layers.py, and CS231n's update rules in impl/optim.py: docs/layers.md), so that
`verify` on the bundled implementation checks all of them. impl/fc_net.py holds CS231n's model
classes (TwoLayerNet, FullyConnectedNet), impl/linear_classifier.py assignment 1's
LinearClassifier.train, and impl/captioning_rnn.py assignment 3's CaptioningRNN: the model
solution of the rubric's `model` items;
verify does not check classes, so it is not exported here. impl/mytorch is CMU 11-785's MyTorch
classes in the handouts' layout, the model solution of the mytorch rubrics (its own package,
gradverify.impl.mytorch, not imported here).

Installed as `gradverify.impl`; the relative imports keep it loadable as a plain `impl`
package too (mutmut runs the suite on a mutated copy of this folder).
"""

from . import backprop, layers, optim, rnn_layers
from .backprop import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .rnn_layers import *  # noqa: F401,F403

__all__ = [
    *backprop.__all__,
    *(name for module in (layers, rnn_layers) for name in module.__all__ if name != "LAYER_FUNCTIONS"),
    *optim.__all__,
]
