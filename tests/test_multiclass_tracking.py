"""k-class training (cross-entropy, seeded) and tracking on the argmax complex."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from argmax_helpers import argmax_complex

from exactcells import Domain, build_complex, network_from_dict
from exactcells.dual import dual_graph, region_argmax_volumes
from exactcells.spectral import kway_agreement, kway_partition
from exactcells.topology.filtrations import margin_filtration
from exactcells.topology.homology import homology
from exactcells.topology.persistence import persistence
from exactcells.topology.subcomplex import class_region, decision_boundary, junctions
from exactcells.tracking import MULTICLASS_SIGNATURE_COLUMNS, Snapshot, TrackSettings, columns, track
from exactcells.training import (
    MULTICLASS_TASKS,
    TrainConfig,
    TrainingError,
    make_dataset,
    num_outputs,
    parse_arch,
)

SMALL = TrackSettings(domain=Domain.box(2, -1, 1), repeats=2, seed=0, pixels=30)


def three_class_net(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"layers": [{"W": rng.integers(-4, 5, size=(5, 2)).tolist(),
                        "b": [f"{v}/3" for v in rng.integers(-3, 4, size=5)]},
                       {"W": rng.integers(-3, 4, size=(3, 5)).tolist(),
                        "b": [f"{v}/2" for v in rng.integers(-2, 3, size=3)]}]}


def test_multiclass_tasks_and_configs() -> None:
    assert MULTICLASS_TASKS == {"spiral3": 3, "blobs3": 3, "digits": 10}
    for task in ("spiral3", "blobs3"):
        d = make_dataset(task, n_train=30, n_test=9, seed=2)
        assert sorted(set(d.y_train.tolist())) == [0.0, 1.0, 2.0]
        assert d.num_classes == 3 and d.is_classification
        assert np.all(np.abs(d.X_train) <= 3)
        assert make_dataset(task, n_train=30, n_test=9, seed=2) == d
        assert num_outputs(task) == 3
    assert TrainConfig(task="spiral3", arch="2-8-3").loss == "ce"
    assert parse_arch("2-8-3", 3) == (2, 8, 3)
    with pytest.raises(TrainingError, match="end with 3"):
        TrainConfig(task="blobs3", arch="2-8-1")
    with pytest.raises(TrainingError, match="cross-entropy"):
        TrainConfig(task="blobs3", arch="2-8-3", loss="mse")
    with pytest.raises(TrainingError, match="'bce' or 'mse'"):
        TrainConfig(task="xor", loss="ce")


def test_multiclass_training_is_seeded_and_reproducible() -> None:
    pytest.importorskip("torch")
    from exactcells.training import train

    cfg = TrainConfig(task="blobs3", arch="2-6-3", epochs=40, every=20, n_train=60, n_test=30, seed=3)
    a, b = train(cfg), train(cfg)
    assert [s.network for s in a.snapshots] == [s.network for s in b.snapshots]
    assert [s.epoch for s in a.snapshots] == [0, 20, 40]
    assert a.snapshots[-1].network.output_dim == 3
    # cross-entropy falls and the accuracy is that of the argmax, recomputed in exact arithmetic
    assert a.history["loss"][-1] < a.history["loss"][0]
    net = a.snapshots[-1].network
    X, y = a.dataset.X_train, a.dataset.y_train
    pred = [max(range(3), key=net.forward(tuple(Fraction(float(v)) for v in x)).__getitem__) for x in X]
    acc = float(np.mean(np.array(pred) == y))
    assert abs(acc - float(a.snapshots[-1].accuracy or 0)) <= 1.5 / len(y)  # float32 ties aside


def test_track_three_classes_against_recomputation() -> None:
    snaps = [Snapshot(i, network_from_dict(three_class_net(i)), loss=1.0 / (i + 1)) for i in range(3)]
    res = track(snaps, SMALL, jobs=0)
    assert res.settings.classes == 3
    assert res.columns == columns(2, 3)
    for c in ("class0_b0", "class2_b1", "junction_cells", "kway_agreement", "margin_h0_pairs"):
        assert c in res.columns
    assert set(MULTICLASS_SIGNATURE_COLUMNS) <= set(res.columns)
    dom = SMALL.domain
    for s, r in zip(snaps, res.results):
        R = argmax_complex(s.network, dom)
        K = build_complex(s.network, dom)
        for j in range(3):
            b = homology(class_region(R, j), "q").betti
            assert (r.row[f"class{j}_b0"], r.row[f"class{j}_b1"]) == (b[0], b[1])
        b = homology(decision_boundary(R), "q").betti
        assert (r.row["boundary_b0"], r.row["boundary_b1"]) == (b[0], b[1])
        assert r.row["junction_cells"] == junctions(R).num_cells
        assert r.row["refined_regions"] == R.num_regions
        G = dual_graph(K)
        if G.num_nodes >= 3:
            ka = kway_agreement(kway_partition(G, 3, seed=0).labels, region_argmax_volumes(K, R))
            assert r.row["kway_agreement"] == pytest.approx(ka.volume_agreement_float, abs=1e-12)
        assert r.row["fiedler_agreement"] is None and r.row["paper_agreement"] is None
        # the margin's exact persistence (on the top-two refinement where needed)
        F = margin_filtration(R)
        P = persistence(F)
        for d in range(2):
            pairs = [(b, e) for b, e in P.exact_pairs(d) if e is not None and e != b]
            assert r.row[f"margin_h{d}_pairs"] == len(pairs)
            assert r.row[f"margin_h{d}_total"] == pytest.approx(float(sum(e - b for b, e in pairs)), abs=1e-12)
        assert r.row["margin_refined_cells"] == F.refined
    assert "kway_agreement" in res.to_csv().splitlines()[0]


def test_track_cli_three_classes(tmp_path: object) -> None:
    pytest.importorskip("torch")
    import json
    from pathlib import Path

    from exactcells.cli import main

    out = Path(str(tmp_path)) / "t"
    code = main(["track", "--task", "blobs3", "--arch", "2-5-3", "--epochs", "20", "--every", "10",
                 "--box", "-3", "3", "--repeats", "1", "--pixels", "0", "--jobs", "0", "--no-gif",
                 "-o", str(out), "--no-progress"])
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["classes"] == 3
    head = (out / "track.csv").read_text().splitlines()[0].split(",")
    assert "class1_b1" in head and "kway_agreement" in head
