class Flatten:
    def forward(self, A):
        """A (N, C, W) -> Z (N, C·W)"""
        self.shape = A.shape
        return A.reshape(A.shape[0], -1)

    def backward(self, dLdZ):
        """dLdZ (N, C·W) -> dLdA (N, C, W)"""
        return dLdZ.reshape(self.shape)
