"""Real recordings: do the strongest prototypes of an upload name what a listener hears?

Everything the app knows was learned from its own General-MIDI world. This check takes
real, freely licensed recordings that Debian packages ship (game and film-style
soundtracks, death metal, electronic, blues, ...), each labelled once with the tags a
listener would expect (``benchmarks/real_recordings.json``: package, file, licence,
excerpt, expected tags per category and the basis of every label), and measures, per
bundle or encoder, how often the five strongest of the 80 prototypes include an
expected tag.

    python -m benchmarks.real_recordings --fetch                 # get the audio (no install)
    python -m benchmarks.real_recordings                         # the shipped bundle
    python -m benchmarks.real_recordings --bundle assets/demo --encoder librosa
    python -m benchmarks.real_recordings --manifest benchmarks/real_recordings_holdout.json \
        --report reports/real_recordings_holdout.md          # the second, blind set

Two ways to score a recording (80 numbers, one per tag):

* ``--bundle DIR`` (repeatable): as the app does for one uploaded file — the bundle's
  encoder embeds the excerpt, its tag heads (musicnn's MSD and MagnaTagATune taggers,
  ``apron_core/tag_evidence.py``) listen to it, and ``Engine.profile(embeddings=...,
  evidence=...)`` gives the prototype weights, the sliders the visitor would see. A
  bundle with tag heads gets a second row without them ("grounding alone").
* ``--encoder NAME`` (repeatable): no model at all — cosine similarity between the
  excerpt's raw features and the 80 prototype clips' (``assets/prototypes``), both
  standardized with the mean and std of the 80 clips' raw features (``--standardize
  pooled`` uses the clips and the recordings together). It compares encoders before
  anyone trains a bundle on them.

Two sets: ``real_recordings.json`` (43 recordings, the check the upload path was
developed against) and ``real_recordings_holdout.json`` (33 other recordings from other
packages, labelled blind from metadata after the tag heads were chosen, to see whether
what was chosen on the first set carries over).

The audio stays out of the repository. Files are looked up where the Debian packages
install them, then under the cache (default ``data/real_recordings/``); ``--fetch``
downloads the missing packages with ``apt-get download`` and unpacks only the needed
files with ``dpkg-deb`` (nothing is installed). Writes ``reports/real_recordings.md``
and ``.json``; the metrics are defined there.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import math
import shlex
import subprocess
import sys
import tarfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apron_core.errors import ApronError, ConfigError, DataError
from apron_core.tags import CATEGORIES, CATEGORY_TAGS, TAG_NAMES, K, category_of, tag_index
from training.cli import encoder_config

MANIFEST = Path(__file__).with_name("real_recordings.json")
DEFAULT_CACHE = Path("data/real_recordings")
DEFAULT_REPORT = Path("reports/real_recordings.md")
PROTOTYPES_DIR = Path("assets/prototypes")
TOP_K = 5
STD_FLOOR = 1e-6  # a feature constant over the standardizing set is centred, not scaled


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # the version the labels were made on
    licence: str  # of the music files used, from /usr/share/doc/PKG/copyright
    note: str = ""


@dataclass(frozen=True)
class Recording:
    id: str
    package: str
    files: tuple[str, ...]  # absolute paths as installed; several are mixed (stems)
    licence: str
    title: str
    artist: str
    start_s: float
    duration_s: float
    expected: dict[str, tuple[str, ...]]  # category → tag names
    basis: str  # where the labels come from

    def expected_indices(self, category: str | None = None) -> list[int]:
        cats = CATEGORIES if category is None else (category,)
        return [tag_index(t) for c in cats for t in self.expected.get(c, ())]


@dataclass(frozen=True)
class Manifest:
    packages: dict[str, Package]
    recordings: list[Recording]
    about: str = ""  # how the set was assembled and labelled (the report quotes it)
    source: str = "manifest"  # where it was read from


def load_manifest(path: Path = MANIFEST) -> Manifest:
    """Read and check the manifest: every tag must be one of the 80, filed under its own
    category; ids unique; excerpts positive; every package described."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read manifest '{path}': {e}") from None
    return parse_manifest(raw, source=str(path))


