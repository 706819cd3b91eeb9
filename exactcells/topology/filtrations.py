"""Filtrations of a complex (or closed subcomplex): total orders in which every face enters
before its cofaces, with exact values.

Kinds (see :data:`FILTRATION_KINDS`):

``dimension-random``
    Cells enter by dimension, in a seeded random order inside each dimension. (The paper's
    "random filtration" where the maxima of the Betti curves reveal the f-vector.)
``random``
    A seeded random linear extension of the face poset: every cell draws a uniform random time
    ``u`` and enters at ``t = max(u, t of its facets)`` (a cell cannot appear before its
    boundary); ties go to the lower dimension, then to the smaller ``u``.
``output-lower-star``
    The value of a cell is the maximum of the network output over its vertices (exact
    rationals; ``F`` is affine on every cell, so this is its maximum over the cell): the
    sublevel sets ``{F <= t}``. Order: by value, then dimension, then index.
``output-upper-star``
    The lower-star filtration of ``-F``: a cell's value is ``-min F`` over its vertices, so the
    superlevel sets ``{F >= s}`` appear as ``t = -s`` grows. Values stay increasing along the
    filtration, which keeps the ripser/persim convention ``birth <= death``.
``margin-lower-star``
    The lower-star filtration of the classification margin ``m = F_(1) - F_(2)`` (top score
    minus runner-up; ``>= 2`` outputs), an exact rational at every vertex: a cell's value is the
    maximum of ``m`` over its vertices.
``class-score-lower-star``
    The lower-star filtration of ``g_J = F_J - max_{i != J} F_i`` (class ``J`` = ``output``),
    exact at every vertex likewise: sublevel sets ``{g_J <= t}``, so the class region ``g_J >= 0``
    appears last.
``values``
    User-given exact values per cell, checked to be monotone (a face's value at most a
    coface's); order by value, then dimension, then index.

For the two multiclass filtrations the value of a cell is the maximum of the function over the
cell exactly when the function is affine on it, and then the filtration is the sublevel-set
filtration of the function itself (same persistence). That is certified cell by cell from the
exact vertex values (:func:`affine_certificate`): ``m`` is affine on a cell when one index is a
top score and one other index a runner-up at every vertex (then ``m = F_t - F_i`` there), ``g_J``
when one index ``t`` is a top score at every vertex and, if ``t = J``, one other index a
runner-up at every vertex. On the argmax complex a top index is common to all vertices of a
cell, so only the runner-up can fail: on a cell where one class is the unique maximizer and the
runner-up changes inside (three or more outputs) the function is concave and its maximum can
lie inside the cell. Where that happens the filtration is taken on the **top-two refinement**
(:func:`top_two_complex`): the complex on which the hidden signs, the argmax set and the set of
maximizing pairs ``{i, j}`` of ``F_i + F_j`` are constant, built by the engine itself as the
argmax complex of a derived network (:func:`top_two_network`; docs/mathematics.md, "The
top-two refinement"). Both functions are affine on every cell of it, so the filtration is exact;
its cells are those of the filtered subcomplex's cells, cut by the runner-up's changes, and
``Filtration.refined`` counts the cells of the original complex that had to be cut (always 0 for
two outputs, where ``m = |F_1 - F_2|`` is affine on every cell). ``refine=False`` keeps the old
vertex-sampled filtration of the unrefined complex (then ``Filtration.uncertified`` counts the
cells where it is not the function's sublevel-set filtration).

Index-based filtrations (the two random ones) have no values: the value of the ``i``-th cell is
``i``. Value-based ones store the distinct exact values once (``levels``) and a level per entry.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from ..complex import PolyhedralComplex
from ..errors import InvalidFiltrationError
from ..network import Network
from ..numbers import float_view, to_rational
from .chains import restricted_facets
from .subcomplex import Subcomplex, subcomplex_from_mask, whole_complex

__all__ = [
    "Filtration",
    "FILTRATION_KINDS",
    "FiltrationKind",
    "dimension_random_filtration",
    "random_filtration",
    "lower_star_filtration",
    "upper_star_filtration",
    "filtration_from_values",
    "make_filtration",
    "margin_values",
    "class_score_values",
    "margin_filtration",
    "class_score_filtration",
    "affine_certificate",
    "top_two_network",
    "top_two_complex",
    "top_two_parents",
    "MAX_TOP_TWO_CLASSES",
    "DETERMINISTIC_KINDS",
    "MULTICLASS_KINDS",
]

FiltrationKind = Literal["dimension-random", "random", "output-lower-star", "output-upper-star",
                         "margin-lower-star", "class-score-lower-star"]
FILTRATION_KINDS: tuple[str, ...] = ("dimension-random", "random", "output-lower-star", "output-upper-star",
                                     "margin-lower-star", "class-score-lower-star")
# the kinds that need a network with >= 2 outputs (and are meant for its argmax complex)
MULTICLASS_KINDS: tuple[str, ...] = ("margin-lower-star", "class-score-lower-star")
# the kinds defined by values (the same every seed)
DETERMINISTIC_KINDS: tuple[str, ...] = ("output-lower-star", "output-upper-star", "margin-lower-star",
                                        "class-score-lower-star")


@dataclass(frozen=True, slots=True, eq=False)
class Filtration:
    """A filtration of a closed subcomplex.

    Attributes
    ----------
    kind
        One of :data:`FILTRATION_KINDS` or ``"values"``.
    subcomplex
        What is filtered (every cell of it enters exactly once).
    order
        Global cell indices in the order they enter (read-only ``int64``).
    levels
        For value-based filtrations the distinct exact values, ascending; ``None`` for
        index-based ones (then the value of the ``i``-th entry is ``i``).
    level_of
        For value-based filtrations the index into ``levels`` of each entry (non-decreasing);
        ``None`` otherwise.
    seed
        The seed of a random filtration, else ``None``.
    output
        The output neuron of an output filtration (the class of a class-score one), else ``None``.
    uncertified
        Multiclass filtrations: the number of cells of the filtered complex on which the
        function is not certified affine, where the vertex maximum may be below the function's
        maximum (module docstring): 0 unless built with ``refine=False``; ``None`` for other
        kinds.
    refined
        Multiclass filtrations: the number of cells of the given (sub)complex on which the
        function was not affine and which were cut by the top-two refinement (then
        ``subcomplex`` lives in :func:`top_two_complex`); ``None`` for other kinds and with
        ``refine=False``.
    """

    kind: str
    subcomplex: Subcomplex
    order: np.ndarray
    levels: tuple[Fraction, ...] | None
    level_of: np.ndarray | None
    seed: int | None = None
    output: int | None = None
    uncertified: int | None = None
    refined: int | None = None

    @property
    def num_cells(self) -> int:
        return int(self.order.shape[0])

    @property
    def by_value(self) -> bool:
        return self.levels is not None

    def value(self, i: int) -> Fraction | int:
        """The exact filtration value of the ``i``-th entry (its index if index-based)."""
        if self.levels is None or self.level_of is None:
            return int(i)
        return self.levels[int(self.level_of[i])]

    def describe(self) -> str:
        s = f"{self.kind} filtration of the {self.subcomplex.name}"
        if self.seed is not None:
            s += f" (seed {self.seed})"
        if self.output is not None:
            s += f" ({'class' if self.kind == 'class-score-lower-star' else 'output'} {self.output})"
        return s


def _target(target: PolyhedralComplex | Subcomplex) -> Subcomplex:
    if isinstance(target, Subcomplex):
        return target
    if isinstance(target, PolyhedralComplex):
        return whole_complex(target)
    raise TypeError(f"expected a PolyhedralComplex or Subcomplex, not {type(target).__name__}")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def dimension_random_filtration(target: PolyhedralComplex | Subcomplex, seed: int = 0) -> Filtration:
    """Cells by dimension, in a seeded uniformly random order inside each dimension.

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> f = dimension_random_filtration(build_complex(net, Domain.box(2, -1, 1)), seed=1)
    >>> f.num_cells, f.value(3)
    (15, 3)
    """
    S = _target(target)
    cells = S.cells
    dims = np.asarray(S.complex.dims)[cells]
    rng = np.random.default_rng(seed)
    key = rng.permutation(len(cells))
    order = cells[np.lexsort((key, dims))]
    return Filtration("dimension-random", S, _frozen(order.astype(np.int64)), None, None, seed=seed)


def random_filtration(target: PolyhedralComplex | Subcomplex, seed: int = 0) -> Filtration:
    """A seeded random linear extension of the face poset (see the module docstring)."""
    S = _target(target)
    K = S.complex
    cells, indptr, rows, _ = restricted_facets(K, S.mask)
    dims = np.asarray(K.dims, dtype=np.int64)[cells]
    rng = np.random.default_rng(seed)
    u = rng.random(len(cells))
    t = u.copy()
    off = np.searchsorted(dims, np.arange(K.input_dim + 2))
    for k in range(1, K.input_dim + 1):
        a, b = int(off[k]), int(off[k + 1])
        if a == b:
            continue
        seg = indptr[a:b]
        if np.any(indptr[a + 1 : b + 1] == seg):
            raise InvalidFiltrationError("a cell of positive dimension without facets")
        fmax = np.maximum.reduceat(t[rows[int(indptr[a]) : int(indptr[b])]], seg - indptr[a])
        t[a:b] = np.maximum(t[a:b], fmax)
    order = cells[np.lexsort((u, dims, t))]
    return Filtration("random", S, _frozen(order.astype(np.int64)), None, None, seed=seed)


def vertex_outputs(K: PolyhedralComplex) -> list[tuple[Fraction, ...]]:
    """Exact network outputs at every vertex (:meth:`PolyhedralComplex.output_values_at_vertices`)."""
    return K.output_values_at_vertices()


def _exact_ranks(values: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct values in ascending order and the rank of each value, exactly.

    Sorted by float approximations first (fast), then every adjacent pair is compared exactly;
    only if the floats got an order wrong does it fall back to a full exact sort. Equal values
    are found by exact ``==`` of neighbours, so the ranks are exact either way.
    """
    n = len(values)
    if n == 0:
        return [], np.zeros(0, dtype=np.int64)
    approx = np.fromiter((float_view(v) for v in values), dtype=float, count=n)
    order = np.argsort(approx, kind="stable").tolist()
    srt = [values[i] for i in order]
    if any(srt[i + 1] < srt[i] for i in range(n - 1)):
        order = sorted(range(n), key=values.__getitem__)
        srt = [values[i] for i in order]
    new = np.fromiter((i == 0 or srt[i] != srt[i - 1] for i in range(n)), dtype=bool, count=n)
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.cumsum(new) - 1
    return [srt[i] for i in np.flatnonzero(new).tolist()], ranks


