"""apron_core.encoders.mert on tiny random checkpoints written in MERT-v1's layout.

What the equivalence tests prove (MERT itself cannot be downloaded here):

* The checkpoint fixture has MERT-v1's published form: config.json with model_type
  "mert_model" and MERT's extra flags, tensors named as MERTModel saves them (no prefix,
  old weight-norm names weight_g/weight_v), a masked_spec_embed vector; every norm weight
  and bias is randomized so that a mis-mapped tensor changes the output.
* Our loader (config translation MERT → HubertConfig, tensor renaming, strict loading)
  plus our module-by-module forward give, for every hidden state, the same numbers as
  (a) `reference_states` below: MERT-v1's forward written out with torch.nn.functional
      from the published architecture (wav2vec 2.0 / HuBERT conv front end, feature
      projection, weight-normalized convolutional position embedding, post-norm or
      pre-norm transformer layers), reading the raw checkpoint tensors with their file
      names — it shares no code with the loader or with transformers' modules;
  (b) transformers' own `HubertModel.forward(output_hidden_states=True)`, with the one
      documented difference for pre-norm (330M-like) models: MERT's last state is the
      final layer-normed output, which transformers 5 returns as last_hidden_state.
  Both the post-norm (95M-like) and pre-norm (330M-like) variants are checked, from a
  pytorch_model.bin and from a model.safetensors.
* It does not prove that MERT's real weights load (their tensor names are taken from
  MERT's published modeling code, not from the files) nor anything about CQT/deepnorm
  variants, which the loader refuses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from apron_core.audio import write_audio
from apron_core.embed_folder import embed_folder, load_embeddings, read_failures
from apron_core.encoders import available_encoders, get_encoder, load_encoder
from apron_core.encoders.mert import (
    MERT_SR,
    TINY_ARCH,
    MertEncoder,
    load_mert_model,
    mert_hidden_states,
    normalize_clip,
    split_windows,
)
from apron_core.errors import AudioError, ConfigError
from tests.encoders.mert_checkpoints import write_random_checkpoint

PRE_NORM = {"feat_extract_norm": "layer", "conv_bias": True, "do_stable_layer_norm": True}
ATOL = 2e-5


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return write_random_checkpoint(tmp_path_factory.mktemp("mert_tiny"), seed=1)


def clip(rng, seconds: float, amp: float = 0.2) -> np.ndarray:
    t = np.arange(round(seconds * MERT_SR)) / MERT_SR
    y = amp * np.sin(2 * np.pi * rng.uniform(100, 1000) * t) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def raw_tensors(model_dir: Path) -> dict[str, torch.Tensor]:
    if (model_dir / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(model_dir / "model.safetensors"))
    return torch.load(model_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- the oracle


def reference_states(sd: dict, cfg: dict, x: torch.Tensor) -> list[torch.Tensor]:
    """MERT-v1 hidden states of waveforms x (B, n), written from the architecture."""
    eps = cfg["layer_norm_eps"]

    def ln(t: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(t, (t.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"], eps)

    def lin(t: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(t, sd[f"{name}.weight"], sd[f"{name}.bias"])

    def attention(h: torch.Tensor, p: str) -> torch.Tensor:
        B, T, H = h.shape
        heads = cfg["num_attention_heads"]
        d = H // heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, heads, d).transpose(1, 2)  # (B, heads, T, d)

        q = split(lin(h, p + "q_proj")) * d**-0.5
        k, v = split(lin(h, p + "k_proj")), split(lin(h, p + "v_proj"))
        a = torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # (B, heads, T, T)
        return lin((a @ v).transpose(1, 2).reshape(B, T, H), p + "out_proj")

    def ffn(h: torch.Tensor, p: str) -> torch.Tensor:
        return lin(F.gelu(lin(h, p + "intermediate_dense")), p + "output_dense")

    h = x[:, None, :]  # (B, 1, n)
    for i, stride in enumerate(cfg["conv_stride"]):
        p = f"feature_extractor.conv_layers.{i}."
        h = F.conv1d(h, sd[p + "conv.weight"], sd.get(p + "conv.bias"), stride=stride)
        w, b = sd.get(p + "layer_norm.weight"), sd.get(p + "layer_norm.bias")
        if cfg["feat_extract_norm"] == "layer":  # every conv layer, over channels
            h = F.layer_norm(h.transpose(1, 2), (h.shape[1],), w, b).transpose(1, 2)
        elif i == 0:  # group norm with one group per channel, first layer only
            h = F.group_norm(h, h.shape[1], w, b)
        h = F.gelu(h)
    h = ln(h.transpose(1, 2), "feature_projection.layer_norm")  # (B, T, C)
    h = lin(h, "feature_projection.projection")  # (B, T, H)
    g = sd["encoder.pos_conv_embed.conv.weight_g"]
    v = sd["encoder.pos_conv_embed.conv.weight_v"]
    weight = g * v / v.norm(dim=(0, 1), keepdim=True)  # weight norm over all but the kernel axis
    k = cfg["num_conv_pos_embeddings"]
    pos = F.conv1d(
        h.transpose(1, 2),
        weight,
        sd["encoder.pos_conv_embed.conv.bias"],
        padding=k // 2,
        groups=cfg["num_conv_pos_embedding_groups"],
    )
    if k % 2 == 0:
        pos = pos[:, :, :-1]  # "same" length for an even kernel
    h = h + F.gelu(pos).transpose(1, 2)
    stable = cfg["do_stable_layer_norm"]
    if not stable:
        h = ln(h, "encoder.layer_norm")
    states = [h]
    for j in range(cfg["num_hidden_layers"]):
        p = f"encoder.layers.{j}."
        if stable:  # pre-norm
            h = h + attention(ln(h, p + "layer_norm"), p + "attention.")
            h = h + ffn(ln(h, p + "final_layer_norm"), p + "feed_forward.")
        else:  # post-norm
            h = ln(h + attention(h, p + "attention."), p + "layer_norm")
            h = ln(h + ffn(h, p + "feed_forward."), p + "final_layer_norm")
        states.append(h)
    if stable:
        states[-1] = ln(states[-1], "encoder.layer_norm")
    return states


# --------------------------------------------------------------------------- equivalence


def test_fixture_has_mert_checkpoint_layout(tiny_dir):
    cfg = json.loads((tiny_dir / "config.json").read_text())
    assert cfg["model_type"] == "mert_model"
    assert cfg["architectures"] == ["MERTModel"]
    assert {"feature_extractor_cqt", "deepnorm", "attention_relax"} <= set(cfg)
    keys = set(raw_tensors(tiny_dir))
    assert "encoder.pos_conv_embed.conv.weight_g" in keys
    assert "masked_spec_embed" in keys
    assert not any(
        k.startswith(("hubert.", "mert_model.")) or "parametrizations" in k for k in keys
    )


@pytest.mark.parametrize(
    ("arch", "weights"),
    [({}, "bin"), (PRE_NORM, "safetensors")],
    ids=["post-norm-like-95M", "pre-norm-like-330M"],
)
def test_hidden_states_equal_reference_and_transformers(tmp_path, rng, arch, weights):
    from transformers import HubertModel

    model_dir = write_random_checkpoint(tmp_path, arch=arch, seed=3, weights=weights)
    cfg = json.loads((model_dir / "config.json").read_text())
    x = torch.from_numpy(np.stack([normalize_clip(clip(rng, 1.3)) for _ in range(2)]))
    model = load_mert_model(model_dir)
    assert isinstance(model, HubertModel)
    with torch.inference_mode():
        ours = mert_hidden_states(model, x)
        ref = reference_states(raw_tensors(model_dir), cfg, x)
        hf = model(x, output_hidden_states=True)
    assert len(ours) == len(ref) == cfg["num_hidden_layers"] + 1
    assert ours[0].shape == (2, 97, cfg["hidden_size"])  # 1.3 s at 75 frames/s
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-4)
    for a, b in zip(ours[:-1], hf.hidden_states[:-1], strict=True):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-4)
    torch.testing.assert_close(ours[-1], hf.last_hidden_state, atol=ATOL, rtol=1e-4)
    # the states really differ from layer to layer (nothing trivially equal)
    assert all(float((ours[i] - ours[i + 1]).abs().max()) > 0.1 for i in range(len(ours) - 1))


def test_loader_uses_checkpoint_values(tmp_path, rng):
    """Two seeds → different states: the weights come from the file, not the random init."""
    x = torch.from_numpy(normalize_clip(clip(rng, 1.0))[None])
    states = []
    for seed in (4, 5):
        model = load_mert_model(write_random_checkpoint(tmp_path / str(seed), seed=seed))
        with torch.inference_mode():
            states.append(mert_hidden_states(model, x)[-1])
    assert float((states[0] - states[1]).abs().max()) > 0.1


def test_early_stop_gives_the_same_lower_states(tiny_dir, rng):
    model = load_mert_model(tiny_dir)
    x = torch.from_numpy(normalize_clip(clip(rng, 1.0))[None])
    with torch.inference_mode():
        full = mert_hidden_states(model, x)
        part = mert_hidden_states(model, x, n_layers=1)
    assert len(part) == 2
    for a, b in zip(part, full[:2], strict=True):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------- the encoder


@pytest.mark.parametrize("layer", [0, 1, 2, -1, "mean"])
def test_raw_features_pool_the_chosen_hidden_state(tiny_dir, rng, layer):
    enc = get_encoder("mert", model=str(tiny_dir), layer=layer, device="cpu")
    assert isinstance(enc, MertEncoder)
    assert enc.dim == TINY_ARCH["hidden_size"] and enc.n_layers == 2
    y = clip(rng, 1.7)
    x = torch.from_numpy(normalize_clip(y)[None])
    cfg = json.loads((tiny_dir / "config.json").read_text())
    with torch.inference_mode():
        pooled = torch.stack(
            [s[0].mean(0) for s in reference_states(raw_tensors(tiny_dir), cfg, x)]
        )
    expected = pooled.mean(0) if layer == "mean" else pooled[layer]
    got = enc.raw_features(y)
    assert got.shape == (enc.dim,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected.numpy(), atol=ATOL, rtol=1e-4)


def test_normalization_matches_wav2vec2_feature_extractor(rng):
    from transformers import Wav2Vec2FeatureExtractor

    fe = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=MERT_SR, do_normalize=True, return_attention_mask=True
    )
    y = 0.3 * clip(rng, 1.0) + 0.1
    expected = fe(y, sampling_rate=MERT_SR, return_tensors="np").input_values[0]
    np.testing.assert_allclose(normalize_clip(y), expected, atol=1e-5)
    assert abs(normalize_clip(y).mean()) < 1e-5 and abs(normalize_clip(y).std() - 1) < 1e-4


def test_batching_does_not_change_results(tiny_dir, rng):
    enc = get_encoder("mert", model=str(tiny_dir), batch_size=2, device="cpu")
    signals = [clip(rng, s) for s in (1.5, 1.5, 2.0, 1.5, 1.2)]
    batched = enc.raw_features_batch(signals)
    single = np.stack([enc.raw_features(y) for y in signals])
    assert batched.shape == (5, enc.dim)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert np.abs(batched[0] - batched[1]).max() > 1e-3  # different clips, different rows


def test_long_clip_is_cut_into_windows_and_averaged(tiny_dir, rng):
    enc = get_encoder("mert", model=str(tiny_dir), window_s=1.0, max_seconds=None, device="cpu")
    y = clip(rng, 3.2)
    windows = split_windows(normalize_clip(y), max_len=MERT_SR)
    assert windows.shape == (4, 19200)  # 3.2 s → 4 equal windows of 0.8 s
    model = load_mert_model(tiny_dir)
    with torch.inference_mode():
        states = mert_hidden_states(model, torch.from_numpy(windows))
    expected = torch.stack([s.mean(1) for s in states]).mean(0).mean(0)  # layers, time, windows
    np.testing.assert_allclose(enc.raw_features(y), expected.numpy(), atol=ATOL, rtol=1e-4)


def test_max_seconds_uses_the_start_of_the_clip(tiny_dir, rng):
    y = clip(rng, 3.0)
    cut = get_encoder("mert", model=str(tiny_dir), max_seconds=2.0, device="cpu")
    full = get_encoder("mert", model=str(tiny_dir), max_seconds=None, device="cpu")
    np.testing.assert_allclose(cut.raw_features(y), full.raw_features(y[: 2 * MERT_SR]), atol=1e-6)
    assert cut.max_input_s == 2.0 and full.max_input_s is None


def test_bad_signals_raise_audio_errors(tiny_dir, rng):
    enc = get_encoder("mert", model=str(tiny_dir), device="cpu")
    with pytest.raises(AudioError, match="silent"):
        enc.raw_features(np.zeros(MERT_SR * 2, np.float32))
    with pytest.raises(AudioError, match=r"0\.50 s long.*at least 1 s"):
        enc.raw_features(clip(rng, 0.5))
    with pytest.raises(ConfigError, match="mono"):
        enc.raw_features(np.stack([clip(rng, 1.5)] * 2))
    with pytest.raises(AudioError, match=r"signal 1: .*silent"):
        enc.raw_features_batch([clip(rng, 1.5), np.zeros(MERT_SR * 2, np.float32)])


def test_save_load_roundtrip(tiny_dir, rng, tmp_path):
    enc = get_encoder("mert", model=str(tiny_dir), layer=1, device="cpu")
    raw = enc.raw_features_batch([clip(rng, 1.2) for _ in range(4)])
    enc.fit_normalization(raw).save(tmp_path)
    again = load_encoder(tmp_path)
    assert isinstance(again, MertEncoder) and again.config == enc.config
    y = clip(rng, 1.4)
    np.testing.assert_allclose(again.embed(y), enc.embed(y), atol=1e-6)


# --------------------------------------------------------------------------- refusals, errors


def _checkpoint_with(dst: Path, **changes) -> Path:
    """A tiny checkpoint whose config.json has `changes` applied."""
    write_random_checkpoint(dst, seed=0)
    cfg = json.loads((dst / "config.json").read_text())
    cfg.update(changes)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"deepnorm": True}, "deepnorm=True"),
        ({"feature_extractor_cqt": True}, "feature_extractor_cqt=True.*CQT"),
        ({"conv_pos_batch_norm": True}, "conv_pos_batch_norm=True"),
        ({"model_type": "wav2vec2"}, "model_type='wav2vec2'"),
        ({"sample_rate": 16000}, "sample_rate is 16000 Hz.*set sr=16000"),
    ],
)
def test_unsupported_checkpoints_are_refused(tmp_path, changes, match):
    model_dir = _checkpoint_with(tmp_path / "m", **changes)
    with pytest.raises(ConfigError, match=match):
        get_encoder("mert", model=str(model_dir)).dim  # noqa: B018


def test_attention_relax_without_deepnorm_is_accepted(tmp_path, rng):
    """MERT-v1-330M ships attention_relax=32 with deepnorm=False: the flag is not used."""
    model_dir = _checkpoint_with(tmp_path / "m", attention_relax=32.0)
    assert get_encoder("mert", model=str(model_dir), device="cpu").raw_features(
        clip(rng, 1.1)
    ).shape == (32,)


def test_checkpoint_missing_tensors_is_refused(tmp_path):
    model_dir = write_random_checkpoint(tmp_path, seed=0)
    state = torch.load(model_dir / "pytorch_model.bin", weights_only=True)
    del state["encoder.layers.1.attention.q_proj.bias"]
    torch.save(state, model_dir / "pytorch_model.bin")
    with pytest.raises(ConfigError, match=r"lack 1 tensors.*q_proj\.bias"):
        load_mert_model(model_dir)
    (model_dir / "pytorch_model.bin").unlink()
    with pytest.raises(ConfigError, match="no weights in"):
        load_mert_model(model_dir)


def test_layer_must_exist(tiny_dir):
    with pytest.raises(ConfigError, match=r"layer=3 is out of range.*0\.\.2"):
        get_encoder("mert", model=str(tiny_dir), layer=3).dim  # noqa: B018
    with pytest.raises(ConfigError, match="integer or 'mean'"):
        get_encoder("mert", layer="last")


def test_missing_local_directory_is_a_clear_error(tmp_path):
    enc = get_encoder("mert", model=str(tmp_path / "no_such_model"))  # no I/O yet
    with pytest.raises(ConfigError, match=r"does not exist; pass a directory with config\.json"):
        enc.dim  # noqa: B018
    with pytest.raises(ConfigError, match=r"has no config\.json"):
        get_encoder("mert", model=str(tmp_path)).dim  # noqa: B018


def test_offline_hub_download_is_a_clear_error(monkeypatch):
    """HF_HUB_OFFLINE=1 makes the Hub fetch look only in the local cache; a revision that
    no cache holds keeps the test independent of what this machine has downloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    revision = "0123456789abcdef0123456789abcdef01234567"
    enc = get_encoder("mert", model="m-a-p/MERT-v1-95M", revision=revision)  # no I/O yet
    with pytest.raises(
        ConfigError,
        match=rf"could not download m-a-p/MERT-v1-95M \(revision {revision}\).*offline\? pass "
        r"a local directory with config\.json and weights",
    ):
        enc.raw_features(np.ones(MERT_SR, np.float32))


