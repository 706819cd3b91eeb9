"""The study grid of validation/paper/run_study.py: cells, seeded runs, per-run cache files.

A *cell* is one regime (training recipe) x task x architecture; a *run* is a cell and a seed.
Every run trains a network (:func:`exactcells.training.train`), tracks its snapshots
(:func:`exactcells.tracking.track`, cheap settings: 2 random filtrations per snapshot, no pixel
pipeline) and writes one JSON file ``RUNS/<regime>/<task>/<arch>/seed_<s>.json`` with the
configuration, the tracked rows, a subsampled training history and the timings. A run whose
file exists (same configuration) is not recomputed: the grid is resumable run by run, and
snapshot by snapshot inside a run (``CACHE/``, the tracker's own per-snapshot cache; not with a
remote scheduler). Runs are computed in this process (``jobs = 1``) or as one Dask task each
(:func:`exactcells.parallel.cluster`); their files are written here as the runs complete.

Regimes (the data parameters are those of :func:`exactcells.training.make_dataset`, not the
gtri tool's own generators; see REPORT.md for the differences):

* ``tool``: the regime of the authors' tool (gtri neural-network-elements): 50 points per class
  (100 points), plain gradient descent on the squared error (full batch here; targets -1/+1),
  lr 0.1, 1000 epochs;
* ``adamw``: the same data, AdamW lr 0.01, logistic loss, 1000 epochs;
* ``grokking``: the grokking recipe (:func:`exactcells.training.grokking_config`: 24 points,
  init x6, squared error, AdamW lr 1e-3, weight decay 0.3), 3000 epochs;
* ``reg-smooth``, ``reg-spiky``, ``reg-restarts``: the regression of ``x^2 + y^2 - 1.5``
  (2-16-16-1, 200 points) with AdamW lr 0.01, lr 0.05, and lr 0.02 with warm restarts every
  100 epochs; 1000 epochs, a snapshot every 50.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLASS_TASKS = ("annuli", "two_clusters", "xor", "spiral", "checkerboard", "half_plane")
GROK_TASKS = ("annuli", "xor", "two_clusters")
SMALL_ARCHS = ("2-4-3-1", "2-8-8-1", "2-16-16-1")
REGRESSION_REGIMES = ("reg-smooth", "reg-spiky", "reg-restarts")
CLASS_REGIMES = ("tool", "adamw", "grokking")
RUN_FORMAT = "exactcells-paper-study-run"
RUN_VERSION = 1
HISTORY_POINTS = 200  # the training history is kept at about this many epochs per run
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Cell:
    """One regime x task x architecture of the grid."""

    regime: str
    task: str
    arch: str

    @property
    def name(self) -> str:
        return f"{self.regime}/{self.task}/{self.arch}"

    @property
    def is_regression(self) -> bool:
        return self.regime in REGRESSION_REGIMES

    def config(self, seed: int) -> Any:
        """The :class:`~exactcells.training.TrainConfig` of this cell's run with ``seed``."""
        from exactcells.training import TrainConfig, grokking_config

        if self.regime == "tool":
            return TrainConfig(task=self.task, arch=self.arch, seed=seed, epochs=1000, every=200,
                               n_train=100, n_test=500, lr=0.1, loss="mse", optimizer="sgd")
        if self.regime == "adamw":
            return TrainConfig(task=self.task, arch=self.arch, seed=seed, epochs=1000, every=200,
                               n_train=100, n_test=500, lr=0.01, loss="bce")
        if self.regime == "grokking":
            return grokking_config(self.task, arch=self.arch, seed=seed, epochs=3000, every=600,
                                   n_test=1000)
        lr, restart = {"reg-smooth": (0.01, 0), "reg-spiky": (0.05, 0),
                       "reg-restarts": (0.02, 100)}[self.regime]
        return TrainConfig(task="regression", arch=self.arch, seed=seed, epochs=1000, every=50,
                           n_train=200, n_test=500, lr=lr, restart_every=restart)


def default_grid() -> list[Cell]:
    """The whole grid: 6 tasks x 3 small architectures in the tool and AdamW regimes, 2-32-32-1
    on three tasks in both, the grokking recipe (2-32-32-1 on three tasks, 2-16-16-1 on all
    six), and three regression regimes."""
    cells = [Cell(r, t, a) for r in ("tool", "adamw") for a in SMALL_ARCHS for t in CLASS_TASKS]
    cells += [Cell(r, t, "2-32-32-1") for r in ("tool", "adamw") for t in GROK_TASKS]
    cells += [Cell("grokking", t, "2-16-16-1") for t in CLASS_TASKS]
    cells += [Cell("grokking", t, "2-32-32-1") for t in GROK_TASKS]
    cells += [Cell(r, "regression", "2-16-16-1") for r in REGRESSION_REGIMES]
    return cells


