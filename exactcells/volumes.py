"""Exact volumes of the cells of a network's complex by a face recursion in exterior algebra.

A pulling triangulation of a polytope ``G`` (apex ``a``, a vertex of ``G``) cones ``a`` over the
triangulations of the facets of ``G`` that miss ``a``, recursively, and its volume is a sum of
simplex determinants. The same lower faces recur in many simplices and in neighbouring cells;
this module sums their determinants once per face, with integer exterior algebra.

**Notation.** A point ``x`` has the homogeneous integer vector ``h = (D x, D)``, ``D > 0``. For a
``k``-face ``G`` let ``Omega_G`` be the sum, over the ``k``-simplices ``(x_0, .., x_k)`` of a
pulling triangulation of ``G``, of the ``(k+1)``-vectors ``(h_0/D_0) ^ ... ^ (h_k/D_k)``, all
oriented alike. They lie in the line ``Lambda^{k+1}`` of the linear span of ``G``'s homogeneous
cone, so ``Omega_G = mu_G E_G`` with ``E_G`` the *primitive* integer Plücker vector of that span
and a rational ``mu_G >= 0``.

* A vertex ``v``: ``E_v = h_v`` and ``mu_v = 1 / D_v``.
* A ``k``-face ``G`` with apex ``a`` and facets ``F``: ``h_a ^ E_F = c_F E_G`` and
  ``mu_G = (1 / D_a) sum_F |c_F| mu_F`` (``c_F = 0`` exactly for the facets through ``a``).
  ``c_F`` is read off one coordinate ``I`` where ``E_G`` is non-zero.
* ``k = n``: ``E_P = +-1`` and the determinant of the rows ``(x_i, 1)`` of a simplex is ``n!``
  times its volume, so ``vol(P) = mu_P / n!``.

The absolute values are sound because the cones ``a * F`` have disjoint interiors and each lies
on one side of ``F``'s hyperplane within ``G``'s span.

**Integers throughout.** With ``L_G`` the product of the denominators ``D`` of ``G``'s vertices,
``Omega_G L_G`` is an integer multivector (every simplex uses vertices of ``G``), so
``nu_G = mu_G L_G`` is an integer (``E_G`` is primitive: a rational multiple of a primitive
integer vector that is integral has an integer factor). The recursion becomes

    ``nu_G = (1 / |E_G[I]|) sum_F |(h_a ^ E_F)[I]| nu_F L_G / (D_a L_F)``,

where ``L_G / (D_a L_F)`` is an integer and the division by ``|E_G[I]|`` is exact. A non-zero
remainder would mean that ``G``'s facets do not lie in one span: it is reported.

**The Plücker vectors come from the network, not from the vertices.** The affine hull of a cell
``G`` is cut out of the hull of a cofacet ``F`` by the zero set of one more neuron ``j`` (one with
``s_G[j] = 0 != s_F[j]``): that neuron's local pre-activation on the closure of ``F`` is an affine
form ``N`` that vanishes on ``G`` and is not constant on ``F``. So the dual (annihilator) Plücker
vector is ``P_G = prim(N ^ P_F)``, from ``P_P = 1`` for a top cell, and ``E_G`` is its Hodge dual
(a primitive lattice and its orthogonal complement have the same Plücker coordinates up to
complement and sign). The local forms have the size of the network's weights, while the vertices
carry much larger numbers; this is what makes the recursion fast.

Everything is exact (Python integers and python-flint ``fmpz``/``fmpq``); no floating point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
from flint import fmpq, fmpz

if TYPE_CHECKING:  # scipy is imported where it is used: `import exactcells` stays light
    import scipy.sparse as sp

from .localforms import LocalForms

__all__ = [
    "FaceVolumes",
    "face_volumes",
    "region_volumes",
]


class FaceVolumes:
    """The result of :func:`face_volumes`.

    Attributes
    ----------
    nu, L
        Object arrays, one entry per cell: ``mu_G = nu_G / L_G`` (module docstring); for a top
        cell ``nu / L`` is ``n!`` times its volume.
    computed
        Boolean mask of the cells whose ``nu`` (and Plücker vector) was computed: the top
        cells asked for and the faces their recursion reaches.
    inconsistent
        Cells for which the exact division failed: their facets' cones do not lie in one span
        (the claimed geometry is not that of a polytope). Empty for a valid complex.
    """

    def __init__(self, n: int, nu: np.ndarray, L: np.ndarray, inconsistent: np.ndarray,
                 computed: np.ndarray, plucker: dict[int, np.ndarray] | None = None,
                 dims: np.ndarray | None = None, row_of: np.ndarray | None = None) -> None:
        self.n = n
        self.computed = computed
        self.nu = nu
        self.L = L
        self.inconsistent = inconsistent
        self._E = plucker
        self._dims = dims
        self._row_of = row_of

    @property
    def plucker(self) -> Any:
        """``E_G`` per cell as a callable ``c -> coordinates`` (only with ``keep_plucker=True``)."""
        if self._E is None or self._dims is None or self._row_of is None:
            return None
        E, dims, row_of = self._E, self._dims, self._row_of
        return lambda c: list(E[int(dims[c])][int(row_of[c])])

    def volume(self, c: int) -> Fraction:
        """Exact ``n``-volume of top cell ``c``."""
        q = self.volume_fmpq(c)
        return Fraction(int(q.p), int(q.q))

    def volume_fmpq(self, c: int) -> Any:
        """Exact ``n``-volume of top cell ``c`` as a reduced ``fmpq``."""
        return fmpq(self.nu[c], self.L[c] * math.factorial(self.n))


def _wedge_tables(m: int, grade: int) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray]:
    """Index tables for ``h ^ E`` in ``Lambda^grade R^m`` with ``E`` of grade ``grade - 1``.

    Coordinate ``I = (i_0 < .. < i_k)`` of ``h ^ E`` is ``sum_t (-1)^t h[i_t] E[I \\ i_t]``.
    Returns the sets and, per set and term ``t``: ``i_t`` and the position of ``I \\ i_t``.
    """
    sets = list(combinations(range(m), grade))
    lower = {s: j for j, s in enumerate(combinations(range(m), grade - 1))}
    hi = np.empty((len(sets), grade), dtype=np.int64)
    lo = np.empty((len(sets), grade), dtype=np.int64)
    for r, s in enumerate(sets):
        for t in range(grade):
            hi[r, t] = s[t]
            lo[r, t] = lower[s[:t] + s[t + 1:]]
    return sets, hi, lo


def _hodge(m: int, grade: int) -> tuple[np.ndarray, np.ndarray]:
    """For each ``grade``-set ``I`` of ``range(m)``: the position of its complement among the
    ``(m - grade)``-sets and the sign of the permutation ``(I, complement)``."""
    sets = list(combinations(range(m), grade))
    comp = {s: j for j, s in enumerate(combinations(range(m), m - grade))}
    pos = np.empty(len(sets), dtype=np.int64)
    sgn = np.empty(len(sets), dtype=np.int64)
    for r, s in enumerate(sets):
        c = tuple(x for x in range(m) if x not in s)
        pos[r] = comp[c]
        perm = list(s) + list(c)
        inv = sum(1 for i in range(m) for j in range(i + 1, m) if perm[i] > perm[j])
        sgn[r] = -1 if inv % 2 else 1
    return pos, sgn


def _wedge(h: np.ndarray, E: np.ndarray, m: int, grade: int) -> np.ndarray:
    """Row-wise ``h ^ E`` (object arrays), ``E`` of grade ``grade - 1`` in ``R^m``."""
    sets, hi, lo = _wedge_tables(m, grade)
    W = np.zeros((h.shape[0], len(sets)), dtype=object)
    for t in range(grade):
        term = h[:, hi[:, t]] * E[:, lo[:, t]]
        W = W + term if t % 2 == 0 else W - term
    return W


def _primitive(W: np.ndarray) -> np.ndarray:
    """Rows divided by their contents (Python ints; zero rows stay zero)."""
    g = W[:, 0].copy()
    for j in range(1, W.shape[1]):
        g = np.gcd(g, W[:, j])
    g[g == 0] = 1
    return W // g[:, None]


_fmpz = np.frompyfunc(fmpz, 1, 1)


def _to_fmpz(A: np.ndarray) -> np.ndarray:
    """Object array of Python ints -> object array of ``fmpz`` (same shape)."""
    return np.asarray(_fmpz(A), dtype=object) if A.size else A.astype(object)


def _csr_rows(ptr: np.ndarray, ind: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries of CSR rows ``rows``: (row position in ``rows``, entry) pairs."""
    cnt = ptr[rows + 1] - ptr[rows]
    tot = int(cnt.sum())
    offs = np.concatenate(([0], np.cumsum(cnt)[:-1])).astype(np.int64)
    return np.repeat(np.arange(rows.size), cnt), ind[np.repeat(ptr[rows] - offs, cnt) + np.arange(tot)]


