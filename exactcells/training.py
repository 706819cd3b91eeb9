"""Seeded tasks, small MLPs and training runs that save exact network snapshots.

The tasks are those of arXiv 2510.12700 (see the README): binary classification of points of the
box ``[-3, 3]^2`` (``annuli``, ``two_clusters``, ``xor``, ``spiral``, ``checkerboard``,
``half_plane``) and the regression of ``x^2 + y^2 - 1.5`` (``regression``), plus two 3-class
tasks for the multiclass study the paper leaves open (``spiral3``: three interleaved spiral
arms; ``blobs3``: three Gaussian blobs; one output per class, cross-entropy), and ``digits``:
scikit-learn's 8x8 digits (64 inputs, pixel values divided by 16 so that they lie in ``[0, 1]``,
10 classes, cross-entropy; needs scikit-learn), tracked through a fixed plane of the input space
(:attr:`exactcells.tracking.TrackSettings.slice`). The datasets are plain numpy (no PyTorch
needed): float32 coordinates, so that the exact value of every training point (its binary value,
:func:`exactcells.numbers.to_rational`) is exactly what the network saw.

Training needs the optional PyTorch extra (``pip install 'exactcells[torch]'``); torch is
imported lazily, inside :func:`train`. A run is reproducible: the dataset comes from
``numpy.random.default_rng`` seeded with the run's seed, the initial weights from
``torch.manual_seed(init_seed(task, seed))`` (so each task starts from its own network), training is full-batch (no shuffling), single-threaded and with
deterministic algorithms, so the same configuration gives bit-identical snapshots.

Snapshots are taken at epochs ``0, every, 2 every, ..., epochs`` and saved as network JSON files
``epoch_000100.json`` (README.md, "Formats": exact strings for the float32 weights) with extra keys
``epoch``, ``loss``, ``accuracy``, ``test_loss``, ``test_accuracy`` (ignored by the network
loader; see :func:`exactcells.tracking.load_snapshots`). ``loss`` and ``accuracy`` are measured on
the training set at the snapshot's weights; ``accuracy`` is ``None`` for the regression task.

Grokking (:func:`grokking_config`): following the "Omnigrok" account of grokking (Liu, Michaud
and Tegmark, 2023), a small training set, a large initialisation (weights scaled up by
``init_scale``), squared-error loss and decoupled weight decay (AdamW). The network first fits
the training set with a large-norm, poorly generalising function; weight decay then shrinks the
weights slowly, and the test accuracy rises late, long after the training accuracy reached
100 %. The settings and the curves are in ``validation/paper/REPORT.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DependencyMissingError, TrainingError
from .tracking import TRAINING_POINTS_FILE, Snapshot, snapshot_filename, snapshot_to_dict

__all__ = [
    "TASKS",
    "CLASSIFICATION_TASKS",
    "MULTICLASS_TASKS",
    "num_outputs",
    "input_dim",
    "DIGITS_IMAGES",
    "BOX",
    "Dataset",
    "TrainConfig",
    "TrainingRun",
    "make_dataset",
    "parse_arch",
    "grokking_config",
    "init_seed",
    "snapshot_epochs",
    "train",
    "save_run",
    "save_training_points",
    "TrainingError",
]

CLASSIFICATION_TASKS = ("annuli", "two_clusters", "xor", "spiral", "checkerboard", "half_plane")
# k-class tasks (one output per class, cross-entropy; the class is the largest output)
MULTICLASS_TASKS = {"spiral3": 3, "blobs3": 3, "digits": 10}
TASKS = (*CLASSIFICATION_TASKS, *MULTICLASS_TASKS, "regression")
BOX = 3.0  # the 2-D tasks' data live in [-BOX, BOX]^2, the paper's box
# tasks whose inputs are not 2-D (their networks are tracked through a plane)
INPUT_DIMS = {"digits": 64}
DIGITS_IMAGES = 1797  # scikit-learn's 8x8 digits



def num_outputs(task: str) -> int:
    """Output neurons of a task's networks: 1 (binary classification, regression) or the
    number of classes of a multiclass task."""
    if task not in TASKS:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return MULTICLASS_TASKS.get(task, 1)


def input_dim(task: str) -> int:
    """Inputs of a task's networks: 2 for the 2-D tasks, 64 for ``digits``."""
    if task not in TASKS:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return INPUT_DIMS.get(task, 2)