def parse_manifest(raw: dict, *, source: str = "manifest") -> Manifest:
    if not isinstance(raw, dict) or "recordings" not in raw or "packages" not in raw:
        raise DataError(f"{source}: expected an object with 'packages' and 'recordings'")
    packages = {}
    for name, p in raw["packages"].items():
        packages[name] = Package(name=name, **p)
    recordings: list[Recording] = []
    seen: set[str] = set()
    for i, r in enumerate(raw["recordings"]):
        where = f"{source}: recording {i} ({str(r.get('id'))[:40]!r})"
        fields = {f.name for f in dataclasses.fields(Recording)}
        unknown = sorted(set(r) - fields)
        if unknown:
            raise DataError(f"{where} has unknown field(s) {unknown}; known: {sorted(fields)}")
        missing = sorted(fields - set(r))
        if missing:
            raise DataError(f"{where} lacks field(s) {missing}")
        if r["id"] in seen:
            raise DataError(f"{where}: duplicate id; give every recording its own id")
        seen.add(r["id"])
        if r["package"] not in packages:
            raise DataError(f"{where}: package {r['package']!r} is not under 'packages'")
        if not (r["start_s"] >= 0 and r["duration_s"] > 0):
            raise DataError(
                f"{where}: start_s={r['start_s']!r}, duration_s={r['duration_s']!r}; "
                "need start_s >= 0 and duration_s > 0"
            )
        expected: dict[str, tuple[str, ...]] = {}
        for category, tags in r["expected"].items():
            if category not in CATEGORIES:
                raise DataError(f"{where}: unknown category {category!r}; use {CATEGORIES}")
            for t in tags:
                try:
                    actual = category_of(t)
                except ConfigError as e:
                    raise DataError(f"{where}: {e}") from None
                if actual != category:
                    raise DataError(f"{where}: tag {t!r} is a {actual} tag, filed under {category}")
            if tags:
                expected[category] = tuple(tags)
        if not expected:
            raise DataError(f"{where}: no expected tag; label at least one category")
        files = r["files"]
        if not files or not all(isinstance(f, str) and f.startswith("/") for f in files):
            raise DataError(f"{where}: files must be absolute installed paths, got {files!r:.80}")
        recordings.append(
            Recording(**{**r, "files": tuple(files), "expected": expected})  # type: ignore[arg-type]
        )
    if not recordings:
        raise DataError(f"{source}: no recordings")
    about = str(raw.get("about", ""))
    return Manifest(packages=packages, recordings=recordings, about=about, source=source)


# --------------------------------------------------------------------------- locating audio


def roots(cache: Path) -> list[Path]:
    """Where files are looked for: the system (installed packages), then the cache."""
    return [Path("/"), cache / "root"]


