"""Imports a package the sandbox does not have (scipy): the reason names it and what is there."""

import scipy  # noqa: F401


def echo(x):
    return x
