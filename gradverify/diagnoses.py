"""What a hint can name: the mistakes (`Diagnosis`), each in words (`DIAGNOSES`), and the
`Hint`, one sentence that says which it is. Shared by the MLP protocol's hints
(gradverify.hints) and the layer protocol's (gradverify.layer_hints)."""

from __future__ import annotations

from enum import StrEnum


class Diagnosis(StrEnum):
    """A mistake a hint can name (DIAGNOSES says it in words); tests/variants has a variant for each."""

    SIGN = "sign"
    HALF = "half"
    PERCENTAGE = "percentage"
    BATCH_MEAN = "batch_mean"
    OUTPUT_MEAN = "output_mean"
    TRANSPOSED = "transposed"
    DERIVATIVE_FROM_OUTPUT = "derivative_from_output"
    VJP_WITHOUT_GRAD_A = "vjp_without_grad_a"
    SOFTMAX_DIAGONAL = "softmax_diagonal"
    LEAKY_SLOPE = "leaky_slope"
    L2_ON_BIASES = "l2_on_biases"
    L2_OVER_N = "l2_over_n"
    L2_HALF = "l2_half"
    DAMPENING = "dampening"
    OWN_LOSS = "own_loss"
    NOT_DERIVATIVE = "not_derivative"
    BACKWARD_PASS = "backward_pass"
    FORWARD_PASS = "forward_pass"
    # the layer protocol's (gradverify.layer_hints)
    NORM_NO_STATISTICS_PATHS = "norm_no_statistics_paths"
    RUNNING_NOT_UPDATED = "running_not_updated"
    TEST_BATCH_STATISTICS = "test_batch_statistics"
    NORM_WRONG_AXIS = "norm_wrong_axis"
    GROUPS_SWAPPED = "groups_swapped"
    DROPOUT_NOT_SCALED = "dropout_not_scaled"
    DROPOUT_SCALED_AT_TEST = "dropout_scaled_at_test"
    DROPOUT_SEED_IGNORED = "dropout_seed_ignored"
    CORRECT_CLASS_COUNTED = "correct_class_counted"
    CORRECT_CLASS_GRADIENT_MISSING = "correct_class_gradient_missing"
    REG_GRADIENT = "reg_gradient"
    PADDING_NOT_CROPPED = "padding_not_cropped"
    BATCH_OVERWRITTEN = "batch_overwritten"
    POOL_EVERY_ELEMENT = "pool_every_element"
    POOL_SHARE = "pool_share"
    REPEATED_INDICES_LOST = "repeated_indices_lost"
    MASK_IGNORED = "mask_ignored"
    NO_GRADIENT_FROM_NEXT_STEP = "no_gradient_from_next_step"
    NO_PATH_THROUGH_TANH_C = "no_path_through_tanh_c"
    GATE_ORDER = "gate_order"
    RESET_BEFORE_PRODUCT = "reset_before_product"
    NO_DIRECT_PATH = "no_direct_path"
    STEP_MEAN = "step_mean"
    IN_PLACE = "in_place"
    # the update rules' (gradverify.optim_hints)
    BIAS_CORRECTION = "bias_correction"
    STATE_NOT_STORED = "state_not_stored"
    EPS_INSIDE_SQRT = "eps_inside_sqrt"


class Hint(str):
    """One sentence for the student; `diagnosis` is the mistake it names, or None for an
    observation ("a NaN came out")."""

    diagnosis: Diagnosis | None

    def __new__(cls, text: str, diagnosis: str | None = None) -> "Hint":
        hint = super().__new__(cls, text)
        hint.diagnosis = Diagnosis(diagnosis) if diagnosis is not None else None
        return hint

    def __reduce__(self):
        return Hint, (str(self), self.diagnosis)


