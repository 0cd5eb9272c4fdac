"""The checks a demo world must pass (docs/design.md §2), computed from a built world folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core import prototypes
from apron_core.dataset import load_dataset
from apron_core.tags import CATEGORY_TAGS, TAG_NAMES, category_indices, tag_matrix
from apron_core.world.build import WorldPaths


@dataclass(frozen=True)
class Check:
    name: str
    value: str
    target: str
    passed: bool


def tag_counts(songs: pd.DataFrame) -> dict[str, int]:
    a = tag_matrix(songs["tags"])
    return {t: int(n) for t, n in zip(TAG_NAMES, a.sum(0), strict=True)}


def _fit_probe(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000, random_state=seed).fit(
        x, y
    )


def fit_probes(x: np.ndarray, labels: np.ndarray, seed: int = 0) -> list:
    """One logistic regression per tag (one-vs-rest) on standardized embeddings.

    A tag with no positive (or no negative) training song gets no probe (None): it
    scores -inf everywhere, which only happens on tiny worlds.
    """
    return [
        _fit_probe(x, labels[:, k], seed) if 0 < labels[:, k].sum() < len(labels) else None
        for k in range(labels.shape[1])
    ]


def probe_scores(probes: list, x: np.ndarray) -> np.ndarray:
    cols = [p.decision_function(x) if p is not None else np.full(len(x), -np.inf) for p in probes]
    return np.stack(cols, axis=1)  # (N, 80)


def macro_auc(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Macro ROC-AUC per category over tags with both classes present."""
    from sklearn.metrics import roc_auc_score

    out = {}
    for category in CATEGORY_TAGS:
        aucs = [
            roc_auc_score(labels[:, k], scores[:, k])
            for k in category_indices(category)
            if 0 < labels[:, k].sum() < len(labels)
        ]
        out[category] = float(np.mean(aucs))
    return out


def faithfulness(scores: np.ndarray, tags: list[str]) -> tuple[float, list[str]]:
    """Share of clips whose own tag ranks first among its category's tags; the misses."""
    misses = []
    for row, tag in zip(scores, tags, strict=True):
        idx = category_indices(next(c for c, ts in CATEGORY_TAGS.items() if tag in ts))
        best = TAG_NAMES[idx[int(np.argmax(row[idx]))]]
        if best != tag:
            misses.append(f"{tag}→{best}")
    return 1 - len(misses) / len(tags), misses