def _as_fraction(v: Any) -> Fraction:
    return v if isinstance(v, Fraction) else Fraction(int(v.p), int(v.q))


def _star(S: Subcomplex, vertex_values: Sequence[Any], kind: str, output: int | None) -> Filtration:
    """Lower-star filtration of ``S`` from exact values at the vertices of the ambient complex
    (``Fraction`` or flint ``fmpq``; converted to ``Fraction`` for the stored levels)."""
    K = S.complex
    distinct, vrank = _exact_ranks(vertex_values)
    levels = tuple(_as_fraction(v) for v in distinct)
    cells, indptr, rows, _ = restricted_facets(K, S.mask)
    dims = np.asarray(K.dims, dtype=np.int64)[cells]
    lev = np.zeros(len(cells), dtype=np.int64)
    f0 = int(np.count_nonzero(dims == 0))
    lev[:f0] = vrank[cells[:f0]]
    off = np.searchsorted(dims, np.arange(K.input_dim + 2))
    for k in range(1, K.input_dim + 1):
        a, b = int(off[k]), int(off[k + 1])
        if a < b:
            seg = indptr[a:b] - indptr[a]
            lev[a:b] = np.maximum.reduceat(lev[rows[int(indptr[a]) : int(indptr[b])]], seg)
    perm = np.lexsort((cells, dims, lev))
    return Filtration(kind, S, _frozen(cells[perm].astype(np.int64)), levels, _frozen(lev[perm]),
                      output=output)


