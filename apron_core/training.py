"""Training APRON on a strong-generalization split, with early stopping on validation NDCG@100.

The loss is  recon + λ_control · Hellinger(ŵ, T(ŷ)) + λ_separation · CE(prototype self-attention),
plus, with λ_edit > 0, an edit-consistency term beyond the paper: each user's profile is
also edited as the app and the Δ@k metric do (one of the top-5 tags zeroed, renormalized),
the edited recommendations must follow the edited profile (the same Hellinger term), and
the songs without that tag must keep their distribution (``keep_rest_loss``), so that an
edit removes the tag's songs without reshuffling the rest (lower collateral).
Histories enter as (B, N) 0/1 rows; a random share of each training history is hidden
from the profile (``history_dropout``) while the whole history stays the target, as
Mult-DAE does with its input dropout.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from apron_core import metrics
from apron_core.checks import check_int, check_number, check_probability, quote, resolve_device
from apron_core.errors import ConfigError, DataError
from apron_core.model import (
    Apron,
    ApronConfig,
    bce,
    head_mean,
    hellinger,
    keep_rest_loss,
    multinomial_nll,
    separation_loss,
    soft_tag_mix,
    zero_tag_rows,
)
from apron_core.tags import K

RECON_LOSSES = ("multinomial", "bce")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 90
    batch_size: int = 500
    lr: float = 1e-3
    weight_decay: float = 0.0
    recon: str = "multinomial"
    lambda_control: float = 30.0
    lambda_separation: float = 1.0
    lambda_edit: float = 0.0  # > 0: edit-consistency term (module docstring)
    edit_top_n: int = 5  # the zeroed tag is drawn from each user's top-n weights
    control_top_k: int = 0  # > 0: T(ŷ) over each user's top-k songs only
    detach_profile_in_control: bool = False  # True: ŵ is a fixed target, attention untouched
    history_dropout: float = 0.3
    patience: int = 8
    seed: int = 0
    eval_every: int = 1

    def __post_init__(self) -> None:
        if self.recon not in RECON_LOSSES:
            raise ConfigError(f"recon={quote(self.recon)}: use one of {RECON_LOSSES}")
        for name in ("epochs", "batch_size", "patience", "eval_every"):
            check_int(getattr(self, name), name=name, minimum=1)
        check_int(self.edit_top_n, name="edit_top_n", minimum=1, maximum=K)
        check_int(self.control_top_k, name="control_top_k", minimum=0)
        check_int(self.seed, name="seed", minimum=0)
        check_number(self.lr, name="lr", above=0.0)
        for name in ("weight_decay", "lambda_control", "lambda_separation", "lambda_edit"):
            check_number(getattr(self, name), name=name, minimum=0.0)
        check_probability(self.history_dropout, name="history_dropout", allow_one=False)
        if not isinstance(self.detach_profile_in_control, bool):
            raise ConfigError(
                f"detach_profile_in_control={quote(self.detach_profile_in_control)} must be "
                "true or false"
            )


def _rows(x: sp.csr_matrix, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(x[idx].toarray().astype(np.float32)).to(device)


def _sparse_rows(x: sp.csr_matrix, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows of a csr matrix as a torch sparse COO tensor (histories are ~1 % dense)."""
    coo = x[idx].tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False).to(device)


@torch.inference_mode()
def score_histories(
    model: Apron, fold_in: sp.csr_matrix, *, device: torch.device, batch: int = 1024
) -> np.ndarray:
    """Raw scores (U, N) for held-out users from their fold-in rows."""
    model.eval()
    wh = model.song_head_weights()
    out = []
    for a in range(0, fold_in.shape[0], batch):
        x = _sparse_rows(fold_in, np.arange(a, min(a + batch, fold_in.shape[0])), device)
        out.append(model.forward_profile(model.profile_from_matrix(x, wh)).float().cpu().numpy())
    return np.concatenate(out)


@torch.inference_mode()
def profiles_of(
    model: Apron, fold_in: sp.csr_matrix, *, device: torch.device, batch: int = 1024
) -> np.ndarray:
    """Profiles (U, K) — or (U, H, K) for a per-head model — of fold-in histories."""
    model.eval()
    wh = model.song_head_weights()
    out = [
        model.profile_from_matrix(
            _rows(fold_in, np.arange(a, min(a + batch, fold_in.shape[0])), device), wh
        )
        .cpu()
        .numpy()
        for a in range(0, fold_in.shape[0], batch)
    ]
    return np.concatenate(out)


def profile_scorer(model: Apron, device: torch.device, batch: int = 1024):
    """A ``score_profiles(profiles) -> scores`` callable for the controllability metrics."""

    @torch.inference_mode()
    def score(profiles: np.ndarray) -> np.ndarray:
        model.eval()
        out = []
        for a in range(0, len(profiles), batch):
            p = torch.from_numpy(np.asarray(profiles[a : a + batch], dtype=np.float32)).to(device)
            out.append(model.forward_profile(p).float().cpu().numpy())
        return np.concatenate(out)

    return score


