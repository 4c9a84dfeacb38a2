"""Hostile submission (gradverify attack catalogue): reach the grader's machine over loopback and local sockets."""

import glob
import socket

PORTS = (47391, 47392, 47393, 47394)


def _try(what, family, kind, address, payload=b"gvattack"):
    try:
        with socket.socket(family, kind) as sock:
            sock.settimeout(0.5)
            if kind == socket.SOCK_DGRAM:
                sock.sendto(payload, address)
            else:
                sock.connect(address)
                sock.sendall(payload)
            print("ATTACK-SUCCEEDED: reached", what)
    except OSError:
        pass


def _attack():
    for port in PORTS:
        _try(f"tcp 127.0.0.1:{port}", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port))
        _try(f"tcp [::1]:{port}", socket.AF_INET6, socket.SOCK_STREAM, ("::1", port))
    _try("abstract unix socket", socket.AF_UNIX, socket.SOCK_STREAM, "\0gvattack-listener")
    for path in glob.glob("/run/*.sock") + glob.glob("/var/run/*.sock") + glob.glob("/tmp/.X11-unix/*") + glob.glob("/run/user/*/bus") + glob.glob("/tmp/*.sock"):
        _try(f"unix socket {path}", socket.AF_UNIX, socket.SOCK_STREAM, path)


_attack()


def loss(name, y_pred, y_true):
    _attack()
    raise NotImplementedError