def locate(rec: Recording, search: Sequence[Path]) -> list[Path] | None:
    """The recording's files under the first root that has each of them; None if one is
    missing everywhere."""
    found = []
    for f in rec.files:
        hit = next((r / f.lstrip("/") for r in search if (r / f.lstrip("/")).is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found


def how_to_get(packages: Sequence[str], cache: Path) -> str:
    names = " ".join(sorted(packages))
    return (
        f"run `python -m benchmarks.real_recordings --fetch` (apt-get download + dpkg-deb "
        f"into {cache}/, nothing installed; needs an apt index: `apt-get update` as root), "
        f"or install them: `apt-get install {names}`"
    )


def fetch(manifest: Manifest, cache: Path, *, keep_debs: bool = False) -> list[str]:
    """Download the packages whose files are missing and unpack only those files (and the
    package's copyright file) under ``cache/root``. Returns the packages fetched."""
    search = roots(cache)
    wanted: dict[str, set[str]] = {}
    for rec in manifest.recordings:
        if locate(rec, search) is None:
            wanted.setdefault(rec.package, set()).update(rec.files)
    if not wanted:
        return []
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    cmd = ["apt-get", "download", *sorted(wanted)]
    print(f"$ {shlex.join(cmd)}  (in {debs})", file=sys.stderr)
    try:
        done = subprocess.run(cmd, cwd=debs, capture_output=True, text=True)
    except FileNotFoundError:
        raise DataError("apt-get is not available: this check needs Debian packages") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise DataError(
            f"apt-get download failed ({' | '.join(tail)[:300]}): run `apt-get update` as "
            "root and try again"
        )
    from tqdm.auto import tqdm

    for pkg in tqdm(sorted(wanted), desc="unpacking", file=sys.stderr):
        debs_found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not debs_found:
            raise DataError(f"apt-get download left no {pkg}_*.deb in {debs}")
        deb = debs_found[-1]
        members = {f.lstrip("/") for f in wanted[pkg]}
        members.add(f"usr/share/doc/{pkg}/copyright")
        extract(deb, members, cache / "root")
        version = manifest.packages[pkg].version
        got = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True
        ).stdout.strip()
        if got and got != version:
            print(f"note: {pkg} {got} (labels were made on {version})", file=sys.stderr)
        if not keep_debs:
            deb.unlink()
    return sorted(wanted)


def extract(deb: Path, members: set[str], dest: Path) -> None:
    """Unpack the regular files ``members`` (paths without a leading slash) of a .deb's
    data archive into ``dest``, streaming ``dpkg-deb --fsys-tarfile``."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    left = set(members)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for m in tar:
            name = m.name.removeprefix("./")
            if name in left and m.isfile():
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                target.write_bytes(src.read())
                left.discard(name)
                if not left:
                    break  # the rest of the archive is not needed
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    absent = sorted(left - {n for n in left if n.startswith("usr/share/doc/")})
    if absent:
        raise DataError(
            f"{deb.name} has no file {absent[0]!r} ({len(absent)} missing): the package "
            "changed since the manifest was written; update benchmarks/real_recordings.json"
        )


# --------------------------------------------------------------------------- audio


def excerpt(rec: Recording, paths: Sequence[Path], sr: int) -> np.ndarray:
    """The recording's excerpt, mono float32 at ``sr``; stems are summed (as the game
    mixes them)."""
    from apron_core.audio import load_audio

    parts = [
        load_audio(p, sr=sr, offset_s=rec.start_s, duration_s=rec.duration_s, max_duration_s=None)
        for p in paths
    ]
    n = min(len(y) for y in parts)
    return np.sum([y[:n] for y in parts], axis=0).astype(np.float32)  # (n,)


class Signals:
    """Decoded excerpts, kept per sample rate (encoders differ)."""

    def __init__(self, recordings: Sequence[Recording], paths: dict[str, list[Path]]):
        self.recordings = list(recordings)
        self.paths = paths
        self._by_sr: dict[int, list[np.ndarray]] = {}

    def at(self, sr: int) -> list[np.ndarray]:
        if sr not in self._by_sr:
            from tqdm.auto import tqdm

            self._by_sr[sr] = [
                excerpt(r, self.paths[r.id], sr)
                for r in tqdm(self.recordings, desc=f"decoding at {sr} Hz", file=sys.stderr)
            ]
        return self._by_sr[sr]


def raw_features(encoder, signals: Sequence[np.ndarray], desc: str) -> np.ndarray:
    """(N, D) raw features, one call per signal (errors name the signal's index)."""
    from apron_core.encoders import embed_many

    print(desc, file=sys.stderr)
    return embed_many(encoder, signals, normalize=False, progress=True).astype(np.float64)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Scored:
    name: str  # what was evaluated, as the report names it
    kind: str  # "bundle" or "encoder"
    encoder: str
    how: str  # one line on how the 80 scores were made
    scores: np.ndarray  # (N, 80)


def bundle_scores(bundle_dir: Path, signals: Signals) -> list[Scored]:
    """Prototype weights of each recording uploaded alone, as the app computes them; for a
    bundle with upload tag heads (apron_core/tag_evidence.py) also without them, the
    grounding alone, so the report shows what the heads add."""
    from tqdm.auto import tqdm

    from apron_core.engine import Engine

    engine = Engine.load(bundle_dir, device="cpu")
    enc = engine.bundle.encoder
    if enc is None:
        raise ConfigError(f"bundle '{bundle_dir}' has no encoder: it cannot take uploads")
    heads = engine.tag_evidence
    full, alone = [], []
    for y in tqdm(signals.at(enc.sr), desc=f"uploading to {bundle_dir}", file=sys.stderr):
        song = engine.encode_signal(y)  # as an upload: embedding and tag evidence
        full.append(engine.profile(embeddings=song.embedding, evidence=song.evidence))
        alone.append(engine.profile(embeddings=song.embedding))
    how = "Engine.profile of the excerpt uploaded alone (the sliders the app shows)"
    if heads is None:
        return [Scored(f"bundle {bundle_dir}", "bundle", enc.name, how, np.stack(full))]
    named = ", ".join(heads.heads)
    return [
        Scored(
            f"bundle {bundle_dir}",
            "bundle",
            enc.name,
            f"{how}: grounded affinity and the {named} tag heads (noisy-OR)",
            np.stack(full),
        ),
        Scored(
            f"bundle {bundle_dir}, grounding alone",
            "bundle",
            enc.name,
            f"{how}, without the bundle's tag heads: the grounded affinity only",
            np.stack(alone),
        ),
    ]


def prototype_clips(directory: Path = PROTOTYPES_DIR) -> list[Path]:
    """The 80 prototype clips in tag order, from ``prototypes.json``."""
    meta = json.loads((directory / "prototypes.json").read_text(encoding="utf-8"))
    by_tag = {p["tag"]: directory / p["file"] for p in meta["prototypes"]}
    missing = [t for t in TAG_NAMES if t not in by_tag or not by_tag[t].is_file()]
    if missing:
        raise DataError(
            f"{directory} lacks the clip of {missing[0]!r} ({len(missing)} missing): "
            "rebuild it with `python -m training.build_world --only-prototypes`"
        )
    return [by_tag[t] for t in TAG_NAMES]


def standardize(x: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Per-dimension z-scores of x (N, D) with the mean and std of ``by`` (M, D)."""
    mean, std = by.mean(0), by.std(0)
    return (x - mean) / np.where(std < STD_FLOOR, 1.0, std)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) cosine similarities of the rows of a (N, D) and b (M, D)."""
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


def encoder_scores(
    name: str,
    config: dict,
    signals: Signals,
    *,
    standardize_by: str = "prototypes",
    prototypes_dir: Path = PROTOTYPES_DIR,
) -> Scored:
    """Cosine similarity to each prototype clip in the encoder's standardized raw space."""
    from apron_core.audio import load_audio
    from apron_core.encoders import get_encoder

    enc = get_encoder(name, **config)
    clips = [load_audio(p, sr=enc.sr) for p in prototype_clips(prototypes_dir)]
    proto = raw_features(enc, clips, f"encoding the 80 prototype clips with {name}")  # (80, D)
    rec = raw_features(enc, signals.at(enc.sr), f"encoding the recordings with {name}")
    ref = proto if standardize_by == "prototypes" else np.concatenate([proto, rec])
    scores = cosine(standardize(rec, ref), standardize(proto, ref))  # (N, 80)
    label = "the 80 clips" if standardize_by == "prototypes" else "the clips and recordings"
    cfg = "".join(f" {k}={v}" for k, v in config.items())
    clips_of = "" if Path(prototypes_dir) == PROTOTYPES_DIR else f", clips of {prototypes_dir}"
    return Scored(
        name=f"encoder {name}{cfg} (standardized by {standardize_by}{clips_of})",
        kind="encoder",
        encoder=name,
        how=f"cosine to each prototype clip's raw features ({prototypes_dir}), z-scored by the "
        f"mean/std of {label}",
        scores=scores,
    )


# --------------------------------------------------------------------------- metrics


def rank_matrix(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every tag per recording, (N, K) int; ties go to the lower tag index."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")  # (N, K) tags, best first
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1)[None, :]
    return ranks


def first_expected_rank(scores: np.ndarray, expected: Sequence[Sequence[int]]) -> np.ndarray:
    """Rank (1-based) of the best-ranked expected tag of each recording, (N,) int."""
    ranks = rank_matrix(scores)
    if len(expected) != ranks.shape[0]:
        raise DataError(f"{len(expected)} label sets for {ranks.shape[0]} recordings")
    out = np.empty(len(expected), dtype=np.int64)
    for i, tags in enumerate(expected):
        if not len(tags):
            raise DataError(f"recording {i} has no expected tag: a rank needs at least one")
        out[i] = ranks[i, list(tags)].min()
    return out


def hit_at_k(scores: np.ndarray, expected: Sequence[Sequence[int]], k: int = TOP_K) -> np.ndarray:
    """Whether the top-k tags of each recording include an expected tag, (N,) bool."""
    return first_expected_rank(scores, expected) <= k


def top1_within(scores: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """The best-scoring tag among ``columns`` for each recording (tag indices), (N,)."""
    sub = np.asarray(scores)[:, list(columns)]
    return np.asarray(columns)[np.argmax(sub, axis=1)]  # argmax: ties to the first column


def confusion(
    scores: np.ndarray, expected: Sequence[Sequence[int]], columns: Sequence[int]
) -> dict[int, Counter]:
    """For each expected tag of a category: how often each tag of that category scored
    highest among the category's tags. A recording with two expected tags counts in
    both rows; recordings without an expected tag in ``columns`` are left out."""
    allowed = set(columns)
    predicted = top1_within(scores, columns)
    table: dict[int, Counter] = {}
    for tags, pred in zip(expected, predicted, strict=True):
        for t in tags:
            if t in allowed:
                table.setdefault(int(t), Counter())[int(pred)] += 1
    return table


def chance_hit_at_k(n: int, m: int, k: int = TOP_K) -> float:
    """P(top-k of a random ranking of n tags includes one of m expected tags)."""
    return 1.0 - math.comb(n - m, k) / math.comb(n, k)


def chance_first_rank(n: int, m: int) -> float:
    """Expected best rank of m expected tags among n in a random ranking: (n+1)/(m+1)."""
    return (n + 1) / (m + 1)


# --------------------------------------------------------------------------- summaries


def summarize(recordings: Sequence[Recording], scored: Scored, k: int = TOP_K) -> dict:
    """Every figure of one evaluation (plain JSON types)."""
    s = scored.scores
    expected_all = [r.expected_indices() for r in recordings]
    first = first_expected_rank(s, expected_all)
    ranks = rank_matrix(s)
    result: dict = {
        "name": scored.name,
        "kind": scored.kind,
        "encoder": scored.encoder,
        "how": scored.how,
        "n": len(recordings),
        "overall": _block(first, [len(e) for e in expected_all], K, k),
        "categories": {},
        "confusion": {},
    }
    for c in CATEGORIES:
        keep = [i for i, r in enumerate(recordings) if r.expected.get(c)]
        if not keep:
            continue
        exp_c = [recordings[i].expected_indices(c) for i in keep]
        block = _block(first_expected_rank(s[keep], exp_c), [len(e) for e in exp_c], K, k)
        cols = [tag_index(t) for t in CATEGORY_TAGS[c]]
        pred = top1_within(s[keep], cols)
        correct = [int(p) in e for p, e in zip(pred, exp_c, strict=True)]
        block["top1_in_category"] = float(np.mean(correct))
        block["top1_in_category_chance"] = float(np.mean([len(e) / len(cols) for e in exp_c]))
        result["categories"][c] = block
        table = confusion(s[keep], exp_c, cols)
        result["confusion"][c] = {
            TAG_NAMES[t]: {TAG_NAMES[p]: n for p, n in cnt.most_common()}
            for t, cnt in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))
        }
    in_top = Counter(int(t) for row in ranks for t in np.flatnonzero(row <= k))
    result["most_frequent_top_k"] = {
        TAG_NAMES[t]: round(n / len(recordings), 4) for t, n in in_top.most_common(8)
    }
    by_pkg: dict[str, list[int]] = {}
    for i, r in enumerate(recordings):
        by_pkg.setdefault(r.package, []).append(i)
    result["by_package"] = {
        p: {"n": len(ix), "hit": float(np.mean(first[ix] <= k))} for p, ix in sorted(by_pkg.items())
    }
    result["recordings"] = [
        {
            "id": r.id,
            "expected": {c: list(t) for c, t in r.expected.items()},
            "top": [[TAG_NAMES[t], round(float(s[i, t]), 4)] for t in np.argsort(ranks[i])[:k]],
            "first_expected_rank": int(first[i]),
            "hit": bool(first[i] <= k),
        }
        for i, r in enumerate(recordings)
    ]
    return result