def _output_values(K: PolyhedralComplex, output: int) -> list[Any]:
    m = K.network.output_dim
    if not 0 <= output < m:
        raise InvalidFiltrationError(f"output {output} does not exist (the network has {m} outputs)")
    return [v[output] for v in K.output_values_at_vertices()]


def lower_star_filtration(target: PolyhedralComplex | Subcomplex, output: int = 0) -> Filtration:
    """Sublevel sets of output ``output``: a cell's value is the maximum of ``F`` over it.

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [0]}, {"W": [[1]], "b": [0]}]})
    >>> f = lower_star_filtration(build_complex(net, Domain.box(2, -1, 1)))
    >>> f.levels, f.value(f.num_cells - 1)
    ((Fraction(0, 1), Fraction(1, 1)), Fraction(1, 1))
    """
    S = _target(target)
    return _star(S, _output_values(S.complex, output), "output-lower-star", output)


def upper_star_filtration(target: PolyhedralComplex | Subcomplex, output: int = 0) -> Filtration:
    """Superlevel sets of output ``output``, as the lower-star filtration of ``-F``."""
    S = _target(target)
    return _star(S, [-v for v in _output_values(S.complex, output)], "output-upper-star", output)


def _scores(K: PolyhedralComplex) -> list[tuple[Any, ...]]:
    k = K.network.output_dim
    if k < 2:
        raise InvalidFiltrationError(f"margins and class scores need >= 2 outputs (classes), the "
                                     f"network has {k}")
    return [tuple(v) for v in K.output_values_at_vertices()]


