"""Full-batch training of small ReLU MLPs (torch, 1 thread) for E1 and E2."""
from __future__ import annotations

import numpy as np
import torch

torch.set_num_threads(1)


def mlp(d_in: int, widths: list[int]) -> torch.nn.Sequential:
    layers, prev = [], d_in
    for w in widths:
        layers += [torch.nn.Linear(prev, w), torch.nn.ReLU()]
        prev = w
    layers.append(torch.nn.Linear(prev, 1))
    return torch.nn.Sequential(*layers).double()


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def fit(x: np.ndarray, y: np.ndarray, widths: list[int], steps: int, seed: int = 0,
        lr: float = 1e-2, p: float = 2.0):
    """Adam on the mean |g - f|^p over the grid, cosine-decayed lr; returns the model."""
    torch.manual_seed(seed)
    X = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float64)
    Y = torch.as_tensor(y, dtype=torch.float64)
    scale = float(np.abs(y).max()) or 1.0
    model = mlp(X.shape[1], widths)
    with torch.no_grad():  # first-layer kinks spread uniformly over [0,1]^d; output in target units
        first = model[0]
        first.weight.normal_(0.0, 4.0)
        u = torch.rand(first.out_features, X.shape[1], dtype=torch.float64)
        first.bias.copy_(-(first.weight * u).sum(1))
        model[-1].weight.mul_(scale)
        model[-1].bias.fill_(float(np.mean(y)))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(X).squeeze(-1) - Y).abs() / scale).pow(p).mean()
        loss.backward()
        opt.step()
        sched.step()
    return model


def predict(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        X = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float64)
        return model(X).squeeze(-1).numpy()
