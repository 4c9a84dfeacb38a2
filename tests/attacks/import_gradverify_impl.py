"""Hostile submission (gradverify attack catalogue): hand in the grader's own model solution."""


try:
    from gradverify.impl.backprop import *  # noqa: F401,F403
    print("ATTACK-SUCCEEDED: imported gradverify.impl.backprop")
except ImportError:
    pass
try:
    from gradverify.impl import network_gradients  # noqa: F401
    print("ATTACK-SUCCEEDED: imported gradverify.impl")
except ImportError:
    pass
try:
    import gradverify  # noqa: F401
    print("ATTACK-SUCCEEDED: imported gradverify at", gradverify.__file__)
except ImportError:
    pass
