"""Tracking 64-D digits networks through a fixed plane of three training images.

A small run (64-16-10, a few epochs) is tracked end to end; every snapshot's row is checked
against computations that do not go through the tracker: the classes present in the plane
against exact forward passes of the 64-D network at a grid of exact points of the plane (and at
an exact interior point of every class cell), the Euler characteristic of every class region
against its Betti numbers, the plane's complex against the 64-D network's own hidden signs.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from exactcells import Domain, build_complex
from exactcells.slicing import plane_through, slice_from_record
from exactcells.topology.subcomplex import class_region
from exactcells.tracking import TrackingError, TrackSettings, columns, track
from exactcells.training import TrainConfig, TrainingError, input_dim, make_dataset, parse_arch

pytest.importorskip("sklearn")

BASE = Domain.box(2, Fraction(-1, 2), Fraction(3, 2))


def test_digits_dataset() -> None:
    d = make_dataset("digits", n_train=50, n_test=20, seed=4)
    assert d.X_train.shape == (50, 64) and d.X_train.dtype == np.float32
    assert d.num_classes == 10 and input_dim("digits") == 64
    # pixel values are exact multiples of 1/16 in [0, 1]
    assert np.all((d.X_train * 16) == np.round(d.X_train * 16)) and d.X_train.max() <= 1
    assert make_dataset("digits", n_train=50, n_test=20, seed=4) == d
    # images of scikit-learn's digits, with their labels; another seed draws other images
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    where = {(X[i] / 16.0).astype(np.float32).tobytes(): int(y[i]) for i in range(len(X))}
    assert all(where[r.tobytes()] == int(c) for r, c in zip(d.X_train, d.y_train))
    assert not np.array_equal(make_dataset("digits", n_train=50, n_test=20, seed=5).X_train, d.X_train)
    # the test-set size does not change the training set
    assert np.array_equal(make_dataset("digits", n_train=50, n_test=3, seed=4).X_train, d.X_train)
    assert parse_arch("64-16-10", 10, 64) == (64, 16, 10)
    with pytest.raises(TrainingError, match="start with 64"):
        TrainConfig(task="digits", arch="2-16-10")
    with pytest.raises(TrainingError, match="1797 images"):
        make_dataset("digits", n_train=1500, n_test=400)


def _plane_of(X: np.ndarray, y: np.ndarray):  # noqa: ANN202
    """The plane through the first training images of classes 0, 1 and 2."""
    idx = [int(np.flatnonzero(y == c)[0]) for c in (0, 1, 2)]
    return plane_through(*(X[i].tolist() for i in idx), source=f"training images {idx}"), idx


@pytest.fixture(scope="module")
def digits_run():  # noqa: ANN201
    pytest.importorskip("torch")
    from exactcells.training import train

    cfg = TrainConfig(task="digits", arch="64-16-10", epochs=30, every=15, n_train=150, n_test=50, seed=1,
                      lr=0.02)
    run = train(cfg)
    sl, idx = _plane_of(run.dataset.X_train, run.dataset.y_train)
    settings = TrackSettings(domain=BASE, repeats=1, pixels=0, slice=sl)
    res = track(run.snapshots, settings, points=run.dataset.X_train.astype(float), jobs=0)
    return run, sl, idx, res


def test_digits_through_a_plane(digits_run) -> None:  # noqa: ANN001
    run, sl, idx, res = digits_run
    assert res.settings.classes == 10 and res.settings.slice == sl
    assert res.columns == columns(2, 10)
    assert run.history["loss"][-1] < run.history["loss"][0]
    # the settings record the plane and read it back (the cache key depends on it)
    back = TrackSettings.from_dict(json.loads(json.dumps(res.settings.to_dict())))
    assert back == res.settings and back.slice is not None and back.slice.points == sl.points
    s = np.linspace(-0.5, 1.5, 13)
    grid = [(Fraction(float(a)), Fraction(float(b))) for a in s for b in s]
    for snap, r in zip(run.snapshots, res.results):
        row = r.row
        net = snap.network  # the 64-D network
        restricted = sl.restrict(net)
        R = build_complex(restricted, BASE, with_output=True, refine="argmax")
        present = {j for j in range(10) if row[f"class{j}_b0"] > 0}
        assert len(present) >= 2
        # every class a grid point of the plane sees (exact forward pass in R^64) is present
        seen = set()
        for t in grid:
            out = net.forward(sl.to_input(t))
            top = max(out)
            seen |= {j for j, v in enumerate(out) if v == top}
        assert seen <= present
        # and every present class is a maximizer at an exact interior point of one of its
        # top cells, by the 64-D network's own forward pass
        A = R.argmax_sets()
        for j in present:
            c = next(c for c in R.regions() if j in A[c])
            out = net.forward(sl.to_input(R.interior_point(c)))
            assert out[j] == max(out)
        # Euler characteristic of every class region = b0 - b1 (a 2-D region has no b2)
        for j in range(10):
            chi = class_region(R, j).euler_characteristic
            assert chi == row[f"class{j}_b0"] - row[f"class{j}_b1"]
        assert row["refined_regions"] == R.num_regions
        # the plane's complex is the slice of the 64-D network's: hidden signs agree at vertices
        nh = net.num_hidden
        for v in range(0, R.f_vector[0], 7):
            x = R.vertex(v)
            assert net.hidden_signs(sl.to_input(x)) == R.sign_vector(v)[:nh]
        # the three training images lie in the plane, at (0, 0), (1, 0), (0, 1) of the domain
        assert row["training_points_inside"] is not None and row["training_points_inside"] >= 3
        for col in ("margin_h0_pairs", "kway_agreement", "margin_refined_cells", "boundary_b0"):
            assert row[col] is not None
    # the last snapshot: the classes of the three images are where the images are
    last = run.snapshots[-1].network
    for i, t in zip(idx, ((0, 0), (1, 0), (0, 1))):
        out = last.forward(sl.to_input(t))
        assert out == last.forward(run.dataset.X_train[i].tolist())


def test_plane_errors() -> None:
    from exactcells.network import network_from_dict

    net64 = network_from_dict({"layers": [{"W": [[1] * 64], "b": [0]}, {"W": [[1], [-1], [2]], "b": [0, 0, 0]}]})
    from exactcells.tracking import Snapshot

    with pytest.raises(TrackingError, match="--plane"):
        track([Snapshot(0, net64)], TrackSettings(domain=BASE, repeats=1, pixels=0), jobs=0)
    sl = plane_through([0] * 64, [1] + [0] * 63, [0, 1] + [0] * 62)
    with pytest.raises(TrackingError, match="coordinates"):
        TrackSettings(domain=Domain.box(3, 0, 1), slice=sl)
    other = plane_through([0, 0, 0], [1, 0, 0], [0, 1, 0])
    with pytest.raises(TrackingError, match="R\\^3"):
        track([Snapshot(0, net64)], TrackSettings(domain=BASE, repeats=1, pixels=0, slice=other), jobs=0)
    assert slice_from_record(sl.to_dict()) == sl


def test_track_cli_digits(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from exactcells.cli import main

    out = tmp_path / "d"
    code = main(["track", "--task", "digits", "--arch", "64-6-10", "--epochs", "4", "--every", "2",
                 "--n-train", "60", "--repeats", "1", "--pixels", "0", "--jobs", "0", "--no-gif",
                 "--no-report", "--ambient-box", "0", "1", "-o", str(out), "--no-progress"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["classes"] == 10 and "plane" in summary["plane"]
    rec = json.loads((out / "plane.json").read_text())
    sl = slice_from_record(summary["settings"]["slice"])
    assert sl == slice_from_record(rec) and sl.ambient_dim == 64 and sl.kind == "plane"
    # the default plane goes through training images of three distinct classes
    tp = json.loads((out / "snapshots" / "training_points.json").read_text())
    import re

    m = re.match(r"training points (\d+), (\d+), (\d+) ", sl.source or "")
    assert m is not None
    assert len({tp["y"][int(i)] for i in m.groups()}) == 3
    assert sl.points == tuple(tuple(Fraction(v) for v in tp["X"][int(i)]) for i in m.groups())
    head = (out / "track.csv").read_text().splitlines()[0].split(",")
    assert "class9_b1" in head and "margin_refined_cells" in head
    # the ambient box [0, 1]^64 cuts the plane: the domain is not the default square
    assert Domain.from_dict(summary["settings"]["domain"]) != BASE
