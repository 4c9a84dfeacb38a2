import numpy as np

WEIGHTS = np.zeros(3)
SCALE = WEIGHTS[5]
