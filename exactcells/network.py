"""Exact ReLU networks: the immutable :class:`Network`, its loaders and forward passes.

A network ``F: R^n -> R^m`` is a sequence of affine layers ``(W_l, b_l)``; every layer but the
last is followed by ReLU, the last is linear. ``W_l`` has one row per output neuron of the layer.
Weights are exact :class:`~fractions.Fraction` values; floats are converted once, exactly, by
:func:`exactcells.numbers.to_rational`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    DependencyMissingError,
    ExactCellsError,
    InvalidArgumentError,
    InvalidNetworkError,
    NonRationalInputError,
)
from .numbers import format_rational, to_rational

__all__ = [
    "Layer",
    "Network",
    "network_from_dict",
    "network_from_arrays",
    "network_from_torch",
    "load_network",
    "save_network",
    "round_network",
]

Matrix = tuple[tuple[Fraction, ...], ...]
Vector = tuple[Fraction, ...]


@dataclass(frozen=True, slots=True)
class Layer:
    """One affine layer: ``z = W x + b`` with exact rational entries."""

    W: Matrix
    b: Vector

    @property
    def fan_in(self) -> int:
        return len(self.W[0]) if self.W else 0

    @property
    def fan_out(self) -> int:
        return len(self.W)


@dataclass(frozen=True, slots=True)
class Network:
    """An immutable ReLU network with exact rational weights.

    Attributes
    ----------
    layers
        The affine layers; all but the last are followed by ReLU.
    rounding
        ``None`` when the weights are exactly those given; otherwise a description of the
        opt-in rounding applied (see :func:`round_network`), recorded in every result.

    Examples
    --------
    >>> net = network_from_dict({"layers": [{"W": [[1, 0], [0, 1]], "b": [0, "-1/2"]},
    ...                                     {"W": [[1, -1]], "b": [0]}]})
    >>> net.input_dim, net.hidden_widths, net.output_dim
    (2, (2,), 1)
    >>> net.hidden_signs([1, 1])
    (1, 1)
    """

    layers: tuple[Layer, ...]
    rounding: str | None = None

    def __post_init__(self) -> None:
        _check_layers(self.layers)

    # -- shape ---------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.layers[0].fan_in

    @property
    def output_dim(self) -> int:
        return self.layers[-1].fan_out

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(layer.fan_out for layer in self.layers[:-1])

    @property
    def num_hidden(self) -> int:
        """Total number of hidden (ReLU) neurons."""
        return sum(self.hidden_widths)

    @property
    def architecture(self) -> str:
        """The widths joined by dashes, e.g. ``"2-16-16-1"``."""
        return "-".join(str(w) for w in (self.input_dim, *self.hidden_widths, self.output_dim))

    def neuron_labels(self) -> list[tuple[int, int]]:
        """``(layer, row)`` of every hidden neuron, in sign-vector order."""
        return [(li, j) for li, w in enumerate(self.hidden_widths) for j in range(w)]

    # -- exact passes --------------------------------------------------------------------
    def pre_activations(self, x: Sequence[Any]) -> list[tuple[Fraction, ...]]:
        """Exact pre-activations of every layer (hidden layers, then the output) at ``x``."""
        a = self._point(x)
        out: list[tuple[Fraction, ...]] = []
        for li, layer in enumerate(self.layers):
            z = tuple(sum((w * v for w, v in zip(row, a)), bj) for row, bj in zip(layer.W, layer.b))
            out.append(z)
            if li < len(self.layers) - 1:
                a = tuple(v if v > 0 else Fraction(0) for v in z)
        return out

    def forward(self, x: Sequence[Any]) -> tuple[Fraction, ...]:
        """Exact network output ``F(x)``."""
        return self.pre_activations(x)[-1]

    def hidden_signs(self, x: Sequence[Any]) -> tuple[int, ...]:
        """Exact signs (-1, 0, +1) of every hidden neuron's pre-activation at ``x``."""
        zs = self.pre_activations(x)[:-1]
        return tuple((v > 0) - (v < 0) for z in zs for v in z)

    def output_signs(self, x: Sequence[Any]) -> tuple[int, ...]:
        """Exact signs of the output neurons at ``x``."""
        return tuple((v > 0) - (v < 0) for v in self.forward(x))

    def _point(self, x: Sequence[Any]) -> tuple[Fraction, ...]:
        if len(x) != self.input_dim:
            raise InvalidNetworkError(
                f"point has {len(x)} coordinates but the network takes {self.input_dim}"
            )
        return tuple(to_rational(v, f"x[{i}]") for i, v in enumerate(x))

    # -- float views ---------------------------------------------------------------------
    def float_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The weights rounded to float64 (a float view; never used by the exact path)."""
        return [
            (np.array([[float(w) for w in row] for row in L.W]), np.array([float(v) for v in L.b]))
            for L in self.layers
        ]

    def forward_float(self, X: np.ndarray) -> np.ndarray:
        """Float64 forward pass on points ``X`` of shape ``(N, n)``; returns ``(N, m)``."""
        A = np.asarray(X, dtype=float)
        layers = self.float_layers()
        for li, (W, b) in enumerate(layers):
            A = A @ W.T + b
            if li < len(layers) - 1:
                A = np.maximum(A, 0.0)
        return A

    def hidden_signs_float(self, X: np.ndarray) -> np.ndarray:
        """Float64 signs of every hidden neuron at points ``X``: int8 array ``(N, num_hidden)``."""
        A = np.asarray(X, dtype=float)
        layers = self.float_layers()
        parts = []
        for W, b in layers[:-1]:
            Z = A @ W.T + b
            parts.append(np.sign(Z).astype(np.int8))
            A = np.maximum(Z, 0.0)
        if not parts:
            return np.zeros((A.shape[0], 0), dtype=np.int8)
        return np.concatenate(parts, axis=1)

    # -- export --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The network JSON of design.md §3, every number an exact string."""
        d: dict[str, Any] = {
            "layers": [
                {
                    "W": [[format_rational(w) for w in row] for row in L.W],
                    "b": [format_rational(v) for v in L.b],
                }
                for L in self.layers
            ]
        }
        if self.rounding is not None:
            d["rounding"] = self.rounding
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def integer_network(self) -> tuple[list[list[list[int]]], list[Fraction]]:
        """A sign-equivalent network with integer weights, and the output scales.

        Each neuron is multiplied by a positive factor that makes its row ``[W | b]`` integral
        and primitive, and the next layer's column is divided by it, so every pre-activation
        keeps its sign at every point. Returns the integer rows ``[W | b]`` of every layer and,
        for each output, the factor ``s_k`` with ``integer output k = s_k * F_k``.
        """
        scale_prev = [Fraction(1)] * self.input_dim
        layers: list[list[list[int]]] = []
        scale: list[Fraction] = []
        for L in self.layers:
            rows: list[list[int]] = []
            scale = []
            for row, bj in zip(L.W, L.b):
                r = [w / s for w, s in zip(row, scale_prev)] + [bj]
                den = math.lcm(*(v.denominator for v in r))
                nums = [int(v * den) for v in r]
                g = math.gcd(*nums) or 1
                rows.append([v // g for v in nums])
                scale.append(Fraction(den, g))
            layers.append(rows)
            scale_prev = scale
        return layers, scale

    def integer_layers(self) -> list[tuple[list[list[int]], list[int]]]:
        """The layers of :meth:`integer_network` as ``(W, b)`` pairs (for signs only)."""
        return [([r[:-1] for r in rows], [r[-1] for r in rows]) for rows in self.integer_network()[0]]

    def forward_homogeneous(
        self, points: Sequence[Sequence[int]], chunk: int = 4096
    ) -> tuple[np.ndarray, list[tuple[Fraction, ...]]]:
        """Exact hidden signs and outputs at points given as homogeneous integer vectors.

        A point is ``(D x_1, ..., D x_n, D)`` with ``D > 0`` (as
        :func:`exactcells.measure.homogeneous` and :meth:`PolyhedralComplex.vertex_homogeneous`
        give). Integer matrix products run in python-flint, ``chunk`` points at a time: much
        faster than :meth:`forward` on Fractions.

        Returns
        -------
        signs
            ``(N, num_hidden)`` int8 array of the hidden neurons' signs.
        outputs
            The exact output ``F(x)`` of every point.
        """
        from flint import fmpz_mat

        layers, out_scale = self.integer_network()
        mats = [fmpz_mat(rows) for rows in layers]
        n = self.input_dim
        N = len(points)
        signs = np.zeros((N, self.num_hidden), dtype=np.int8)
        outputs: list[tuple[Fraction, ...]] = []
        for s0 in range(0, N, chunk):
            P = points[s0 : s0 + chunk]
            c = len(P)
            dens = [int(p[n]) for p in P]
            if any(d <= 0 for d in dens):
                raise InvalidArgumentError("homogeneous points need a positive last coordinate")
            X = fmpz_mat(n + 1, c, [int(p[i]) for i in range(n + 1) for p in P])
            col = 0
            for li, M in enumerate(mats):
                Z = M * X
                h = Z.nrows()
                if li < len(mats) - 1:
                    arr = np.array(Z.entries(), dtype=object).reshape(h, c)
                    pos = arr > 0
                    neg = arr < 0
                    signs[s0 : s0 + c, col : col + h] = (pos.astype(np.int8) - neg.astype(np.int8)).T
                    col += h
                    X = fmpz_mat(h + 1, c, np.where(pos, arr, 0).ravel().tolist() + dens)
                else:
                    ent = Z.entries()
                    for q in range(c):
                        outputs.append(tuple(Fraction(int(ent[k * c + q]), dens[q]) / out_scale[k]
                                             for k in range(h)))
        return signs, outputs


def _check_layers(layers: tuple[Layer, ...]) -> None:
    if not isinstance(layers, tuple) or not layers:
        raise InvalidNetworkError("the network has no layers")
    prev: int | None = None
    for li, L in enumerate(layers):
        if L.fan_out == 0:
            raise InvalidNetworkError(f"layer {li}: W has no rows (a zero-width layer)")
        if L.fan_in == 0:
            raise InvalidNetworkError(f"layer {li}: W has rows of length 0")
        for j, row in enumerate(L.W):
            if len(row) != L.fan_in:
                raise InvalidNetworkError(
                    f"layer {li}: W is ragged: row {j} has {len(row)} entries, row 0 has {L.fan_in}"
                )
        if len(L.b) != L.fan_out:
            raise InvalidNetworkError(
                f"layer {li}: b has {len(L.b)} entries but W has {L.fan_out} rows"
            )
        if prev is not None and L.fan_in != prev:
            raise InvalidNetworkError(
                f"layer {li}: W has shape ({L.fan_out}, {L.fan_in}) but layer {li - 1} has "
                f"{prev} outputs; expected shape ({L.fan_out}, {prev})"
            )
        for row in L.W:
            for v in row:
                if not isinstance(v, Fraction):
                    raise NonRationalInputError(f"layer {li}: weight {v!r} is not a Fraction")
        prev = L.fan_out


def _layer_from_lists(W: Any, b: Any, li: int) -> Layer:
    if isinstance(W, (str, bytes)) or not isinstance(W, Iterable):
        raise InvalidNetworkError(f"layer {li}: W must be a list of rows, got {type(W).__name__}")
    rows = list(W)
    if not rows:
        raise InvalidNetworkError(f"layer {li}: W has no rows (a zero-width layer)")
    Wt: list[tuple[Fraction, ...]] = []
    for j, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise InvalidNetworkError(
                f"layer {li}: W[{j}] must be a list of numbers, got {row!r}"
            )
        Wt.append(
            tuple(to_rational(v, f"layer {li}, W[{j}][{k}]") for k, v in enumerate(list(row)))
        )
    if isinstance(b, (str, bytes)) or not isinstance(b, Iterable):
        raise InvalidNetworkError(f"layer {li}: b must be a list of numbers, got {b!r}")
    bt = tuple(to_rational(v, f"layer {li}, b[{j}]") for j, v in enumerate(list(b)))
    return Layer(tuple(Wt), bt)


def network_from_dict(d: Mapping[str, Any], rounding: str | None = None) -> Network:
    """Build a network from the JSON structure of design.md §3.

    Raises
    ------
    InvalidNetworkError
        Missing ``layers``/``W``/``b`` keys, ragged or mismatched shapes, empty layers.
    NonRationalInputError
        A value that is not a finite rational (NaN, infinity, non-numeric string).
    """
    if not isinstance(d, Mapping):
        raise InvalidNetworkError(f"a network must be a JSON object, got {type(d).__name__}")
    if "layers" not in d:
        raise InvalidNetworkError("the network has no 'layers' key")
    layers_in = d["layers"]
    if not isinstance(layers_in, list):
        raise InvalidNetworkError("'layers' must be a list")
    if not layers_in:
        raise InvalidNetworkError("the network has no layers ('layers' is empty)")
    layers = []
    for li, L in enumerate(layers_in):
        if not isinstance(L, Mapping):
            raise InvalidNetworkError(f"layer {li} must be an object with keys 'W' and 'b'")
        for key in ("W", "b"):
            if key not in L:
                raise InvalidNetworkError(f"layer {li} has no '{key}' key")
        layers.append(_layer_from_lists(L["W"], L["b"], li))
    rnd = rounding if rounding is not None else d.get("rounding")
    return Network(tuple(layers), rounding=rnd if isinstance(rnd, str) else None)


def network_from_arrays(params: Sequence[tuple[Any, Any]], rounding: str | None = None) -> Network:
    """Build a network from ``[(W0, b0), (W1, b1), ...]`` (numpy arrays or nested lists)."""
    layers = []
    for li, (W, b) in enumerate(params):
        Wa = np.asarray(W, dtype=object) if not isinstance(W, np.ndarray) else W
        ba = np.asarray(b, dtype=object) if not isinstance(b, np.ndarray) else b
        if Wa.ndim != 2:
            raise InvalidNetworkError(f"layer {li}: W must be 2-D, got shape {Wa.shape}")
        if ba.ndim != 1:
            raise InvalidNetworkError(f"layer {li}: b must be 1-D, got shape {ba.shape}")
        if Wa.shape[0] == 0 or Wa.shape[1] == 0:
            raise InvalidNetworkError(f"layer {li}: W has shape {Wa.shape} (a zero-width layer)")
        layers.append(_layer_from_lists(Wa.tolist(), ba.tolist(), li))
    if not layers:
        raise InvalidNetworkError("the network has no layers")
    return Network(tuple(layers), rounding=rounding)


#: The most entries one weight array of a ``.npz`` network may declare (checked before reading).
MAX_ARRAY_WEIGHTS = 10_000_000


def _load_npz(path: Path) -> Network:
    from .io import SafeArchive

    with SafeArchive(path, InvalidNetworkError) as data:
        names = set(data.files)
        k = 0
        params = []
        while f"W{k}" in names:
            if f"b{k}" not in names:
                raise InvalidNetworkError(f"{path}: array W{k} has no matching b{k}")
            W = data.read(f"W{k}", max_entries=MAX_ARRAY_WEIGHTS)
            b = data.read(f"b{k}", max_entries=MAX_ARRAY_WEIGHTS)
            params.append((W, b))
            k += 1
        if not params:
            raise InvalidNetworkError(f"{path}: no arrays W0, b0, W1, b1, ... found")
    for li, (W, b) in enumerate(params):
        if W.dtype.kind not in "iuf" or b.dtype.kind not in "iuf":
            raise NonRationalInputError(f"{path}: layer {li}: arrays must be numeric")
    try:
        return network_from_arrays(params)
    except ExactCellsError as e:
        raise type(e)(f"{path}: {e}") from None


def network_from_torch(model: Any) -> Network:
    """Build a network from a PyTorch ``nn.Sequential`` of ``Linear``/``ReLU`` or its ``state_dict``.

    Float32 (or float64) parameters are taken as their exact binary values. PyTorch is imported
    lazily; it is needed only when ``model`` is a module.
    """
    if isinstance(model, Mapping):
        return _network_from_state_dict(model)
    try:
        import torch  # noqa: F401
        from torch import nn
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyMissingError(
            "loading a PyTorch model needs the optional extra: pip install 'exactcells[torch]'"
        ) from e
    if not isinstance(model, nn.Sequential):
        raise InvalidNetworkError(
            f"expected an nn.Sequential of Linear and ReLU layers, got {type(model).__name__}"
        )
    params = []
    expect_linear = True
    mods = [m for m in model if not isinstance(m, (nn.Identity, nn.Flatten))]
    for i, m in enumerate(mods):
        if expect_linear:
            if not isinstance(m, nn.Linear):
                raise InvalidNetworkError(f"module {i}: expected Linear, got {type(m).__name__}")
            W = m.weight.detach().cpu().double().numpy()
            b = (
                m.bias.detach().cpu().double().numpy()
                if m.bias is not None
                else np.zeros(W.shape[0])
            )
            params.append((W, b))
        elif not isinstance(m, nn.ReLU):
            raise InvalidNetworkError(f"module {i}: expected ReLU, got {type(m).__name__}")
        expect_linear = not expect_linear
    if expect_linear:
        raise InvalidNetworkError("the Sequential ends with ReLU; the last layer must be Linear")
    return network_from_arrays(params)


def _network_from_state_dict(sd: Mapping[str, Any]) -> Network:
    weights = [k for k in sd if k.endswith("weight")]
    if not weights:
        raise InvalidNetworkError("the state_dict has no '*.weight' entries")

    def order(k: str) -> tuple[int, ...]:
        return tuple(int(p) for p in k.split(".") if p.isdigit())

    params = []
    for k in sorted(weights, key=order):
        W = sd[k]
        bk = k[: -len("weight")] + "bias"
        b = sd.get(bk)
        Wn = W.detach().cpu().double().numpy() if hasattr(W, "detach") else np.asarray(W)
        if b is None:
            bn = np.zeros(Wn.shape[0])
        else:
            bn = b.detach().cpu().double().numpy() if hasattr(b, "detach") else np.asarray(b)
        params.append((Wn, bn))
    return network_from_arrays(params)


def load_network(path: str | Path, trust: bool = False) -> Network:
    """Load a network from a ``.json`` (design.md §3), ``.npz`` or ``.pt``/``.pth`` file.

    A ``.pt`` file is read with PyTorch's safe loader (``weights_only=True``): a ``state_dict``
    of tensors loads, nothing in the file can run code. A whole pickled ``nn.Module`` needs the
    full unpickler, which runs whatever code the file contains: it is used only with
    ``trust=True`` (``--trust-pickle`` on the command line), for files you made yourself.

    Raises
    ------
    InvalidNetworkError
        The file cannot be read or is not a valid network; the message names the file and,
        where it applies, the layer and the entry.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidNetworkError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return _load_npz(p)
    if suffix in (".pt", ".pth"):
        return _load_torch_file(p, trust)
    from .io import read_json

    d = read_json(p, InvalidNetworkError)
    try:
        return network_from_dict(d)
    except ExactCellsError as e:
        raise type(e)(f"{p}: {e}") from None


def _load_torch_file(p: Path, trust: bool) -> Network:
    try:
        import torch
    except ImportError as e:
        raise DependencyMissingError(
            f"{p}: reading PyTorch files needs the optional extra: pip install 'exactcells[torch]'"
        ) from e
    import warnings

    try:  # a state_dict of tensors loads without running any code from the file
        with warnings.catch_warnings():  # torch warns about the pickle protocol of odd files
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        if not trust:
            raise InvalidNetworkError(
                f"{p}: not a state_dict of tensors (PyTorch's safe loader refused it: "
                f"{type(e).__name__}); a whole pickled module can run arbitrary code when "
                "opened: save model.state_dict() instead, or pass --trust-pickle (trust=True) "
                "for a file you made yourself"
            ) from None
        try:  # explicitly trusted: the full unpickler (runs code from the file)
            obj = torch.load(p, map_location="cpu", weights_only=False)
        except Exception as e2:
            raise InvalidNetworkError(f"{p}: not a readable PyTorch file ({e2})") from None
    try:
        return network_from_torch(obj)
    except ExactCellsError as e:
        raise type(e)(f"{p}: {e}") from None


def save_network(net: Network, path: str | Path, force: bool = False) -> None:
    """Write the network JSON (exact strings) atomically; refuse to overwrite unless ``force``."""
    from .io import atomic_write_text

    atomic_write_text(Path(path), json.dumps(net.to_dict(), indent=1) + "\n", force=force)


def round_network(net: Network, max_denominator: int) -> Network:
    """Round every weight to the nearest fraction with denominator at most ``max_denominator``.

    An opt-in simplification (for example to make float weights small rationals). The returned
    network records the rounding in :attr:`Network.rounding`, and so does every result built
    from it.
    """
    if max_denominator < 1:
        raise InvalidArgumentError(
            f"the rounding denominator bound must be at least 1, got {max_denominator}"
        )
    layers = tuple(
        Layer(
            tuple(tuple(w.limit_denominator(max_denominator) for w in row) for row in L.W),
            tuple(v.limit_denominator(max_denominator) for v in L.b),
        )
        for L in net.layers
    )
    note = f"weights rounded to denominators <= {max_denominator}"
    if net.rounding:
        note = f"{net.rounding}; {note}"
    return Network(layers, rounding=note)
