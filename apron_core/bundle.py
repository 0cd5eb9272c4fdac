"""The bundle: everything the app loads, in one folder (docs/design.md §6).

bundle.json               format version, model + training config, encoder, sources, files
model.safetensors         learned weights (never pickle)
embeddings.safetensors    song embeddings (N, D) and prototype embeddings (K, D)
encoder/encoder.json      the encoder's name and normalization statistics
catalog.jsonl             one song per line: id, title, artist, year, tags, truth, spec
prototypes.json           the prototype table (tag → song, excerpt, clip file)
demo_listeners.json       the listeners the app offers, with one-line descriptions
evaluation.json           the figures it shipped with
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from apron_core.encoders import Encoder, load_encoder
from apron_core.errors import DataError
from apron_core.model import Apron, ApronConfig
from apron_core.prototypes import Prototype
from apron_core.tags import K, tag_matrix

FORMAT_VERSION = 1
FILES = (
    "bundle.json",
    "model.safetensors",
    "embeddings.safetensors",
    "encoder/encoder.json",
    "catalog.jsonl",
    "prototypes.json",
    "demo_listeners.json",
    "evaluation.json",
)
_CATALOG_COLUMNS = ("song_id", "title", "artist", "year", "tags", "true_tags", "spec")


@dataclass(frozen=True)
class DemoListener:
    listener_id: str
    description: str
    history: list[str]  # song ids


@dataclass
class Bundle:
    model: Apron
    config: ApronConfig
    meta: dict
    catalog: pd.DataFrame  # N rows, the model's song order
    song_tags: np.ndarray  # (N, K) observed tags
    prototypes: list[Prototype]
    demo_listeners: list[DemoListener]
    encoder: Encoder
    evaluation: dict
    path: Path


def save_bundle(
    out_dir: Path,
    model: Apron,
    *,
    catalog: pd.DataFrame,
    prototypes: list[Prototype],
    encoder: Encoder,
    demo_listeners: list[DemoListener],
    evaluation: dict,
    meta: dict,
) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    if len(catalog) != cfg.n_songs:
        raise DataError(f"catalog has {len(catalog)} songs, the model {cfg.n_songs}")
    weights = {
        k: v.detach().cpu().contiguous()
        for k, v in model.state_dict().items()
        if k not in ("songs", "prototypes")
    }
    save_file(weights, str(out / "model.safetensors"))
    save_file(
        {
            "songs": model.songs.detach().cpu().contiguous(),
            "prototypes": model.prototypes.detach().cpu().contiguous(),
        },
        str(out / "embeddings.safetensors"),
    )
    encoder.save(out / "encoder")
    with open(out / "catalog.jsonl", "w") as f:
        for row in catalog[list(_CATALOG_COLUMNS)].itertuples(index=False):
            rec = dict(zip(_CATALOG_COLUMNS, row, strict=True))
            rec["tags"], rec["true_tags"] = list(rec["tags"]), list(rec["true_tags"])
            rec["year"] = int(rec["year"])
            f.write(json.dumps(rec) + "\n")
    (out / "prototypes.json").write_text(
        json.dumps({"prototypes": [asdict(p) for p in prototypes]}, indent=1)
    )
    (out / "demo_listeners.json").write_text(
        json.dumps([asdict(d) for d in demo_listeners], indent=1)
    )
    (out / "evaluation.json").write_text(json.dumps(evaluation, indent=1, default=float))
    info = {
        "format_version": FORMAT_VERSION,
        "model": asdict(cfg),
        "encoder": encoder.name,
        "files": list(FILES),
        **meta,
    }
    (out / "bundle.json").write_text(json.dumps(info, indent=1, default=str))
    return out


def _fail(path: Path, what: str) -> DataError:
    return DataError(f"bundle {path}: {what}")


def load_bundle(path: Path, *, device: str | torch.device = "cpu") -> Bundle:
    """Load and validate a bundle; every problem is a DataError that says what to do."""
    path = Path(path)
    if not path.is_dir():
        raise _fail(path, "is not a folder: pass a bundle folder such as assets/demo")
    try:
        meta = json.loads((path / "bundle.json").read_text())
    except FileNotFoundError:
        raise _fail(path, "has no bundle.json: is this a bundle folder?") from None
    except json.JSONDecodeError as e:
        raise _fail(path, f"bundle.json is not valid JSON ({e})") from None
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(
            path,
            f"format version {version!r} is not {FORMAT_VERSION}, the one this APRON Studio "
            "reads: rebuild it with `python -m training.train` of this version, or install the "
            "APRON Studio version that wrote it",
        )
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise _fail(path, f"missing file(s) {missing}: the bundle is incomplete, rebuild it")
    try:
        cfg = ApronConfig.from_dict(meta["model"])
        emb = load_file(str(path / "embeddings.safetensors"))
        weights = load_file(str(path / "model.safetensors"))
        catalog = pd.read_json(path / "catalog.jsonl", lines=True, dtype={"song_id": str})
        protos = [
            Prototype(**p) for p in json.loads((path / "prototypes.json").read_text())["prototypes"]
        ]
        listeners = [
            DemoListener(**d) for d in json.loads((path / "demo_listeners.json").read_text())
        ]
        evaluation = json.loads((path / "evaluation.json").read_text())
        encoder = load_encoder(path / "encoder")
    except DataError:
        raise
    except Exception as e:  # corrupt file of any kind: say which bundle and why
        raise _fail(path, f"cannot be read ({type(e).__name__}: {e}); rebuild it") from None
    songs, protos_emb = emb.get("songs"), emb.get("prototypes")
    if songs is None or protos_emb is None:
        raise _fail(path, "embeddings.safetensors lacks 'songs' or 'prototypes'")
    checks = [
        (len(catalog) == cfg.n_songs, f"catalog has {len(catalog)} songs, model {cfg.n_songs}"),
        (
            tuple(songs.shape) == (cfg.n_songs, cfg.emb_dim),
            f"song embeddings {tuple(songs.shape)} ≠ ({cfg.n_songs}, {cfg.emb_dim})",
        ),
        (
            tuple(protos_emb.shape) == (K, cfg.emb_dim),
            f"prototype embeddings {tuple(protos_emb.shape)} ≠ ({K}, {cfg.emb_dim})",
        ),
        (encoder.dim == cfg.emb_dim, f"encoder dim {encoder.dim} ≠ model emb_dim {cfg.emb_dim}"),
        (len(protos) == K, f"prototype table has {len(protos)} rows, expected {K}"),
    ]
    bad = [msg for ok, msg in checks if not ok]
    if bad:
        raise _fail(path, "mismatched shapes: " + "; ".join(bad) + " — rebuild it")
    model = Apron(cfg, protos_emb, songs)
    result = model.load_state_dict(weights, strict=False)
    unexpected = set(result.unexpected_keys)
    missing_w = set(result.missing_keys) - {"songs", "prototypes"}
    if unexpected or missing_w:
        raise _fail(
            path,
            f"weights do not fit the config (missing {sorted(missing_w)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}); rebuild it",
        )
    model.to(device).eval()
    ids = set(catalog["song_id"])
    for d in listeners:
        unknown = [s for s in d.history if s not in ids]
        if unknown:
            raise _fail(path, f"demo listener {d.listener_id} has unknown songs {unknown[:3]}")
    return Bundle(
        model=model,
        config=cfg,
        meta=meta,
        catalog=catalog,
        song_tags=tag_matrix(catalog["tags"]),
        prototypes=protos,
        demo_listeners=listeners,
        encoder=encoder,
        evaluation=evaluation,
        path=path,
    )
