"""The course model classes a rubric item checks whole, as data: one entry per class.

A model item builds the student's own class (CS231n's `TwoLayerNet`, `FullyConnectedNet`) with
drawn sizes, sets its `params` to drawn weights and calls `loss(X, y) -> (loss, grads)`, through
the one function an adapter defines for it,

    model_loss(model, config, params, X, y) -> (loss, grads)

model: the entry's name ("fully_connected_net"); config: {"input_dim": D, "hidden_dims": [H₁, …],
"num_classes": C, "reg": reg, "normalization": None | "batchnorm" | "layernorm"}; params: the
weights by the course's keys (W1, b1, …, gamma1, beta1, …); grads: the loss's gradient by the
same keys. The reference (references/model_torch.py) is the same network in PyTorch:

    h₀ = X (flattened), h_l = relu(norm_l(h_{l−1}·W_l + b_l)) for l < L, s = h_{L−1}·W_L + b_L
    loss = softmax cross-entropy of s, mean over N, + ½·reg·Σ_l ‖W_l‖²

with the handout's ½ (fc_net.py: "make sure that your L2 regularization includes a factor of
0.5"); batchnorm in train mode (the batch's statistics, biased variance) and layernorm, both with
CS231n's default eps 1e-5, γ_l and β_l unregularised. Under dropout (config's dropout_keep_ratio
p < 1 and seed s, which the class puts in its dropout_param) h_l is multiplied after its relu by
the mask the student's own dropout_forward draws from s, read by calling it on ones of h_l's
shape in train mode: the handout's dropout re-seeds on every call, so each layer's mask is a
function of its shape and s, and a dropout that gets its mask wrong costs its own item, not this
one (one that ignores the seed costs both).

A class of fixed layers with no loss of its own (11-785's MLP0, MLP1, MLP4: Linear and ReLU
layers in turn, `forward(A0) -> A`, `backward(dLdA) -> dLdA0`, each Linear's dLdW and dLdb set)
is checked through

    model_forward_backward(model, params, X, dout) -> (out, dX, grads)

params: W0 (out, in), b0 (out, 1), W1, b1, … for its Linear layers in order, MyTorch's
orientation; dout a random cotangent of the output; grads each Linear's dLdW and dLdb under the
keys of its W and b. The reference is h_{i+1} = relu(h_i·W_iᵀ + b_iᵀ) in PyTorch, its VJP of
dout.

CS231n's CaptioningRNN (form "captioning") goes through model_loss too, with X the image
features (N, D) and y the captions (N, T + 1) of word indices (0 is <NULL>); config: word_to_idx,
input_dim D, wordvec_dim W, hidden_dim H, cell_type "rnn" or "lstm". Its reference:

    h0 = features·W_proj + b_proj,  x = W_embed[captions[:, :-1]],  h = rnn or lstm(x, h0, Wx, Wh, b)
    loss = temporal softmax loss of h·W_vocab + b_vocab at captions[:, 1:], <NULL> masked, / N

(no regularisation; the LSTM's gate blocks i, f, o, g).

CS231n's LinearClassifier.train (form "train", through model_train(model, config, X, y, seed) ->
(W, loss_history)) is run after np.random.seed(seed) on a LinearSVM; its reference replays the
same random stream: W = 0.001·randn(D, C), then per iteration a batch of np.random.choice(N,
batch_size) — with replacement, the handout's hint, or without: either form is accepted — its
svm loss and dW (the svm_loss_vectorized op's torch reference) and W ← W − lr·dW.

CS231n's ThreeLayerConvNet (form "conv") goes through model_loss too, with X (N, C, H, W) and
config: input_dim (C, H, W), num_filters F, filter_size k (odd), hidden_dim M, num_classes K,
reg. Its reference:

    h = maxpool₂ₓ₂(relu(conv(X, W1, b1; stride 1, pad (k − 1)/2))),  s = relu(h·W2 + b2)·W3 + b3
    loss = softmax cross-entropy of s, mean over N, + ½·reg·(‖W1‖² + ‖W2‖² + ‖W3‖²)

The handout's class builds on its given layer_utils.py and fast_layers.py (whose backward needs
a compiled Cython extension); the cs231n adapter serves NumPy versions of both (its GIVEN).

MyTorch's CNN (HW2P1, form "cnn") owns its criterion: it goes through

    model_classify(model, config, params, X, Y) -> (Z, loss, dLdA0, grads)

config: input_width W₀, num_input_channels C₀, num_channels [C₁, …], kernel_sizes, strides,
num_linear_neurons O, activations ["tanh" | "relu" | "sigmoid", …]; params: W0 (C₁, C₀, k₀), b0
(C₁,), … of its Conv1d layers and W (O, C_L·W_L), b (O,) of its Linear; X (N, C₀, W₀); Y (N, O)
one-hot. The adapter builds CNN(…, criterion=CrossEntropyLoss()), sets each layer's weights,
calls forward(X) and backward(Y); Z, self.loss, dLdA0 and each dLdW, dLdb (sums over the batch:
the criterion's 1/N is in the gradient it starts from) are against

    h_{l+1} = act_l(conv1d(h_l, W_l, b_l, stride_l)),  Z = flatten(h_L)·Wᵀ + bᵀ,
    loss = softmax cross-entropy of Z at Y, mean over N

and its gradients by torch.autograd. MyTorch's RNNPhonemeClassifier (HW3P1, form "recurrent")
goes through

    model_recurrent(model, config, params, X, h0, delta) -> (logits, dh0, grads)

config: input_size D, hidden_size H, output_size O, num_layers L; params: W_ih{l}, W_hh{l},
b_ih{l}, b_hh{l} of each RNNCell, W (O, H), b (O,) of its output Linear; X (N, T, D), h0 (L, N,
H), delta (N, O) a random gradient of the logits. forward(X, h0) is against the stacked cells'
logits = h_T[L−1]·Wᵀ + bᵀ; backward(delta) against the VJP g of delta in the handout's
convention: it returns dh0 = g_h0 / N and each cell's dW_ih, … are g / N (RNNCell averages over
the batch), while the output Linear's dLdW and dLdb are g itself (Linear sums). This module
imports nothing but the stdlib.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The one protocol function every model item calls (an adapter defines it).
MODEL_FUNCTIONS: tuple[str, ...] = ("model_loss", "model_forward_backward", "model_train", "model_classify", "model_recurrent")

#: The student's method each form's failures name (for form "loss": "<cls>.loss") and the
#: adapter's function it calls (for form "loss" and "captioning": model_loss).
FORM_METHODS = {"forward_backward": "backward", "cnn": "backward", "recurrent": "backward"}
FORM_FUNCTIONS = {
    "forward_backward": "model_forward_backward",
    "train": "model_train",
    "cnn": "model_classify",
    "recurrent": "model_recurrent",
}


@dataclass(frozen=True)
class ModelSpec:
    """One course class checked whole."""

    name: str
    #: the course's class and the handout module that holds it (a path in the course's package)
    cls: str
    module: str
    math: str
    #: the numbers of hidden layers drawn, and the normalisations (None: none), in shrinking order
    depths: tuple[int, ...]
    normalizations: tuple[str | None, ...] = (None,)
    #: "loss": loss(X, y) -> (loss, grads), through model_loss; "forward_backward": fixed layers,
    #: forward(A0) and backward(dLdA), through model_forward_backward; "captioning", "train",
    #: "cnn", "recurrent": above
    form: str = "loss"
    #: a fixed class's widths, input to output (MLP1: 2, 3, 2); () for a class built to size
    widths: tuple[int, ...] = ()
    #: the recurrent cells a captioning model is built with (cell_type), in shrinking order
    cells: tuple[str, ...] = ()
    #: the activations a CNN's convolutions are followed by, drawn per layer
    activations: tuple[str, ...] = ()
    #: the dropout keep ratios drawn (1: no dropout), in shrinking order
    keeps: tuple[float, ...] = (1.0,)

    @property
    def function(self) -> str:
        """The student's method the item names in its failures: "FullyConnectedNet.loss", "MLP1.backward"."""
        if self.form == "train":
            return "LinearClassifier.train"
        return f"{self.cls}.{FORM_METHODS.get(self.form, 'loss')}"

    @property
    def protocol(self) -> str:
        """The adapter's function the item calls."""
        return FORM_FUNCTIONS.get(self.form, "model_loss")


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "two_layer_net",
            "TwoLayerNet",
            "classifiers.fc_net",
            "affine → relu → affine → softmax loss, + ½·reg·(‖W1‖² + ‖W2‖²)",
            depths=(1,),
        ),
        ModelSpec(
            "fully_connected_net",
            "FullyConnectedNet",
            "classifiers.fc_net",
            "{affine → [batch/layer norm] → relu} × (L − 1) → affine → softmax loss, + ½·reg·Σ_l ‖W_l‖²",
            depths=(1, 2),
            normalizations=(None, "batchnorm", "layernorm"),
            keeps=(1.0, 0.5, 0.75),
        ),
        ModelSpec(
            "three_layer_conv_net",
            "ThreeLayerConvNet",
            "classifiers.cnn",
            "conv → relu → 2×2 max pool → affine → relu → affine → softmax loss, + ½·reg·(‖W1‖² + ‖W2‖² + ‖W3‖²)",
            depths=(1,),
            form="conv",
        ),
        ModelSpec(
            "linear_classifier_train",
            "LinearSVM",
            "classifiers.linear_classifier",
            "W = 0.001·randn(D, C); per iteration a batch by np.random.choice, svm loss and dW, W ← W − lr·dW",
            depths=(0,),
            form="train",
        ),
        ModelSpec(
            "captioning_rnn",
            "CaptioningRNN",
            "classifiers.rnn",
            "W_embed[captions] → rnn|lstm from features·W_proj + b_proj → ·W_vocab + b_vocab → masked temporal softmax loss",
            depths=(1,),
            form="captioning",
            cells=("rnn", "lstm"),
        ),
        *(
            ModelSpec(
                name.lower(),
                name,
                "models.mlp",
                " → ".join(f"Linear({a}, {b}) → ReLU" for a, b in zip(widths, widths[1:])),
                depths=(len(widths) - 2,),
                form="forward_backward",
                widths=widths,
            )
            for name, widths in (("MLP0", (2, 3)), ("MLP1", (2, 3, 2)), ("MLP4", (2, 4, 8, 8, 4, 2)))
        ),
        ModelSpec(
            "cnn",
            "CNN",
            "models.cnn",
            "{Conv1d → Tanh | ReLU | Sigmoid} × L → Flatten → Linear → CrossEntropyLoss",
            depths=(1, 2, 3),
            form="cnn",
            activations=("tanh", "relu", "sigmoid"),
        ),
        ModelSpec(
            "rnn_phoneme_classifier",
            "RNNPhonemeClassifier",
            "models.rnn_classifier",
            "RNNCell × L stacked, over T steps from h0 → Linear on the last step's top hidden state",
            depths=(1, 2, 3),
            form="recurrent",
        ),
    )
}
