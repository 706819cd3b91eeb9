"""Datasets, configurations and (with PyTorch) seeded training runs and their snapshot files.

The dataset tests need no PyTorch and do not import it; the training tests skip without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from exactcells.training import (
    CLASSIFICATION_TASKS,
    TASKS,
    TrainConfig,
    TrainingError,
    grokking_config,
    input_dim,
    make_dataset,
    parse_arch,
    snapshot_epochs,
)


@pytest.mark.parametrize("task", [t for t in TASKS if input_dim(t) == 2])  # digits: test_tracking_plane.py
def test_datasets_are_seeded_float32_in_the_box(task: str) -> None:
    d = make_dataset(task, n_train=64, n_test=32, seed=3)
    assert d == make_dataset(task, n_train=64, n_test=32, seed=3)
    assert d != make_dataset(task, n_train=64, n_test=32, seed=4)
    assert d.X_train.shape == (64, 2) and d.X_test.shape == (32, 2)
    assert d.X_train.dtype == np.float32 and d.y_train.dtype == np.float32
    assert np.all(np.abs(d.X_train) <= 3) and np.all(np.abs(d.X_test) <= 3)
    assert not d.X_train.flags.writeable
    # the test-set size does not change the training set
    assert np.array_equal(make_dataset(task, n_train=64, n_test=5, seed=3).X_train, d.X_train)
    if task in CLASSIFICATION_TASKS:
        assert set(np.unique(d.y_train).tolist()) == {0.0, 1.0}


def test_labels_follow_the_task_rules() -> None:
    d = make_dataset("xor", 200, 0, seed=1, noise=0.0)
    x, y = d.X_train[:, 0], d.X_train[:, 1]
    assert np.array_equal(d.y_train == 1, x * y > 0)
    d = make_dataset("half_plane", 200, 0, seed=1, noise=0.0)
    x, y = d.X_train[:, 0].astype(float), d.X_train[:, 1].astype(float)
    assert np.array_equal(d.y_train == 1, x + 0.5 * y - 0.3 > 0)
    d = make_dataset("checkerboard", 200, 0, seed=1, noise=0.0)
    cell = np.floor((d.X_train.astype(float) + 3) / 2).astype(int)
    assert np.array_equal(d.y_train, ((cell[:, 0] + cell[:, 1]) % 2).astype(np.float32))
    d = make_dataset("annuli", 200, 0, seed=1, noise=0.0)
    r = np.hypot(d.X_train[:, 0], d.X_train[:, 1])
    assert np.all(r[d.y_train == 1] < 1.3) and np.all(r[d.y_train == 0] > 1.7)
    d = make_dataset("regression", 50, 0, seed=1, noise=0.0)
    X = d.X_train.astype(float)
    assert d.y_train == pytest.approx(X[:, 0] ** 2 + X[:, 1] ** 2 - 1.5, rel=1e-6, abs=1e-6)


def test_configurations() -> None:
    assert parse_arch("2-16-16-1") == (2, 16, 16, 1)
    assert parse_arch([2, 3, 1]) == (2, 3, 1)
    for bad in ("2-x-1", "3-4-1", "2-4-2", "2", "2-0-1"):
        with pytest.raises(TrainingError):
            parse_arch(bad)
    assert snapshot_epochs(10, 5) == (0, 5, 10)
    assert snapshot_epochs(11, 5) == (0, 5, 10, 11)
    assert snapshot_epochs(0, 5) == (0,)
    with pytest.raises(TrainingError):
        TrainConfig(task="moons")
    with pytest.raises(TrainingError):
        TrainConfig(every=0)
    with pytest.raises(TrainingError):
        TrainConfig(loss="hinge")
    g = grokking_config("annuli", seed=2, epochs=10)
    assert g.task == "annuli" and g.seed == 2 and g.epochs == 10 and g.weight_decay > 0
    assert g.init_scale > 1 and g.n_train < TrainConfig().n_train
    with pytest.raises(TrainingError):
        make_dataset("moons")


# -- with PyTorch -------------------------------------------------------------------------------


def _tiny(**kw: object) -> TrainConfig:
    base = {"task": "xor", "arch": "2-4-3-1", "epochs": 12, "every": 5, "seed": 1, "n_train": 16,
            "n_test": 16, "lr": 0.05}
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.slow
def test_training_is_reproducible_and_snapshots_are_exact() -> None:
    torch = pytest.importorskip("torch")
    from exactcells.training import train

    a = train(_tiny())
    b = train(_tiny())
    assert [s.epoch for s in a.snapshots] == [0, 5, 10, 12]
    assert [s.network for s in a.snapshots] == [s.network for s in b.snapshots]
    assert [(s.loss, s.accuracy, s.test_accuracy) for s in a.snapshots] == \
        [(s.loss, s.accuracy, s.test_accuracy) for s in b.snapshots]
    assert a.history == b.history and len(a.history["loss"]) == 13
    assert a.snapshots[0].network != a.snapshots[-1].network
    c = train(_tiny(seed=2))
    assert c.snapshots[0].network != a.snapshots[0].network
    # the snapshot is the float32 network exactly: its float forward pass reproduces torch's
    # accuracy on the training set
    last = a.snapshots[-1]
    out = last.network.forward_float(a.dataset.X_train.astype(float))[:, 0]
    acc = float(np.mean((out > 0) == (a.dataset.y_train == 1)))
    assert acc == pytest.approx(last.accuracy, abs=1e-6)
    # training restores the thread count and the determinism flag it found
    assert torch.get_num_threads() >= 1


def test_regression_and_mse_runs() -> None:
    pytest.importorskip("torch")
    from exactcells.training import train

    r = train(_tiny(task="regression", lr=0.01))
    assert all(s.accuracy is None for s in r.snapshots)
    assert r.snapshots[-1].loss < r.snapshots[0].loss
    m = train(_tiny(loss="mse"))
    assert all(s.accuracy is not None for s in m.snapshots)


def test_saved_run_is_read_back_as_snapshots(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from exactcells.tracking import load_snapshots, load_training_points
    from exactcells.training import save_run, train

    run = train(_tiny())
    save_run(run, tmp_path)
    loaded = load_snapshots(tmp_path)
    assert loaded == run.snapshots
    X = load_training_points(tmp_path / "training_points.json")
    assert np.array_equal(X, run.dataset.X_train.astype(float))
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["config"]["task"] == "xor"
    save_run(run, tmp_path)  # identical content: not an overwrite
    other = train(_tiny(seed=3))
    from exactcells.errors import OutputExistsError

    with pytest.raises(OutputExistsError):
        save_run(other, tmp_path)


@pytest.mark.slow
def test_cli_trains_and_tracks(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from exactcells.cli import main
    from exactcells.tracking import columns

    out = tmp_path / "run"
    args = ["track", "--task", "xor", "--arch", "2-3-1", "--epochs", "6", "--every", "3", "--seed", "4",
            "-o", str(out), "--repeats", "2", "--pixels", "16", "--jobs", "0", "--no-gif", "--no-progress"]
    assert main(args) == 0
    rows = (out / "track.csv").read_text().splitlines()
    assert rows[0].split(",") == list(columns(2)) and len(rows) == 4
    assert sorted(p.name for p in (out / "snapshots").glob("epoch_*.json")) == \
        ["epoch_000000.json", "epoch_000003.json", "epoch_000006.json"]
    assert (out / "training.png").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training_points"] == 200 and summary["source"]["trained"]["seed"] == 4


def test_each_task_starts_from_its_own_network() -> None:
    """The same seed used to give the same initial weights on every task (torch.manual_seed(seed))."""
    pytest.importorskip("torch")
    from exactcells.training import init_seed, train

    assert init_seed("xor", 1) == init_seed("xor", 1)
    assert len({init_seed(t, 1) for t in ("xor", "annuli", "spiral")}) == 3
    assert init_seed("xor", 1) != init_seed("xor", 2)
    a = train(_tiny(task="xor", epochs=0))
    b = train(_tiny(task="annuli", epochs=0))
    assert a.snapshots[0].network != b.snapshots[0].network
    assert train(_tiny(task="xor", epochs=0)).snapshots[0].network == a.snapshots[0].network


def test_sgd_and_restarts() -> None:
    pytest.importorskip("torch")
    from exactcells.training import train

    with pytest.raises(TrainingError):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(TrainingError):
        TrainConfig(restart_every=-1)
    sgd = train(_tiny(optimizer="sgd", epochs=30, every=10))
    adam = train(_tiny(epochs=30, every=10))
    assert sgd.snapshots[0].network == adam.snapshots[0].network  # same start
    assert sgd.snapshots[-1].network != adam.snapshots[-1].network
    assert sgd.history["loss"][-1] < sgd.history["loss"][0]  # plain descent descends
    # a warm restart resets AdamW's moments: identical until the first restart, different after
    r = train(_tiny(epochs=30, every=10, restart_every=10))
    assert r.snapshots[1].network == adam.snapshots[1].network  # epoch 10: no restart yet
    assert r.snapshots[-1].network != adam.snapshots[-1].network
    assert train(_tiny(epochs=30, every=10, restart_every=10)).snapshots[-1].network == \
        r.snapshots[-1].network


def test_cli_grokking_uses_the_recipe_architecture() -> None:
    """``--grokking`` used to take the default --arch (2-16-16-1) instead of the recipe's."""
    from exactcells.cli import _parser
    from exactcells.cli.track import _train_config
    from exactcells.training import grokking_config

    p = _parser("track")
    cfg = _train_config(p.parse_args(["track", "--task", "annuli", "--grokking", "-o", "x"]))
    assert cfg == grokking_config("annuli") and cfg.arch == "2-32-32-1"
    cfg = _train_config(p.parse_args(["track", "--task", "annuli", "--grokking", "--arch", "2-8-8-1",
                                      "-o", "x"]))
    assert cfg == grokking_config("annuli", arch="2-8-8-1")
    cfg = _train_config(p.parse_args(["track", "--task", "xor", "-o", "x"]))
    assert cfg == TrainConfig(task="xor") and cfg.arch == "2-16-16-1"
    cfg = _train_config(p.parse_args(["track", "--task", "xor", "--optimizer", "sgd",
                                      "--restart-every", "50", "-o", "x"]))
    assert cfg.optimizer == "sgd" and cfg.restart_every == 50


def test_cli_track_defaults_are_cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults were one job and a 200 x 200 pixel pipeline (about 100 s for 21 snapshots
    of a 2-16-16-1 network); now one job per core (at most 4) and 100 x 100 pixels."""
    import os

    from exactcells.cli import _parser

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    a = _parser("track").parse_args(["track", "--task", "xor", "-o", "x"])
    assert a.jobs == 2 and a.pixels == 100
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert _parser("track").parse_args(["track", "--task", "xor", "-o", "x"]).jobs == 4
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert _parser("track").parse_args(["track", "--task", "xor", "-o", "x"]).jobs == 1