# -- datasets -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Dataset:
    """A seeded dataset (float32 arrays, read-only).

    Attributes
    ----------
    task
        One of :data:`TASKS`.
    X_train, y_train, X_test, y_test
        Points of shape ``(N, n)`` (``n = 2``; 64 for ``digits``) and targets of shape ``(N,)``:
        labels 0/1 for binary classification (class 1 is predicted where the network output is
        positive), ``0 .. k-1`` for ``k`` classes, real values for regression.
    seed
        The seed that generated it.
    """

    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    seed: int

    @property
    def is_classification(self) -> bool:
        return self.task in CLASSIFICATION_TASKS or self.task in MULTICLASS_TASKS

    @property
    def num_classes(self) -> int:
        """2 for binary classification, ``k`` for a multiclass task, 0 for regression."""
        return MULTICLASS_TASKS.get(self.task, 2 if self.task in CLASSIFICATION_TASKS else 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return (self.task == other.task and self.seed == other.seed
                and all(np.array_equal(getattr(self, a), getattr(other, a))
                        for a in ("X_train", "y_train", "X_test", "y_test")))

    __hash__ = None  # type: ignore[assignment]


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-BOX, BOX, size=(n, 2))


def _sample(task: str, rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of ``task`` (float64, clipped to the box) and their targets."""
    if task == "annuli":
        y = (np.arange(n) % 2).astype(float)
        r = np.where(y == 1, rng.uniform(0.4, 1.2, n), rng.uniform(1.8, 2.7, n))
        t = rng.uniform(0, 2 * np.pi, n)
        X = np.c_[r * np.cos(t), r * np.sin(t)] + noise * rng.normal(size=(n, 2))
    elif task == "two_clusters":
        y = (np.arange(n) % 2).astype(float)
        centers = np.where(y[:, None] == 1, 1.2, -1.2)
        X = centers + (0.6 + noise) * rng.normal(size=(n, 2))
    elif task == "xor":
        X = _uniform(rng, n)
        y = (X[:, 0] * X[:, 1] > 0).astype(float)
        X = X + noise * rng.normal(size=(n, 2))
    elif task == "spiral":
        y = (np.arange(n) % 2).astype(float)
        s = rng.uniform(0, 1, n)
        r = 0.3 + 2.5 * s
        t = 2.5 * np.pi * s + np.pi * y
        X = np.c_[r * np.cos(t), r * np.sin(t)] + noise * rng.normal(size=(n, 2))
    elif task == "checkerboard":
        X = _uniform(rng, n)
        cell = np.floor((X + BOX) / 2.0).astype(int)  # a 3 x 3 board of squares of side 2
        y = ((cell[:, 0] + cell[:, 1]) % 2).astype(float)
        X = X + noise * rng.normal(size=(n, 2))
    elif task == "half_plane":
        X = _uniform(rng, n)
        y = (X[:, 0] + 0.5 * X[:, 1] - 0.3 > 0).astype(float)
        X = X + noise * rng.normal(size=(n, 2))
    elif task == "spiral3":  # three arms, 2 pi / 3 apart, each turning 1.5 pi
        y = (np.arange(n) % 3).astype(float)
        s = rng.uniform(0, 1, n)
        r = 0.3 + 2.5 * s
        t = 1.5 * np.pi * s + 2 * np.pi * y / 3
        X = np.c_[r * np.cos(t), r * np.sin(t)] + noise * rng.normal(size=(n, 2))
    elif task == "blobs3":  # three Gaussian blobs on a circle of radius 1.6
        y = (np.arange(n) % 3).astype(float)
        a = np.pi / 2 + 2 * np.pi * y / 3
        X = np.c_[1.6 * np.cos(a), 1.6 * np.sin(a)] + (0.6 + noise) * rng.normal(size=(n, 2))
    elif task == "regression":
        X = _uniform(rng, n)
        y = X[:, 0] ** 2 + X[:, 1] ** 2 - 1.5 + noise * rng.normal(size=n)
    else:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return np.clip(X, -BOX, BOX), y


def _digits(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n_train + n_test`` distinct images of scikit-learn's digits (a seeded permutation),
    pixel values / 16 (exact multiples of 1/16 in ``[0, 1]``)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyMissingError("the digits task needs scikit-learn: pip install scikit-learn") from e
    if n_train + n_test > DIGITS_IMAGES:
        raise TrainingError(f"the digits task has {DIGITS_IMAGES} images: n_train + n_test = "
                            f"{n_train + n_test} is too many")
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(np.random.SeedSequence(seed)).permutation(len(X))
    tr, te = perm[:n_train], perm[n_train : n_train + n_test]
    X = X / 16.0
    return X[tr], y[tr], X[te], y[te]


def make_dataset(task: str, n_train: int = 200, n_test: int = 1000, seed: int = 0,
                 noise: float = 0.05) -> Dataset:
    """A seeded dataset of one of the paper's 2-D tasks.

    Parameters
    ----------
    task
        One of :data:`TASKS`.
    n_train, n_test
        Sizes of the training and test sets (independent draws).
    seed
        Seed of ``numpy.random.default_rng`` (training and test sets come from two spawned
        streams, so ``n_test`` does not change the training set).
    noise
        Standard deviation of Gaussian noise on the coordinates (on the target for regression).

    Returns
    -------
    Dataset
        float32 points in ``[-3, 3]^2``; for ``digits``, distinct images (a permutation seeded
        with ``seed``; ``noise`` is not used) in ``[0, 1]^64``.

    Examples
    --------
    >>> d = make_dataset("xor", n_train=8, n_test=4, seed=1)
    >>> d.X_train.shape, d.X_train.dtype, sorted(set(d.y_train.tolist())) <= [0.0, 1.0]
    ((8, 2), dtype('float32'), True)
    >>> make_dataset("xor", n_train=8, n_test=4, seed=1) == d
    True
    """
    if task not in TASKS:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if n_train < 1 or n_test < 0:
        raise TrainingError(f"need n_train >= 1 and n_test >= 0, got {n_train} and {n_test}")
    if task == "digits":
        Xtr, ytr, Xte, yte = _digits(n_train, n_test, seed)
    else:
        train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
        Xtr, ytr = _sample(task, np.random.default_rng(train_ss), n_train, noise)
        Xte, yte = _sample(task, np.random.default_rng(test_ss), n_test, noise)
    a = [Xtr.astype(np.float32), ytr.astype(np.float32), Xte.astype(np.float32), yte.astype(np.float32)]
    for x in a:
        x.setflags(write=False)
    return Dataset(task, a[0], a[1], a[2], a[3], seed)


# -- configurations -------------------------------------------------------------------------


def parse_arch(arch: str | Sequence[int], outputs: int = 1, inputs: int = 2) -> tuple[int, ...]:
    """Layer widths from an architecture string such as ``"2-16-16-1"`` (starting with
    ``inputs``, ending in ``outputs``).

    Examples
    --------
    >>> parse_arch("2-16-16-1")
    (2, 16, 16, 1)
    """
    if isinstance(arch, str):
        parts = arch.strip().split("-")
        try:
            widths = tuple(int(p) for p in parts)
        except ValueError:
            raise TrainingError(f"architecture {arch!r}: expected widths like '2-16-16-1'") from None
    else:
        widths = tuple(int(w) for w in arch)
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise TrainingError(f"architecture {arch!r}: need at least two positive widths")
    if widths[0] != inputs or widths[-1] != outputs:
        raise TrainingError(
            f"architecture {arch!r}: the task has {inputs} inputs and {outputs} output(s), so it "
            f"must start with {inputs} and end with {outputs} (e.g. '{inputs}-16-16-{outputs}')"
        )
    return widths


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that determines a training run (and so its snapshots, bit for bit).

    Attributes
    ----------
    task, arch, seed
        The task (:data:`TASKS`), the widths (``"2-16-16-1"``) and the seed of data and weights.
    epochs, every
        Number of full-batch steps, and the snapshot interval (snapshots at multiples of
        ``every`` and at ``epochs``).
    n_train, n_test, noise
        Dataset sizes and noise (:func:`make_dataset`).
    lr, weight_decay
        Learning rate and weight decay (AdamW: decoupled; SGD: an L2 term in the gradient).
    init_scale
        Factor applied to every initial weight and bias (PyTorch's default initialisation
        otherwise); values above 1 with weight decay give grokking.
    loss
        Classification: ``"bce"`` (logistic loss on the labels 0/1) or ``"mse"`` (squared error
        to the targets -1/+1); regression always uses the squared error. Either way class 1 is
        predicted where the output is positive. Multiclass tasks (:data:`MULTICLASS_TASKS`)
        use ``"ce"``, the cross-entropy of the softmax of the ``k`` outputs (``"bce"``, the
        default, is read as ``"ce"`` there); the predicted class is the largest output.
    optimizer
        ``"adamw"`` (default) or ``"sgd"`` (plain full-batch gradient descent, no momentum).
    restart_every
        When positive, the optimiser's state is reset every ``restart_every`` epochs (a warm
        restart: AdamW's moment estimates start again from zero, which makes loss spikes at
        larger learning rates); 0: never.
    """

    task: str = "xor"
    arch: str = "2-16-16-1"
    epochs: int = 1000
    every: int = 50
    seed: int = 0
    n_train: int = 200
    n_test: int = 1000
    noise: float = 0.05
    lr: float = 0.01
    weight_decay: float = 0.0
    init_scale: float = 1.0
    loss: str = "bce"
    optimizer: str = "adamw"
    restart_every: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise TrainingError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        multi = self.task in MULTICLASS_TASKS
        if multi and self.loss == "bce":
            object.__setattr__(self, "loss", "ce")
        parse_arch(self.arch, num_outputs(self.task), input_dim(self.task))
        if self.epochs < 0 or self.every < 1:
            raise TrainingError(f"need epochs >= 0 and every >= 1, got {self.epochs} and {self.every}")
        if not (self.lr > 0 and self.weight_decay >= 0 and self.init_scale > 0):
            raise TrainingError("need lr > 0, weight_decay >= 0 and init_scale > 0")
        if multi and self.loss != "ce":
            raise TrainingError(f"the multiclass task {self.task!r} trains with cross-entropy "
                                f"(loss 'ce'), not {self.loss!r}")
        if not multi and self.loss not in ("bce", "mse"):
            raise TrainingError(f"loss must be 'bce' or 'mse', not {self.loss!r}")
        if self.optimizer not in ("adamw", "sgd"):
            raise TrainingError(f"optimizer must be 'adamw' or 'sgd', not {self.optimizer!r}")
        if self.restart_every < 0:
            raise TrainingError(f"restart_every must be non-negative, got {self.restart_every}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def grokking_config(task: str = "annuli", arch: str = "2-32-32-1", seed: int = 0,
                    **overrides: Any) -> TrainConfig:
    """The grokking recipe for binary classification (any field can be overridden).

    ``n_train = 24`` noise-free training points, initial weights and biases scaled by
    ``init_scale = 6``, squared error to the targets -1/+1 (``loss = "mse"``), AdamW with
    ``lr = 1e-3`` and ``weight_decay = 0.3``, ``epochs = 4000`` full-batch steps, a snapshot
    every 100 epochs, ``n_test = 2000``.

    On ``annuli`` with ``2-32-32-1`` the training accuracy typically reaches 100 % within the
    first thousand epochs while the test accuracy is still well below its final value, which it
    reaches later, with the training set long fitted; on ``xor`` the same happens more slowly,
    and ``two_clusters`` generalises almost at once. The measured phases (per seed, with
    intervals) are in ``validation/paper/REPORT.md``.
    """
    base = TrainConfig(task=task, arch=arch, seed=seed, epochs=4000, every=100, n_train=24,
                       n_test=2000, noise=0.0, lr=1e-3, weight_decay=0.3, init_scale=6.0, loss="mse")
    return replace(base, **overrides)


def snapshot_epochs(epochs: int, every: int) -> tuple[int, ...]:
    """The epochs at which a run saves snapshots: ``0, every, 2 every, ...`` and ``epochs``.

    Examples
    --------
    >>> snapshot_epochs(10, 4)
    (0, 4, 8, 10)
    """
    e = list(range(0, epochs + 1, every))
    if e[-1] != epochs:
        e.append(epochs)
    return tuple(e)


# -- runs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainingRun:
    """A finished run: its configuration, dataset and snapshots (in epoch order)."""

    config: TrainConfig
    dataset: Dataset
    snapshots: tuple[Snapshot, ...]
    history: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyMissingError(
            "training needs the optional PyTorch extra: pip install 'exactcells[torch]'"
        ) from e
    return torch


def _set_deterministic(torch: Any, mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)`` without importing the compiler (inductor),
    whose import costs seconds and whose setting does not concern eager CPU training."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:  # pragma: no cover - other torch versions
        torch.use_deterministic_algorithms(mode)
    else:
        setter(mode)


def init_seed(task: str, seed: int) -> int:
    """The torch seed of a run's initial weights: derived from the run's seed and its task, so
    that the same seed does not give the same initial network on every task.

    Examples
    --------
    >>> init_seed("xor", 0) == init_seed("xor", 0) != init_seed("annuli", 0)
    True
    """
    tag = int.from_bytes(task.encode("utf-8"), "little")
    return int(np.random.SeedSequence([seed, tag]).generate_state(1)[0])


def _build_model(torch: Any, widths: tuple[int, ...], init_scale: float) -> Any:
    nn = torch.nn
    mods: list[Any] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(nn.ReLU())
    model = nn.Sequential(*mods)
    if init_scale != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(init_scale)
    return model


def train(config: TrainConfig, progress: Callable[[str], None] | None = None) -> TrainingRun:
    """Train an MLP on a task (full batch, AdamW or plain SGD) and keep exact snapshots on the schedule.

    Parameters
    ----------
    config
        The run (see :class:`TrainConfig` and :func:`grokking_config`).
    progress
        Called with a one-line message at every snapshot (e.g. to print on stderr).

    Returns
    -------
    TrainingRun
        ``history`` has per-epoch ``loss``, ``test_loss`` (and ``accuracy``, ``test_accuracy``
        for classification), floats, for plotting the whole curve.

    Raises
    ------
    DependencyMissingError
        PyTorch is not installed.
    """
    torch = _import_torch()
    from .network import network_from_torch

    widths = parse_arch(config.arch, num_outputs(config.task), input_dim(config.task))
    data = make_dataset(config.task, config.n_train, config.n_test, config.seed, config.noise)
    classify = data.is_classification
    multi = config.task in MULTICLASS_TASKS
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    _set_deterministic(torch, True)
    try:
        torch.manual_seed(init_seed(config.task, config.seed))
        model = _build_model(torch, widths, config.init_scale)
        Xtr = torch.from_numpy(np.array(data.X_train))
        ytr = torch.from_numpy(np.array(data.y_train))
        Xte = torch.from_numpy(np.array(data.X_test))
        yte = torch.from_numpy(np.array(data.y_test))
        if multi:
            ytr, yte = ytr.long(), yte.long()

        def head(out: Any) -> Any:
            return out if multi else out[:, 0]

        def predict(out: Any) -> Any:
            return out.argmax(dim=1) if multi else (out > 0).float()

        if multi:
            loss_fn = torch.nn.CrossEntropyLoss()
        elif classify and config.loss == "bce":
            loss_fn = torch.nn.BCEWithLogitsLoss()
        elif classify:
            def loss_fn(out: Any, y: Any) -> Any:
                return ((out - (2 * y - 1)) ** 2).mean()
        else:
            loss_fn = torch.nn.MSELoss()
        def make_optimizer() -> Any:
            if config.optimizer == "sgd":
                return torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
            return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

        opt = make_optimizer()

        def evaluate() -> tuple[float, float | None, float, float | None]:
            with torch.no_grad():
                out_tr = head(model(Xtr))
                out_te = head(model(Xte)) if len(Xte) else out_tr[:0]
                l_tr = float(loss_fn(out_tr, ytr))
                l_te = float(loss_fn(out_te, yte)) if len(Xte) else math.nan
                if not classify:
                    return l_tr, None, l_te, None
                a_tr = float((predict(out_tr) == ytr).float().mean())
                a_te = float((predict(out_te) == yte).float().mean()) if len(Xte) else math.nan
                return l_tr, a_tr, l_te, a_te

        keep = set(snapshot_epochs(config.epochs, config.every))
        snaps: list[Snapshot] = []
        hist: dict[str, list[float]] = {"loss": [], "test_loss": []}
        if classify:
            hist.update(accuracy=[], test_accuracy=[])
        for epoch in range(config.epochs + 1):
            if epoch > 0:
                if config.restart_every and epoch > 1 and (epoch - 1) % config.restart_every == 0:
                    opt = make_optimizer()
                opt.zero_grad()
                loss = loss_fn(head(model(Xtr)), ytr)
                loss.backward()
                opt.step()
            l_tr, a_tr, l_te, a_te = evaluate()
            if not math.isfinite(l_tr):
                raise TrainingError(f"training diverged at epoch {epoch} (loss {l_tr}); lower lr")
            hist["loss"].append(l_tr)
            hist["test_loss"].append(l_te)
            if classify:
                hist["accuracy"].append(float(a_tr))  # type: ignore[arg-type]
                hist["test_accuracy"].append(float(a_te))  # type: ignore[arg-type]
            if epoch in keep:
                snaps.append(Snapshot(epoch, network_from_torch(model), l_tr, a_tr, l_te, a_te))
                if progress is not None:
                    acc = "" if a_tr is None else f", accuracy {a_tr:.3f} (test {a_te:.3f})"
                    progress(f"epoch {epoch}/{config.epochs}: loss {l_tr:.4g}{acc}")
    finally:
        torch.set_num_threads(threads)
        _set_deterministic(torch, det)
    return TrainingRun(config, data, tuple(snaps), {k: tuple(v) for k, v in hist.items()})


# -- files ----------------------------------------------------------------------------------


def _write_or_check(path: Path, text: str, force: bool) -> None:
    """Write ``text``; an existing identical file is left alone (a rerun of a seeded run)."""
    from .io import atomic_write_text

    if path.exists() and not force:
        if path.read_text(encoding="utf-8") == text:
            return
    atomic_write_text(path, text, force=force)


def save_training_points(data: Dataset, path: str | Path, force: bool = False) -> None:
    """Write the training set as JSON ``{"task", "seed", "X", "y"}`` (floats, exact round trip)."""
    d = {"task": data.task, "seed": data.seed, "X": data.X_train.astype(float).tolist(),
         "y": data.y_train.astype(float).tolist()}
    _write_or_check(Path(path), json.dumps(d) + "\n", force)


def save_run(run: TrainingRun, folder: str | Path, force: bool = False) -> list[Path]:
    """Write the snapshots (``epoch_*.json``), ``training_points.json`` and ``run.json``.

    A file that exists with the same content is left alone, so rerunning a seeded run into the
    same folder is not an overwrite; a different existing file needs ``force``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in run.snapshots:
        p = out / snapshot_filename(s.epoch)
        _write_or_check(p, json.dumps(snapshot_to_dict(s)) + "\n", force)
        paths.append(p)
    save_training_points(run.dataset, out / TRAINING_POINTS_FILE, force=force)
    _write_or_check(out / "run.json", json.dumps({"config": run.config.to_dict(),
                                                  "history": dict(run.history)}) + "\n", force)
    return paths

