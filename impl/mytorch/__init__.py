"""CMU 11-785's MyTorch, the classes its handouts have students write, in NumPy: the model
solution of the course rubrics mytorch-hw1, mytorch-hw2 and mytorch-hw3 (docs/courses/mytorch.md)
and the library the shipped `mytorch` adapter is tested on. Laid out as the handouts lay it out:

    nn/            HW1P1: activation.py, linear.py, loss.py, batchnorm.py
    models/        HW1P1: mlp.py (MLP0, MLP1, MLP4); HW2P1: cnn.py (CNN); HW3P1: rnn_classifier.py
    optim/         HW1P1: sgd.py (SGD, torch's momentum buffer)
    Conv1d.py      HW2P1: Conv1d_stride1 and Conv1d (a stride-1 convolution, then Downsample1d)
    Conv2d.py      HW2P1: Conv2d_stride1 and Conv2d
    pool.py        HW2P1: MaxPool2d_stride1, MaxPool2d, MeanPool2d_stride1, MeanPool2d
    resampling.py  HW2P1: Downsample1d/2d (every k-th sample kept), Upsample1d/2d (zeros between)
    flatten.py     HW2P1: Flatten
    ConvTranspose.py HW2P1: ConvTranspose1d and ConvTranspose2d (an Upsample, then a stride-1 convolution)
    rnn_cell.py    HW3P1: RNNCell (its gradients averaged over the batch, as the handout's)
    gru_cell.py    HW3P1: GRUCell, on one sample

Its modules import each other relatively (the handouts' own imports are absolute, `from
mytorch.nn.activation import Tanh`; the handout `gradverify template` writes has those), so that
it is importable as gradverify.impl.mytorch and, copied, as a student's `mytorch` package.
"""