def _block(first: np.ndarray, n_expected: Sequence[int], n_tags: int, k: int) -> dict:
    """hit@k and mean first rank of one group of recordings, with their chance levels."""
    hit_chance = [chance_hit_at_k(n_tags, m, k) for m in n_expected]
    rank_chance = [chance_first_rank(n_tags, m) for m in n_expected]
    return {
        "n": len(first),
        f"hit_at_{k}": float(np.mean(first <= k)),
        f"hit_at_{k}_chance": float(np.mean(hit_chance)),
        "mean_first_rank": float(np.mean(first)),
        "mean_first_rank_chance": float(np.mean(rank_chance)),
    }


# --------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def render_markdown(
    command: str, manifest: Manifest, used: Sequence[Recording], results: Sequence[dict], k: int
) -> str:
    lines = [
        "# Real recordings: do the strongest prototypes name what a listener hears?",
        "",
        f"Command: `{command}`",
        "",
        f"Written by `benchmarks/real_recordings.py` on {_dt.date.today().isoformat()}. "
        f"{len(used)} of the {len(manifest.recordings)} recordings of "
        f"`{manifest.source}` from {len({r.package for r in used})} Debian "
        "packages; the expected tags (and the basis of each label) are in the manifest.",
        "",
        "Labelled recordings per category: "
        + ", ".join(f"{c} {sum(bool(r.expected.get(c)) for r in used)}" for c in CATEGORIES)
        + ".",
        "",
        f"**hit@{k}**: share of recordings whose {k} strongest prototypes (of 80) include an "
        "expected tag; per category, an expected tag of that category. **first rank**: "
        "rank (1-80) of the best-ranked expected tag. **top-1 in category**: the "
        "strongest tag among the category's own tags is an expected one. *Chance* is the "
        "same figure for a random ranking, averaged over the recordings (it depends on "
        "how many tags each expects).",
        "",
        f"About the set (from the manifest): {manifest.about}",
        "",
        "## Summary",
        "",
        f"| evaluation | hit@{k} | chance | first rank | chance | "
        + " | ".join(f"{c} hit@{k}" for c in CATEGORIES)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(CATEGORIES),
    ]
    for res in results:
        o = res["overall"]
        cats = [
            _pct(res["categories"][c][f"hit_at_{k}"]) if c in res["categories"] else "–"
            for c in CATEGORIES
        ]
        lines.append(
            f"| {res['name']} | **{_pct(o[f'hit_at_{k}'])}** | {_pct(o[f'hit_at_{k}_chance'])} "
            f"| {o['mean_first_rank']:.1f} | {o['mean_first_rank_chance']:.1f} | "
            + " | ".join(cats)
            + " |"
        )
    for res in results:
        lines += ["", f"## {res['name']}", "", f"Scores: {res['how']}.", ""]
        lines += [
            f"| category | recordings | hit@{k} | chance | first rank | chance "
            "| top-1 in category | chance |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c, b in res["categories"].items():
            lines.append(
                f"| {c} | {b['n']} | {_pct(b[f'hit_at_{k}'])} | {_pct(b[f'hit_at_{k}_chance'])} "
                f"| {b['mean_first_rank']:.1f} | {b['mean_first_rank_chance']:.1f} "
                f"| {_pct(b['top1_in_category'])} | {_pct(b['top1_in_category_chance'])} |"
            )
        freq = ", ".join(f"{t} {_pct(v)}" for t, v in res["most_frequent_top_k"].items())
        lines += ["", f"Tags most often among the top {k}: {freq}.", ""]
        lines += ["Confusion (expected tag → strongest tag of its category, counts):", ""]
        for c, rows in res["confusion"].items():
            lines.append(f"- **{c}**")
            for tag, preds in rows.items():
                n = sum(preds.values())
                shown = ", ".join(f"{p} {v}" for p, v in preds.items())
                lines.append(f"  - {tag} ({n}): {shown}")
        lines += ["", f"| package | recordings | hit@{k} |", "|---|---|---|"]
        for p, b in res["by_package"].items():
            lines.append(f"| {p} | {b['n']} | {_pct(b['hit'])} |")
        lines += ["", f"| recording | expected | top {k} | first rank |", "|---|---|---|---|"]
        for r in res["recordings"]:
            exp = "; ".join(", ".join(t) for t in r["expected"].values())
            top = ", ".join(t for t, _ in r["top"])
            mark = " ✓" if r["hit"] else ""
            lines.append(f"| {r['id']} | {exp} | {top} | {r['first_expected_rank']}{mark} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.real_recordings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--bundle",
        action="append",
        type=Path,
        default=[],
        help="bundle folder to evaluate, repeatable (default: assets/demo when no --encoder)",
    )
    p.add_argument(
        "--encoder",
        action="append",
        default=[],
        help="encoder name to evaluate bundle-free against the prototype clips, repeatable",
    )
    p.add_argument(
        "--encoder-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config field for every --encoder (e.g. model=/path/to/checkpoint)",
    )
    p.add_argument(
        "--standardize",
        choices=("prototypes", "pooled"),
        default="prototypes",
        help="statistics for --encoder: the 80 clips (default) or clips + recordings",
    )
    p.add_argument(
        "--prototypes-dir",
        type=Path,
        default=PROTOTYPES_DIR,
        help=f"the 80 clips --encoder compares with (default {PROTOTYPES_DIR}; a world built "
        "with another encoder exports its own with build_world --prototypes-dir)",
    )
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="recordings and labels")
    p.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"audio cache (default {DEFAULT_CACHE})"
    )
    p.add_argument("--fetch", action="store_true", help="download and unpack missing packages")
    p.add_argument("--keep-debs", action="store_true", help="keep the downloaded .deb files")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="evaluate the recordings that are present instead of stopping",
    )
    p.add_argument(
        "--report", type=Path, default=DEFAULT_REPORT, help=f"markdown report ({DEFAULT_REPORT})"
    )
    p.add_argument("--no-report", action="store_true", help="print only; write no report")
    p.add_argument("--top-k", type=int, default=TOP_K, help=f"k of hit@k (default {TOP_K})")
    return p