def select(cells: Iterable[Cell], regimes: Sequence[str] | None = None,
           archs: Sequence[str] | None = None, tasks: Sequence[str] | None = None) -> list[Cell]:
    """The cells whose regime, architecture and task are in the given lists (``None``: any)."""
    return [c for c in cells if (regimes is None or c.regime in regimes)
            and (archs is None or c.arch in archs) and (tasks is None or c.task in tasks)]


def track_settings() -> Any:
    """The grid's tracking settings: 2 random filtrations per snapshot, no pixel pipeline."""
    from exactcells.tracking import TrackSettings

    return TrackSettings(repeats=2, seed=0, pixels=0)


def run_path(runs: Path, cell: Cell, seed: int) -> Path:
    return runs / cell.regime / cell.task / cell.arch / f"seed_{seed}.json"


def _subsample(history: dict[str, Sequence[float]], full_loss: bool) -> dict[str, Any]:
    """The history at about :data:`HISTORY_POINTS` epochs; with ``full_loss`` also the training
    loss at every epoch (``loss_full``, for finding loss spikes)."""
    n = len(history["loss"])
    step = max(1, n // HISTORY_POINTS)
    idx = list(range(0, n, step))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    out: dict[str, Any] = {"epoch": idx, **{k: [float(v[i]) for i in idx] for k, v in history.items()}}
    if full_loss:
        out["loss_full"] = [float(x) for x in history["loss"]]
    return out


def load_run(path: Path, config: Any | None = None) -> dict[str, Any] | None:
    """A run file, or ``None`` when it is missing, unreadable or of another configuration."""
    try:
        d: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if d.get("format") != RUN_FORMAT or d.get("version") != RUN_VERSION:
        return None
    if config is not None and d.get("config") != config.to_dict():
        return None
    return d


Job = tuple[str, str, str, int, str | None]  # regime, task, arch, seed, snapshot cache folder


def compute_run(job: Job) -> dict[str, Any]:
    """Train and track one run (in this process, or in a Dask worker); returns the run (the
    content of its file). Training sets PyTorch to one thread itself; BLAS threads are those of
    the process (one in the grid's workers and in-process runs, see :func:`run_grid`)."""
    regime, task, arch, seed, cache = job
    from exactcells.tracking import track
    from exactcells.training import train

    cell = Cell(regime, task, arch)
    cfg = cell.config(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    tr = train(cfg)
    t1, c1 = time.perf_counter(), time.process_time()
    res = track(tr.snapshots, track_settings(), points=tr.dataset.X_train.astype(float), jobs=0,
                cache_dir=None if cache is None else Path(cache) / regime / task / arch / f"seed_{seed}")
    t2, c2 = time.perf_counter(), time.process_time()
    return {"format": RUN_FORMAT, "version": RUN_VERSION, "regime": regime, "task": task,
            "arch": arch, "seed": seed, "config": cfg.to_dict(), "rows": res.rows(),
            "history": _subsample({k: list(v) for k, v in tr.history.items()}, cell.is_regression),
            "train_seconds": round(t1 - t0, 3), "track_seconds": round(t2 - t1, 3),
            "train_cpu_seconds": round(c1 - c0, 3), "track_cpu_seconds": round(c2 - c1, 3),
            "snapshot_seconds": [r.seconds for r in res.results], "cached_snapshots": res.cached,
            "pid": os.getpid()}


def save_run(runs: Path, d: dict[str, Any]) -> Path:
    """Write a run's file atomically (in the client: the workers need not see ``runs``)."""
    from exactcells.io import atomic_write_text

    path = run_path(runs, Cell(d["regime"], d["task"], d["arch"]), int(d["seed"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(d) + "\n", force=True)
    return path


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread in this process (for in-process runs, so that the float
    spectral results are those of the one-thread workers): through ``threadpoolctl`` when it is
    installed; otherwise the process keeps the thread count it started with (``run_study.py``
    sets ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` to 1, unless the user
    chose them, before NumPy is first imported)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _worker_paths() -> list[str]:
    """The folders a worker needs on its path: this folder (``study_grid``) and the one of the
    ``exactcells`` this process uses (so that workers run the same library as the client)."""
    import exactcells

    return [str(HERE), str(Path(exactcells.__file__).resolve().parents[1])]


@contextlib.contextmanager
def study_cluster(jobs: int, scheduler: str | None) -> Iterator[Any]:
    """:func:`exactcells.parallel.cluster` with the study's modules importable on the workers.

    * Local cluster: the workers are new processes started from this one's environment, so
      ``PYTHONPATH`` gets this folder and the library's (prepended, restored afterwards) before
      the cluster starts them; ``exactcells.parallel.cluster`` also sets one BLAS thread for
      them (and Dask's nannies set ``OMP_NUM_THREADS`` and friends to 1 by default).
    * Running scheduler (``--scheduler ADDRESS``): the workers may be on other machines, with
      other paths, and may join later; ``client.upload_file`` sends ``study_grid.py`` to every
      worker, present and future (Dask keeps it as a worker plugin). A plugin putting this
      folder on ``sys.path`` would only work where the workers see the same file system at the
      same path. The workers must have ``exactcells`` (and PyTorch) installed.
    """
    from exactcells.parallel import cluster

    saved = os.environ.get("PYTHONPATH")
    if scheduler is None:
        parts = [*_worker_paths(), *([saved] if saved else [])]
        os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    try:
        with cluster(jobs, scheduler) as client:
            if scheduler is not None:
                client.upload_file(str(HERE / "study_grid.py"))
            yield client
    finally:
        if scheduler is None:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved


def run_grid(cells: Sequence[Cell], seeds: Sequence[int], runs: Path, cache: Path | None, jobs: int,
             log: Callable[[str], None], scheduler: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every run of ``cells x seeds`` (from its file when it exists; the others computed and
    their files written as each finishes, so an interrupted grid resumes run by run).

    ``jobs = 1`` without ``scheduler``: in this process, BLAS on one thread
    (:func:`one_blas_thread`). Otherwise one Dask task per run on
    :func:`exactcells.parallel.cluster` (a local cluster of ``jobs`` one-thread worker
    processes, or the cluster at ``scheduler``), results gathered as they complete. The runs do
    not depend on where they ran: every run is seeded, PyTorch and BLAS use one thread, so the
    files are byte-identical (apart from timings and the process id) for any ``jobs``.
    ``cache`` (the tracker's per-snapshot results) is not used with ``scheduler``: its workers
    need not see this machine's folders.

    Returns the runs (in grid order) and how many were read from their files.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    todo: list[Job] = []
    done: dict[tuple[str, int], dict[str, Any]] = {}
    snap_cache = None if (cache is None or scheduler is not None) else str(cache)
    for c in cells:
        for s in seeds:
            d = load_run(run_path(runs, c, s), c.config(s))
            if d is not None:
                done[(c.name, s)] = d
            else:
                todo.append((c.regime, c.task, c.arch, s, snap_cache))
    reused = len(done)
    where = (f"on the Dask scheduler {scheduler}" if scheduler is not None
             else "in this process" if jobs == 1 else f"on a local Dask cluster of {min(jobs, len(todo))} workers")
    log(f"{reused} of {reused + len(todo)} runs from their files; {len(todo)} to compute {where}")
    t0 = time.perf_counter()

    def note(d: dict[str, Any]) -> None:
        save_run(runs, d)
        done[(f"{d['regime']}/{d['task']}/{d['arch']}", d["seed"])] = d
        k = len(done) - reused
        log(f"[{k}/{len(todo)}] {d['regime']}/{d['task']}/{d['arch']} seed {d['seed']}: "
            f"train {d['train_seconds']:.1f} s, track {d['track_seconds']:.1f} s "
            f"({time.perf_counter() - t0:.0f} s elapsed)")

    if todo and jobs == 1 and scheduler is None:
        with one_blas_thread():
            for job in todo:
                note(compute_run(job))
    elif todo:
        from distributed import as_completed

        with study_cluster(min(jobs, len(todo)), scheduler) as client:
            futs = [client.submit(compute_run, job, pure=False) for job in todo]
            try:
                for f in as_completed(futs):
                    note(f.result())
            except BaseException:
                client.cancel(futs)
                raise
    out = [done[(c.name, s)] for c in cells for s in seeds if (c.name, s) in done]
    return out, reused
