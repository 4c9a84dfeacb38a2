"""Hostile submission (gradverify attack catalogue): DNS and TCP to the internet (to fetch answers or leak data)."""

import socket


def _attack():
    try:
        print("ATTACK-SUCCEEDED: resolved example.com:", socket.getaddrinfo("example.com", 80)[0][4])
    except OSError:
        pass
    for address in (("1.1.1.1", 80), ("8.8.8.8", 53), ("9.9.9.9", 443)):
        try:
            with socket.create_connection(address, timeout=1.0):
                print("ATTACK-SUCCEEDED: connected to", address)
        except OSError:
            pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1.0)
            query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
            sock.sendto(query, ("8.8.8.8", 53))
            sock.recvfrom(512)
            print("ATTACK-SUCCEEDED: a DNS answer from 8.8.8.8")
    except OSError:
        pass


_attack()


def loss(name, y_pred, y_true):
    raise NotImplementedError