def _margins(rows: Sequence[Sequence[Any]]) -> list[Any]:
    out = []
    for row in rows:
        x, y = sorted(row, reverse=True)[:2]
        out.append(x - y)
    return out


def _class_scores(rows: Sequence[Sequence[Any]], j: int) -> list[Any]:
    return [row[j] - max(x for i, x in enumerate(row) if i != j) for row in rows]


def margin_values(K: PolyhedralComplex) -> list[Any]:
    """The exact margin ``F_(1) - F_(2)`` (top score minus runner-up) at every vertex."""
    return _margins(_scores(K))


def class_score_values(K: PolyhedralComplex, j: int) -> list[Any]:
    """The exact ``F_j - max_{i != j} F_i`` at every vertex."""
    rows = _scores(K)
    k = K.network.output_dim
    if not 0 <= j < k:
        raise InvalidFiltrationError(f"class {j} does not exist (the network has {k} outputs)")
    return _class_scores(rows, j)


def _top_masks(row: tuple[Any, ...]) -> tuple[int, dict[int, int]]:
    """Bit mask of the maximizers of ``row``, and for each maximizer ``t`` the mask of the
    maximizers among the other indices (the runner-ups when ``t`` is the top)."""
    m = max(row)
    top = sum(1 << j for j, x in enumerate(row) if x == m)
    runners: dict[int, int] = {}
    for t in range(len(row)):
        if top >> t & 1:
            m2 = max(x for i, x in enumerate(row) if i != t)
            runners[t] = sum(1 << i for i, x in enumerate(row) if i != t and x == m2)
    return top, runners


