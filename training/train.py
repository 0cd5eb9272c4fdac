"""Train APRON, grounded steering or a baseline on a prepared folder (the demo world by
default) and save it.

python -m training.train --model grounded-steering --base runs/recvae   # the shipped bundle
python -m training.train --set lambda_control=0 --output runs/apron-l0  # an APRON bundle
python -m training.train --model ease --output runs/ease
python -m training.train --hide-tags 0.5 --output runs/hidden/50/apron  # half the tags hidden

APRON and grounded steering write bundles (what the app loads); baselines write a model
folder. Grounded steering reuses fitted collaborative bases given with --base (in the order
of its ``bases`` setting) and fits the others itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from apron_core.errors import ApronError, ConfigError
from apron_core.model import ApronConfig
from apron_core.training import TrainConfig
from training.data_arg import add_data_argument, resolve_data_argument

MODELS = (
    "apron",
    "grounded-steering",
    "popularity",
    "ease",
    "mult-dae",
    "mult-vae",
    "recvae",
    "macridvae",
    "sem-macridvae",
)


def parse_overrides(pairs: list[str], *configs: type) -> list[dict]:
    """``key=value`` pairs → one dict of typed overrides per config dataclass."""
    out: list[dict] = [{} for _ in configs]
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: write key=value, e.g. --set lambda_control=10")
        for i, cls in enumerate(configs):
            fields = {f.name: f for f in dataclasses.fields(cls)}
            if key in fields:
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError:
                    value = raw
                if isinstance(value, list):
                    value = tuple(value)
                out[i][key] = value
                break
        else:
            known = sorted({f.name for c in configs for f in dataclasses.fields(c)})
            raise ConfigError(f"--set {key}: unknown setting; known: {', '.join(known)}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.train",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_data_argument(p)
    p.add_argument("--model", choices=MODELS, default="apron")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="bundle / model folder (default: assets/demo for apron, runs/<model>)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when torch sees it, else cpu), cpu, cuda[:N]"
    )
    p.add_argument("--rule", default=None, help="prototype rule (default: the data's)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model/training setting (repeatable)",
    )
    p.add_argument(
        "--base",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="grounded-steering: a fitted collaborative base to reuse (repeatable, in the "
        "order of the bases setting)",
    )
    p.add_argument(
        "--hide-tags",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="hide this share of the observed tags (seeded by --hide-seed; nested: the pairs "
        "hidden at 0.25 are hidden at 0.5 too) before training",
    )
    p.add_argument("--hide-seed", type=int, default=0, help="seed of the hidden tag pairs")
    p.add_argument("--label", default=None, help="the bundle's name in reports")
    p.add_argument(
        "--no-eval", action="store_true", help="skip the test evaluation (apron, grounded-steering)"
    )
    args = p.parse_args(argv)
    resolve_data_argument(p, args)
    args.command = command_line("training.train", sys.argv[1:] if argv is None else argv)
    return args


def command_line(module: str, argv: list[str]) -> str:
    """The command as typed, for the record a run keeps of how it was made."""
    import shlex

    return " ".join(["python -m", module, *(shlex.quote(a) for a in argv)])


def load_data(args: argparse.Namespace):
    """The prepared folder, with --hide-tags applied."""
    from apron_core.dataset import load_dataset
    from apron_core.missing_tags import hide_tags

    return hide_tags(load_dataset(args.data, rule=args.rule), args.hide_tags, args.hide_seed)


def write_bundle(args, ds, model, profiles, evaluation: dict, meta: dict, out: Path) -> None:
    """Demo listeners picked by the model's profiles of the test users, then the bundle."""
    from apron_core.bundle import save_bundle
    from apron_core.demo_listeners import pick_demo_listeners

    test_tr, _ = ds.heldout("test")
    listeners = pick_demo_listeners(profiles, test_tr, ds.split.test_users, ds.split.unique_sid)
    save_bundle(
        out,
        model,
        catalog=ds.catalog,
        prototypes=ds.prototype_table,
        encoder=ds.encoder,
        demo_listeners=listeners,
        evaluation=evaluation,
        meta={
            **meta,
            "source": ds.source,
            "seed": args.seed,
            "command": args.command,
            "label": args.label,
        },
    )
    clips = ds.source.get("prototype_clips")
    if clips:  # clips cut from the data's audio: the app looks for them in <bundle>/prototypes
        import shutil

        shutil.copytree(clips, out / "prototypes", dirs_exist_ok=True)


