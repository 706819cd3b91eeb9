"""Tracking signatures through snapshots (no PyTorch needed).

The per-snapshot values are checked against independent recomputations on small hand-built
networks (f-vectors from the complex, Betti numbers of known shapes, the Hamming-1 proxy being
exact for one hidden layer); the run-level properties are the contract of the issue: the table
has the documented columns, resumed runs equal uninterrupted ones, runs are reproducible, and a
folder of snapshots gives the same results as the same networks in memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from exactcells import Domain, build_complex, network_from_dict
from exactcells.cli import main
from exactcells.errors import ExactCellsError
from exactcells.tracking import (
    TRAINING_POINTS_FILE,
    Snapshot,
    TrackingError,
    TrackSettings,
    columns,
    correlations,
    load_snapshots,
    load_tracking,
    result_filename,
    snapshot_filename,
    snapshot_to_dict,
    track,
    track_folder,
    track_snapshot,
)

SMALL = TrackSettings(domain=Domain.box(2, -1, 1), repeats=3, seed=5, pixels=40)


def _diamond(scale: int = 1) -> dict:
    """F = 1/2 - (|x| + |y|) written with four ReLUs: the decision boundary is a diamond
    (a circle: b0 = b1 = 1) and F >= 0 is a filled diamond (a disc: b0 = 1, b1 = 0)."""
    return {"layers": [{"W": [[1, 0], [-1, 0], [0, 1], [0, -1]], "b": [0, 0, 0, 0]},
                       {"W": [[-scale, -scale, -scale, -scale]], "b": [f"{scale}/2"]}]}


def _ring() -> dict:
    """F = |x| + |y| - 1/2: F >= 0 is the box minus a diamond (an annulus: b0 = b1 = 1)."""
    d = _diamond()
    d["layers"][1] = {"W": [[1, 1, 1, 1]], "b": ["-1/2"]}
    return d


def _random_net(seed: int, widths: tuple[int, ...] = (2, 5, 4, 1)) -> dict:
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append({"W": rng.integers(-4, 5, size=(b, a)).tolist(),
                       "b": [f"{v}/3" for v in rng.integers(-3, 4, size=b)]})
    return {"layers": layers}


def _snapshots(k: int = 3) -> list[Snapshot]:
    return [Snapshot(10 * i, network_from_dict(_random_net(i)), loss=1.0 / (i + 1),
                     accuracy=0.5 + 0.1 * i) for i in range(k)]


POINTS = np.array([[0.25, 0.5], [-0.75, 0.125], [0.5, -0.5], [0.1, 0.2], [-0.3, -0.9], [2.0, 2.0]])


def test_columns_are_documented_and_complete() -> None:
    cols = columns(2)
    for c in ("epoch", "loss", "accuracy", "num_regions", "f0", "f1", "f2", "boundary_b0",
              "boundary_b1", "positive_b0", "positive_b1", "betti_max_0_mean", "fiedler_value",
              "fiedler_agreement", "fiedler_value_weighted", "hamming_precision", "hamming_recall",
              "pixel_missed_regions", "paper_agreement"):
        assert c in cols
    assert len(set(cols)) == len(cols)
    assert "f3" in columns(3) and "f3" not in cols
    res = track(_snapshots(2), SMALL, jobs=0)
    header, *lines = res.to_csv().splitlines()
    assert header.split(",") == list(cols)
    assert len(lines) == 2 and all(len(line.split(",")) == len(cols) for line in lines)
    assert set(res.results[0].row) == set(cols)


def test_row_values_against_independent_recomputation() -> None:
    net = network_from_dict(_random_net(7))
    r = track([Snapshot(3, net, loss=0.25)], SMALL, points=POINTS, jobs=0).results[0]
    K = build_complex(net, SMALL.domain)
    R = build_complex(net, SMALL.domain, with_output=True)
    row = r.row
    assert (row["f0"], row["f1"], row["f2"]) == K.f_vector
    assert row["num_regions"] == K.num_regions and row["num_cells"] == K.num_cells
    assert row["refined_regions"] == R.num_regions
    assert row["euler_characteristic"] == 1
    assert row["epoch"] == 3 and row["loss"] == 0.25 and row["accuracy"] is None
    # dimension-random maxima give the f-vector (the paper's claim, exact)
    assert row["betti_maxima_give_f"] == 1
    # random linear extensions: beta_0 never exceeds f0, beta_2 is 0 in a planar complex
    assert len(r.betti_maxima) == SMALL.repeats
    assert all(0 < m[0] <= K.f_vector[0] and m[2] == 0 for m in r.betti_maxima)
    assert row["betti_max_0_mean"] == pytest.approx(np.mean([m[0] for m in r.betti_maxima]))
    # the points: five inside the box, one outside
    assert row["training_points_inside"] == 5
    assert len(r.fiedler_vector) == K.num_regions
    assert r.fiedler_vector_weighted is not None and len(r.fiedler_vector_weighted) == K.num_regions
    assert row["fiedler_value"] > 0 and row["fiedler_value_weighted"] > 0
    assert 0.5 <= row["fiedler_agreement"] <= 1 and 0.5 <= row["fiedler_agreement_weighted"] <= 1
    assert row["fiedler_sweep_agreement"] >= row["fiedler_agreement"]
    # the proxy counts are consistent
    assert row["hamming_edges"] - row["hamming_false_edges"] == row["dual_edges"] - row["hamming_missing_edges"]
    assert row["pixel_regions"] <= row["distinct_patterns"] <= row["num_regions"]
    assert 0 <= row["pixel_missed_area"] < 1


def test_known_topology_of_the_decision_regions() -> None:
    snaps = [Snapshot(0, network_from_dict(_diamond())), Snapshot(1, network_from_dict(_ring()))]
    a, b = (r.row for r in track(snaps, SMALL, jobs=0).results)
    assert (a["boundary_b0"], a["boundary_b1"], a["positive_b0"], a["positive_b1"]) == (1, 1, 1, 0)
    assert (b["boundary_b0"], b["boundary_b1"], b["positive_b0"], b["positive_b1"]) == (1, 1, 1, 1)
    # four lines through the origin cut the box into four quadrants (two pairs coincide)
    assert a["num_regions"] == 4 and a["f0"] == 9
    # x and -x are one line with two orientations: crossing it flips two bits, so the
    # Hamming-1 proxy misses every adjacency of the 4-cycle even with one hidden layer
    assert a["dual_edges"] == 4 and a["hamming_edges"] == 0
    assert a["hamming_missing_edges"] == 4 and a["hamming_recall"] == 0.0
    # the pixels see all four quadrants; an even split gives the Fiedler agreement 1/2 at least
    assert a["pixel_regions"] == 4 and a["pixel_missed_regions"] == 0


def test_hamming_proxy_is_exact_for_one_layer_of_distinct_lines() -> None:
    net = network_from_dict(_random_net(3, (2, 6, 1)))
    row = track([Snapshot(0, net)], SMALL, jobs=0).results[0].row
    assert row["dual_edges"] == row["hamming_edges"] > 0
    assert row["hamming_precision"] == row["hamming_recall"] == 1.0


def test_pixels_miss_a_thin_region() -> None:
    # two parallel lines 1/1000 apart: the strip between them falls between pixel centres
    net = network_from_dict({"layers": [{"W": [[1, 0], [1, 0]], "b": ["0.0105", "0.0095"]},
                                        {"W": [[1, 1]], "b": [0]}]})
    row = track([Snapshot(0, net)], SMALL, jobs=0).results[0].row
    assert row["num_regions"] == 3
    assert row["pixel_regions"] == 2 and row["pixel_missed_regions"] == 1
    assert row["pixel_missed_area"] == pytest.approx(float(Fraction(1, 1000) * 2 / 4))


def test_resumed_run_equals_uninterrupted(tmp_path: Path) -> None:
    snaps = _snapshots(4)
    full = track(snaps, SMALL, points=POINTS, jobs=0, cache_dir=tmp_path / "a")
    # "interrupted" after two snapshots, then resumed with all four
    part = track(snaps[:2], SMALL, points=POINTS, jobs=0, cache_dir=tmp_path / "b")
    assert part.cached == 0
    resumed = track(snaps, SMALL, points=POINTS, jobs=0, cache_dir=tmp_path / "b")
    assert resumed.cached == 2
    assert resumed == full
    assert resumed.to_csv() == full.to_csv()
    again = track(snaps, SMALL, points=POINTS, jobs=0, cache_dir=tmp_path / "b")
    assert again.cached == 4 and again == full
    # the raw per-snapshot files are the results
    assert load_tracking(tmp_path / "b", SMALL) == full
    raw = json.loads((tmp_path / "b" / result_filename(10)).read_text())
    assert raw["epoch"] == 10 and raw["row"]["num_regions"] == full.results[1].row["num_regions"]


def test_stale_cache_entries_are_recomputed(tmp_path: Path) -> None:
    snaps = _snapshots(2)
    first = track(snaps, SMALL, jobs=0, cache_dir=tmp_path)
    f = tmp_path / result_filename(0)
    d = json.loads(f.read_text())
    d["row"]["num_regions"] = -1  # a tampered entry with another key is not trusted
    d["key"] = "0" * 64
    f.write_text(json.dumps(d))
    (tmp_path / result_filename(10)).write_text("{not json")
    again = track(snaps, SMALL, jobs=0, cache_dir=tmp_path)
    assert again.cached == 0 and again == first
    # other settings -> other keys -> recomputed
    other = track(snaps, TrackSettings(domain=SMALL.domain, repeats=2, seed=5, pixels=40), jobs=0,
                  cache_dir=tmp_path)
    assert other.cached == 0 and other.results[0].row["num_regions"] == first.results[0].row["num_regions"]


def test_seeded_runs_are_reproducible_and_seeds_matter() -> None:
    snaps = _snapshots(2)
    a = track(snaps, SMALL, points=POINTS, jobs=0)
    b = track(list(reversed(snaps)), SMALL, points=POINTS, jobs=0)
    assert a == b and a.to_csv() == b.to_csv()
    other = track(snaps, TrackSettings(domain=SMALL.domain, repeats=3, seed=6, pixels=40), jobs=0)
    assert any(x.betti_maxima != y.betti_maxima for x, y in zip(a.results, other.results))


def test_folder_equals_memory(tmp_path: Path) -> None:
    snaps = _snapshots(3)
    for s in snaps:
        (tmp_path / snapshot_filename(s.epoch)).write_text(json.dumps(snapshot_to_dict(s)))
    (tmp_path / TRAINING_POINTS_FILE).write_text(json.dumps({"X": POINTS.tolist(), "y": [0] * 6}))
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = load_snapshots(tmp_path)
    assert [s.epoch for s in loaded] == [0, 10, 20]
    assert [s.network for s in loaded] == [s.network for s in snaps]
    assert [(s.loss, s.accuracy) for s in loaded] == [(s.loss, s.accuracy) for s in snaps]
    assert track_folder(tmp_path, SMALL, jobs=0) == track(snaps, SMALL, points=POINTS, jobs=0)


@pytest.mark.slow
def test_worker_processes_equal_resumed_workers(tmp_path: Path) -> None:
    snaps = _snapshots(3)
    a = track(snaps, SMALL, points=POINTS, jobs=2, cache_dir=tmp_path / "a")
    (tmp_path / "b").mkdir()
    name = result_filename(snaps[1].epoch)
    (tmp_path / "b" / name).write_bytes((tmp_path / "a" / name).read_bytes())
    b = track(snaps, SMALL, points=POINTS, jobs=2, cache_dir=tmp_path / "b")
    assert b.cached == 1
    assert a == b and a.to_csv() == b.to_csv()
    # the exact columns agree with the in-process path too
    c = track(snaps, SMALL, points=POINTS, jobs=0)
    exact = [k for k in columns(2) if not k.startswith(("fiedler_value", "paper_fiedler"))]
    assert [[r.row[k] for k in exact] for r in a.results] == [[r.row[k] for k in exact] for r in c.results]


def test_bad_input() -> None:
    s = _snapshots(1)[0]
    with pytest.raises(TrackingError, match="duplicate"):
        track([s, s], SMALL, jobs=0)
    with pytest.raises(TrackingError, match="no snapshots"):
        track([], SMALL, jobs=0)
    with pytest.raises(TrackingError, match="shape"):
        track([s], SMALL, points=np.zeros((3, 3)), jobs=0)
    two_out = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1], [2]], "b": [0, 0]}]})
    # k-class networks are tracked (tests/test_multiclass_tracking.py); mixed ones are not
    with pytest.raises(TrackingError, match="different numbers of outputs"):
        track([s, Snapshot(s.epoch + 1, two_out)], SMALL, jobs=0)
    with pytest.raises(TrackingError, match="2 outputs but the settings track 1 class"):
        track_snapshot(Snapshot(0, two_out), SMALL)
    with pytest.raises(TrackingError):
        TrackSettings(repeats=0)


def test_load_snapshots_errors(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match="no snapshot files"):
        load_snapshots(tmp_path)
    (tmp_path / "epoch_000001.json").write_text(json.dumps(_diamond()))
    (tmp_path / "epoch_1.json").write_text(json.dumps(_diamond()))
    with pytest.raises(TrackingError, match="two snapshot files"):
        load_snapshots(tmp_path)
    (tmp_path / "epoch_1.json").unlink()
    (tmp_path / "epoch_000002.json").write_text("[1, 2")
    with pytest.raises(ExactCellsError, match="epoch_000002.json"):
        load_snapshots(tmp_path)


def test_correlations() -> None:
    snaps = [Snapshot(i, network_from_dict(_random_net(i)), loss=float(10 - i)) for i in range(4)]
    res = track(snaps, SMALL, jobs=0)
    rho = correlations(res, names=("num_regions", "euler_characteristic"))
    assert rho["euler_characteristic"] is None  # constant
    from scipy.stats import spearmanr

    expected = spearmanr(res.series("num_regions"), res.series("loss")).statistic
    assert rho["num_regions"] == pytest.approx(expected)


@pytest.mark.slow
def test_cli_tracks_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    for s in _snapshots(3):
        (snaps / snapshot_filename(s.epoch)).write_text(json.dumps(snapshot_to_dict(s)))
    out = tmp_path / "out"
    args = ["track", "--snapshots", str(snaps), "-o", str(out), "--box", "-1", "1", "--repeats", "2",
            "--pixels", "20", "--max-frames", "2", "--jobs", "0", "--json", "--no-progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # exactly one JSON object on stdout
    assert summary["snapshots"] == 3 and summary["cached"] == 0
    for name in ("track.csv", "summary.json", "signatures.png", "fiedler.png", "complex.gif"):
        assert (out / name).is_file(), name
    assert len(list((out / "results").glob("epoch_*.json"))) == 3
    header = (out / "track.csv").read_text().splitlines()[0].split(",")
    assert header == list(columns(2))
    # no overwrite without --force; with it, the cached results are reused
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--force", "--no-gif"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] == 3
    # training options make no sense with --snapshots
    assert main([*args, "--force", "--epochs", "5"]) == 2


def test_tracking_does_not_import_torch() -> None:
    code = ("import sys, exactcells.tracking, exactcells.training, exactcells.tracking_plots, "
            "exactcells.cli.track; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_baseline_columns() -> None:
    """The majority-class agreement is the exact share of the larger class; the random-cut
    baselines are chance levels: a cut with everything on one side scores the majority share,
    a perfect cut beats both baselines; the lower-star maxima are those of F's sublevel sets."""
    from exactcells.tracking import cut_baselines, track_snapshot

    net = network_from_dict(_diamond())  # F >= 0: the diamond |x| + |y| <= 1/2 in [-1, 1]^2
    r = track_snapshot(Snapshot(0, net), SMALL, POINTS)
    assert r.row["majority_agreement"] == pytest.approx(1 - 0.5 / 4)  # the diamond has area 1/2
    for suffix in ("", "_weighted"):
        agree = r.row[f"fiedler_agreement{suffix}"]
        for base in ("random_cut_agreement", "line_cut_agreement"):
            v = r.row[f"{base}{suffix}"]
            assert isinstance(v, float) and 0.5 <= v <= 1.0
        assert isinstance(agree, float) and 0.5 <= agree <= 1.0
    # sublevel sets of F = 1/2 - (|x| + |y|): first the four corners of the box (b0 = 4), then
    # the box minus a diamond (an annulus, b1 = 1), then the box
    assert r.row["lower_star_max_0"] == 4 and r.row["lower_star_max_1"] == 1
    ring = track_snapshot(Snapshot(0, network_from_dict(_ring())), SMALL)
    # sublevel sets of |x| + |y| - 1/2 are filled diamonds: connected, no hole
    assert ring.row["lower_star_max_0"] == 1 and ring.row["lower_star_max_1"] == 0

    cv = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    xy = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 1.0], [0.0, 2.0]])
    rnd, line = cut_baselines(np.zeros(5, dtype=bool), cv, xy)
    assert rnd == pytest.approx(4 / 6) and line == pytest.approx(4 / 6)  # the majority share
    perfect = np.array([False, False, True, True, False])
    rnd, line = cut_baselines(perfect, cv, xy, seed=1)
    assert 0.5 <= rnd < 1.0 and 0.5 <= line < 1.0
    assert cut_baselines(perfect, cv, xy, seed=1) == (rnd, line)  # seeded


