"""validation/paper: the study grid, its statistics and run_study.py's handling of its output
folder (no training here: runs are fabricated where a run is needed)."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PAPER = Path(__file__).resolve().parents[1] / "validation" / "paper"
sys.path.insert(0, str(PAPER))
stats: Any = importlib.import_module("stats")
sg: Any = importlib.import_module("study_grid")
rs: Any = importlib.import_module("run_study")


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    v = [0.61, 0.55, 0.72, 0.64, 0.58, 0.69, 0.6, 0.66, 0.7, 0.52]
    a, b = stats.bootstrap(v), stats.bootstrap(v)
    assert a == b and a.n == 10 and a.lo < a.est < a.hi
    assert a.est == pytest.approx(np.mean(v))
    assert stats.bootstrap([None, float("nan")]).n == 0
    assert stats.bootstrap([0.3]).fmt() == "0.30 (1 run)"
    wide = stats.bootstrap([0.0, 1.0] * 5)
    assert wide.hi - wide.lo > a.hi - a.lo


def test_paired_effect_and_sign_of_interval() -> None:
    a = [0.8, 0.82, 0.79, 0.85, 0.81]
    b = [0.6, 0.65, 0.61, 0.62, 0.6]
    e = stats.paired_effect(a, b)
    assert e.diff.est == pytest.approx(np.mean(np.subtract(a, b)))
    assert e.diff.excludes_zero == 1 and e.d_z > 3
    assert stats.paired_effect(b, a).diff.excludes_zero == -1
    assert stats.paired_effect(a, [x + 0.01 * (-1) ** i for i, x in enumerate(a)]).diff.excludes_zero == 0


def test_changes_are_not_levels() -> None:
    """Two series that both trend down correlate in level; their changes need not."""
    rng = np.random.default_rng(0)
    t = np.arange(40, dtype=float)
    x = -t + rng.normal(0, 0.5, 40)
    y = -t + rng.normal(0, 0.5, 40)
    assert stats.spearman(x, y) > 0.95
    assert abs(stats.spearman_of_changes(x, y)) < 0.4
    assert stats.spearman_of_changes(x, 2 * x) == pytest.approx(1.0)
    assert stats.spearman([1, 1, 1], [1, 2, 3]) is None


def test_loss_spikes_and_generalisation_phase() -> None:
    assert stats.loss_spikes([1.0, 0.5, 0.4, 1.5, 0.9, 0.3, 0.2, 0.9, 0.1]) == [3, 7]
    assert stats.loss_spikes(np.linspace(1, 0.1, 50).tolist()) == []
    ep = [0, 10, 20, 30, 40]
    assert stats.generalisation_phase(ep, [0.5, 1, 1, 1, 1], [0.5, 0.6, 0.8, 0.95, 0.96]) == (10, 30)
    assert stats.generalisation_phase(ep, [0.5] * 5, [0.5] * 5) == (None, None)


def test_grid_covers_the_regimes_of_the_issue() -> None:
    grid = sg.default_grid()
    assert len({c.name for c in grid}) == len(grid)
    archs = {c.arch for c in grid}
    assert {"2-4-3-1", "2-32-32-1"} <= archs
    tool = [c for c in grid if c.regime == "tool"]
    assert {c.task for c in tool} == set(sg.CLASS_TASKS)
    cfg = tool[0].config(3)
    assert cfg.optimizer == "sgd" and cfg.loss == "mse" and cfg.n_train == 100 and cfg.seed == 3
    grok = [c for c in grid if c.regime == "grokking"][0].config(0)
    assert grok.n_train == 24 and grok.init_scale == 6 and grok.weight_decay > 0
    spiky = sg.Cell("reg-spiky", "regression", "2-16-16-1").config(0)
    restarts = sg.Cell("reg-restarts", "regression", "2-16-16-1").config(0)
    assert spiky.lr > sg.Cell("reg-smooth", "regression", "2-16-16-1").config(0).lr
    assert restarts.restart_every > 0
    for c in grid:  # every configuration is valid and snapshots start at epoch 0
        assert c.config(0).every <= c.config(0).epochs
    assert sg.select(grid, ["tool"], ["2-4-3-1"], ["xor"]) == [sg.Cell("tool", "xor", "2-4-3-1")]


def _fake_run(cell: Any, seed: int) -> dict[str, Any]:
    from exactcells.tracking import columns

    cfg = cell.config(seed)
    rows = []
    for i, e in enumerate((0, 500, 1000)):
        row: dict[str, Any] = dict.fromkeys(columns(2))
        row.update(epoch=e, loss=1.0 / (i + 1), accuracy=0.5 + 0.25 * i, test_loss=1.0 / (i + 1),
                   test_accuracy=0.5 + 0.2 * i, num_regions=20 + i + seed, training_points_inside=100,
                   fiedler_agreement_weighted=0.6 + 0.1 * i, fiedler_agreement=0.6 + 0.05 * i,
                   majority_agreement=0.55, line_cut_agreement_weighted=0.58,
                   random_cut_agreement_weighted=0.52, fiedler_sweep_agreement_weighted=0.9,
                   betti_maxima_give_f=1)
        rows.append(row)
    return {"format": sg.RUN_FORMAT, "version": sg.RUN_VERSION, "regime": cell.regime, "task": cell.task,
            "arch": cell.arch, "seed": seed, "config": cfg.to_dict(), "rows": rows,
            "history": {"epoch": [0, 1000], "loss": [1.0, 0.3], "test_loss": [1.0, 0.3],
                        "accuracy": [0.5, 1.0], "test_accuracy": [0.5, 0.9], "loss_full": [1.0, 0.3]},
            "train_seconds": 10.0, "track_seconds": 5.0, "train_cpu_seconds": 2.0,
            "track_cpu_seconds": 1.0, "snapshot_seconds": [0.1] * 3, "cached_snapshots": 0}


def test_run_files_are_checked_against_their_configuration(tmp_path: Path) -> None:
    cell = sg.Cell("tool", "xor", "2-4-3-1")
    p = sg.run_path(tmp_path, cell, 2)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(_fake_run(cell, 2)))
    assert sg.load_run(p, cell.config(2)) is not None
    assert sg.load_run(p, cell.config(3)) is None  # another seed: stale
    assert sg.load_run(tmp_path / "missing.json") is None


def test_run_study_needs_out_and_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """run_study.py used to write into the source tree by default and overwrite REPORT.md."""
    with pytest.raises(SystemExit):
        rs.parse_args([])
    (tmp_path / "REPORT.md").write_text("old report\n")
    assert rs.main(["--out", str(tmp_path), "--report-only"]) == 2
    assert (tmp_path / "REPORT.md").read_text() == "old report\n"
    assert "--force" in capsys.readouterr().err


def test_report_keeps_marker_blocks_and_measures_its_cost(tmp_path: Path) -> None:
    cell = sg.Cell("tool", "xor", "2-4-3-1")
    for s in range(3):
        p = sg.run_path(tmp_path / "runs", cell, s)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(_fake_run(cell, s)))
    block = "<!-- multiclass:begin -->\n## Multiclass\n\nkept text\n<!-- multiclass:end -->"
    (tmp_path / "REPORT.md").write_text(f"# old\n\n{block}\n\nold tail\n")
    argv = ["--out", str(tmp_path), "--report-only", "--force", "--seeds", "3", "--regimes", "tool",
            "--archs", "2-4-3-1", "--tasks", "xor"]
    assert rs.main(argv, log=lambda m: None) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert block in text and "old tail" not in text
    assert "about 9 min" not in text
    # 3 seeds x (2 + 1) CPU seconds: the projection comes from the measured runs
    assert "**0 CPU-minutes**" in text and "| tool/xor/2-4-3-1 | 3 | 2.0 | 1.0 | 15 |" in text
    assert (tmp_path / "data" / "grid_runs.csv").read_text().count("\n") == 1 + 3 * 3
    assert (tmp_path / "fig_claim1_forest.png").is_file()
    cm = rs.cost_model([_fake_run(cell, 0)], [cell, sg.Cell("tool", "annuli", "2-4-3-1")], 10)
    assert cm["projected"][cell] == pytest.approx(30.0)
    assert sg.Cell("tool", "annuli", "2-4-3-1") in cm["projected"] and not cm["unmeasured"]


# -- the grid on the Dask layer (real training: one cheap cell, 2 seeds) -----------------------

TINY = ["--seeds", "2", "--regimes", "tool", "--archs", "2-4-3-1", "--tasks", "half_plane"]
TIMING = ("train_seconds", "track_seconds", "train_cpu_seconds", "track_cpu_seconds", "snapshot_seconds",
          "cached_snapshots", "pid")


def _run_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "runs").rglob("*.json"))}


def _without_timing(b: bytes) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(b)
    return {k: v for k, v in d.items() if k not in TIMING}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """The tiny grid in this process (--jobs 1) and on a local Dask cluster of 2 workers."""
    pytest.importorskip("torch")
    pytest.importorskip("distributed")
    one, two = tmp_path_factory.mktemp("jobs1"), tmp_path_factory.mktemp("jobs2")
    cell = sg.Cell("tool", "half_plane", "2-4-3-1")  # = TINY; here without the report and figures
    runs, _ = sg.run_grid([cell], [0, 1], one / "runs", one / "cache", 1, lambda m: None)
    rs.write_data(runs, one / "data")
    logs: list[str] = []
    assert rs.main(["--out", str(two), "--jobs", "2", *TINY], log=logs.append) == 0
    return one, two, logs


def test_dask_grid_is_byte_identical_to_one_process(tiny_runs: tuple[Path, Path, list[str]]) -> None:
    one, two, logs = tiny_runs
    assert any("local Dask cluster of 2 workers" in m for m in logs)
    a, b = _run_files(one), _run_files(two)
    assert list(a) == list(b) and len(a) == 2
    for k in a:  # the same runs (only the timings and the process differ)
        assert _without_timing(a[k]) == _without_timing(b[k])
    pids = {json.loads(b[k])["pid"] for k in b}
    assert os.getpid() not in pids  # computed in the workers, not here
    assert {json.loads(a[k])["pid"] for k in a} == {os.getpid()}
    data = (one / "data" / "grid_runs.csv").read_bytes()
    assert data == (two / "data" / "grid_runs.csv").read_bytes()
    assert data.count(b"\n") == 1 + 2 * 6  # header, 2 seeds x 6 snapshots
    head = (two / "REPORT.md").read_text().split("\n## ")[0]
    assert "runs on a local Dask cluster of 2 workers" in head and "CPU-minutes (this process and its workers)" in head
    seeds = {json.loads(a[k])["config"]["seed"] for k in a}
    assert seeds == {0, 1} and len({json.dumps(json.loads(a[k])["rows"]) for k in a}) == 2


def test_resume_recomputes_only_the_missing_run(tiny_runs: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    import shutil

    _, two, _ = tiny_runs
    out = tmp_path / "study"
    shutil.copytree(two, out)
    before = _run_files(out)
    gone = sorted(before)[1]
    (out / gone).unlink()
    shutil.rmtree(out / "cache")  # no snapshot cache either: the run is really recomputed
    logs: list[str] = []
    assert rs.main(["--out", str(out), "--jobs", "1", "--force", *TINY], log=logs.append) == 0
    assert any("1 of 2 runs from their files; 1 to compute" in m for m in logs)
    after = _run_files(out)
    kept = sorted(before)[0]
    assert after[kept] == before[kept]  # not recomputed: same timings and process id
    redone = json.loads(after[gone])
    assert redone["pid"] == os.getpid() and redone["pid"] != json.loads(before[gone])["pid"]
    assert _without_timing(after[gone]) == _without_timing(before[gone])
    assert (out / "data" / "grid_runs.csv").read_bytes() == (two / "data" / "grid_runs.csv").read_bytes()


def _module_and_folder(dask_worker: Any) -> tuple[str | None, str]:
    return sys.modules["study_grid"].__file__, dask_worker.local_directory


def test_grid_on_a_running_scheduler_uploads_its_module(tiny_runs: tuple[Path, Path, list[str]],
                                                        tmp_path: Path) -> None:
    """--scheduler: the study's module is sent to the workers (they need not see this folder)."""
    from distributed import Client, LocalCluster

    one, _, _ = tiny_runs
    cell = sg.Cell("tool", "half_plane", "2-4-3-1")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as lc:
        runs, reused = sg.run_grid([cell], [1], tmp_path / "runs", tmp_path / "cache", 1, lambda m: None,
                                   scheduler=lc.scheduler_address)
        assert reused == 0 and not (tmp_path / "cache").exists()  # no snapshot cache on a remote cluster
        with Client(lc) as c:
            where = c.run(_module_and_folder)
    for f, local in where.values():  # the uploaded copy, in the worker's own folder
        assert Path(f).resolve().parent == Path(local).resolve()
    mine = sg.run_path(one / "runs", cell, 1).read_bytes()
    assert _without_timing(sg.run_path(tmp_path / "runs", cell, 1).read_bytes()) == _without_timing(mine)
    assert runs[0]["rows"] == json.loads(mine)["rows"]


