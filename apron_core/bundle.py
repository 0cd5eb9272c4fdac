"""The bundle: everything the app loads, in one folder (docs/design.md §6).

bundle.json               format version, model kind + config, training, encoder, sources, files
model.safetensors         APRON's learned weights (never pickle), or, for grounded steering,
model/                    the saved model (config.json, weights.safetensors, base0/ …)
embeddings.safetensors    song embeddings (N, D) and prototype embeddings (K, D)
encoder/encoder.json      the encoder's name and normalization statistics
catalog.jsonl             one song per line: id, title, artist, year, tags, truth, spec
prototypes.json           the prototype table (tag → song, excerpt, clip file)
demo_listeners.json       the listeners the app offers, with one-line descriptions
evaluation.json           the figures it shipped with

Format 2 added the model kind ("apron", or "grounded-steering": apron_core/steering.py);
format 1 bundles are APRON bundles and still load.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from apron_core.checks import quote
from apron_core.encoders import Encoder, load_encoder
from apron_core.errors import DataError
from apron_core.model import Apron, ApronConfig
from apron_core.prototypes import Prototype
from apron_core.saved_models import load_saved_model
from apron_core.steering import GroundedSteering, SteeringConfig
from apron_core.tags import K, tag_matrix

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
KINDS = ("apron", "grounded-steering")
_COMMON_FILES = (
    "bundle.json",
    "embeddings.safetensors",
    "encoder/encoder.json",
    "catalog.jsonl",
    "prototypes.json",
    "demo_listeners.json",
    "evaluation.json",
)
FILES = {
    "apron": ("model.safetensors", *_COMMON_FILES),
    "grounded-steering": ("model/config.json", "model/weights.safetensors", *_COMMON_FILES),
}
Model = Apron | GroundedSteering
_CATALOG_COLUMNS = ("song_id", "title", "artist", "year", "tags", "true_tags", "spec")


@dataclass(frozen=True)
class DemoListener:
    listener_id: str
    description: str
    history: list[str]  # song ids


@dataclass
class Bundle:
    model: Model
    config: ApronConfig | SteeringConfig
    meta: dict
    catalog: pd.DataFrame  # N rows, the model's song order
    song_tags: np.ndarray  # (N, K) observed tags
    prototypes: list[Prototype]
    demo_listeners: list[DemoListener]
    encoder: Encoder
    evaluation: dict
    path: Path

    @property
    def kind(self) -> str:
        return kind_of(self.model)


def kind_of(model: Model) -> str:
    return "grounded-steering" if isinstance(model, GroundedSteering) else "apron"


def _embeddings(model: Model) -> tuple[torch.Tensor, torch.Tensor]:
    """(songs (N, D), prototypes (K, D)) the model was built on."""
    if isinstance(model, GroundedSteering):
        if model.songs is None or model.prototypes is None:
            raise DataError("the model has no song embeddings: call set_catalog before saving")
        return torch.as_tensor(model.songs), torch.as_tensor(model.prototypes)
    return model.songs.detach(), model.prototypes.detach()


def save_bundle(
    out_dir: Path,
    model: Model,
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
    kind = kind_of(model)
    n_songs = model.n_items if kind == "grounded-steering" else model.cfg.n_songs
    if len(catalog) != n_songs:
        raise DataError(f"catalog has {len(catalog)} songs, the model {n_songs}")
    if kind == "grounded-steering":
        model.save(out / "model")
        config = asdict(model.config)
    else:
        weights = {
            k: v.detach().cpu().contiguous()
            for k, v in model.state_dict().items()
            if k not in ("songs", "prototypes")
        }
        save_file(weights, str(out / "model.safetensors"))
        config = asdict(model.cfg)
    songs, protos = _embeddings(model)
    save_file(
        {
            "songs": songs.cpu().float().contiguous(),
            "prototypes": protos.cpu().float().contiguous(),
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
        "kind": kind,
        "model": config,
        "n_songs": n_songs,
        "emb_dim": int(songs.shape[1]),
        "encoder": encoder.name,
        "files": list(FILES[kind]),
        **meta,
    }
    (out / "bundle.json").write_text(json.dumps(info, indent=1, default=str))
    return out


def _fail(path: Path, what: str) -> DataError:
    return DataError(f"bundle {path}: {what}")


def _apron_model(
    path: Path, cfg: ApronConfig, weights: dict, prototypes: torch.Tensor, songs: torch.Tensor
) -> Apron:
    model = Apron(cfg, prototypes, songs)
    result = model.load_state_dict(weights, strict=False)
    unexpected = set(result.unexpected_keys)
    missing_w = set(result.missing_keys) - {"songs", "prototypes"}
    if unexpected or missing_w:
        raise _fail(
            path,
            f"weights do not fit the config (missing {sorted(missing_w)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}); rebuild it",
        )
    return model


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
    if version not in READABLE_VERSIONS:
        raise _fail(
            path,
            f"format version {quote(version)} is not one this APRON Studio reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}): rebuild it with `python -m "
            "training.train` of this version, or install the APRON Studio version that wrote it",
        )
    kind = meta.get("kind", "apron")
    if kind not in KINDS:
        raise _fail(path, f"model kind {quote(kind)} is not one of {KINDS}: rebuild it")
    missing = [f for f in FILES[kind] if not (path / f).is_file()]
    if missing:
        raise _fail(path, f"missing file(s) {missing}: the bundle is incomplete, rebuild it")
    try:
        emb = load_file(str(path / "embeddings.safetensors"))
        if kind == "apron":
            cfg = ApronConfig.from_dict(meta["model"])
            weights = load_file(str(path / "model.safetensors"))
        else:
            steering = load_saved_model(path / "model", device=device)
            cfg = steering.config
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
    if kind == "apron":
        n_songs, emb_dim = cfg.n_songs, cfg.emb_dim
    else:
        n_songs, emb_dim = steering.n_items, int(steering.prototypes.shape[1])
    checks = [
        (len(catalog) == n_songs, f"catalog has {len(catalog)} songs, model {n_songs}"),
        (
            tuple(songs.shape) == (n_songs, emb_dim),
            f"song embeddings {tuple(songs.shape)} ≠ ({n_songs}, {emb_dim})",
        ),
        (
            tuple(protos_emb.shape) == (K, emb_dim),
            f"prototype embeddings {tuple(protos_emb.shape)} ≠ ({K}, {emb_dim})",
        ),
        (encoder.dim == emb_dim, f"encoder dim {encoder.dim} ≠ model emb_dim {emb_dim}"),
        (len(protos) == K, f"prototype table has {len(protos)} rows, expected {K}"),
    ]
    bad = [msg for ok, msg in checks if not ok]
    if bad:
        raise _fail(path, "mismatched shapes: " + "; ".join(bad) + " — rebuild it")
    if kind == "apron":
        model = _apron_model(path, cfg, weights, protos_emb, songs).to(device).eval()
    else:
        model = steering
        model.songs, model.prototypes = songs.numpy(), protos_emb.numpy()
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
