"""Evaluate saved models on the test users with one metric code → reports/benchmark.{md,json,png}.

    python -m training.evaluate --bundle assets/demo --runs runs
    python -m training.evaluate --bundle assets/demo --check-shipped   # reproduce shipped figures

What ``--runs`` may hold (each part optional; ``make baselines apron variants ablations``
makes them): ``apron/`` (the APRON bundle), the saved baselines (``ease/``, ``recvae/`` …;
"EASE + tag filter" is built from ``ease/`` and the catalog's observed tags),
``variants/*/`` (bundles of either kind: the models beyond the paper), ``ablations/*/``
(APRON bundles, evaluated without the response curves) and ``sweep/*/`` (the λ_control
sweep). Every row of the report names the command that trained it, with the Makefile's
variables for the data and runs folders.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training.benchmark_report import fmt, markdown, plots
from training.cli import run_command, write_report
from training.data_arg import add_data_argument, resolve_data_argument

BASELINE_NAMES = (
    "popularity",
    "ease",
    "mult-dae",
    "mult-vae",
    "recvae",
    "macridvae",
    "sem-macridvae",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_data_argument(p)
    p.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="the shipped bundle")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="saved models (module doc)")
    p.add_argument("--out", type=Path, default=Path("reports"))
    p.add_argument("--title", default="Benchmark (demo world, test users)")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another bundle to put in the tables (repeatable), e.g. "
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
                f"--variant {pair[:80]!r}: write LABEL=DIR with DIR a bundle folder "
                "(one written by python -m training.train --output DIR)"
            )
        out.append((label, Path(path)))
    return out


def portable(command: str | None, names: dict[Path, str]) -> str | None:
    """A recorded command with this machine's folders named as in ``names`` (the Makefile's
    variables for the data and runs), so the report names no local path."""
    if not command:
        return None
    for path, var in names.items():
        for form in sorted({str(path), str(path.resolve())}, key=len, reverse=True):
            command = command.replace(form, var)
    return command


def shown(path: Path, variable: str = "$(BUNDLE)") -> str:
    """A path as the report may print it: relative to here, or the Makefile's variable
    for a folder kept elsewhere (a local path means nothing to a reader)."""
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return variable


def label_of(bundle, default: str) -> str:
    return str(bundle.meta.get("label") or default)


def bundle_record(bundle) -> dict:
    """What a bundle says about its training: command, time, epochs."""
    ev, train = bundle.evaluation, bundle.meta.get("train", {})
    seconds = ev.get("train_seconds")
    if seconds is not None:
        seconds = float(seconds) + float(ev.get("reused_bases_train_seconds", 0.0))
    return {
        "command": bundle.meta.get("command"),
        "train_seconds": seconds,
        "epochs": train.get("epochs"),
        "best_epoch": ev.get("best_epoch"),
    }


def baseline_seconds(model) -> float | None:
    t = model.training
    if "train_seconds" in t:
        return float(t["train_seconds"])
    history = t.get("history")
    return float(sum(r.get("train_seconds", 0.0) for r in history)) if history else None


def check_shipped(args, ds, device) -> int:
    from apron_core.bundle import load_bundle
    from apron_core.evaluation import bundle_candidate, evaluate_candidate

    bundle = load_bundle(args.bundle, device=device)
    kw = {"response_users": args.response_users, "seed": args.seed}
    now = evaluate_candidate(bundle_candidate(bundle, device, "shipped"), ds, **kw)
    shipped = bundle.evaluation.get("test", {})
    pairs = [
        ("ndcg@100", now["accuracy"]["ndcg@100"], shipped.get("accuracy", {}).get("ndcg@100")),
        (
            "relative Δ@20",
            now["control_observed"]["relative"],
            shipped.get("control_observed", {}).get("relative"),
        ),
    ]
    ok = all(b is not None and abs(a - b) < 1e-4 for _, a, b in pairs)
    for name, a, b in pairs:
        print(f"{name}: now {fmt(a, 4)}, shipped {fmt(b, 4)}")
    print("shipped figures reproduced" if ok else "MISMATCH with the shipped figures")
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from apron_core.baselines import TagFilter, load_baseline
    from apron_core.bundle import load_bundle
    from apron_core.checks import resolve_device
    from apron_core.dataset import load_dataset
    from apron_core.evaluation import baseline_candidate, bundle_candidate, evaluate_candidate

    t0 = time.perf_counter()
    device = resolve_device(args.device)
    ds = load_dataset(args.data)
    if args.check_shipped:
        return check_shipped(args, ds, device)
    kw = {"response_users": args.response_users, "seed": args.seed}
    results: list[dict] = []

    def add_bundle(path: Path, name: str, group: str, **over) -> None:
        b = load_bundle(path, device=device)
        name = label_of(b, name) if group != "shipped" else f"shipped: {label_of(b, b.kind)}"
        print(f"evaluating {name} …", flush=True)
        r = _timed(evaluate_candidate, bundle_candidate(b, device, name), ds, **{**kw, **over})
        results.append({**r, "group": group, **bundle_record(b)})

    add_bundle(args.bundle, "shipped", "shipped")
    if (args.runs / "apron" / "bundle.json").is_file():
        add_bundle(args.runs / "apron", "APRON", "model")
    variant_dirs = sorted((args.runs / "variants").glob("*/bundle.json"))
    for bdir in variant_dirs:
        add_bundle(bdir.parent, bdir.parent.name, "variant")
    for label, bdir in _variants(args.variant):
        add_bundle(bdir, label, "variant")
    tag_profiles = None  # the observed-tag mix of a history, what plain baselines "edit"
    for name in BASELINE_NAMES:
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
        record = {
            "group": "baseline",
            "command": model.training.get("command") or f"make baselines  # {name}",
            "train_seconds": baseline_seconds(model),
        }
        results.append({**_timed(evaluate_candidate, cand, ds, **kw), **record})
        if name == "ease":
            cand = baseline_candidate("EASE + tag filter", TagFilter(model, ds.song_tags))
            results.append({**_timed(evaluate_candidate, cand, ds, **kw), **record})
    for bdir in sorted((args.runs / "ablations").glob("*/bundle.json")):
        add_bundle(bdir.parent, bdir.parent.name, "ablation", response_users=0)
    sweep = []
    for bdir in sorted((args.runs / "sweep").glob("*/bundle.json")):
        b = load_bundle(bdir.parent, device=device)
        r = evaluate_candidate(bundle_candidate(b, device, "sweep"), ds, response_users=0)
        train = b.meta["train"]
        o = r["control_observed"]
        sweep.append(
            {
                "bundle": bdir.parent.name,
                "lambda_control": train["lambda_control"],
                "lambda_edit": train.get("lambda_edit", 0.0),
                "epochs": train["epochs"],
                "ndcg@100": r["accuracy"]["ndcg@100"],
                "relative": o["relative"],
                "relative_truth": r.get("control_truth", {}).get("relative", float("nan")),
                "collateral": o["collateral"],
                "collateral_rest": o.get("collateral_rest"),
            }
        )
    sweep.sort(key=lambda s: (s["lambda_edit"], s["lambda_control"]))
    names = {args.runs: "$(RUNS)", args.data: "$(WORLD)", args.bundle: shown(args.bundle)}
    for r in results:
        r["command"] = portable(r.get("command"), names)
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.runs / "apron" / "train_log.json"
    train_log = json.loads(log_path.read_text())["log"] if log_path.is_file() else []
    evaluation = (
        f"python -m training.evaluate --data $(WORLD) --bundle {shown(args.bundle)} "
        f"--runs $(RUNS) --out {shown(args.out, '$(REPORTS)')}"
    )
    md = markdown(results, sweep, title=args.title, commands={"evaluation": evaluation})
    pngs = plots(results, sweep, train_log, args.out)
    md += "\n" + "\n".join(f"![{p.stem}]({p.name})" for p in pngs) + "\n"
    md += f"\nEvaluation time: {time.perf_counter() - t0:.0f} s.\n"
    write_report(
        args.out,
        "benchmark",
        md,
        {"results": results, "sweep": sweep},
        default=lambda v: float(np.asarray(v)),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
