"""Knowledge distillation loss for classifiers (Hinton et al., 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
    temperature: float, alpha: float, class_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y).

    The T^2 factor keeps the soft-target gradients at the scale of the hard-label ones when T
    changes. The KL term is averaged over the batch; `class_weight` weights only the hard term.
    """
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1),
                    F.log_softmax(teacher_logits / t, dim=1),
                    reduction="batchmean", log_target=True)
    hard = F.cross_entropy(student_logits, labels, weight=class_weight)
    return alpha * t * t * soft + (1.0 - alpha) * hard