def world_checks(world: Path, prototypes_dir: Path | None, seed: int = 0) -> dict:
    """Everything the report prints, as a JSON-able dict (with a list of pass/fail checks)."""
    paths = WorldPaths(world)
    cfg = paths.read_config()
    build = json.loads(paths.build_report.read_text())
    ds = load_dataset(world)
    songs, encoder, x = ds.catalog, ds.encoder, ds.songs
    observed, truth = ds.song_tags, ds.true_tags

    rng = np.random.default_rng(seed)
    test = rng.random(len(songs)) < 0.2
    probes = fit_probes(x[~test], observed[~test], seed)
    s_test = probe_scores(probes, x[test])
    auc_observed = macro_auc(s_test, observed[test])
    auc_truth = macro_auc(s_test, truth[test])

    choices = json.loads(paths.prepared.prototype_choices.read_text())
    proto_ids = {p["song_id"] for ps in choices.values() for p in ps}
    keep = ~songs["song_id"].isin(proto_ids).to_numpy()
    probes_wo = fit_probes(x[keep], observed[keep], seed)  # never saw a prototype song
    clip_raw = np.load(paths.prepared.clip_embeddings)
    faithful = {}
    for rule in prototypes.RULES:
        tags = [p["tag"] for p in choices[rule]]
        share, misses = faithfulness(
            probe_scores(probes_wo, encoder.transform(clip_raw[rule])), tags
        )
        faithful[rule] = {
            "share": share,
            "misses": misses,
            "distinct_songs": len({p["song_id"] for p in choices[rule]}),
        }

    split = ds.split
    heldout_targets = pd.concat([split.val_te, split.test_te]).groupby("user_id").size()
    stats = build["stats"]
    audio = pd.read_parquet(paths.audio_stats)
    counts = tag_counts(songs)
    vs = build["variance_split"]
    result = {
        "encoder": {"name": encoder.name, "config": asdict(encoder.config), "dim": encoder.dim},
        "songs_rendered": build.get("songs_rendered"),
        "tag_counts": counts,
        "probe_auc_observed": auc_observed,
        "probe_auc_truth": auc_truth,
        "faithfulness": faithful,
        "variance_split": vs,
        "dataset": stats,
        "min_heldout_targets": int(heldout_targets.min()),
        "timings_s": build["timings_s"],
        "audio_songs": _audio_summary(audio),
    }
    if prototypes_dir is not None:
        result["audio_prototype_clips"] = prototype_clip_quality(prototypes_dir)

    hist = stats["history_length"]
    checks = [
        Check(
            "every tag on ≥ 30 songs (observed)",
            f"min {min(counts.values())} ({min(counts, key=counts.get)})",
            "≥ 30",
            min(counts.values()) >= 30,
        ),
    ]
    for category, target in (("genre", 0.9), ("instrumentation", 0.9), ("era", 0.8), ("mood", 0.8)):
        checks.append(
            Check(
                f"probe macro ROC-AUC, {category}",
                f"{auc_observed[category]:.3f} observed / {auc_truth[category]:.3f} truth",
                f"≥ {target:.2f}",
                auc_observed[category] >= target,
            )
        )
    shipped = cfg.prototype_rule
    for rule in prototypes.RULES:  # the shipped rule must pass; the other is reported
        f = faithful[rule]
        value = f"{f['share']:.1%} ({len(f['misses'])} misses)"
        if rule == shipped:
            checks.append(
                Check(
                    f"prototype faithfulness, {rule} (shipped)", value, "≥ 90%", f["share"] >= 0.9
                )
            )
        else:
            checks.append(Check(f"prototype faithfulness, {rule}", value, "reported", True))
    checks += [
        Check("utility variance: tag part", f"{vs['tag']:.1%}", "≥ 40%", vs["tag"] >= 0.4),
        Check("utility variance: latent part", f"{vs['latent']:.1%}", "≥ 30%", vs["latent"] >= 0.3),
        Check("utility variance: popularity part", f"{vs['pop']:.1%}", "reported", True),
        Check(
            "history length median", f"{hist['median']:.0f}", "30–80", 30 <= hist["median"] <= 80
        ),
        Check("density", f"{stats['density']:.3%}", "0.1%–2%", 0.001 <= stats["density"] <= 0.02),
        Check(
            "held-out users: min targets",
            str(result["min_heldout_targets"]),
            "≥ 5",
            result["min_heldout_targets"] >= 5,
        ),
        Check(
            "build time",
            f"{build['timings_s']['total'] / 60:.1f} min",
            "≤ 25 min",
            build["timings_s"]["total"] <= 1500,
        ),
    ]
    for label, summary in (
        ("songs", result["audio_songs"]),
        ("prototype clips", result.get("audio_prototype_clips")),
    ):
        if summary is None:
            continue
        checks += [
            Check(f"{label}: clipped", str(summary["clipped"]), "0", summary["clipped"] == 0),
            Check(
                f"{label}: longest silence",
                f"{summary['longest_silence_s']:.2f} s",
                "≤ 2 s",
                summary["longest_silence_s"] <= 2.0,
            ),
            Check(
                f"{label}: loudness range",
                f"{summary['rms_range_db']:.1f} dB",
                "≤ 6 dB",
                summary["rms_range_db"] <= 6.0,
            ),
        ]
    result["checks"] = [c.__dict__ for c in checks]
    return result


def _audio_summary(stats: pd.DataFrame) -> dict:
    return {
        "n": len(stats),
        "clipped": int((stats["peak"] >= 0.999).sum()),
        "longest_silence_s": float(stats["longest_silence_s"].max()),
        "rms_db_min": float(stats["rms_db"].min()),
        "rms_db_max": float(stats["rms_db"].max()),
        "rms_range_db": float(stats["rms_db"].max() - stats["rms_db"].min()),
    }


def prototype_clip_quality(folder: Path) -> dict:
    """Quality of the exported (compressed) clips, decoded as a listener would hear them."""
    from apron_core.audio import load_audio
    from apron_core.world.quality import audio_quality

    rows = []
    for p in prototypes.load_prototypes(folder):
        table = json.loads((Path(folder) / prototypes.TABLE_FILE).read_text())
        y = load_audio(Path(folder) / p.file, sr=table["sr"])
        rows.append(audio_quality(y, sr=table["sr"]))
    return _audio_summary(pd.DataFrame(rows))


def spectrogram_grid(prototypes_dir: Path, out_png: Path) -> Path:
    """Mel spectrograms of the 32 genre prototype clips on one page."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from apron_core.audio import load_audio

    protos = [p for p in prototypes.load_prototypes(prototypes_dir) if p.category == "genre"]
    fig, axes = plt.subplots(4, 8, figsize=(24, 10), constrained_layout=True)
    for ax, p in zip(axes.flat, protos, strict=True):
        y = load_audio(Path(prototypes_dir) / p.file, sr=22050)
        mel = librosa.power_to_db(
            librosa.feature.melspectrogram(y=y, sr=22050, n_mels=96), ref=np.max
        )
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=-70, vmax=0)
        ax.set_title(f"{p.tag} ({p.song_id})", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Genre prototype clips: mel spectrograms (10 s, 96 mel bands, dB)")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=60)
    plt.close(fig)
    return out_png