def train_apron_bundle(args: argparse.Namespace) -> dict:
    from apron_core.checks import resolve_device
    from apron_core.evaluation import apron_candidate, evaluate_candidate
    from apron_core.training import profiles_of, train_apron

    model_over, train_over = parse_overrides(args.overrides, ApronConfig, TrainConfig)
    device = resolve_device(args.device)  # before the slow loading: a bad --device fails fast
    ds = load_data(args)
    model_cfg = ApronConfig(n_songs=ds.n_songs, emb_dim=ds.songs.shape[1], **model_over)
    cfg = TrainConfig(**{"seed": args.seed, **train_over})
    out = args.output or Path("assets/demo")
    out.mkdir(parents=True, exist_ok=True)
    result = train_apron(
        model_cfg,
        cfg,
        prototypes=ds.prototypes,
        songs=ds.songs,
        song_tags=ds.song_tags,
        train=ds.train(),
        valid=ds.heldout("validation"),
        device=device,
        log_path=out / "train_log.json",
    )
    print(
        f"best validation NDCG@100 {result.best_val_ndcg:.4f} at epoch {result.best_epoch} "
        f"({result.seconds / 60:.1f} min)"
    )
    test_tr, _ = ds.heldout("test")
    profiles = profiles_of(result.model, test_tr, device=device)
    slider = profiles.mean(1) if profiles.ndim == 3 else profiles
    evaluation = {
        "validation_ndcg@100": result.best_val_ndcg,
        "best_epoch": result.best_epoch,
        "train_seconds": result.seconds,
    }
    if not args.no_eval:
        t = time.perf_counter()
        evaluation["test"] = evaluate_candidate(apron_candidate(result.model, device), ds)
        evaluation["test_eval_seconds"] = time.perf_counter() - t
    meta = {"train": dataclasses.asdict(cfg)}
    write_bundle(args, ds, result.model, slider, evaluation, meta, out)
    return evaluation


def _train_seconds(training: dict) -> float:
    """A saved baseline's training time: as recorded, or the sum of its epochs' updates."""
    if "train_seconds" in training:
        return float(training["train_seconds"])
    return float(sum(r.get("train_seconds", 0.0) for r in training.get("history", [])))


def train_steering_bundle(args: argparse.Namespace) -> dict:
    """Grounded steering (apron_core/steering.py): bases given by --base are reused; the
    training time recorded covers what this command fitted."""
    from apron_core.baselines import load_baseline
    from apron_core.checks import resolve_device
    from apron_core.evaluation import baseline_candidate, evaluate_candidate
    from apron_core.steering import GroundedSteering, SteeringConfig

    (over,) = parse_overrides(args.overrides, SteeringConfig)
    device = resolve_device(args.device)
    model = GroundedSteering(**over)
    bases = [load_baseline(d, device=device) for d in args.base]
    if bases:
        model.use_bases(bases)
    ds = load_data(args)
    for d, b in zip(args.base, bases, strict=True):
        if b.n_items != ds.n_songs:
            raise ConfigError(
                f"--base {str(d)[:80]} scores {b.n_items} songs, the data has {ds.n_songs}: "
                "train the base on the same data"
            )
    model.set_catalog(ds.songs, ds.prototypes, ds.song_tags)
    out = args.output or Path("assets/demo")
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    model.fit(ds.train(), valid=ds.heldout("validation"), seed=args.seed, device=device)
    seconds = time.perf_counter() - t
    base_seconds = sum(_train_seconds(b.training) for b in bases)
    print(f"validation NDCG@100 {model.training['val_ndcg@100']:.4f} ({seconds / 60:.1f} min)")
    evaluation = {
        "validation_ndcg@100": model.training["val_ndcg@100"],
        "train_seconds": seconds,
        "reused_bases": [str(d) for d in args.base],
        "reused_bases_train_seconds": base_seconds,
    }
    test_tr, _ = ds.heldout("test")
    if not args.no_eval:
        t = time.perf_counter()
        cand = baseline_candidate("grounded steering", model)
        evaluation["test"] = evaluate_candidate(cand, ds)
        evaluation["test_eval_seconds"] = time.perf_counter() - t
    meta = {"steering": dataclasses.asdict(model.config)}
    write_bundle(args, ds, model, model.profiles(test_tr), evaluation, meta, out)
    return evaluation


def train_baseline(args: argparse.Namespace) -> dict:
    from apron_core.baselines import BASELINES, make_baseline
    from apron_core.checks import resolve_device

    (over,) = parse_overrides(args.overrides, BASELINES[args.model].config_cls)
    device = resolve_device(args.device)
    ds = load_data(args)
    model = make_baseline(args.model, **over)
    if hasattr(model, "set_song_info"):  # MacridVAEs: concept → tag mapping, SEM's audio
        model.set_song_info(ds.song_tags, ds.songs)
    t = time.perf_counter()
    model.fit(
        ds.train(),
        valid=ds.heldout("validation"),
        seed=args.seed,
        device=device,
    )
    out = args.output or Path("runs") / args.model
    seconds = time.perf_counter() - t
    model.training["train_seconds"] = seconds
    model.training["command"] = args.command
    model.save(out)
    return {"train_seconds": seconds, "output": str(out)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    np.set_printoptions(precision=4)
    try:
        if args.model == "apron":
            summary = train_apron_bundle(args)
        elif args.model == "grounded-steering":
            summary = train_steering_bundle(args)
        else:
            summary = train_baseline(args)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    acc = summary.get("test", {}).get("accuracy")
    if acc:
        print("test:", json.dumps({k: round(v, 4) for k, v in acc.items() if k != "n_users"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
