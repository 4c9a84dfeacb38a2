from .activation import ReLU, Sigmoid, Softmax, Tanh  # noqa: F401
from .batchnorm import BatchNorm1d  # noqa: F401
from .linear import Linear  # noqa: F401
from .loss import CrossEntropyLoss, MSELoss  # noqa: F401
