"""The benchmark report from evaluation results: markdown tables, the issue's target lines,
the paper side by side, and the plots (Pareto front, training curves).

A result is the dict of :func:`apron_core.evaluation.evaluate_candidate` plus ``group``
("shipped", "model", "variant", "baseline", "ablation"), ``command`` (how it was trained)
and, where known, ``train_seconds`` and ``epochs``.
"""

from __future__ import annotations

import math
from pathlib import Path

from apron_core.tags import CATEGORIES

# The paper's Million Song Dataset figures (arXiv 2508.00194, APRON row).
PAPER_MSD = {"ndcg@100": 0.327, "recall@20": 0.277, "recall@50": 0.377, "delta": 0.054}
PAPER_MSD_RELATIVE = 0.338
TARGET_TRAIN_MINUTES = 20.0


def fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def by_name(results: list[dict], name: str) -> dict | None:
    return next((r for r in results if r["name"] == name), None)


def accuracy_table(results: list[dict]) -> list[str]:
    lines = [
        "| model | NDCG@100 | Recall@20 | Recall@50 | training | evaluation time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        a = r["accuracy"]
        lines.append(
            f"| {r['name']} | {fmt(a['ndcg@100'])} | {fmt(a['recall@20'])} | "
            f"{fmt(a['recall@50'])} | {_minutes(r.get('train_seconds'))} | "
            f"{fmt(r.get('seconds'), 0)} s |"
        )
    return lines


def control_table(results: list[dict]) -> list[str]:
    lines = [
        "| model | Δ@20 observed | relative | collateral | collateral / Δ | "
        "collateral (rest) | signed (rest) | Δ@20 truth | relative | collateral | "
        "signed (rest, truth) | response median ρ |",
        "|---" * 12 + "|",
    ]
    for r in results:
        o, t = r.get("control_observed", {}), r.get("control_truth", {})
        rho = r.get("response", {}).get("median_rho")
        lines.append(
            f"| {r['name']} | {fmt(o.get('delta'))} | {pct(o.get('relative'))} | "
            f"{fmt(o.get('collateral'))} | {fmt(ratio(o.get('collateral'), o.get('delta')), 2)} | "
            f"{fmt(o.get('collateral_rest'))} | {fmt(o.get('collateral_rest_signed'))} | "
            f"{fmt(t.get('delta'))} | {pct(t.get('relative'))} | {fmt(t.get('collateral'))} | "
            f"{fmt(t.get('collateral_rest_signed'))} | {fmt(rho, 2)} |"
        )
    return lines


def category_table(results: list[dict]) -> list[str]:
    lines = [
        "| model | " + " | ".join(CATEGORIES) + " |",
        "|---" * (len(CATEGORIES) + 1) + "|",
    ]
    for r in results:
        per = r.get("control_truth", {}).get("per_category", {})
        cells = " | ".join(pct(per.get(c, {}).get("relative")) for c in CATEGORIES)
        lines.append(f"| {r['name']} | {cells} |")
    return lines


def ablation_table(results: list[dict]) -> list[str]:
    lines = [
        "| ablation | epochs (best) | NDCG@100 | Recall@20 | Recall@50 | relative Δ@20 observed | "
        "relative Δ@20 truth | collateral (truth) | signed (rest, truth) |",
        "|---" * 9 + "|",
    ]
    for r in results:
        a, o, t = r["accuracy"], r.get("control_observed", {}), r.get("control_truth", {})
        epochs = f"{r.get('epochs', '–')} ({r.get('best_epoch', '–')})"
        lines.append(
            f"| {r['name']} | {epochs} | {fmt(a['ndcg@100'])} | {fmt(a['recall@20'])} | "
            f"{fmt(a['recall@50'])} | {pct(o.get('relative'))} | {pct(t.get('relative'))} | "
            f"{fmt(t.get('collateral'))} | {fmt(t.get('collateral_rest_signed'))} |"
        )
    return lines


def target_lines(results: list[dict]) -> list[str]:
    """The issue's figures to reach, each met or missed, for the shipped model."""
    shipped = next((r for r in results if r.get("group") == "shipped"), None)
    recvae, ease = by_name(results, "recvae"), by_name(results, "ease")
    filt = by_name(results, "EASE + tag filter")
    if shipped is None:
        return []

    def mark(ok: bool | None) -> str:
        return "–" if ok is None else ("met" if ok else "**missed**")

    ndcg = shipped["accuracy"]["ndcg@100"]
    lines = ["| target | figure | verdict |", "|---|---|---|"]
    if recvae:
        r = recvae["accuracy"]["ndcg@100"]
        lines.append(f"| NDCG@100 ≥ RecVAE's | {fmt(ndcg, 4)} vs {fmt(r, 4)} | {mark(ndcg >= r)} |")
    if ease:
        e = 1.05 * ease["accuracy"]["ndcg@100"]
        lines.append(
            f"| NDCG@100 ≥ 1.05 × EASE's | {fmt(ndcg, 4)} vs {fmt(e, 4)} | {mark(ndcg >= e)} |"
        )
    t = shipped.get("control_truth", {})
    if filt:
        mine = t.get("per_category", {})
        theirs = filt.get("control_truth", {}).get("per_category", {})
        wins = [
            c
            for c in CATEGORIES
            if mine.get(c, {}).get("relative", math.nan) >= theirs.get(c, {}).get("relative", 1e9)
        ]
        lines.append(
            f"| truth relative Δ@20 ≥ the filter's in ≥ 3 of 4 categories | {len(wins)} of 4 "
            f"({', '.join(wins) or 'none'}) | {mark(len(wins) >= 3)} |"
        )
    signed = t.get("collateral_rest_signed")
    if signed is not None:
        lines.append(
            f"| collateral (rest) signed ≥ 0 (truth) | {fmt(signed, 4)} | "
            f"{mark(not math.isnan(signed) and signed >= 0)} |"
        )
    rho = shipped.get("response", {}).get("median_rho")
    if rho is not None:
        lines.append(f"| response median ρ ≥ 0.9 | {fmt(rho, 2)} | {mark(rho >= 0.9)} |")
    seconds = shipped.get("train_seconds")
    if seconds is not None:
        lines.append(
            f"| training ≤ {TARGET_TRAIN_MINUTES:g} min | {_minutes(seconds)} | "
            f"{mark(seconds <= 60 * TARGET_TRAIN_MINUTES)} |"
        )
    return lines


def _control(r: dict) -> float | None:
    """Relative Δ@20 on ground truth where the data knows it, else on observed tags."""
    for basis in ("control_truth", "control_observed"):
        rel = r.get(basis, {}).get("relative")
        if rel is not None and not math.isnan(rel):
            return rel
    return None


def choice_lines(results: list[dict]) -> list[str]:
    """Why the shipped model ships, in figures: where it sits on the accuracy–control
    plane, what (if anything) beats it on both axes, and how it compares with the tag
    filter anyone can bolt onto a strong model."""
    shipped = next((r for r in results if r.get("group") == "shipped"), None)
    rated = [r for r in results if _control(r) is not None]
    if shipped is None or _control(shipped) is None:
        return []
    x, y = shipped["accuracy"]["ndcg@100"], _control(shipped)
    better = [
        f"{r['name']} (NDCG@100 {r['accuracy']['ndcg@100'] - x:+.4f}, relative Δ@20 "
        f"{100 * (_control(r) - y):+.1f} points)"
        for r in rated
        if r is not shipped
        and r["accuracy"]["ndcg@100"] >= x
        and _control(r) >= y
        and (r["accuracy"]["ndcg@100"] > x or _control(r) > y)
    ]
    lines = [
        f"The shipped model ({shipped['name']}) reaches NDCG@100 {fmt(x, 4)} at relative "
        f"Δ@20 {pct(y)}. "
        + (
            "No other model of this run is at least as accurate and at least as controllable "
            "(it is on the Pareto front of `pareto.png`)."
            if not better
            else f"At least as good on both axes: {'; '.join(better)}."
        )
    ]
    top_acc = max(rated, key=lambda r: r["accuracy"]["ndcg@100"])
    top_ctl = max(rated, key=_control)
    for label, r in (("most accurate", top_acc), ("most controllable", top_ctl)):
        if r is not shipped:
            lines.append(
                f"The {label} model, {r['name']}, reaches NDCG@100 "
                f"{fmt(r['accuracy']['ndcg@100'], 4)} at relative Δ@20 {pct(_control(r))}."
            )
    filt = by_name(results, "EASE + tag filter")
    if filt is not None and _control(filt):
        acc = ratio(x, filt["accuracy"]["ndcg@100"])
        ctl = ratio(y, _control(filt))
        lines.append(
            f"Against EASE + tag filter it is {fmt(acc, 2)}× as accurate and steers "
            f"{fmt(ctl, 2)}× as far ({pct(y)} vs {pct(_control(filt))}); unlike the filter "
            "it also moves untagged songs that sound like the tag (docs/design.md, "
            "grounded steering)."
        )
    return [" ".join(lines)]


def paper_table(results: list[dict]) -> list[str]:
    lines = [
        "| | NDCG@100 | Recall@20 | Recall@50 | Δ@20 (observed) | relative |",
        "|---|---|---|---|---|---|",
        f"| paper, APRON on the MSD | {PAPER_MSD['ndcg@100']:.3f} | {PAPER_MSD['recall@20']:.3f} | "
        f"{PAPER_MSD['recall@50']:.3f} | {PAPER_MSD['delta']:.3f} | {pct(PAPER_MSD_RELATIVE)} |",
    ]
    for r in results:
        if r.get("group") not in ("shipped", "model"):
            continue
        a, o = r["accuracy"], r.get("control_observed", {})
        lines.append(
            f"| ours, {r['name']} | {fmt(a['ndcg@100'])} | {fmt(a['recall@20'])} | "
            f"{fmt(a['recall@50'])} | {fmt(o.get('delta'))} | {pct(o.get('relative'))} |"
        )
    return lines


def markdown(
    results: list[dict], sweep: list[dict], *, title: str, commands: dict[str, str]
) -> str:
    """The whole report. ``commands``: label → command line (the evaluation, variables)."""
    main = [r for r in results if r.get("group") != "ablation"]
    ablations = [r for r in results if r.get("group") == "ablation"]
    lines = [f"# {title}", ""]
    lines += [f"{k}: `{v}`" + "  " for k, v in commands.items()]
    lines += ["", "## Targets of issue 12 (shipped model)", "", *target_lines(main)]
    choice = choice_lines(main)
    if choice:
        lines += ["", "## Why this model ships", "", *choice]
    lines += ["", "## Accuracy", "", *accuracy_table(main)]
    lines += [
        "",
        "## Controllability (Δ@20: zero one of a user's top-5 profile tags)",
        "",
        "Collateral: mean |change| of NDCG_t'@20 over the user's other tags t'. "
        "Collateral (rest): the same with only held-out songs *without* t relevant, i.e. "
        "what the edit does to the songs it did not target; signed: its mean change "
        "(a tag filter only lifts them, > 0).",
        "",
    ]
    lines += control_table(main)
    lines += ["", "### Relative Δ@20 per category (ground-truth attributes)", ""]
    lines += category_table(main)
    if ablations:
        lines += [
            "",
            "## APRON ablations",
            "",
            "Each row one APRON run under the same epoch cap (early stopping inside it); "
            "'reference' is the defaults under that cap.",
            "",
        ]
        lines += ablation_table(ablations)
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
                f"{fmt(s['ndcg@100'])} | {pct(s['relative'])} | "
                f"{fmt(s.get('collateral'))} | {fmt(s.get('collateral_rest'))} |"
            )
    lines += ["", "## The paper side by side", "", *paper_table(main)]
    lines += [
        "",
        "The paper measures on the Million Song Dataset (41,140 songs, real Last.fm tags, "
        "MERT embeddings); ours is the 4,000-song demo world (General-MIDI renders, simulated "
        "listeners whose ground-truth attributes are known), so the levels differ and only "
        "the comparisons within one table carry over.",
        "",
        "## How each row was made",
        "",
        "| row | command |",
        "|---|---|",
    ]
    lines += [f"| {r['name']} | `{r.get('command', '–')}` |" for r in results if r.get("command")]
    lines += [
        "",
        "Plain baselines ignore the profile: their scores under an edited profile "
        "are their unedited scores, so Δ is 0 by construction (measured all the same, "
        "with the tag mix of the user's history as the profile). EASE + tag filter "
        "edits that same history tag profile and sinks songs whose observed tags were "
        "turned down. MacridVAE and SEM-MacridVAE edit their own concept profile: the "
        "concepts' shares of the predicted listening, mapped to tags "
        "(apron_core/baselines/macridvae.py). Grounded steering edits its grounded profile "
        "of the history (apron_core/steering.py).",
        "",
    ]
    return "\n".join(lines)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (higher is better)."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any(
            (x2 >= x and y2 >= y) and (x2 > x or y2 > y) for j, (x2, y2) in enumerate(points)
        ):
            front.append(i)
    return front


