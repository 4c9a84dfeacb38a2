"""Hostile submission (gradverify attack catalogue): a 200 MB list of {} as the result."""

HUGE = [{}] * 25_000_000  # 200 MB of pointers to one dict
MANY = [{} for _ in range(200_000)]  # distinct dicts: more containers than the grader accepts


def loss(name, y_pred, y_true):
    return HUGE


def loss_backward(name, y_pred, y_true):
    return MANY
