"""Multinomial logistic regression in numpy: small, deterministic, no scikit-learn.

Full-batch gradient descent with Nesterov momentum from zero weights: the same data
gives the same weights on every machine, which is what lets the test suite check
that the shipped model.npz is exactly what `train` produces.
"""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def fit(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    l2: float,
    sample_weight: np.ndarray | None = None,
    iterations: int = 600,
    learning_rate: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (d, k) and bias (k,) minimising weighted cross-entropy + l2/2 |W|².

    `x` should be standardised; the bias is not regularised.
    """
    n, d = x.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w = w / w.sum()
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    weights = np.zeros((d, n_classes))
    bias = np.zeros(n_classes)
    vel_w = np.zeros_like(weights)
    vel_b = np.zeros_like(bias)
    momentum = 0.9
    for _ in range(iterations):
        look_w = weights + momentum * vel_w
        look_b = bias + momentum * vel_b
        err = (softmax(x @ look_w + look_b) - onehot) * w[:, None]
        grad_w = x.T @ err + l2 * look_w
        grad_b = err.sum(axis=0)
        vel_w = momentum * vel_w - learning_rate * grad_w
        vel_b = momentum * vel_b - learning_rate * grad_b
        weights = weights + vel_w
        bias = bias + vel_b
    return weights, bias


def predict_proba(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return softmax(x @ weights + bias)
