"""apron_core.embed_folder (resumable folder embedding) and the training.embed_audio CLI.

A cheap deterministic encoder stands in for MERT; tests/encoders/test_mert.py runs the folder
embedder with the tiny MERT model (its batched path).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from apron_core import embed_folder as ef
from apron_core.audio import write_audio
from apron_core.embed_folder import (
    MANIFEST_FILE,
    embed_folder,
    list_audio,
    load_embeddings,
    read_failures,
)
from apron_core.encoders import Encoder, load_encoder
from apron_core.errors import AudioError, ConfigError, DataError
from training import embed_audio

SR = 8000
GOOD = [f"a{i:02d}" for i in range(10)]
BAD = {  # id -> a word the manifest message must contain
    "z_corrupt": "corrupt",
    "z_empty": "empty",
    "z_silent": "silent",
}


@dataclass(frozen=True)
class StatsConfig:
    sr: int = SR
    scale: float = 1.0


class StatsEncoder(Encoder):
    """Four signal statistics: fast, deterministic, different for every test clip."""

    name = "stats-test"
    config_cls = StatsConfig

    @property
    def dim(self) -> int:
        return 4

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        y = self._check_signal(y)
        if y.size < 0.2 * self.sr:
            raise AudioError(f"signal is {y.size / self.sr:.2f} s long; needs 0.2 s")
        stats = [y.mean(), y.std(), np.abs(y).max(), y.size / self.sr]
        return (self.config.scale * np.array(stats)).astype(np.float32)


class InterruptingEncoder(StatsEncoder):
    """Raises `error` at its `stop_at`-th call of raw_features (1-based)."""

    def __init__(self, *, stop_at: int, error: BaseException) -> None:
        super().__init__()
        self.stop_at, self.error, self.calls = stop_at, error, 0

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == self.stop_at:
            raise self.error
        return super().raw_features(y)


class BatchStatsEncoder(StatsEncoder):
    """Has a batch method that fails as a whole when one signal is bad (as MERT's does)."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_calls = 0

    def raw_features_batch(self, signals: list[np.ndarray]) -> np.ndarray:
        self.batch_calls += 1
        return np.stack([self.raw_features(y) for y in signals])


@pytest.fixture
def folder(tmp_path, rng) -> Path:
    """10 good 1.2 s clips (a00..a09; wav/flac/ogg, some in a subfolder), 3 bad files, noise."""
    audio = tmp_path / "audio"
    t = np.arange(round(1.2 * SR)) / SR
    for i, name in enumerate(GOOD):
        y = (0.1 + 0.05 * i) * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.standard_normal(
            t.size
        )
        sub = "sub/" if i % 4 == 3 else ""
        write_audio(
            audio / f"{sub}{name}.{('wav', 'flac', 'ogg')[i % 3]}", y.astype(np.float32), sr=SR
        )
    (audio / "z_empty.wav").write_bytes(b"")
    (audio / "z_corrupt.mp3").write_bytes(rng.bytes(5000))
    write_audio(audio / "z_silent.wav", np.zeros(SR, np.float32), sr=SR)
    (audio / "notes.txt").write_text("not audio")
    write_audio(audio / ".hidden.wav", np.ones(SR, np.float32) * 0.1, sr=SR)
    return audio


def run(encoder: Encoder, audio: Path, out: Path, **kwargs) -> ef.EmbedReport:
    return embed_folder(
        encoder, audio, out, batch_size=kwargs.pop("batch_size", 3), progress=False, **kwargs
    )


# --------------------------------------------------------------------------- basics


def test_lists_audio_by_stem_recursively(folder):
    files, clashes = list_audio(folder)
    assert sorted(files) == sorted(GOOD + list(BAD))
    assert files["a03"].parent.name == "sub" and not clashes
    with pytest.raises(ConfigError, match="does not exist"):
        list_audio(folder / "nope")


def test_clean_run_embeds_good_files_and_logs_bad_ones(folder, tmp_path):
    enc = StatsEncoder()
    report = run(enc, folder, tmp_path / "out")
    assert (report.n_files, report.n_embedded, report.n_failed) == (13, 10, 3)
    ids, raw = load_embeddings(tmp_path / "out")
    assert ids == GOOD
    files, _ = list_audio(folder)
    expected = np.stack([enc.raw_features_file(files[i]) for i in GOOD])
    np.testing.assert_array_equal(raw, expected)
    failures = read_failures(tmp_path / "out")
    assert sorted(failures) == sorted(BAD)
    for item, word in BAD.items():
        assert word in failures[item]["error"].lower()
        assert failures[item]["file"].endswith(files[item].name)
    assert len(list((tmp_path / "out" / "shards").glob("*.npz"))) == 4  # ceil(10 good / 3)


def test_rerun_skips_done_and_failed(folder, tmp_path):
    out = tmp_path / "out"
    run(StatsEncoder(), folder, out)
    shards = sorted(p.name for p in (out / "shards").iterdir())
    again = run(StatsEncoder(), folder, out)
    assert (again.n_done_before, again.n_failed_before, again.n_embedded, again.n_failed) == (
        10,
        3,
        0,
        0,
    )
    assert sorted(p.name for p in (out / "shards").iterdir()) == shards
    retried = run(StatsEncoder(), folder, out, retry_failed=True)
    assert (retried.n_embedded, retried.n_failed) == (0, 3)
    assert len(read_failures(out)) == 3  # one entry per id, however often it failed


# --------------------------------------------------------------------------- interruption


@pytest.mark.parametrize(
    "error", [KeyboardInterrupt(), RuntimeError("worker died")], ids=["ctrl-c", "crash"]
)
def test_interrupt_then_resume_has_no_duplicate_and_no_gap(folder, tmp_path, error):
    run(StatsEncoder(), folder, tmp_path / "clean")
    clean_ids, clean_raw = load_embeddings(tmp_path / "clean")
    out = tmp_path / "out"
    with pytest.raises(type(error)):
        run(InterruptingEncoder(stop_at=5, error=error), folder, out)
    # batch 1 (a00-a02) finished; in batch 2 a03 was computed before a04 stopped the run
    partial_ids, _ = load_embeddings(out)
    assert partial_ids == GOOD[:4]
    report = run(StatsEncoder(), folder, out)
    assert (report.n_done_before, report.n_embedded) == (4, 6)
    ids, raw = load_embeddings(out)
    assert ids == clean_ids == GOOD
    np.testing.assert_array_equal(raw, clean_raw)


def test_interrupt_while_writing_a_shard_loses_only_that_batch(folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("00001.npz"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(ef.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        run(StatsEncoder(), folder, out)
    monkeypatch.setattr(ef.os, "replace", real_replace)
    assert [p.name for p in (out / "shards").iterdir()] == ["00000.npz"]  # no half-written file
    assert load_embeddings(out)[0] == GOOD[:3]
    run(StatsEncoder(), folder, out)
    assert load_embeddings(out)[0] == GOOD


def test_batch_failure_falls_back_to_one_file_at_a_time(folder, tmp_path):
    write_audio(folder / "a04.wav", 0.3 * np.ones(SR // 10, np.float32), sr=SR)  # 0.1 s: too short
    (folder / "a04.flac").unlink()
    enc = BatchStatsEncoder()
    report = run(enc, folder, tmp_path / "out", batch_size=5)
    # 13 ids in batches of 5; the third holds only undecodable files, so never reaches the
    # encoder; the first fails on a04 as a whole and is redone one file at a time
    assert enc.batch_calls == 2
    assert report.n_embedded == 9
    assert "needs 0.2 s" in read_failures(tmp_path / "out")["a04"]["error"]


# --------------------------------------------------------------------------- folder checks


def test_resume_with_another_encoder_config_is_refused(folder, tmp_path):
    run(StatsEncoder(), folder, tmp_path / "out")
    with pytest.raises(ConfigError, match="holds embeddings from encoder 'stats-test'"):
        run(StatsEncoder(scale=2.0), folder, tmp_path / "out")


def test_ids_subset_and_unknown_ids(folder, tmp_path):
    report = run(StatsEncoder(), folder, tmp_path / "out", ids=["a01", "a05", "nope"])
    assert (report.n_files, report.n_embedded, report.n_failed) == (3, 2, 1)
    assert load_embeddings(tmp_path / "out")[0] == ["a01", "a05"]
    assert "no audio file named nope" in read_failures(tmp_path / "out")["nope"]["error"]


def test_shared_stem_is_a_failure_not_a_guess(folder, tmp_path):
    shutil.copy(folder / "a00.wav", folder / "a00.flac")
    run(StatsEncoder(), folder, tmp_path / "out")
    assert "several files share the id 'a00'" in read_failures(tmp_path / "out")["a00"]["error"]
    assert "a00" not in load_embeddings(tmp_path / "out")[0]


def test_duplicate_ids_across_shards_are_detected(folder, tmp_path):
    out = tmp_path / "out"
    run(StatsEncoder(), folder, out)
    shutil.copy(out / "shards" / "00000.npz", out / "shards" / "00099.npz")
    with pytest.raises(DataError, match="'a00' is in both"):
        load_embeddings(out)


def test_truncated_manifest_line_is_ignored(folder, tmp_path):
    out = tmp_path / "out"
    run(StatsEncoder(), folder, out)
    with open(out / MANIFEST_FILE, "a") as f:
        f.write('{"id": "a0')  # a crash mid-line
    assert sorted(read_failures(out)) == sorted(BAD)
    assert run(StatsEncoder(), folder, out).n_embedded == 0


def test_bad_arguments(folder, tmp_path):
    with pytest.raises(ConfigError, match="batch_size=0"):
        embed_folder(StatsEncoder(), folder, tmp_path / "out", batch_size=0)
    with pytest.raises(DataError, match="holds no embeddings"):
        load_embeddings(tmp_path / "empty")


# --------------------------------------------------------------------------- CLI


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        embed_audio.main(["--help"])
    assert e.value.code == 0
    assert "--encoder" in capsys.readouterr().out


def test_cli_embeds_fits_normalization_and_resumes(folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--encoder", "librosa", "--audio", str(folder), "--output", str(out), "--no-progress"]
    assert embed_audio.main(args) == 0
    text = capsys.readouterr().out
    assert "10 embedded now" in text and "3 failed now" in text
    enc = load_encoder(out)
    ids, raw = load_embeddings(out)
    assert ids == GOOD and raw.shape == (10, enc.dim)
    assert np.allclose(enc.transform(raw).mean(0), 0, atol=1e-4)
    assert embed_audio.main(args) == 0
    assert "0 embedded now, 10 already done" in capsys.readouterr().out
    meta = json.loads((out / "embed.json").read_text())
    assert meta["encoder"] == "librosa"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--encoder", "librosa", "--layer", "3"],
            "--layer applies to --encoder mert or musicnn or musicnn+librosa only",
        ),
        (["--encoder", "mert", "--layer", "top"], "--layer 'top' must be an integer or 'mean'"),
        (["--encoder", "mert", "--model", "/no/such/dir"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(folder, tmp_path, capsys, extra, message):
    code = embed_audio.main(["--audio", str(folder), "--output", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_missing_audio_folder(tmp_path, capsys):
    code = embed_audio.main(["--audio", str(tmp_path / "none"), "--output", str(tmp_path / "o")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