def affine_certificate(S: PolyhedralComplex | Subcomplex, kind: str, j: int = 0,
                       scores: Sequence[Sequence[Any]] | None = None) -> np.ndarray:
    """Per cell of the (sub)complex (in the order of ``S.cells``): True when the margin
    (``kind="margin"``) or the class score ``g_j`` (``kind="class-score"``) is certified affine
    on the cell from the exact vertex values (module docstring), so that its maximum over the
    cell is its maximum over the vertices. ``scores``: the exact class scores ``F`` at every
    vertex (default: the complex's own network outputs there)."""
    T = _target(S)
    K = T.complex
    rows = _scores(K) if scores is None else scores
    masks = [_top_masks(tuple(row)) for row in rows]
    vsets = K.vertex_sets()
    k = len(rows[0]) if len(rows) else K.network.output_dim
    full = (1 << k) - 1
    out = np.zeros(T.num_cells, dtype=bool)
    for n_, c in enumerate(T.cells.tolist()):
        vs = vsets[c]
        top = full
        for v in vs:
            top &= masks[v][0]
        ok = False
        for t in range(k):
            if not top >> t & 1:
                continue
            if kind == "class-score" and t != j:
                ok = True
                break
            run = full
            for v in vs:
                run &= masks[v][1][t]
            if run:
                ok = True
                break
        out[n_] = ok
    return out


#: The most classes the top-two refinement takes: its derived network has ``k (k - 1) / 2``
#: outputs, and the engine's argmax refinement handles at most 63 values at once.
MAX_TOP_TWO_CLASSES = 11


def top_two_network(net: Network) -> Network:
    """The derived network whose argmax complex is the top-two refinement of ``net``'s.

    Its hidden layers are ``net``'s, then one more layer with the rows ``F_1 .. F_k`` of
    ``net``'s last layer, followed by one max unit over all of them (it cuts by the argmax set
    of ``F``, with the same sign entries as the argmax refinement) and ``k`` linear units that
    carry ``F_1 .. F_k``; its outputs are the ``k (k - 1) / 2`` pairwise sums ``F_i + F_j``
    (``i < j``, in lexicographic order). Its argmax refinement then also cuts by the set of
    pairs that maximize ``F_i + F_j``, which are the pairs ``{top, runner-up}`` where the top is
    unique (docs/mathematics.md, "The top-two refinement"). Needs ``3 <= k <=``
    :data:`MAX_TOP_TWO_CLASSES`.

    Examples
    --------
    >>> from exactcells import network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [5]},
    ...                                     {"W": [[0], [1], [-1]], "b": [10, -5, 5]}]})
    >>> D = top_two_network(net)
    >>> D.output_dim, D.forward([1, 0])
    (3, (Fraction(11, 1), Fraction(9, 1), Fraction(0, 1)))
    """
    from ..network import Layer, Unit

    k = net.output_dim
    if k < 3:
        raise InvalidFiltrationError(f"the top-two refinement needs >= 3 outputs, the network has {k} "
                                     "(with two, the margin is affine on every cell of the argmax complex)")
    if k > MAX_TOP_TWO_CLASSES:
        raise InvalidFiltrationError(
            f"the top-two refinement takes at most {MAX_TOP_TWO_CLASSES} classes (its derived network "
            f"has k (k - 1) / 2 outputs for the argmax refinement), the network has {k}: use "
            "refine=False for the vertex-sampled filtration")
    last = net.layers[-1]
    units = (Unit("max", tuple(range(k))),) + tuple(Unit("linear", (j,)) for j in range(k))
    mid = Layer(last.W, last.b, units)
    pairs = list(itertools.combinations(range(k), 2))
    W = tuple(tuple(Fraction(int(c in (1 + i, 1 + j))) for c in range(k + 1)) for i, j in pairs)
    out = Layer(W, tuple(Fraction(0) for _ in pairs))
    return Network(tuple(net.layers[:-1]) + (mid, out), rounding=net.rounding)


