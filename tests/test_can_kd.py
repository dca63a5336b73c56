"""The KD loss against the textbook formula, written out in numpy on fixed logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillery.can.kd import kd_loss

STUDENT = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [-2.0, 1.5, 0.0]])
TEACHER = np.array([[3.0, -2.0, 1.0], [0.0, 0.0, 4.0], [-1.0, 2.5, -0.5]])
LABELS = np.array([0, 2, 1])


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _textbook(t, alpha, weight=None):
    p, q = _softmax(TEACHER / t), _softmax(STUDENT / t)
    kl = np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1))
    log_prob = np.log(_softmax(STUDENT))[np.arange(3), LABELS]
    w = np.ones(3) if weight is None else np.asarray(weight)[LABELS]
    ce = -np.sum(w * log_prob) / np.sum(w)
    return alpha * t**2 * kl + (1 - alpha) * ce


@pytest.mark.parametrize(("t", "alpha"), [(1.0, 0.5), (4.0, 0.7), (2.0, 1.0), (3.0, 0.0)])
def test_kd_loss_equals_the_textbook_formula(t, alpha):
    got = kd_loss(torch.tensor(STUDENT), torch.tensor(TEACHER), torch.tensor(LABELS), t, alpha)
    assert float(got) == pytest.approx(_textbook(t, alpha), rel=1e-10)


def test_soft_term_scales_with_temperature_squared():
    # the same soft-target distributions at T and 2T (logits scaled by 2): 4x the loss
    s, te, y = torch.tensor(STUDENT), torch.tensor(TEACHER), torch.tensor(LABELS)
    low = kd_loss(s, te, y, temperature=1.0, alpha=1.0)
    high = kd_loss(2 * s, 2 * te, y, temperature=2.0, alpha=1.0)
    assert float(high) == pytest.approx(4 * float(low), rel=1e-10)


def test_class_weights_apply_to_the_hard_term_only():
    weight = [1.0, 3.0, 0.5]
    got = kd_loss(torch.tensor(STUDENT), torch.tensor(TEACHER), torch.tensor(LABELS), 4.0, 0.7,
                  class_weight=torch.tensor(weight, dtype=torch.float64))
    assert float(got) == pytest.approx(_textbook(4.0, 0.7, weight), rel=1e-10)


def test_a_student_equal_to_the_teacher_has_no_soft_loss():
    logits = torch.tensor(TEACHER)
    assert float(kd_loss(logits, logits, torch.tensor(LABELS), 4.0, 1.0)) == pytest.approx(0.0)
