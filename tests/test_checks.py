"""The shared checks (apron_core.checks): hand-computed results, and bad inputs that must be
refused with a short message naming the value."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from apron_core import checks
from apron_core.checks import (
    MAX_WEIGHT,
    QUOTE_CHARS,
    check_int,
    check_interaction_matrix,
    check_number,
    check_probability,
    check_profile,
    quote,
    resolve_device,
)
from apron_core.errors import ConfigError, DataError
from apron_core.tags import TAG_NAMES, K

HUGE_STR = "9" * 10_000_000
HUGE_INT = 10**4999  # 5000 digits: str() of it raises in Python ≥ 3.11
# the same values as test parameters (pytest would otherwise print them in the test ids)
BIG_STR = pytest.param(HUGE_STR, id="10M-chars")
SHORT = 2 * QUOTE_CHARS + 80  # any message quoting a user value stays this short


# --------------------------------------------------------------------------- quote


def test_quote_keeps_short_values_as_repr():
    assert quote("rock") == "'rock'"
    assert quote(20) == "20"
    assert quote(np.int64(-3)) == "-3"
    assert quote(2.5) == "2.5"
    assert quote(None) == "None"


def test_quote_cuts_long_values():
    q = quote(HUGE_STR)
    assert q.startswith("'999") and q.endswith("(10,000,000 characters)")
    assert len(q) <= QUOTE_CHARS + 30
    assert quote(HUGE_INT) == "<a 5000-digit integer>"
    assert quote(-(10**99)) == "<a negative 100-digit integer>"
    assert quote(10**77 - 1) == "9" * 77  # up to 256 bits an int is printed
    assert len(quote(list(range(1_000_000)))) <= QUOTE_CHARS
    assert len(quote([HUGE_INT] * 3)) <= QUOTE_CHARS
    assert "\n" not in quote(np.ones((1000, 1000)))


# --------------------------------------------------------------------------- integers


def test_check_int_returns_a_python_int_within_inclusive_bounds():
    assert check_int(1, name="k", minimum=1, maximum=5) == 1
    assert check_int(5, name="k", minimum=1, maximum=5) == 5
    got = check_int(np.int64(3), name="k", minimum=1)
    assert got == 3 and type(got) is int
    assert check_int(-7, name="offset") == -7  # no bounds: any int


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0, r"k=0 must be a whole number from 1 to 5: pass an int in that range"),
        (6, r"k=6 must be a whole number from 1 to 5"),
        (2.0, r"k=2\.0 must be a whole number"),
        (np.float64(2), r"k=np\.float64\(2\.0\)|k=2\.0"),
        (True, r"k=True"),
        ("3", r"k='3'"),
        (None, r"k=None"),
        pytest.param(HUGE_INT, r"k=<a 5000-digit integer> must be", id="5000-digits"),
        pytest.param(HUGE_STR, r"k='999.*\(10,000,000 characters\) must be", id="10M-chars"),
    ],
)
def test_check_int_refuses(value, match):
    with pytest.raises(ConfigError, match=match) as e:
        check_int(value, name="k", minimum=1, maximum=5)
    assert len(str(e.value)) < SHORT


def test_check_int_one_sided_bounds_and_context():
    with pytest.raises(ConfigError, match="seed=-1 must be a whole number ≥ 0"):
        check_int(-1, name="seed", minimum=0)
    with pytest.raises(ConfigError, match="n=9 must be a whole number ≤ 8"):
        check_int(9, name="n", maximum=8)
    with pytest.raises(ConfigError, match=r"from 1 to 3 \(3 songs\)"):
        check_int(4, name="k", minimum=1, maximum=3, context="3 songs")


def test_checks_take_keyword_arguments_only():
    with pytest.raises(TypeError):
        check_int(3, "k")  # type: ignore[misc]
    with pytest.raises(TypeError):
        check_profile(np.ones(K), "profile")  # type: ignore[misc]


# --------------------------------------------------------------------------- numbers


def test_check_number_bounds():
    assert check_number(0, name="l2", minimum=0.0) == 0.0
    assert check_number(np.float32(0.5), name="x", maximum=0.5) == 0.5
    assert check_number(1e-9, name="lr", above=0.0) == 1e-9
    with pytest.raises(ConfigError, match=r"lr=0 must be a finite number > 0"):
        check_number(0, name="lr", above=0.0)
    with pytest.raises(ConfigError, match=r"p=1\.0 must be a finite number ≥ 0 and < 1"):
        check_number(1.0, name="p", minimum=0.0, below=1.0)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (float("nan"), "lr=nan"),
        (float("inf"), "lr=inf"),
        (-1.0, r"lr=-1\.0"),
        (True, "lr=True"),
        ("0.1", "lr='0.1'"),
        (None, "lr=None"),
        pytest.param(
            HUGE_INT, r"lr=<a 5000-digit integer>", id="5000-digits"
        ),  # beyond float range
    ],
)
def test_check_number_refuses(value, match):
    with pytest.raises(ConfigError, match=match) as e:
        check_number(value, name="lr", above=0.0)
    assert len(str(e.value)) < SHORT


def test_check_probability():
    assert check_probability(0, name="p") == 0.0
    assert check_probability(1, name="p") == 1.0
    assert check_probability(0.999, name="dropout", allow_one=False) == 0.999
    with pytest.raises(ConfigError, match=r"dropout=1 must be a finite number ≥ 0 and < 1"):
        check_probability(1, name="dropout", allow_one=False)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="from 0 to 1"):
            check_probability(bad, name="p")


# --------------------------------------------------------------------------- profiles


def test_check_profile_normalizes_by_hand():
    p = check_profile([2] + [0] * (K - 2) + [6], normalize=True)
    assert p.dtype == np.float64 and p.shape == (K,)
    assert p[0] == 0.25 and p[-1] == 0.75 and p[1:-1].sum() == 0.0
    np.testing.assert_array_equal(check_profile(np.full(K, MAX_WEIGHT), normalize=True),
                                  np.full(K, 1 / K))  # fmt: skip


def test_check_profile_keeps_the_weights_unless_asked():
    w = np.arange(K, dtype=np.float32)
    p = check_profile(w)
    np.testing.assert_array_equal(p, np.arange(K))
    assert p.dtype == np.float64
    t = check_profile(torch.arange(K, dtype=torch.float32))  # tensors are read too
    np.testing.assert_array_equal(t, np.arange(K))


def test_round_off_below_zero_reads_as_zero():
    w = np.ones(K)
    w[3] = -1e-12  # what a renormalized edit can leave
    p = check_profile(w)
    assert p[3] == 0.0 and p[4] == 1.0
    assert w[3] == -1e-12  # the caller's array is not touched
    w[3] = -1e-6
    with pytest.raises(DataError, match=r"'1980s' \(index 3\) is -1e-06, negative"):
        check_profile(w)


def test_batched_profiles_by_hand():
    p = np.zeros((2, K))
    p[0, :2] = (1.0, 3.0)
    p[1, 5] = 2.0
    out = check_profile(p, batched=True, normalize=True)
    np.testing.assert_array_equal(out[0, :2], [0.25, 0.75])
    assert out[1, 5] == 1.0 and out.sum() == 2.0
    zero = check_profile(np.zeros((2, K)), batched=True, allow_zero=True, normalize=True)
    np.testing.assert_array_equal(zero, np.zeros((2, K)))  # all-zero rows stay 0
    heads = np.ones((2, 3, K))
    np.testing.assert_allclose(
        check_profile(heads, batched=True, heads=True, normalize=True), np.full((2, 3, K), 1 / K)
    )


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (None, "profile is None: pass 80 numbers, one per tag"),
        ("rock", "profile is a string 'rock': pass 80 numbers"),
        pytest.param(
            HUGE_STR, r"profile is a string '999.*\(10,000,000 characters\)", id="10M-chars"
        ),
        ([["a"]] * K, "profile must be 80 numbers, one per tag; got"),
        ([[1.0], [1.0, 2.0]], "profile must be 80 numbers"),
        ({"rock": 1.0}, "profile must be 80 numbers"),
        pytest.param([HUGE_INT] * K, "profile must be 80 numbers", id="5000-digits"),
        pytest.param(
            [HUGE_STR] * K, r"is inf, not a finite number", id="10M-chars"
        ),  # float("9…9")
        ([1.0] * (K - 1), r"profile has shape \(79,\): it must be 80 numbers, one per tag"),
        ([[1.0] * K], r"profile has shape \(1, 80\)"),
        ([np.nan] + [1.0] * (K - 1), r"'1950s' \(index 0\) is nan, not a finite number:"),
        ([np.inf] * K, r"is inf, not a finite number \(80 weights are not\)"),
        ([1.0] * (K - 1) + [-2.0], r"\(index 79\) is -2, negative: weights must be ≥ 0"),
        ([2e6] + [1.0] * (K - 1), r"is 2e\+06, above 1e\+06: weights are relative"),
        ([0.0] * K, "every profile weight is 0: raise at least one tag above 0"),
    ],
)
def test_check_profile_refuses(weights, match):
    with pytest.raises(DataError, match=match) as e:
        check_profile(weights)
    assert len(str(e.value)) < SHORT


_ONE_EMPTY_HEAD = np.ones((2, 2, K))
_ONE_EMPTY_HEAD[0, 1] = 0.0


@pytest.mark.parametrize(
    ("weights", "kw", "match"),
    [
        (np.ones((3, K)), {"n_users": 2}, r"profiles has shape \(3, 80\): it must be \(2, 80\)"),
        (np.ones((2, 3, K)), {}, r"shape \(2, 3, 80\): it must be \(users, 80\):"),
        (np.ones(K), {"heads": True}, r"shape \(80,\): it must be \(users, 80\) or \(users, hea"),
        (np.zeros((2, K)), {}, r"profiles\[0\]: every weight is 0"),
        (_ONE_EMPTY_HEAD, {"heads": True}, r"profiles\[0, head 1\]: every weight is 0"),
    ],
)  # fmt: skip
def test_batched_profiles_refuse(weights, kw, match):
    with pytest.raises(DataError, match=match):
        check_profile(weights, name="profiles", batched=True, **kw)


def test_a_batched_weight_is_named_by_user_head_and_tag():
    p = np.ones((2, 2, K))
    p[1, 0, TAG_NAMES.index("rock")] = np.nan
    with pytest.raises(DataError, match=r"profiles\[1, head 0\]: the weight of 'rock'"):
        check_profile(p, name="profiles", batched=True, heads=True)


def test_max_weight_is_the_callers_bound():
    w = np.zeros(K)
    w[0] = 100.0
    assert check_profile(w, max_weight=100.0)[0] == 100.0
    w[0] = 100.5
    with pytest.raises(DataError, match=r"above 100: weights are relative, use numbers from 0"):
        check_profile(w, max_weight=100.0)


# --------------------------------------------------------------------------- interactions


def test_check_interaction_matrix_converts_to_float32_csr():
    x = sp.coo_matrix(np.array([[0, 2], [1, 0]], dtype=np.int64))
    m = check_interaction_matrix(x, name="train", n_songs=2)
    assert sp.isspmatrix_csr(m) and m.dtype == np.float32
    np.testing.assert_array_equal(m.toarray(), [[0, 2], [1, 0]])


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.ones((2, 3)), "train must be a scipy sparse matrix .* got ndarray"),
        (sp.csr_matrix(np.ones((2, 4))), "train has 4 song columns but the model knows 3 songs"),
        (sp.csr_matrix(np.array([[0, 1, 0], [0, 0, -1.0]])), r"train\[1, 2\] is -1\.0"),
        (sp.csr_matrix(np.array([[np.nan, 1, 0]])), r"train\[0, 0\] is nan"),
    ],
)
def test_check_interaction_matrix_refuses(x, match):
    with pytest.raises(DataError, match=match):
        check_interaction_matrix(x, name="train", n_songs=3)


# --------------------------------------------------------------------------- devices


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize("auto", [None, "auto", "AUTO", " auto "])
def test_auto_means_cuda_when_torch_sees_it(auto, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(auto) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(auto) == torch.device("cuda")


def test_explicit_devices(one_gpu):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(
        ConfigError, match=r"device='cuda:3' .* sees 1 CUDA GPU\(s\): pass 'cuda:0'"
    ):
        resolve_device("cuda:3")


def test_cuda_without_a_gpu_is_refused(no_gpu):
    for asked in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU here: pass 'cpu'"):
            resolve_device(asked)


@pytest.mark.parametrize("device", ["gpu", "", "cuda:x", "meta", 0, 1.5, ["cpu"], BIG_STR])
def test_unknown_devices_are_refused(device):
    with pytest.raises(ConfigError, match="device=") as e:
        resolve_device(device)
    assert len(str(e.value)) < SHORT


def test_every_caller_resolves_devices_the_same_way(no_gpu):
    """The engine, the training and the baselines share one resolve_device."""
    from apron_core import baselines, engine, training
    from apron_core.baselines import ease, neural

    for module in (engine, training, baselines, ease, neural):
        assert module.resolve_device is checks.resolve_device
    from apron_core.engine import Engine

    with pytest.raises(ConfigError, match="no CUDA GPU"):
        Engine.load("assets/demo", device="cuda")


@pytest.mark.parametrize("cli", ["training.train", "training.evaluate"])
def test_clis_refuse_a_bad_device_before_loading(cli, tmp_path, capsys):
    import importlib

    main = importlib.import_module(cli).main
    assert main(["--device", "gpu", "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device='gpu' is not a torch device") and "Traceback" not in err
