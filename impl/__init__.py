"""The bundled implementation under test: hand-written NumPy backprop (see impl/backprop.py).

Installed as `gradverify.impl`; the relative import keeps it loadable as a plain `impl`
package too (mutmut runs the suite on a mutated copy of this folder).
"""

from .backprop import *  # noqa: F401,F403
from .backprop import __all__  # noqa: F401
