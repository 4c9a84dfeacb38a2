"""The bundled implementation under test: hand-written NumPy backprop (see impl/backprop.py)."""

from impl.backprop import *  # noqa: F401,F403
from impl.backprop import __all__  # noqa: F401
