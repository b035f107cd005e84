"""Classifier two-sample test (CaloChallenge 2022: Krause et al., arXiv:2410.21611, sec. 4).

A small MLP (torch) learns to separate reference (label 1) from generated (label 0) feature
vectors; its logits are calibrated on a validation split by temperature scaling (one T > 0
minimising the NLL, Guo et al. 2017), and on a held-out test split we report the ROC AUC and
the Jensen–Shannon divergence estimated from the calibrated binary cross-entropy,
JSD = 1 − BCE/ln 2 (bits; 0 for indistinguishable samples, 1 for disjoint ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.stats
import torch

from physgen.errors import PhysgenError

__all__ = ["ClassifierTest", "classifier_test", "roc_auc"]


@dataclass(frozen=True)
class ClassifierTest:
    auc: float
    jsd: float
    temperature: float
    n_test: int


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties counting ½."""
    labels = np.asarray(labels).astype(bool)
    ranks = scipy.stats.rankdata(scores)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, -logits) * labels + np.logaddexp(0.0, logits) * (1 - labels)))


def classifier_test(reference: np.ndarray, generated: np.ndarray, *, hidden: tuple[int, ...] = (64, 64),
                    epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                    device: str | None = None) -> ClassifierTest:
    """Train on 60 %, calibrate on 20 %, test on 20 % of a balanced set (the larger sample is subsampled)."""
    ref, gen = (np.asarray(s, dtype=np.float32).reshape(len(s), -1) for s in (reference, generated))
    if ref.shape[1] != gen.shape[1]:
        msg = f"reference and generated feature vectors differ in length: {ref.shape[1]} vs {gen.shape[1]}"
        raise PhysgenError(msg)
    rng = np.random.default_rng(seed)
    n = min(len(ref), len(gen))
    if n < 20:
        msg = f"the classifier test needs at least 20 events per sample, got {n}"
        raise PhysgenError(msg)
    x = np.concatenate([ref[rng.permutation(len(ref))[:n]], gen[rng.permutation(len(gen))[:n]]])
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32)
    order = rng.permutation(2 * n)
    x, y = x[order], y[order]
    cut1, cut2 = int(0.6 * len(x)), int(0.8 * len(x))
    mean, std = x[:cut1].mean(axis=0), x[:cut1].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a network this small only loses to intra-op thread contention
    try:
        logits = _train_and_predict(x, y, cut1, hidden, epochs, batch_size, lr, seed, device)
    finally:
        torch.set_num_threads(threads)
    val_logits, test_logits = logits[: cut2 - cut1], logits[cut2 - cut1:]
    val_y, test_y = y[cut1:cut2], y[cut2:]
    fit = scipy.optimize.minimize_scalar(lambda log_t: _bce(val_logits / np.exp(log_t), val_y),
                                         bounds=(-5, 5), method="bounded")
    temperature = float(np.exp(fit.x))
    bce = _bce(test_logits / temperature, test_y)
    return ClassifierTest(auc=roc_auc(test_y, test_logits), jsd=float(max(0.0, 1.0 - bce / np.log(2))),
                          temperature=temperature, n_test=len(test_y))


def _train_and_predict(x, y, cut1, hidden, epochs, batch_size, lr, seed, device) -> np.ndarray:
    """Train the MLP on the first ``cut1`` events; return float64 logits of the others."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layers, width = [], x.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1)).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x[:cut1]).to(device), torch.from_numpy(y[:cut1]).to(device)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=generator).to(device)
        for start in range(0, len(xt), batch_size):
            idx = perm[start:start + batch_size]
            optimiser.zero_grad()
            loss_fn(model(xt[idx]).squeeze(1), yt[idx]).backward()
            optimiser.step()
    with torch.no_grad():
        logits = model(torch.from_numpy(x[cut1:]).to(device)).squeeze(1).cpu().numpy().astype(np.float64)
    return logits