#: Each diagnosis in words.
DIAGNOSES: dict[Diagnosis, str] = {
    Diagnosis.SIGN: "the wrong sign",
    Diagnosis.HALF: "a missing or extra ½ (or 2)",
    Diagnosis.PERCENTAGE: "a missing or extra factor 100",
    Diagnosis.BATCH_MEAN: "a sum over the batch for a mean, or a mean missing its 1/N",
    Diagnosis.OUTPUT_MEAN: "a sum over the outputs for a mean, or a mean missing its 1/K",
    Diagnosis.TRANSPOSED: "a transposed weight gradient",
    Diagnosis.DERIVATIVE_FROM_OUTPUT: "φ' computed from z where it needs φ(z)",
    Diagnosis.VJP_WITHOUT_GRAD_A: "activation_backward not multiplied by grad_a",
    Diagnosis.SOFTMAX_DIAGONAL: "the softmax VJP from the diagonal of its Jacobian only",
    Diagnosis.LEAKY_SLOPE: "another leaky_relu slope",
    Diagnosis.L2_ON_BIASES: "L2 applied to the biases",
    Diagnosis.L2_OVER_N: "the L2 term divided by N",
    Diagnosis.L2_HALF: "the ½ of the L2 term",
    Diagnosis.DAMPENING: "momentum with dampening",
    Diagnosis.OWN_LOSS: "a loss value not the protocol's, with loss_backward its derivative",
    Diagnosis.NOT_DERIVATIVE: "a loss value that is right, with loss_backward not its derivative",
    Diagnosis.BACKWARD_PASS: "network gradients that are not the derivatives of the network's own loss value",
    Diagnosis.FORWARD_PASS: "network gradients that are the derivatives of a loss value not the protocol's",
    Diagnosis.NORM_NO_STATISTICS_PATHS: "a normalisation's dx without the paths through its mean and variance",
    Diagnosis.RUNNING_NOT_UPDATED: "batchnorm's running averages not updated in train mode",
    Diagnosis.TEST_BATCH_STATISTICS: "batchnorm in test mode with the batch's statistics",
    Diagnosis.NORM_WRONG_AXIS: "a normalisation's statistics over the wrong axis",
    Diagnosis.GROUPS_SWAPPED: "groupnorm's channels grouped as C/G groups of G",
    Diagnosis.DROPOUT_NOT_SCALED: "dropout's kept units not divided by p in train mode",
    Diagnosis.DROPOUT_SCALED_AT_TEST: "dropout scaled by p in test mode",
    Diagnosis.DROPOUT_SEED_IGNORED: "dropout's seed not used",
    Diagnosis.CORRECT_CLASS_COUNTED: "the SVM loss counting the correct class's margin",
    Diagnosis.CORRECT_CLASS_GRADIENT_MISSING: "the SVM's dW without −X_n in the correct class's column",
    Diagnosis.REG_GRADIENT: "a linear classifier's dW with reg·W or no regularisation, where reg·ΣW² gives 2·reg·W",
    Diagnosis.PADDING_NOT_CROPPED: "a convolution's dx with the padding not cropped",
    Diagnosis.BATCH_OVERWRITTEN: "a parameter gradient overwritten per sample instead of summed",
    Diagnosis.POOL_EVERY_ELEMENT: "max-pool's gradient to every element of the window",
    Diagnosis.POOL_SHARE: "average pooling's gradient not divided by the window's size",
    Diagnosis.REPEATED_INDICES_LOST: "an embedding's dW losing the gradients of repeated indices",
    Diagnosis.MASK_IGNORED: "the temporal loss ignoring its mask",
    Diagnosis.NO_GRADIENT_FROM_NEXT_STEP: "BPTT without the gradient from the next step",
    Diagnosis.NO_PATH_THROUGH_TANH_C: "the LSTM's cell gradient without the path through tanh(next_c)",
    Diagnosis.GATE_ORDER: "the LSTM's gate blocks in another order",
    Diagnosis.RESET_BEFORE_PRODUCT: "the GRU's reset gate applied before Wh_n's product (Cho et al.'s form)",
    Diagnosis.NO_DIRECT_PATH: "the GRU's dprev_h without next_h's own z·prev_h term",
    Diagnosis.STEP_MEAN: "a temporal loss divided by the steps T as well",
    Diagnosis.IN_PLACE: "an array changed in place, or returned sharing memory",
    Diagnosis.BIAS_CORRECTION: "Adam without its bias correction",
    Diagnosis.STATE_NOT_STORED: "an update rule's state not stored back in config",
    Diagnosis.EPS_INSIDE_SQRT: "RMSProp's ε inside the square root",
}
