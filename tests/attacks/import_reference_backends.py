"""Hostile submission (gradverify attack catalogue): the grader's reference backends as the implementation."""

import sys

sys.path += ["/work/main", "/work/main/.venv/lib/python3.11/site-packages"]
for name in ("gradverify.references.torch_backend", "gradverify.references.jax_backend",
             "references.torch_backend", "references.jax_backend"):
    try:
        module = __import__(name, fromlist=["network_gradients"])
        network_gradients = module.network_gradients
        print("ATTACK-SUCCEEDED: imported", name)
        break
    except Exception:  # noqa: BLE001
        continue