def test_registration_is_lazy():
    code = (
        "import sys, apron_core.encoders as e; "
        "assert 'mert' in e.available_encoders(); "
        "print('transformers' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert "mert" in available_encoders()


# --------------------------------------------------------------------------- folder, batched


def test_embed_folder_with_mert_batches_and_isolates_bad_files(tiny_dir, rng, tmp_path):
    audio = tmp_path / "audio"
    for i, seconds in enumerate((1.5, 1.5, 2.5, 1.5)):
        write_audio(audio / f"song{i}.wav", clip(rng, seconds), sr=MERT_SR)
    write_audio(audio / "short.flac", clip(rng, 0.4), sr=MERT_SR)  # decodes, too short to embed
    enc = get_encoder("mert", model=str(tiny_dir), device="cpu")
    report = embed_folder(enc, audio, tmp_path / "out", batch_size=5, progress=False)
    assert (report.n_embedded, report.n_failed) == (4, 1)
    ids, raw = load_embeddings(tmp_path / "out")
    assert ids == ["song0", "song1", "song2", "song3"]
    expected = np.stack([enc.raw_features_file(audio / f"{i}.wav") for i in ids])
    np.testing.assert_allclose(raw, expected, atol=1e-5)
    assert "at least 1 s" in read_failures(tmp_path / "out")["short"]["error"]


def test_sharded_weights_and_extra_tensors_load(tmp_path, rng):
    """A sharded safetensors checkpoint (with an index) loads like a single file; tensors
    the architecture does not use are ignored with a warning."""
    from safetensors.torch import save_file

    single = write_random_checkpoint(tmp_path / "single", seed=6, weights="safetensors")
    state = raw_tensors(single)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (sharded / name).write_text((single / name).read_text())
    state["label_embs_concat"] = torch.ones(3)  # a pre-training tensor MERTModel lacks
    keys = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": keys[::2],
        "model-00002-of-00002.safetensors": keys[1::2],
    }
    for file, part in shards.items():
        save_file({k: state[k] for k in part}, str(sharded / file))
    weight_map = {k: file for file, part in shards.items() for k in part}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    x = torch.from_numpy(normalize_clip(clip(rng, 1.0))[None])
    with pytest.warns(UserWarning, match="ignoring 1 unused tensors.*label_embs_concat"):
        model = load_mert_model(sharded)
    with torch.inference_mode():
        got = mert_hidden_states(model, x)[-1]
        expected = mert_hidden_states(load_mert_model(single), x)[-1]
    torch.testing.assert_close(got, expected)