def top_two_complex(K: PolyhedralComplex) -> PolyhedralComplex:
    """The top-two refinement of ``K``'s network on ``K``'s domain: the argmax complex of
    :func:`top_two_network`. On each of its cells the hidden signs, the argmax set of ``F`` and,
    where the top is unique, the set of runner-ups are constant, so the margin and every class
    score are affine there; it refines the argmax complex (and the complex of the hidden units)."""
    from ..build import build_complex

    return build_complex(top_two_network(K.network), K.domain, with_output=True, refine="argmax")


def top_two_parents(T: PolyhedralComplex, K: PolyhedralComplex) -> np.ndarray:
    """For every cell of the top-two refinement ``T`` of ``K`` (:func:`top_two_complex`), the
    index of the cell of ``K`` whose relative interior contains it, read off the sign vectors:
    ``T``'s hidden entries are ``K``'s followed by the argmax entries of ``F`` (the max unit);
    ``K`` is the argmax complex or the complex of the hidden units alone."""
    ref = K.output_refinement
    if ref not in (None, "argmax"):
        raise InvalidFiltrationError(
            "the exact margin and class-score filtrations refine the argmax complex (or the hidden "
            "units' complex), not one cut by F_j = 0: build it with refine='argmax'")
    nh, k = K.network.num_hidden, K.network.output_dim
    if T.network.num_hidden != nh + k or T.domain.num_facets != K.domain.num_facets:
        raise InvalidFiltrationError("not the top-two refinement of this complex")
    TS = np.asarray(T.signs)
    fac = TS[:, T.sign_slices()["domain_facets"]]
    parts = [TS[:, :nh], fac] + ([TS[:, nh : nh + k]] if ref == "argmax" else [])
    keys = np.ascontiguousarray(np.concatenate(parts, axis=1).astype(np.int8))
    KS = np.ascontiguousarray(np.asarray(K.signs, dtype=np.int8))
    if keys.shape[1] != KS.shape[1]:
        raise InvalidFiltrationError("not the top-two refinement of this complex")
    index = {row.tobytes(): i for i, row in enumerate(KS)}
    out = np.empty(T.num_cells, dtype=np.int64)
    for c, row in enumerate(keys):
        i = index.get(row.tobytes())
        if i is None:
            raise InvalidFiltrationError(f"cell {c} of the refinement lies in no cell of the complex")
        out[c] = i
    return out


def _exact_star(target: PolyhedralComplex | Subcomplex, kind: str, j: int | None,
                refine: bool) -> Filtration:
    """The margin (``j is None``) or class-score lower-star filtration, on the top-two
    refinement wherever the function is not affine on a cell of ``target``."""
    S = _target(target)
    K = S.complex
    what = "margin" if j is None else "class-score"

    def values(rows: Sequence[Sequence[Any]]) -> list[Any]:
        return _margins(rows) if j is None else _class_scores(rows, j)

    rows = _scores(K)
    if j is not None and not 0 <= j < K.network.output_dim:
        raise InvalidFiltrationError(f"class {j} does not exist (the network has {K.network.output_dim} outputs)")
    bad = int(np.count_nonzero(~affine_certificate(S, what, j or 0)))
    if bad == 0 or not refine:
        F = _star(S, values(rows), kind, j)
        return replace(F, uncertified=bad, refined=None if not refine else 0)
    T = top_two_complex(K)
    parent = top_two_parents(T, K)
    ST = subcomplex_from_mask(T, S.mask[parent], f"{S.name}, cut by the runner-up (top-two refinement)")
    f0 = T.f_vector[0]
    F_at = K.network.forward_homogeneous([T.vertex_homogeneous(v) for v in range(f0)])[1]
    F = _star(ST, values(F_at), kind, j)
    left = int(np.count_nonzero(~affine_certificate(ST, what, j or 0, F_at)))
    if left:  # the refinement makes both functions affine on every cell (mathematics.md)
        raise InvalidFiltrationError(f"internal: {left} cells of the top-two refinement are not certified")
    return replace(F, uncertified=0, refined=bad)