def test_jobs_and_seeds_are_checked() -> None:
    for bad in (["--jobs", "0"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            rs.parse_args(["--out", "x", *bad])


def test_legends_sit_below_the_axes_inside_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The legends used to cover curves, then to fall partly off the bottom of the image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[Any] = []
    close = plt.close
    monkeypatch.setattr(plt, "close", figs.append)
    cells = [sg.Cell("tool", "xor", "2-4-3-1"), sg.Cell("adamw", "annuli", "2-8-8-1"),
             sg.Cell("grokking", "xor", "2-16-16-1"), sg.Cell("grokking", "annuli", "2-16-16-1"),
             sg.Cell("grokking", "spiral", "2-16-16-1"), sg.Cell("grokking", "xor", "2-32-32-1")]
    runs = rs.group([_fake_run(c, s) for c in cells for s in range(3)])
    rows = rs.claim1_rows(runs)
    assert rs.fig_claim1_forest(rows, tmp_path) and rs.fig_claim1_curves(runs, tmp_path)
    assert rs.fig_grokking(runs, tmp_path)
    assert len(figs) == 3
    for fig in figs:
        renderer = fig.canvas.get_renderer()
        (leg,) = fig.legends
        box = leg.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width and 0 <= box.y0 and box.y1 <= fig.bbox.height
        for ax in fig.axes:
            if ax.axison:
                assert not box.overlaps(ax.get_tightbbox(renderer)), ax.get_title()
        close(fig)