def _drop_songs(
    x: sp.csr_matrix, cfg: TrainConfig, rng: np.random.Generator, device: torch.device
) -> torch.Tensor:
    """Hide a random share of each history from the profile; never a whole history."""
    x = x.tocoo()
    keep = rng.random(len(x.data)) >= cfg.history_dropout
    kept_rows = np.zeros(x.shape[0], dtype=bool)
    kept_rows[x.row[keep]] = True
    keep |= ~kept_rows[x.row]  # a row that lost everything keeps everything
    sub = sp.csr_matrix((x.data[keep], (x.row[keep], x.col[keep])), shape=x.shape)
    return _sparse_rows(sub, np.arange(x.shape[0]), device)


def _edit_losses(
    model: Apron,
    profile: torch.Tensor,
    logits: torch.Tensor,
    a: torch.Tensor,
    cfg: TrainConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """Zero one of each user's top-n tags; the edited list must follow and keep the rest."""
    mean = head_mean(profile).detach()  # (B, K)
    top = torch.topk(mean, cfg.edit_top_n, dim=-1).indices  # (B, n)
    pick = torch.from_numpy(rng.integers(0, cfg.edit_top_n, len(mean))).to(mean.device)
    tag = top.gather(1, pick[:, None]).squeeze(1)  # (B,)
    edited = zero_tag_rows(profile, tag)
    edited_logits = model.forward_profile(edited)
    removed = a[:, tag].T > 0  # (B, N) songs carrying the zeroed tag
    target = head_mean(edited)
    if cfg.detach_profile_in_control:
        target = target.detach()
    return {
        "edit_control": hellinger(target, soft_tag_mix(edited_logits, a, cfg.control_top_k)).mean(),
        "edit_keep": keep_rest_loss(logits, edited_logits, removed),
    }


@dataclass
class TrainResult:
    model: Apron
    log: list[dict]
    best_epoch: int
    best_val_ndcg: float
    seconds: float


def train_apron(
    model_cfg: ApronConfig,
    cfg: TrainConfig,
    *,
    prototypes: np.ndarray,
    songs: np.ndarray,
    song_tags: np.ndarray,
    train: sp.csr_matrix,
    valid: tuple[sp.csr_matrix, sp.csr_matrix],
    device: str | torch.device | None = None,
    progress: bool = True,
    log_path: Path | None = None,
) -> TrainResult:
    device = resolve_device(device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Apron(model_cfg, torch.from_numpy(prototypes), torch.from_numpy(songs)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    a = torch.from_numpy(song_tags.astype(np.float32)).to(device)
    recon = multinomial_nll if cfg.recon == "multinomial" else bce
    n_users = train.shape[0]
    best, best_epoch, best_state, bad, log = -1.0, 0, None, 0, []
    t0 = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + 1), desc="train apron", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = rng.permutation(n_users)
        sums = {"recon": 0.0, "control": 0.0, "separation": 0.0}
        if cfg.lambda_edit > 0:
            sums |= {"edit_control": 0.0, "edit_keep": 0.0}
        for s in range(0, n_users, cfg.batch_size):
            rows = order[s : s + cfg.batch_size]
            x = _rows(train, rows, device)  # the target: the whole history
            profile = model.profile_from_matrix(_drop_songs(train[rows], cfg, rng, device))
            logits = model.forward_profile(profile)
            target_mix = head_mean(profile)
            if cfg.detach_profile_in_control:
                target_mix = target_mix.detach()
            parts = {
                "recon": recon(logits, x),
                "control": hellinger(target_mix, soft_tag_mix(logits, a, cfg.control_top_k)).mean(),
                "separation": separation_loss(model),
            }
            if cfg.lambda_edit > 0:
                parts |= _edit_losses(model, profile, logits, a, cfg, rng)
            loss = (
                parts["recon"]
                + cfg.lambda_control * (parts["control"] + parts.get("edit_control", 0.0))
                + cfg.lambda_separation * parts["separation"]
                + cfg.lambda_edit * parts.get("edit_keep", 0.0)
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in parts.items():
                sums[k] += v.item() * len(x) / n_users
        row = {"epoch": epoch, **{k: round(v, 5) for k, v in sums.items()}}
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            scores = score_histories(model, valid[0], device=device)
            ndcg = float(
                np.nanmean(metrics.ndcg_at_k(metrics.mask_fold_in(scores, valid[0]), valid[1], 100))
            )
            row["val_ndcg@100"] = round(ndcg, 5)
            if ndcg > best:
                best, best_epoch, bad = ndcg, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
        row["seconds"] = round(time.perf_counter() - t0, 1)
        log.append(row)
        bar.set_postfix(recon=row["recon"], ctrl=row["control"], ndcg=row.get("val_ndcg@100"))
        if log_path is not None:
            log_path.write_text(json.dumps({"config": asdict(cfg), "log": log}, indent=1))
        if bad >= cfg.patience:
            break
    if best_state is None:  # no epoch was evaluated or every validation NDCG was NaN
        raise DataError(
            "no epoch gave a validation NDCG@100 (are the validation users' held-out "
            "matrices empty?): check the split, or lower eval_every"
        )
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, log, best_epoch, best, time.perf_counter() - t0)
