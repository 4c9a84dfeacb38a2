def network_gradients(net, X, Y):
    return 1


def broken(:
    pass
