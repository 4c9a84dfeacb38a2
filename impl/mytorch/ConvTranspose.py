from .Conv1d import Conv1d_stride1
from .Conv2d import Conv2d_stride1
from .resampling import Upsample1d, Upsample2d


class ConvTranspose1d:
    """An Upsample1d by upsampling_factor, then a Conv1d_stride1 (weights and gradients in conv1d_stride1)."""

    def __init__(self, in_channels, out_channels, kernel_size, upsampling_factor, weight_init_fn=None, bias_init_fn=None):
        self.upsampling_factor = upsampling_factor
        self.upsample1d = Upsample1d(upsampling_factor)
        self.conv1d_stride1 = Conv1d_stride1(in_channels, out_channels, kernel_size, weight_init_fn, bias_init_fn)

    def forward(self, A):
        """A (N, C_in, W) -> Z (N, C_out, k·(W − 1) + 1 − K + 1)"""
        return self.conv1d_stride1.forward(self.upsample1d.forward(A))

    def backward(self, dLdZ):
        """dLdZ -> dLdA (N, C_in, W); conv1d_stride1 sets dLdW and dLdb"""
        return self.upsample1d.backward(self.conv1d_stride1.backward(dLdZ))


class ConvTranspose2d:
    """An Upsample2d by upsampling_factor, then a Conv2d_stride1 (weights and gradients in conv2d_stride1)."""

    def __init__(self, in_channels, out_channels, kernel_size, upsampling_factor, weight_init_fn=None, bias_init_fn=None):
        self.upsampling_factor = upsampling_factor
        self.upsample2d = Upsample2d(upsampling_factor)
        self.conv2d_stride1 = Conv2d_stride1(in_channels, out_channels, kernel_size, weight_init_fn, bias_init_fn)

    def forward(self, A):
        """A (N, C_in, H, W) -> Z (N, C_out, Ho, Wo)"""
        return self.conv2d_stride1.forward(self.upsample2d.forward(A))

    def backward(self, dLdZ):
        """dLdZ -> dLdA (N, C_in, H, W); conv2d_stride1 sets dLdW and dLdb"""
        return self.upsample2d.backward(self.conv2d_stride1.backward(dLdZ))
