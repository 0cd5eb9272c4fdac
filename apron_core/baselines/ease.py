"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data").

An item-item weight matrix B with zero diagonal minimizing ‖X − XB‖² + λ‖B‖²
has the closed form ``P = (XᵀX + λI)⁻¹``, ``B_ij = −P_ij / P_jj`` (i ≠ j),
``B_jj = 0``; a user's scores are ``x B``. The Gram matrix and its inverse are
computed in float64 (Cholesky, on the ``device`` given to fit); B is stored in
float32. λ = 500 suits a catalog of a few thousand songs; :func:`tune_ease` picks
it on validation users (the Gram matrix is built once for all λ).

Memory: N² float64 twice during fit (41,140 songs: ~27 GB), N² float32 after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from apron_core.baselines.base import Baseline, check_valid, validation_ndcg
from apron_core.checks import check_int, check_interaction_matrix, check_number, resolve_device
from apron_core.errors import ConfigError, DataError

DEFAULT_LAMBDAS = (100.0, 250.0, 500.0, 1000.0, 2500.0)
_GRAM_BLOCK = 4096  # songs per column block when building XᵀX


@dataclass
class EASEConfig:
    lam: float = 500.0  # L2 weight λ on B


def gram(x: sp.csr_matrix) -> np.ndarray:
    """XᵀX (N, N) float64, built in column blocks so no sparse N x N product is held."""
    x64 = sp.csr_matrix(x, dtype=np.float64)
    xt = x64.T.tocsr()  # (N, U)
    xc = x64.tocsc()
    n = x.shape[1]
    g = np.empty((n, n), dtype=np.float64)
    for start in range(0, n, _GRAM_BLOCK):
        stop = min(n, start + _GRAM_BLOCK)
        g[:, start:stop] = (xt @ xc[:, start:stop]).toarray()
    return g


def ease_weights(
    g: np.ndarray, lam: float, device: torch.device, *, overwrite: bool = False
) -> np.ndarray:
    """B (N, N) float32 with zero diagonal from the Gram matrix ``g``.

    ``overwrite=True`` lets a CPU fit use ``g``'s memory (peak two N² float64
    arrays instead of three); ``g`` is then garbage.
    """
    a = torch.from_numpy(g)  # (N, N) float64
    if not (overwrite and device.type == "cpu"):
        a = a.to(device=device, copy=True)
    a.diagonal().add_(lam)
    try:
        chol = torch.linalg.cholesky(a)
    except RuntimeError as e:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise ConfigError(f"XᵀX + λI is not positive definite for lam={lam}; raise lam") from e
    del a
    p = torch.cholesky_inverse(chol)  # (N, N) = (XᵀX + λI)⁻¹
    del chol
    p.div_(-p.diagonal().clone()[None, :])  # B_ij = -P_ij / P_jj
    p.diagonal().zero_()
    return p.to(torch.float32).cpu().numpy()


class EASE(Baseline):
    """EASE: closed-form item-item linear model with zero diagonal."""

    name = "ease"
    config_cls = EASEConfig

    def __init__(self, config: EASEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        check_number(self.config.lam, name="lam", above=0.0)
        self._b_device: torch.Tensor | None = None

    def fit(
        self,
        train: sp.csr_matrix,
        *,
        valid: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        seed: int,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> EASE:
        """Closed-form fit; ``valid`` (if given) only adds its NDCG@100 to ``training``.

        Deterministic: ``seed`` is recorded but unused.
        """
        x = check_interaction_matrix(train, name="train")
        if x.nnz == 0:
            raise DataError("train matrix is empty; fit needs interactions.")
        valid = check_valid(valid, x.shape[1])
        check_int(seed, name="seed", minimum=0)
        dev = resolve_device(device)
        b = ease_weights(gram(x), float(self.config.lam), dev, overwrite=True)
        self._set_weights(b, dev)
        self.training = {"seed": seed}
        if valid is not None:
            self.training["val_ndcg@100"] = validation_ndcg(self, *valid)
        return self

    def _set_weights(self, b: np.ndarray, device: torch.device) -> None:
        self.B = b  # (N, N) float32, zero diagonal
        self.n_items = b.shape[0]
        self.device = device
        self._b_device = None if device.type == "cpu" else torch.from_numpy(b).to(device)

    def _score_block(self, x: sp.csr_matrix) -> np.ndarray:
        if self._b_device is None:
            return np.asarray(x @ self.B, dtype=np.float32)  # sparse (u, N) @ (N, N)
        xd = torch.from_numpy(x.toarray()).to(self.device)  # (u, N)
        return (xd @ self._b_device).cpu().numpy()

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"B": self.B}

    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        self._set_weights(arrays["B"].astype(np.float32), device)


def tune_ease(
    train: sp.csr_matrix,
    valid: tuple[sp.csr_matrix, sp.csr_matrix],
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[EASE, dict[float, float]]:
    """Fit EASE for each λ in ``lambdas``; return the best model (by validation
    NDCG@100; ties go to the first λ) and ``{λ: NDCG@100}``."""
    x = check_interaction_matrix(train, name="train")
    if x.nnz == 0:
        raise DataError("train matrix is empty; fit needs interactions.")
    checked = check_valid(valid, x.shape[1])
    if checked is None:
        raise DataError("tune_ease needs valid=(fold_in, heldout) of the validation users.")
    lambdas = [check_number(v, name="lambdas entry", above=0.0) for v in lambdas]
    if not lambdas:
        raise ConfigError("lambdas is empty; pass values such as (100, 250, 500, 1000, 2500).")
    dev = resolve_device(device)
    g = gram(x)
    results: dict[float, float] = {}
    best = None  # set by the first λ (lambdas is non-empty)
    for lam in tqdm(lambdas, desc="ease λ", disable=not progress, leave=False):
        model = EASE(lam=lam)
        model._set_weights(ease_weights(g, lam, dev), dev)
        results[lam] = validation_ndcg(model, *checked)
        model.training = {"val_ndcg@100": results[lam]}
        if best is None or results[lam] > results[best.config.lam]:
            best = model
    best.training["tuned_over"] = {str(k): v for k, v in results.items()}
    return best, results