def _zoom_best(ax, drawn: list[tuple], points: list[tuple[float, float]]) -> None:
    """An inset on the corner where the best models crowd (within 0.03 NDCG@100 and 30
    points of Δ of the best of each), drawn in an empty part of the plot, so the models
    that matter can be told apart."""
    if len(points) < 2:
        return
    best_x, best_y = max(p[0] for p in points), max(p[1] for p in points)
    near = [d for d in drawn if d[0] >= best_x - 0.03 and d[1] >= best_y - 30]
    if len(near) < 2:
        return
    inset = ax.inset_axes([0.1, 0.36, 0.26, 0.3])
    for x, y, marker, size, color in near:
        inset.plot(x, y, marker, ms=size * 0.8, color=color, alpha=0.85)
    xs, ys = [d[0] for d in near], [d[1] for d in near]
    pad_x, pad_y = max(0.002, (max(xs) - min(xs)) * 0.15), max(1.0, (max(ys) - min(ys)) * 0.15)
    inset.set_xlim(min(xs) - pad_x, max(xs) + pad_x)
    inset.set_ylim(min(ys) - pad_y, max(ys) + pad_y)
    inset.tick_params(labelsize=7)
    inset.set_title("the best corner, enlarged", fontsize=7)
    ax.indicate_inset_zoom(inset, edgecolor="grey")