def test_fiedler_figure_has_baselines_and_no_covering_legend(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """fiedler.png used to draw the best-sweep agreement (near 1 for a near-constant classifier)
    with no baseline, and its legend sat on the curves."""
    from exactcells import tracking_plots

    res = track(_snapshots(3), SMALL, points=POINTS, jobs=0)
    figs: list = []
    monkeypatch.setattr(tracking_plots, "_save", lambda fig, path, force, dpi=110: figs.append(fig))
    tracking_plots.save_fiedler_figure(res, tmp_path / "f.png")
    fig = figs[0]
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert not any("sweep" in lab for lab in labels)
    assert any("majority" in lab for lab in labels) and any("same area" in lab for lab in labels)
    maj = next(ln for ln in ax.get_lines() if "majority" in ln.get_label())
    assert np.allclose(maj.get_ydata(), res.series("majority_agreement"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the figure was closed after saving
    canvas.draw()
    renderer = canvas.get_renderer()
    for a in fig.axes[:2]:
        leg = a.get_legend()
        assert leg is not None
        box, frame = leg.get_window_extent(renderer), a.get_window_extent(renderer)
        assert not box.overlaps(frame)
    tracking_plots.save_signature_figure(res, tmp_path / "s.png")
    fig = figs[1]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legends = [a for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 3
    for a in legends:
        box = a.get_legend().get_window_extent(renderer)
        assert not any(box.overlaps(b.get_window_extent(renderer)) for b in fig.axes)