def cell_vertex_matrix(N: int, f0: int, dims: np.ndarray, B: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Claimed vertex sets of every cell (rows: cells, columns: vertices), sorted CSR."""
    import scipy.sparse as sp
    acc = sp.csr_matrix((np.ones(f0, dtype=np.int64), (np.arange(f0), np.arange(f0))),
                        shape=(N, f0))
    for k in range(1, n + 1):
        sel = np.flatnonzero(dims == k)
        if sel.size == 0:
            continue
        import scipy.sparse as sp
        mask = sp.csr_matrix((np.ones(sel.size, dtype=np.int64), (sel, sel)), shape=(N, N))
        Vk = (mask @ B) @ acc
        Vk.data[:] = 1
        acc = acc + Vk
        acc.data[:] = 1
    acc = acc.tocsr()
    acc.sort_indices()
    return acc


def closure(facets: sp.csr_matrix, dims: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Boolean mask of the given cells and all their faces."""
    mask = np.zeros(dims.size, dtype=bool)
    mask[cells] = True
    ptr, ind = facets.indptr.astype(np.int64), facets.indices.astype(np.int64)
    for k in range(int(dims.max(initial=0)), 0, -1):
        sel = np.flatnonzero(mask & (dims == k))
        if sel.size:
            mask[_csr_rows(ptr, ind, sel)[1]] = True
    return mask


def face_volumes(
    n: int,
    dims: np.ndarray,
    signs: np.ndarray,
    facets: sp.csr_matrix,
    cell_vertices: sp.csr_matrix,
    hom: Sequence[Sequence[int]],
    forms: LocalForms,
    keep_plucker: bool = False,
    cells: np.ndarray | None = None,
) -> FaceVolumes:
    """Exact ``nu`` and ``L`` of every cell (module docstring) from the face poset and vertices.

    Parameters
    ----------
    n
        The ambient dimension.
    dims, signs
        Dimension and sign vector of every cell (cells sorted by dimension, vertices first).
    facets
        CSR matrix, row ``c`` lists the facets of cell ``c``.
    cell_vertices
        CSR matrix (cells x vertices), row ``c`` lists the vertices of cell ``c``, sorted.
    hom
        Rows ``(D x, D)`` of Python ints with ``D > 0``, one per vertex.
    forms
        The network's local forms (:class:`LocalForms`).
    keep_plucker
        Keep every cell's Plücker vector ``E_G`` in the result (for tests; memory heavy).
    cells
        Optional boolean mask of cells, closed under taking faces (see :func:`closure`): only
        the volumes of its top cells are computed. Used to split the work between processes.
        In any case only the faces that the pulling recursion reaches get ``nu`` (the facets
        of a computed cell that miss its apex, recursively); the others keep ``nu = 0``.

    Returns
    -------
    FaceVolumes
    """
    N = int(dims.size)
    f0 = len(hom)
    H = np.empty((f0, n + 1), dtype=object)  # Python ints: fast for the mixed small-big products
    for v, h in enumerate(hom):
        H[v, :] = [int(x) for x in h]
    D = np.array([fmpz(x) for x in H[:, n]], dtype=object) if f0 else np.zeros(0, dtype=object)
    vptr = cell_vertices.indptr.astype(np.int64)
    vind = cell_vertices.indices.astype(np.int64)
    fptr = facets.indptr.astype(np.int64)
    find = facets.indices.astype(np.int64)
    has_v0 = np.diff(vptr) > 0
    apex = np.full(N, -1, dtype=np.int64)
    apex[has_v0] = vind[vptr[:-1][has_v0]]
    # (cell, vertex) pairs as sorted int64 keys: "is vertex a in cell G" by binary search
    vkeys = np.repeat(np.arange(N, dtype=np.int64), np.diff(vptr)) * max(f0, 1) + vind
    inmask = _reached_faces(n, dims, f0, fptr, find, has_v0, apex, vkeys, cells)
    has_v = has_v0 & inmask
    L = _vertex_denominator_products(N, vptr, vind, D, has_v)
    P, flat = _dual_plucker(n, dims, signs, facets, inmask, forms)
    E = _primal_plucker(P, H, n, f0, flat)
    del P  # the dual vectors are not needed any more (memory on large complexes)
    nu, inc = _nu_bottom_up(n, dims, f0, fptr, find, has_v, apex, vkeys, H, D, L, E, flat)
    if keep_plucker:
        return FaceVolumes(n, nu, L, inc, has_v, E, dims, flat)
    return FaceVolumes(n, nu, L, inc, has_v)


def _reached_faces(n: int, dims: np.ndarray, f0: int, fptr: np.ndarray, find: np.ndarray,
                   has_v0: np.ndarray, apex: np.ndarray, vkeys: np.ndarray,
                   cells: np.ndarray | None) -> np.ndarray:
    """The cells the pulling recursion reaches from the top cells asked for (all, or those of
    the mask ``cells``): the vertices, and the facets that miss their cofacet's apex, recursively."""
    inmask = (dims == n) if cells is None else (np.asarray(cells, dtype=bool) & (dims == n))
    inmask[:f0] = True
    for k in range(n, 1, -1):
        sel = np.flatnonzero(inmask & (dims == k) & has_v0)
        owner, fac = _csr_rows(fptr, find, sel)
        key = fac * max(f0, 1) + apex[sel][owner]
        pos = np.searchsorted(vkeys, key)
        inside = (pos < vkeys.size) & (vkeys[np.minimum(pos, vkeys.size - 1)] == key)
        inmask[fac[~inside]] = True
    return inmask


def _vertex_denominator_products(N: int, vptr: np.ndarray, vind: np.ndarray, D: np.ndarray,
                                 has_v: np.ndarray) -> np.ndarray:
    """``L_G``: the product of the denominators ``D`` of the vertices of every cell (1 for the
    cells not computed)."""
    L = np.full(N, fmpz(1), dtype=object)
    lsel = np.flatnonzero(has_v)
    if lsel.size:
        lown, lver = _csr_rows(vptr, vind, lsel)
        L[lsel] = np.multiply.reduceat(D[lver], np.flatnonzero(np.r_[True, lown[1:] != lown[:-1]]))
    return L


def _dual_plucker(n: int, dims: np.ndarray, signs: np.ndarray, facets: sp.csr_matrix,
                  inmask: np.ndarray, forms: LocalForms) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Dual Plücker vectors, top-down: ``P_G = prim(N ^ P_F)`` for a cofacet ``F`` of ``G`` and
    the local form ``N`` that vanishes on ``G`` but not on ``F``.

    Returns the distinct vectors per dimension (``P[k]``, one row per flat) and the index of each
    cell's flat in ``P[dims[c]]`` (row 0 is the zero vector of a cell without a usable cofacet).
    """
    N = int(dims.size)
    m = n + 1
    cof = facets.multiply(inmask[:, None]).tocsr().transpose().tocsr()
    cof.eliminate_zeros()
    cptr, cind = cof.indptr.astype(np.int64), cof.indices.astype(np.int64)
    P: dict[int, np.ndarray] = {n: np.ones((1, 1), dtype=object)}
    flat = np.zeros(N, dtype=np.int64)  # index of each cell's flat in P[dims]
    for k in range(n - 1, 0, -1):
        sel = np.flatnonzero((dims == k) & inmask)
        ncoord = math.comb(m, n - k)
        if sel.size == 0:
            P[k] = np.zeros((0, ncoord), dtype=object)
            continue
        has_cof = cptr[sel + 1] > cptr[sel]
        par = np.where(has_cof, cind[np.minimum(cptr[sel], max(cind.size - 1, 0))], -1)
        ok = has_cof & (dims[np.maximum(par, 0)] == k + 1)
        new_zero = (signs[sel] == 0) & (signs[np.maximum(par, 0)] != 0)
        ok &= new_zero.any(axis=1)
        # a cell without a usable cofacet gets the zero vector (flat 0 is reserved for it)
        pair = np.zeros((sel.size, 2), dtype=np.int64)
        rows = np.zeros((0, n + 1), dtype=object)
        if np.any(ok):
            f = par[ok]
            rows, fid = forms.rows(signs[f], np.argmax(new_zero[ok], axis=1))
            pair[ok, 0] = flat[f] + 1
            pair[ok, 1] = fid
        # P_G depends only on (the parent's flat, the form): compute it once per distinct pair
        span = int(pair[:, 1].max()) + 1 if pair.size else 1
        if int(pair[:, 0].max(initial=0)) < (2**62) // span:  # one int64 key per pair
            _, first, inv = np.unique(pair[:, 0] * span + pair[:, 1], return_index=True,
                                      return_inverse=True)
            upair = pair[first]
        else:
            upair, first, inv = np.unique(pair, axis=0, return_index=True, return_inverse=True)
        inv = np.asarray(inv).ravel()
        Pk = np.zeros((upair.shape[0], ncoord), dtype=object)
        real = upair[:, 0] > 0
        if np.any(real):
            src = first[real]  # a representative cell of each pair, as an index into sel
            okpos = np.cumsum(ok) - 1
            Nrow = rows[okpos[src]]
            Pk[real] = _primitive(_wedge(Nrow, P[k + 1][upair[real, 0] - 1], m, n - k))
        P[k] = Pk
        flat[sel] = inv
    return P, flat


def _primal_plucker(P: dict[int, np.ndarray], H: np.ndarray, n: int, f0: int,
                    flat: np.ndarray) -> dict[int, np.ndarray]:
    """Primal Plücker vectors ``E = *P`` (Hodge duals, Python ints; signs are irrelevant under
    ``|.|``); the vertices' are their homogeneous vectors, so ``flat`` of a vertex becomes its
    index (in place)."""
    m = n + 1
    E: dict[int, np.ndarray] = {0: H}
    flat[:f0] = np.arange(f0)
    for k in range(1, n):
        pos, sgn = _hodge(m, k + 1)
        E[k] = P[k][:, pos] * sgn[None, :].astype(object)
    E[n] = np.ones((1, 1), dtype=object)
    return E


def _nu_bottom_up(n: int, dims: np.ndarray, f0: int, fptr: np.ndarray, find: np.ndarray,
                  has_v: np.ndarray, apex: np.ndarray, vkeys: np.ndarray, H: np.ndarray, D: np.ndarray,
                  L: np.ndarray, E: dict[int, np.ndarray], row_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``nu`` of every computed cell, bottom-up by the pulling recursion (module docstring), and
    the cells whose facets' vertices do not lie in one flat of their dimension (sorted)."""
    N = int(dims.size)
    m = n + 1
    nu = np.full(N, fmpz(0), dtype=object)
    nu[:f0] = fmpz(1)
    inconsistent: list[np.ndarray] = []
    for k in range(1, n + 1):
        sel = np.flatnonzero((dims == k) & has_v)
        if sel.size == 0:
            continue
        _, hi, lo = _wedge_tables(m, k + 1)
        owner, fac = _csr_rows(fptr, find, sel)
        a = apex[sel][owner]
        key = fac * max(f0, 1) + a
        pos = np.searchsorted(vkeys, key)
        inside = (pos < vkeys.size) & (vkeys[np.minimum(pos, vkeys.size - 1)] == key)
        use = ~inside & (dims[fac] == k - 1)
        owner, fac, a = owner[use], fac[use], a[use]
        EG = E[k][row_of[sel]]
        piv = np.argmax(EG != 0, axis=1)
        eI = np.abs(EG[np.arange(sel.size), piv])
        lp = piv[owner]
        Ek, frow = E[k - 1], row_of[fac]
        wI = H[a, hi[lp, 0]] * Ek[frow, lo[lp, 0]]
        for t in range(1, k + 1):
            term = H[a, hi[lp, t]] * Ek[frow, lo[lp, t]]
            wI = wI + term if t % 2 == 0 else wI - term
        acc = np.full(sel.size, fmpz(0), dtype=object)
        if k == 1:  # an edge ab: nu_b = 1 and L_ab / (D_a L_b) = 1, one link per edge
            acc[owner] = _to_fmpz(np.abs(wI))
        elif owner.size:
            # L_G / (D_a L_F), via L_G / D_a once per face
            LGa = L[sel] // D[apex[sel]]
            contrib = (nu[fac] * np.abs(wI)) * (LGa[owner] // L[fac])
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            acc[owner[starts]] = np.add.reduceat(contrib, starts)
        good = eI != 0
        if k == n:  # E_P = +-1
            nu[sel] = acc
            inconsistent.append(sel[~good])
            continue
        q = np.full(sel.size, fmpz(0), dtype=object)
        q[good] = acc[good] // eI[good]
        bad = ~good
        bad[good] = (acc[good] % eI[good]) != 0
        nu[sel] = q
        inconsistent.append(sel[bad])
    inc = np.sort(np.concatenate(inconsistent)).astype(np.int64) if inconsistent else \
        np.zeros(0, dtype=np.int64)
    return nu, inc


def region_volumes(K: Any) -> list[Fraction]:
    """Exact volumes of the regions of a :class:`~exactcells.complex.PolyhedralComplex`.

    In the order of ``K.regions()``; computed by :func:`face_volumes` (tested against the
    pulling triangulations of :mod:`exactcells.measure`).
    """
    n, N = K.input_dim, K.num_cells
    dims = np.asarray(K.dims, dtype=np.int64)
    ptr, ind = (np.asarray(a, dtype=np.int64) for a in K.facet_csr)
    import scipy.sparse as sp
    B = sp.csr_matrix((np.ones(ind.size, dtype=np.int64), ind, ptr), shape=(N, N))
    f0 = K.f_vector[0]
    V = cell_vertex_matrix(N, f0, dims, B, n)
    H = [tuple(int(x) for x in K.vertex_homogeneous(v)) for v in range(f0)]
    fv = face_volumes(n, dims, np.asarray(K.signs, dtype=np.int8), B, V, H,
                      LocalForms(K.network, K.domain, K.output_refinement))
    return [fv.volume(int(c)) for c in K.regions()]
