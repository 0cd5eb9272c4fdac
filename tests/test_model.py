import numpy as np
import pytest
import torch

from apron_core.errors import ConfigError
from apron_core.metrics import scale_tag_rows
from apron_core.model import (
    Apron,
    ApronConfig,
    edit_per_head,
    head_mean,
    hellinger,
    keep_rest_loss,
    multinomial_nll,
    separation_loss,
    soft_tag_mix,
    zero_tag_rows,
)

N, D = 40, 12


def _model(per_head=False, trainable=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cfg = ApronConfig(
        n_songs=N,
        emb_dim=D,
        d_model=32,
        n_heads=4,
        hidden=(16,),
        per_head_profile=per_head,
        trainable_prototypes=trainable,
    )
    return Apron(cfg, torch.randn(80, D, generator=g), torch.randn(N, D, generator=g))


@pytest.mark.parametrize("per_head", [False, True])
def test_shapes_and_profile_is_a_distribution(per_head):
    m = _model(per_head).eval()
    hist = torch.randint(0, N, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.bool)
    out = m(hist, mask)
    assert out.logits.shape == (3, N)
    assert out.profile.shape == ((3, 4, 80) if per_head else (3, 80))
    assert out.song_weights.shape == (3, 7, 80)
    torch.testing.assert_close(out.profile.sum(-1), torch.ones(out.profile.shape[:-1]))
    torch.testing.assert_close(head_mean(out.profile).sum(-1), torch.ones(3))


def test_padding_is_ignored():
    m = _model().eval()
    hist = torch.tensor([[1, 2, 3, 0, 0]])
    mask = torch.tensor([[True, True, True, False, False]])
    padded = m(hist, mask).profile
    short = m(hist[:, :3], mask[:, :3]).profile
    torch.testing.assert_close(padded, short)
    other_pad = m(torch.tensor([[1, 2, 3, 9, 17]]), mask).profile
    torch.testing.assert_close(padded, other_pad)


@pytest.mark.parametrize("per_head", [False, True])
def test_matrix_profile_equals_history_profile(per_head):
    m = _model(per_head).eval()
    hist = torch.tensor([[1, 5, 7, 0], [3, 4, 0, 0]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    x = torch.zeros(2, N)
    x[0, [1, 5, 7]] = 1.0
    x[1, [3, 4]] = 1.0
    torch.testing.assert_close(m.profile_from_matrix(x), m(hist, mask).profile)
    torch.testing.assert_close(m.profile_from_matrix(x.to_sparse()), m(hist, mask).profile)


def test_edited_profile_uses_the_same_path_and_u_is_linear():
    m = _model().eval()
    hist, mask = torch.randint(0, N, (2, 5)), torch.ones(2, 5, dtype=torch.bool)
    out = m(hist, mask)
    torch.testing.assert_close(m.forward_profile(out.profile), out.logits)
    a, b = torch.rand(1, 80), torch.rand(1, 80)
    torch.testing.assert_close(
        m.user_vector(0.3 * a + 0.7 * b), 0.3 * m.user_vector(a) + 0.7 * m.user_vector(b)
    )


def test_gradients_flow_through_every_loss():
    m = _model(trainable=True).train()
    hist, mask = torch.randint(0, N, (4, 6)), torch.ones(4, 6, dtype=torch.bool)
    target = torch.zeros(4, N).scatter_(1, hist, 1.0)
    song_tags = (torch.rand(N, 80) < 0.1).float()
    out = m(hist, mask)
    losses = {
        "recon": multinomial_nll(out.logits, target),
        "control": hellinger(out.profile, soft_tag_mix(out.logits, song_tags)).mean(),
        "separation": separation_loss(m),
    }
    for name, loss in losses.items():
        m.zero_grad()
        loss.backward(retain_graph=True)
        grads = [p.grad for p in (m.w_q.weight, m.w_kv.weight) if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), name
        assert max(g.abs().sum() for g in grads) > 0, name


def test_soft_tag_mix_and_hellinger_bounds():
    logits = torch.randn(5, N)
    song_tags = (torch.rand(N, 80) < 0.2).float()
    t = soft_tag_mix(logits, song_tags)
    assert (t >= 0).all()
    torch.testing.assert_close(t.sum(-1), torch.ones(5))
    top = soft_tag_mix(logits, song_tags, top_k=1)  # the single best song's tags
    best = song_tags[logits.argmax(-1)]
    torch.testing.assert_close(top, best / best.sum(-1, keepdim=True).clamp_min(1e-12))
    p = torch.softmax(torch.randn(3, 80), -1)
    assert hellinger(p, p).max() < 1e-3
    disjoint = hellinger(torch.tensor([0.5, 0.5, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.2, 0.8]))
    assert disjoint.item() == pytest.approx(1.0, abs=1e-5)
    h = hellinger(p, torch.softmax(torch.randn(3, 80), -1))
    assert ((h > 0) & (h < 1)).all()


def test_per_head_edit_rescales_every_head():
    per_head = torch.softmax(torch.randn(2, 4, 80), -1)
    new = head_mean(per_head).clone()
    new[:, 3] = 0.0
    new = new / new.sum(-1, keepdim=True)
    edited = edit_per_head(per_head, new)
    assert (edited[:, :, 3] == 0).all()
    torch.testing.assert_close(edited.sum(-1), torch.ones(2, 4))
    unchanged = edit_per_head(per_head, head_mean(per_head))
    torch.testing.assert_close(unchanged, per_head)


@pytest.mark.parametrize("per_head", [False, True])
def test_zero_tag_rows_is_the_slider_edit(per_head):
    p = torch.softmax(torch.randn(3, 4, 80) if per_head else torch.randn(3, 80), -1)
    tag = torch.tensor([0, 5, 79])
    edited = zero_tag_rows(p, tag)
    mean = head_mean(edited)
    assert (mean[torch.arange(3), tag] == 0).all()
    torch.testing.assert_close(edited.sum(-1), torch.ones(edited.shape[:-1]))
    if per_head:  # each head renormalizes on its own: proportions hold per head
        return
    # the other tags keep their proportions
    old, keep = head_mean(p), torch.ones(3, 80).scatter_(1, tag[:, None], 0.0).bool()
    ratio = mean[keep].view(3, 79) / old[keep].view(3, 79)
    torch.testing.assert_close(ratio, ratio[:, :1].expand(3, 79))


@pytest.mark.parametrize("per_head", [False, True])
def test_zero_tag_rows_matches_the_metrics_edit(per_head):
    """The training's torch edit and the evaluation's numpy edit are one rule."""
    p = torch.softmax(torch.randn(3, 4, 80) if per_head else torch.randn(3, 80), -1).double()
    tag = torch.tensor([0, 5, 79])
    want = scale_tag_rows(p.numpy(), tag.numpy(), 0.0)
    np.testing.assert_allclose(zero_tag_rows(p, tag).numpy(), want, rtol=1e-10, atol=1e-12)


def test_keep_rest_loss_is_zero_for_a_filter_and_positive_for_a_reshuffle():
    logits = torch.randn(2, N)
    removed = torch.zeros(2, N, dtype=torch.bool)
    removed[:, :10] = True
    filtered = logits.clone()
    filtered[:, :10] -= 50.0  # a filter: the targeted songs sink, the rest keeps its order
    shifted = filtered + 3.0  # a constant shift changes no distribution
    assert keep_rest_loss(logits, filtered, removed).item() == pytest.approx(0.0, abs=1e-6)
    assert keep_rest_loss(logits, shifted, removed).item() == pytest.approx(0.0, abs=1e-6)
    edited = logits.clone().requires_grad_(True)
    shuffled = edited[:, torch.randperm(N)]
    loss = keep_rest_loss(logits.requires_grad_(True), shuffled, removed)
    assert loss.item() > 0.01
    loss.backward()
    assert edited.grad is not None and edited.grad.abs().sum() > 0
    assert logits.grad is None  # "before" is the fixed reference


def test_config_and_shape_errors():
    with pytest.raises(ConfigError, match="divisible"):
        ApronConfig(n_songs=5, emb_dim=4, d_model=30, n_heads=16)
    with pytest.raises(ConfigError, match="dropout"):
        ApronConfig(n_songs=5, emb_dim=4, d_model=32, n_heads=4, dropout=1.0)
    cfg = ApronConfig(n_songs=5, emb_dim=4, d_model=32, n_heads=4)
    with pytest.raises(ConfigError, match="prototypes have shape"):
        Apron(cfg, torch.zeros(79, 4), torch.zeros(5, 4))
    with pytest.raises(ConfigError, match="song embeddings"):
        Apron(cfg, torch.zeros(80, 4), torch.zeros(6, 4))
    assert ApronConfig.from_dict({**cfg.__dict__, "hidden": [8]}).hidden == (8,)
