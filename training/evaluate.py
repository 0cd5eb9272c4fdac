"""Evaluate saved models on the test users with one metric code → reports/benchmark.{md,json,png}.

    python -m training.evaluate --bundle assets/demo --runs runs
    python -m training.evaluate --bundle assets/demo --check-shipped   # reproduce shipped figures

``--runs`` is a folder of saved baselines (``python -m training.train --model ease``
writes ``runs/ease``) and of APRON sweep bundles under ``runs/sweep/`` (their
NDCG@100 and relative Δ@20 make the Pareto plot). "EASE + tag filter" is built from
``runs/ease`` and the catalog's observed tags.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from apron_core.errors import ApronError
from training.data_arg import add_data_argument, resolve_data_argument


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_data_argument(p)
    p.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="APRON bundle")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="saved baselines + sweep")
    p.add_argument("--out", type=Path, default=Path("reports"))
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another APRON bundle to put in the tables (repeatable), e.g. "
        "'APRON + edit consistency=runs/apron-edit'",
    )
    p.add_argument("--response-users", type=int, default=300)
    p.add_argument(
        "--check-shipped",
        action="store_true",
        help="only re-evaluate the bundle and compare with its evaluation.json",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when torch sees it, else cpu), cpu, cuda[:N]"
    )
    args = p.parse_args(argv)
    resolve_data_argument(p, args)
    return args


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def markdown(results: list[dict], sweep: list[dict]) -> str:
    from apron_core.tags import CATEGORIES

    lines = [
        "# Benchmark (demo world, test users)",
        "",
        "## Accuracy",
        "",
        "| model | NDCG@100 | Recall@20 | Recall@50 | evaluation time |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        a = r["accuracy"]
        lines.append(
            f"| {r['name']} | {_fmt(a['ndcg@100'])} | {_fmt(a['recall@20'])} | "
            f"{_fmt(a['recall@50'])} | {_fmt(r.get('seconds'), 0)} s |"
        )
    lines += [
        "",
        "## Controllability (Δ@20: zero one of a user's top-5 profile tags)",
        "",
        "Collateral: mean |change| of NDCG_t'@20 over the user's other tags t'. "
        "Collateral (rest): the same with only held-out songs *without* t relevant, i.e. "
        "what the edit does to the songs it did not target; signed: its mean change "
        "(a tag filter only lifts them, > 0).",
        "",
        "| model | Δ@20 observed | relative | collateral | collateral / Δ | "
        "collateral (rest) | signed (rest) | Δ@20 truth | relative | collateral | "
        "response median ρ |",
        "|---" * 11 + "|",
    ]
    for r in results:
        o, t = r.get("control_observed", {}), r.get("control_truth", {})
        rho = r.get("response", {}).get("median_rho")
        ratio = _ratio(o.get("collateral"), o.get("delta"))
        lines.append(
            f"| {r['name']} | {_fmt(o.get('delta'))} | {_pct(o.get('relative'))} | "
            f"{_fmt(o.get('collateral'))} | {_fmt(ratio, 2)} | "
            f"{_fmt(o.get('collateral_rest'))} | {_fmt(o.get('collateral_rest_signed'))} | "
            f"{_fmt(t.get('delta'))} | {_pct(t.get('relative'))} | "
            f"{_fmt(t.get('collateral'))} | {_fmt(rho, 2)} |"
        )
    lines += [
        "",
        "### Relative Δ@20 per category (ground-truth attributes)",
        "",
        "| model | " + " | ".join(CATEGORIES) + " |",
        "|---" * (len(CATEGORIES) + 1) + "|",
    ]
    for r in results:
        per = r.get("control_truth", {}).get("per_category", {})
        lines.append(
            f"| {r['name']} | "
            + " | ".join(_pct(per.get(c, {}).get("relative")) for c in CATEGORIES)
            + " |"
        )
    if sweep:
        lines += [
            "",
            "## λ_control sweep (APRON)",
            "",
            "| λ_control | λ_edit | epochs | NDCG@100 | relative Δ@20 | collateral | "
            "collateral (rest) |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in sweep:
            lines.append(
                f"| {s['lambda_control']} | {s.get('lambda_edit', 0)} | {s.get('epochs', '–')} | "
                f"{_fmt(s['ndcg@100'])} | {_pct(s['relative'])} | "
                f"{_fmt(s.get('collateral'))} | {_fmt(s.get('collateral_rest'))} |"
            )
    lines += [
        "",
        "Plain baselines ignore the profile: their scores under an edited profile "
        "are their unedited scores, so Δ is 0 by construction (measured all the same, "
        "with the tag mix of the user's history as the profile). EASE + tag filter "
        "edits that same history tag profile and sinks songs whose observed tags were "
        "turned down. MacridVAE and SEM-MacridVAE edit their own concept profile: the "
        "concepts' shares of the predicted listening, mapped to tags "
        "(apron_core/baselines/macridvae.py).",
        "",
    ]
    return "\n".join(lines)


def plots(results: list[dict], sweep: list[dict], train_log: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = []
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    for lam_edit in sorted({s.get("lambda_edit", 0.0) for s in sweep}):
        series = [s for s in sweep if s.get("lambda_edit", 0.0) == lam_edit]
        xs = [s["ndcg@100"] for s in series]
        ys = [100 * s["relative"] for s in series]
        label = "APRON, λ_control sweep" + (f", λ_edit={lam_edit:g}" if lam_edit else "")
        ax.plot(xs, ys, "o-" if not lam_edit else "D--", label=label)
        for s, x, y in zip(series, xs, ys, strict=True):
            ax.annotate(
                f"λ={s['lambda_control']:g}",
                (x, y),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    for r in results:
        rel = r.get("control_observed", {}).get("relative")
        if rel is None or math.isnan(rel):
            continue
        ax.plot(r["accuracy"]["ndcg@100"], 100 * rel, "s", label=r["name"])
    ax.set_xlabel("NDCG@100 (test users)")
    ax.set_ylabel("relative Δ@20, observed tags (%)")
    ax.set_title("Accuracy vs controllability")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    saved.append(out / "pareto.png")
    fig.savefig(saved[-1], dpi=110)
    plt.close(fig)

    if train_log:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), constrained_layout=True)
        epochs = [r["epoch"] for r in train_log]
        for ax, key in zip(axes, ("recon", "control", "val_ndcg@100"), strict=True):
            ax.plot(epochs, [r.get(key) for r in train_log], "-o", ms=3)
            ax.set_title(key)
            ax.set_xlabel("epoch")
        saved.append(out / "training_curves.png")
        fig.savefig(saved[-1], dpi=110)
        plt.close(fig)
    return saved


def _timed(fn, *args, **kwargs) -> dict:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    out["seconds"] = time.perf_counter() - t
    return out


def _variants(pairs: list[str]) -> list[tuple[str, Path]]:
    from apron_core.errors import ConfigError

    out = []
    for pair in pairs:
        label, sep, path = pair.rpartition("=")
        if not sep or not label or not (Path(path) / "bundle.json").is_file():
            raise ConfigError(
                f"--variant {pair!r}: write LABEL=DIR with DIR a bundle folder "
                "(one written by python -m training.train --output DIR)"
            )
        out.append((label, Path(path)))
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from apron_core.baselines import TagFilter, load_baseline
    from apron_core.bundle import load_bundle
    from apron_core.checks import resolve_device
    from apron_core.dataset import load_dataset
    from apron_core.evaluation import apron_candidate, baseline_candidate, evaluate_candidate

    t0 = time.perf_counter()
    device = resolve_device(args.device)
    ds = load_dataset(args.data)
    bundle = load_bundle(args.bundle, device=device)
    kw = {"response_users": args.response_users, "seed": args.seed}
    apron = _timed(evaluate_candidate, apron_candidate(bundle.model, device), ds, **kw)
    if args.check_shipped:
        shipped = bundle.evaluation.get("test", {})
        pairs = [
            (
                "ndcg@100",
                apron["accuracy"]["ndcg@100"],
                shipped.get("accuracy", {}).get("ndcg@100"),
            ),
            (
                "relative Δ@20",
                apron["control_observed"]["relative"],
                shipped.get("control_observed", {}).get("relative"),
            ),
        ]
        ok = all(b is not None and abs(a - b) < 1e-4 for _, a, b in pairs)
        for name, a, b in pairs:
            print(f"{name}: now {_fmt(a, 4)}, shipped {_fmt(b, 4)}")
        print("shipped figures reproduced" if ok else "MISMATCH with the shipped figures")
        return 0 if ok else 1

    results = [apron]
    for label, bdir in _variants(args.variant):
        b = load_bundle(bdir, device=device)
        print(f"evaluating {label} …", flush=True)
        cand = apron_candidate(b.model, device, label)
        results.append(_timed(evaluate_candidate, cand, ds, **kw))
    tag_profiles = None
    names = ("popularity", "ease", "mult-dae", "mult-vae", "recvae", "macridvae", "sem-macridvae")
    for name in names:
        path = args.runs / name
        if not (path / "config.json").is_file():
            print(
                f"skip {name}: no saved model in {path} "
                f"(train it: python -m training.train --model {name})",
                file=sys.stderr,
            )
            continue
        model = load_baseline(path, device=device)
        if tag_profiles is None:
            tag_profiles = TagFilter(model, ds.song_tags).profiles
        print(f"evaluating {name} …", flush=True)
        own = hasattr(model, "profiles")  # the MacridVAEs edit their own concept profile
        cand = baseline_candidate(name, model, tag_profiles=None if own else tag_profiles)
        results.append(_timed(evaluate_candidate, cand, ds, **kw))
        if name == "ease":
            filt = TagFilter(model, ds.song_tags)
            cand = baseline_candidate("EASE + tag filter", filt)
            results.append(_timed(evaluate_candidate, cand, ds, **kw))
    sweep = []
    for bdir in sorted((args.runs / "sweep").glob("*/bundle.json")):
        b = load_bundle(bdir.parent, device=device)
        r = evaluate_candidate(apron_candidate(b.model, device), ds, response_users=0)
        train = b.meta["train"]
        o = r["control_observed"]
        sweep.append(
            {
                "bundle": str(bdir.parent),
                "lambda_control": train["lambda_control"],
                "lambda_edit": train.get("lambda_edit", 0.0),
                "epochs": train["epochs"],
                "ndcg@100": r["accuracy"]["ndcg@100"],
                "relative": o["relative"],
                "collateral": o["collateral"],
                "collateral_rest": o.get("collateral_rest"),
            }
        )
    sweep.sort(key=lambda s: (s["lambda_edit"], s["lambda_control"]))
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.bundle / "train_log.json"
    train_log = json.loads(log_path.read_text())["log"] if log_path.is_file() else []
    md = markdown(results, sweep)
    pngs = plots(results, sweep, train_log, args.out)
    md += "\n" + "\n".join(f"![{p.stem}]({p.name})" for p in pngs) + "\n"
    md += f"\nEvaluation time: {time.perf_counter() - t0:.0f} s.\n"
    (args.out / "benchmark.md").write_text(md)
    (args.out / "benchmark.json").write_text(
        json.dumps(
            {"results": results, "sweep": sweep}, indent=1, default=lambda v: float(np.asarray(v))
        )
    )
    print(md)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
