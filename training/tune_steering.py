"""Choose grounded steering's β and base mix on the validation users → reports/steering_tuning.md.

    make baselines && python -m training.tune_steering --data data/world --runs runs

Fits the grounding once (what ``make bundle`` fits) on top of the RecVAE of ``RUNS/recvae``,
scores each β on the validation users with the benchmark's metric code (accuracy, control
on observed tags and, where the data knows it, on ground truth, response), then scores each
weight of EASE (``RUNS/ease``) in a RecVAE + EASE base for accuracy: β never moves an
unedited list, so a base mix is chosen on NDCG@100 alone. The test users are never read;
the shipped settings (Makefile ``bundle``) are read off this table. On data without ground
truth, choose β on the observed columns.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from apron_core.errors import ConfigError
from training.benchmark_report import fmt, pct
from training.cli import run_command, write_report
from training.data_arg import add_data_argument, resolve_data_argument


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.tune_steering",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_data_argument(p)
    p.add_argument("--runs", type=Path, default=Path("runs"), help="holds recvae/ (and ease/)")
    p.add_argument("--betas", type=float, nargs="+", default=[1.0, 2.0, 3.0, 5.0])
    p.add_argument(
        "--ease-weights",
        type=float,
        nargs="*",
        default=[0.25, 0.5, 1.0],
        help="weights of EASE in a RecVAE + EASE base (needs RUNS/ease); none: skip",
    )
    p.add_argument(
        "--response-users", type=int, default=100, help="users of the response test per β"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the grounding and response users")
    p.add_argument("--out", type=Path, default=Path("reports"))
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when torch sees it, else cpu), cpu, cuda[:N]"
    )
    args = p.parse_args(argv)
    resolve_data_argument(p, args)
    for b in args.betas:
        if not 0.0 <= b < float("inf"):
            p.error(f"--betas {b}: each β must be a finite number ≥ 0")
    for w in args.ease_weights:
        if not 0.0 < w < float("inf"):
            p.error(f"--ease-weights {w}: each weight must be a finite number > 0")
    if args.response_users < 0:
        p.error(f"--response-users {args.response_users}: give 0 (skip) or more users")
    if args.seed < 0:
        p.error(f"--seed {args.seed}: give a seed ≥ 0")
    return args


def _row(label: str, r: dict) -> dict:
    o, t = r.get("control_observed", {}), r.get("control_truth", {})
    return {
        "setting": label,
        "ndcg@100": r["accuracy"]["ndcg@100"],
        "relative_observed": o.get("relative"),
        "relative_truth": t.get("relative"),
        "collateral_truth": t.get("collateral"),
        "signed_rest_truth": t.get("collateral_rest_signed"),
        "per_category": {c: v.get("relative") for c, v in t.get("per_category", {}).items()},
        "median_rho": r.get("response", {}).get("median_rho"),
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Grounded steering: settings chosen on the validation users",
        "",
        "Command: `python -m training.tune_steering --data $(WORLD) --runs $(RUNS)`. "
        "Accuracy rows score the unedited base only (Δ columns empty).",
        "",
        "| setting | NDCG@100 | rel. Δ@20 observed | rel. Δ@20 truth | era / genre / mood / "
        "instr. (truth) | collateral (truth) | signed (rest, truth) | response median ρ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per = r.get("per_category") or {}
        cats = " / ".join(pct(v) for v in per.values()) if per else "–"
        lines.append(
            f"| {r['setting']} | {fmt(r['ndcg@100'], 4)} | {pct(r.get('relative_observed'))} | "
            f"{pct(r.get('relative_truth'))} | {cats} | {fmt(r.get('collateral_truth'))} | "
            f"{fmt(r.get('signed_rest_truth'), 4)} | {fmt(r.get('median_rho'), 2)} |"
        )
    return "\n".join(lines) + "\n"


def _short(path: Path | None) -> str:
    """A path for a message: its last 80 characters (the end names the run)."""
    text = str(path)
    return text if len(text) <= 80 else "…" + text[-79:]


def _require_run(runs: Path, name: str, hint: str) -> Path:
    d = runs / name
    if not (d / "config.json").is_file():
        raise ConfigError(f"no saved model in {_short(d)}: {hint}")
    return d


def run(args: argparse.Namespace) -> int:
    from apron_core import metrics
    from apron_core.baselines import load_baseline
    from apron_core.checks import resolve_device
    from apron_core.dataset import load_dataset
    from apron_core.evaluation import baseline_candidate, evaluate_candidate
    from apron_core.steering import GroundedSteering

    t0 = time.perf_counter()
    device = resolve_device(args.device)
    # every input is checked before the slow work starts
    recvae_dir = _require_run(args.runs, "recvae", "run make baselines (or train --model recvae)")
    ease_dir = None
    if args.ease_weights:
        hint = "run make baselines, or pass --ease-weights with no value to skip the base mixes"
        ease_dir = _require_run(args.runs, "ease", hint)
    ds = load_dataset(args.data)
    recvae = load_baseline(recvae_dir, device=device)
    ease = None if ease_dir is None else load_baseline(ease_dir, device=device)
    for d, base in ((recvae_dir, recvae), (ease_dir, ease)):
        if base is not None and base.n_items != ds.n_songs:
            raise ConfigError(
                f"{_short(d)} scores {base.n_items} songs, the data has {ds.n_songs}: "
                "train the bases on the same data"
            )
    model = GroundedSteering(bases=("recvae",)).use_bases([recvae])
    model.set_catalog(ds.songs, ds.prototypes, ds.song_tags)
    model.fit(ds.train(), seed=args.seed, device=device)

    rows = []
    kw = {"part": "validation", "response_users": args.response_users, "seed": args.seed}
    for beta in tqdm(args.betas, desc="β on validation users", unit="β"):
        label = f"RecVAE base, β={beta:g}"
        cand = baseline_candidate(label, model.with_config(beta=beta))
        rows.append(_row(label, evaluate_candidate(cand, ds, **kw)))
    if ease is not None:
        fold, held = ds.heldout("validation")
        for w in tqdm(args.ease_weights, desc="base mixes", unit="mix"):
            mix = model.with_config(bases=("recvae", "ease"), base_weights=(1.0, w))
            mix.use_bases([recvae, ease])
            acc = metrics.evaluate_accuracy(mix.score(fold), fold, held)
            rows.append(_row(f"RecVAE + {w:g} × EASE base (accuracy only)", {"accuracy": acc}))

    md = markdown(rows) + f"\nTime: {time.perf_counter() - t0:.0f} s.\n"
    write_report(args.out, "steering_tuning", md, rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