def plots(results: list[dict], sweep: list[dict], train_log: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = []
    fig, ax = plt.subplots(figsize=(10, 5.5), constrained_layout=True)
    styles = {
        "shipped": ("*", 16),
        "model": ("s", 9),
        "variant": ("D", 7),
        "baseline": ("o", 7),
        "ablation": ("v", 6),
    }
    points, names, drawn = [], [], []
    # ground truth where the data knows it (the demo world), else the observed tags
    basis = "truth" if any("control_truth" in r for r in results) else "observed"
    for r in results:
        rel = r.get(f"control_{basis}", {}).get("relative")
        if rel is None or math.isnan(rel):
            continue
        x, y = r["accuracy"]["ndcg@100"], 100 * rel
        marker, size = styles.get(r.get("group", "baseline"), ("o", 7))
        (line,) = ax.plot(x, y, marker, ms=size, label=r["name"], alpha=0.85)
        points.append((x, y))
        names.append(r["name"])
        drawn.append((x, y, marker, size, line.get_color()))
    if sweep:
        xs = [s["ndcg@100"] for s in sweep]
        ys = [100 * s.get(f"relative_{basis}" if basis == "truth" else "relative") for s in sweep]
        ax.plot(xs, ys, ".-", color="grey", label="APRON, λ_control sweep")
    if points:
        front = sorted(pareto_front(points), key=lambda i: points[i][0])
        ax.plot(
            [points[i][0] for i in front],
            [points[i][1] for i in front],
            "k--",
            lw=1,
            label="Pareto front",
        )
    _zoom_best(ax, drawn, points)
    ax.set_xlabel("NDCG@100 (test users)")
    what = "ground-truth attributes" if basis == "truth" else "observed tags"
    ax.set_ylabel(f"relative Δ@20, {what} (%)")
    ax.set_title("Accuracy vs control: every model on one plot")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
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