def run(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    a = build_parser().parse_args(argv)
    if a.top_k < 1 or a.top_k > K:
        raise ConfigError(f"--top-k={a.top_k} must be between 1 and {K}")
    manifest = load_manifest(a.manifest)
    if a.fetch:
        got = fetch(manifest, a.cache, keep_debs=a.keep_debs)
        out(f"fetched: {', '.join(got) if got else 'nothing (all files present)'}")
        if not a.bundle and not a.encoder:
            return 0
    search = roots(a.cache)
    paths, missing = {}, {}
    for rec in manifest.recordings:
        found = locate(rec, search)
        if found is None:
            missing.setdefault(rec.package, []).append(rec.id)
        else:
            paths[rec.id] = found
    if missing:
        n = sum(len(v) for v in missing.values())
        msg = (
            f"{n} of {len(manifest.recordings)} recordings are missing (packages "
            f"{', '.join(sorted(missing))}): {how_to_get(list(missing), a.cache)}"
        )
        if not a.allow_missing or not paths:
            raise DataError(msg)
        out(f"warning: {msg}; evaluating the {len(paths)} present")
    used = [r for r in manifest.recordings if r.id in paths]
    signals = Signals(used, paths)
    bundles = a.bundle or ([] if a.encoder else [Path("assets/demo")])
    config = encoder_config(a.encoder_config)
    results = []
    for b in bundles:
        results += [summarize(used, scored, a.top_k) for scored in bundle_scores(b, signals)]
    for name in a.encoder:
        scored = encoder_scores(
            name, config, signals, standardize_by=a.standardize, prototypes_dir=a.prototypes_dir
        )
        results.append(summarize(used, scored, a.top_k))
    command = "python -m benchmarks.real_recordings" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    text = render_markdown(command, manifest, used, results, a.top_k)
    for res in results:
        o = res["overall"]
        out(
            f"{res['name']}: hit@{a.top_k} {_pct(o[f'hit_at_{a.top_k}'])} "
            f"(chance {_pct(o[f'hit_at_{a.top_k}_chance'])}), first rank "
            f"{o['mean_first_rank']:.1f} (chance {o['mean_first_rank_chance']:.1f})"
        )
    if not a.no_report:
        a.report.parent.mkdir(parents=True, exist_ok=True)
        a.report.write_text(text, encoding="utf-8")
        payload = {"command": command, "recordings": len(used), "evaluations": results}
        a.report.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
        out(f"wrote {a.report} and {a.report.with_suffix('.json')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