def margin_filtration(target: PolyhedralComplex | Subcomplex, *, refine: bool = True) -> Filtration:
    """Sublevel sets of the margin ``F_(1) - F_(2)``, exactly: the lower star of its exact
    vertex values on the (sub)complex, refined by the runner-up (:func:`top_two_complex`)
    where the margin is not affine on a cell (module docstring). ``refine=False``: the lower
    star on the unrefined complex, ``uncertified`` counting the cells where it is inexact.

    Examples
    --------
    >>> from exactcells import Domain, build_complex, network_from_dict
    >>> net = network_from_dict({"layers": [{"W": [[1, 0]], "b": [5]},
    ...                                     {"W": [[0], [1], [-1]], "b": [10, -5, 5]}]})
    >>> R = build_complex(net, Domain.box(2, -1, 1), with_output=True)   # F = (10, x, -x)
    >>> F = margin_filtration(R)                                        # m = 10 - |x|
    >>> F.refined, F.levels
    (3, (Fraction(9, 1), Fraction(10, 1)))
    >>> margin_filtration(R, refine=False).levels                       # only the corners
    (Fraction(9, 1),)
    """
    return _exact_star(target, "margin-lower-star", None, refine)


def class_score_filtration(target: PolyhedralComplex | Subcomplex, j: int = 0, *,
                           refine: bool = True) -> Filtration:
    """Sublevel sets of ``g_j = F_j - max_{i != j} F_i``, exactly, as
    :func:`margin_filtration` (refined by the runner-up where ``g_j`` is not affine on a cell)."""
    return _exact_star(target, "class-score-lower-star", j, refine)


def filtration_from_values(
    target: PolyhedralComplex | Subcomplex, values: Sequence[Any] | Mapping[int, Any]
) -> Filtration:
    """A filtration from exact user values on cells.

    Parameters
    ----------
    values
        One value per cell of the ambient complex (a sequence), or a mapping from the cells of
        the subcomplex to values. Values are read exactly (ints, Fractions, strings; floats at
        their binary value).

    Raises
    ------
    InvalidFiltrationError
        If a value is missing or a face has a larger value than a coface.
    """
    S = _target(target)
    K = S.complex
    cells, indptr, rows, _ = restricted_facets(K, S.mask)
    vals: list[Fraction] = []
    for c in cells.tolist():
        try:
            v = values[c]
        except (KeyError, IndexError):
            raise InvalidFiltrationError(f"no value for cell {c}") from None
        vals.append(to_rational(v, f"value of cell {c}"))
    distinct, lev = _exact_ranks(vals)
    levels = tuple(distinct)
    owner = np.repeat(np.arange(len(cells)), np.diff(indptr))
    bad = lev[rows] > lev[owner]
    if np.any(bad):
        e = int(np.flatnonzero(bad)[0])
        raise InvalidFiltrationError(
            f"cell {int(cells[rows[e]])} has value {vals[rows[e]]} above that of its coface "
            f"{int(cells[owner[e]])} ({vals[owner[e]]}): not a filtration"
        )
    dims = np.asarray(K.dims, dtype=np.int64)[cells]
    perm = np.lexsort((cells, dims, lev))
    return Filtration("values", S, _frozen(cells[perm].astype(np.int64)), levels, _frozen(lev[perm]))


def make_filtration(
    target: PolyhedralComplex | Subcomplex, kind: str, *, seed: int = 0, output: int = 0
) -> Filtration:
    """The filtration of a kind named as on the command line (:data:`FILTRATION_KINDS`)."""
    if kind == "dimension-random":
        return dimension_random_filtration(target, seed)
    if kind == "random":
        return random_filtration(target, seed)
    if kind == "output-lower-star":
        return lower_star_filtration(target, output)
    if kind == "output-upper-star":
        return upper_star_filtration(target, output)
    if kind == "margin-lower-star":
        return margin_filtration(target)
    if kind == "class-score-lower-star":
        return class_score_filtration(target, output)
    raise InvalidFiltrationError(f"unknown filtration {kind!r}; choose one of {', '.join(FILTRATION_KINDS)}")
