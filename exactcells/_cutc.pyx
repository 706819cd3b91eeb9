# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled passes of the build's cut and of the kernel's float filter (optional extension).

Each function here is a loop-for-loop translation of a numpy pass of :mod:`exactcells.build` or
:mod:`exactcells.kernel` and returns the same arrays (same values, same shapes, same order), so
that the build gives the identical lattice with or without this module; the numpy passes stay
the fallback (``EXACTCELLS_NO_EXT=1`` forces them).

The float operations of :func:`filter_signs` and :func:`cross_floats` are the numpy passes'
operations, in the same order, on IEEE double (the module is compiled with
``-ffp-contract=off``: no fused multiply-add is formed, so every operation rounds exactly as
numpy's elementwise ufuncs do and the results are bit-identical). :func:`layer_step` computes
the matrix products of step 2 of the proof in :mod:`exactcells.kernel` by sequential sums; that
proof holds for a dot product in any summation order, so its bounds hold here too (the values
may differ from BLAS's in the last bits; both are covered by the same bound). Exact signs never
come from here: a sign the filter cannot decide is returned as undecided and goes to the exact
path in Python.
"""

from libc.math cimport INFINITY, fabs, isfinite, isnan
from libc.stdint cimport int8_t, int64_t, uint8_t, uint32_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcmp, memcpy

import numpy as np

ctypedef int64_t i64

cdef enum:
    NEG = 1
    ZERO = 2
    POS = 4


def filter_signs(const double[:, ::1] Z, const double[:, ::1] R, const i64[::1] vids,
                 Py_ssize_t row, Py_ssize_t minus, double U, double INFL, double ETA,
                 int8_t[::1] out, i64[::1] bad):
    """The float filter of ``VertexStore.signs`` (steps 3 and 5 of the kernel's proof): writes
    the sign of every decided value into ``out`` and the positions of the undecided ones into
    ``bad``; returns their number. A bound that is not a number decides nothing."""
    cdef Py_ssize_t i, nb = 0, m = vids.shape[0], ws = Z.shape[1]
    cdef double f, e
    cdef i64 v
    cdef bint ok
    if m == 0:
        return 0
    # local pointers (Z and R are C-contiguous with the same shape): the int8 stores into out
    # would otherwise make the compiler reload the arrays' descriptors at every step
    cdef const double *zp = &Z[0, 0]
    cdef const double *rp = &R[0, 0]
    cdef const i64 *vp = &vids[0]
    cdef int8_t *op = &out[0]
    cdef i64 *bp = &bad[0]
    if R.shape[0] != Z.shape[0] or R.shape[1] != ws:
        raise ValueError("Z and R differ in shape")
    for i in range(m):
        v = vp[i]
        f = zp[v * ws + row]
        e = rp[v * ws + row]
        if minus >= 0:
            f = f - zp[v * ws + minus]
            e = e + rp[v * ws + minus] + U * fabs(f)
        if e > 0:
            e = e * INFL + ETA
            ok = fabs(f) > e and isfinite(f)
        elif e == 0:
            ok = True  # the value is exact (step 5)
        else:
            ok = False  # NaN: the bound overflowed
        if f > 0:
            op[i] = 1
        elif f < 0:
            op[i] = -1
        else:
            op[i] = 0
        if not ok:
            bp[nb] = i
            nb += 1
    return nb


def sign_masks(Py_ssize_t N, const i64[::1] verts, const int8_t[::1] vsg, list ids, list pads):
    """``build._sign_masks``: the OR of the sign bits of every cell's vertices (index ``N``
    serves the padding) and the split cells of each dimension, in the order of ``ids[k]``."""
    cdef uint8_t[::1] mask
    cdef const i64[::1] cid
    cdef const i64[:, ::1] P
    cdef Py_ssize_t i, c, nk, w, ns, nv = verts.shape[0]
    cdef i64 f
    cdef uint8_t acc
    cdef i64[::1] sbuf
    cdef uint8_t bits[3]
    cdef uint8_t *mk
    cdef const i64 *cp
    cdef const i64 *row
    cdef i64 *sp
    bits[0] = NEG
    bits[1] = ZERO
    bits[2] = POS
    arr = np.zeros(N + 1, dtype=np.uint8)
    mask = arr
    # local pointers: the uint8 stores into the mask would otherwise make the compiler reload
    # the arrays' descriptors at every step
    mk = &mask[0]
    if nv > vsg.shape[0]:
        raise ValueError("fewer signs than vertices")
    for i in range(nv):
        mk[verts[i]] = bits[vsg[i] + 1]
    split = [np.zeros(0, dtype=np.int64)]
    for k in range(1, len(ids)):
        cid = ids[k]
        nk = cid.shape[0]
        if nk == 0:
            split.append(np.zeros(0, dtype=np.int64))
            continue
        P = pads[k]
        w = P.shape[1]
        if P.shape[0] < nk:
            raise ValueError("fewer facet rows than cells")
        s = np.empty(nk, dtype=np.int64)
        sbuf = s
        sp = &sbuf[0]
        cp = &cid[0]
        ns = 0
        for i in range(nk):
            acc = 0
            if w:
                row = &P[i, 0]
                for c in range(w):
                    f = row[c]
                    if f >= 0:
                        acc |= mk[f]
            mk[cp[i]] = acc
            if (acc & 5) == 5:
                sp[ns] = cp[i]
                ns += 1
        split.append(s[:ns].copy())
    return arr, split


def cut_core(Py_ssize_t N, const i64[::1] verts, const int8_t[::1] vsg, list ids, list pads,
             const i64[::1] pos, i64[::1] part_neg, i64[::1] part_zero, int8_t[::1] codes):
    """The passes of ``build._cut`` before its new cells, in one call: the masks and split cells
    (:func:`sign_masks`), the cut's sign code of every cell ``0 .. N - 1`` written into ``codes``
    (``build._CODES`` of its mask), and for each dimension ``k`` with split cells ``S`` the rows
    of their parts (:func:`split_dim`; their zero parts get the ids ``z0 ..``, their '-' parts
    ``z0 + len(S) ..``, dimension after dimension from ``N``). ``part_neg`` and ``part_zero``
    (all -1, at least ``N + 1`` entries) map the split cells to their parts while the next
    dimension is split, and are all -1 again on return.

    Returns ``(split, blocks, parents, child_codes)``: the split cells of each dimension, for
    each ``k = 1 .. n`` ``None`` or ``(z0, pos_F, neg_F, zero_pad)``, and for the new cells in
    id order their parents and their codes in the cut's column (1 for a zero part, 0 for a
    '-' part)."""
    cdef Py_ssize_t i, r, o, cnt, total = 0, nk = len(ids) - 1
    cdef i64 z0, nxt = N
    cdef const i64[::1] S
    cdef uint8_t[::1] mask
    cdef i64[::1] pv
    cdef int8_t[::1] cv
    cdef int8_t table[8]
    table[:] = [1, 0, 1, 0, 2, 2, 2, 2]
    arr, split = sign_masks(N, verts, vsg, ids, pads)
    mask = arr
    if codes.shape[0] < N:
        raise ValueError("the codes do not fit")
    cdef int8_t *cdp
    cdef const uint8_t *mkp
    if N:
        cdp = &codes[0]  # local pointers: int8 stores
        mkp = &mask[0]
        for i in range(N):
            cdp[i] = table[mkp[i]]
    blocks = []
    for k in range(1, nk + 1):
        S = split[k]
        cnt = S.shape[0]
        if cnt == 0:
            blocks.append(None)
            continue
        z0 = nxt
        pos_F, neg_F, zero_pad = split_dim(k, split[k], pads[k], pads[k - 1], pos, arr, part_neg,
                                           part_zero, z0)
        for r in range(cnt):
            part_neg[S[r]] = z0 + cnt + r
            part_zero[S[r]] = z0 + r
        nxt += 2 * cnt
        total += cnt
        blocks.append((z0, pos_F, neg_F, zero_pad))
    parents = np.empty(2 * total, dtype=np.int64)
    child = np.empty(2 * total, dtype=np.int8)
    pv = parents
    cv = child
    o = 0
    for k in range(1, nk + 1):
        S = split[k]
        cnt = S.shape[0]
        for r in range(cnt):
            pv[o + r] = S[r]
            cv[o + r] = 1
            pv[o + cnt + r] = S[r]
            cv[o + cnt + r] = 0
            part_neg[S[r]] = -1
            part_zero[S[r]] = -1
        o += 2 * cnt
    return split, blocks, parents, child


cdef struct IntBuf:
    i64 *data
    Py_ssize_t size
    Py_ssize_t cap


cdef int buf_push(IntBuf *b, i64 x) except -1:
    cdef i64 *p
    cdef Py_ssize_t cap
    if b.size == b.cap:
        cap = 2 * b.cap if b.cap else 256
        p = <i64 *> realloc(b.data, cap * sizeof(i64))
        if p == NULL:
            raise MemoryError()
        b.data = p
        b.cap = cap
    b.data[b.size] = x
    b.size += 1
    return 0


def split_dim(Py_ssize_t k, const i64[::1] S, const i64[:, ::1] Pk, const i64[:, ::1] Pk1,
              const i64[::1] pos, const uint8_t[::1] mask, const i64[::1] part_neg,
              const i64[::1] part_zero, i64 z0):
    """The padded facet rows ``(pos_F, neg_F, zero_pad)`` of the three parts of the split
    ``k``-cells ``S`` (their zero parts are ``z0, z0 + 1, ...``): ``build._split_facets`` for
    ``k >= 2``, and the edges' rows for ``k = 1`` (the '+' end first)."""
    cdef Py_ssize_t cnt = S.shape[0], w = Pk.shape[1], r, c, c2, w1, a0, nz, i, j
    cdef Py_ssize_t npos, nneg, wpos = 0, wneg = 0, wzero = 0
    cdef i64 f, g, a, b, z, prow, t
    cdef i64[:, ::1] PF
    cdef i64[:, ::1] NF
    cdef i64[:, ::1] ZF
    if k == 1:
        pos_F = np.empty((cnt, 2), dtype=np.int64)
        neg_F = np.empty((cnt, 2), dtype=np.int64)
        PF = pos_F
        NF = neg_F
        for r in range(cnt):
            prow = pos[S[r]]
            a = Pk[prow, 0]
            b = Pk[prow, 1]
            if mask[a] != POS:
                a, b = b, a
            z = z0 + r
            PF[r, 0] = a
            PF[r, 1] = z
            NF[r, 0] = b
            NF[r, 1] = z
        return pos_F, neg_F, np.zeros((cnt, 0), dtype=np.int64)
    w1 = Pk1.shape[1]
    pos_T = np.full((cnt, w + 1), -1, dtype=np.int64)
    neg_T = np.full((cnt, w + 1), -1, dtype=np.int64)
    PF = pos_T
    NF = neg_T
    cdef IntBuf zb  # the zero parts' rows, one after the other
    zb.data = NULL
    zb.size = 0
    zb.cap = 0
    zlen = np.zeros(cnt, dtype=np.int64)
    cdef i64[::1] ZL = zlen
    try:
        for r in range(cnt):
            prow = pos[S[r]]
            z = z0 + r
            npos = 0
            nneg = 0
            a0 = zb.size
            # the split facets' zero parts, in column order
            for c in range(w):
                f = Pk[prow, c]
                if f < 0:
                    continue
                if part_zero[f] >= 0:
                    PF[r, npos] = f
                    npos += 1
                    NF[r, nneg] = part_neg[f]
                    nneg += 1
                    buf_push(&zb, part_zero[f])
                elif mask[f] & POS:
                    PF[r, npos] = f
                    npos += 1
                else:
                    NF[r, nneg] = f
                    nneg += 1
            PF[r, npos] = z
            NF[r, nneg] = z
            npos += 1
            nneg += 1
            if npos > wpos:
                wpos = npos
            if nneg > wneg:
                wneg = nneg
            # then the faces of the other facets in the zero set: sorted, each once
            nz = zb.size
            for c in range(w):
                f = Pk[prow, c]
                if f < 0 or part_zero[f] >= 0:
                    continue
                for c2 in range(w1):
                    g = Pk1[pos[f], c2]
                    if g >= 0 and mask[g] == ZERO:
                        buf_push(&zb, g)
            # insertion sort of the new entries (a handful), then drop repeats
            for i in range(nz + 1, zb.size):
                t = zb.data[i]
                j = i - 1
                while j >= nz and zb.data[j] > t:
                    zb.data[j + 1] = zb.data[j]
                    j -= 1
                zb.data[j + 1] = t
            if zb.size > nz:
                j = nz + 1
                for i in range(nz + 1, zb.size):
                    if zb.data[i] != zb.data[j - 1]:
                        zb.data[j] = zb.data[i]
                        j += 1
                zb.size = j
            ZL[r] = zb.size - a0
            if zb.size - a0 > wzero:
                wzero = zb.size - a0
        zero_pad = np.full((cnt, wzero), -1, dtype=np.int64)
        ZF = zero_pad
        a0 = 0
        for r in range(cnt):
            for i in range(ZL[r]):
                ZF[r, i] = zb.data[a0 + i]
            a0 += ZL[r]
    finally:
        free(zb.data)
    return (np.ascontiguousarray(pos_T[:, :wpos]), np.ascontiguousarray(neg_T[:, :wneg]), zero_pad)


def cross_floats(double[:, ::1] Z, double[:, ::1] R, const i64[::1] P, const i64[::1] Q,
                 const i64[::1] vids, Py_ssize_t row, Py_ssize_t minus, double U, double INFL,
                 double ETA, double den_f, double dt_c, double g3, i64[::1] bad):
    """The float part of ``VertexStore.cross`` (step 4 of the kernel's proof): the float values
    and bounds of the new vertices ``vids[i]`` on the edges ``(P[i], Q[i])``, written into
    ``Z`` and ``R``; the positions whose crossing the bound cannot place are written into
    ``bad`` (their number is returned) and left for the exact path.
    ``den_f = 1 - 4 u``, ``dt_c = 2.01 u`` and ``g3 = gamma_3`` as computed by the kernel."""
    cdef Py_ssize_t i, c, nb = 0, m = P.shape[0], width = Z.shape[1]
    cdef double a, ea, b, eb, den, num, dt, t, zp, zq, d, ad, rp, rq, rm, rn
    cdef i64 p, q, v
    cdef bint ok
    for i in range(m):
        p = P[i]
        q = Q[i]
        a = Z[p, row]
        ea = R[p, row]
        b = Z[q, row]
        eb = R[q, row]
        if minus >= 0:
            a = a - Z[p, minus]
            ea = ea + R[p, minus] + U * fabs(a)
            b = b - Z[q, minus]
            eb = eb + R[q, minus] + U * fabs(b)
        # as _bound: a bound > 0 inflated, 0 kept, a NaN (an overflow) infinite: undecided
        if ea > 0:
            ea = ea * INFL + ETA
        elif not ea == 0:
            ea = INFINITY
        if eb > 0:
            eb = eb * INFL + ETA
        elif not eb == 0:
            eb = INFINITY
        ok = (a - ea > 0) and (-b - eb > 0)
        den = ((a - ea) + (-b - eb)) * den_f
        ok = ok and den > 0
        num = (ea * (fabs(b) + eb) + eb * (a + ea)) * INFL
        dt = num / (den * den) * INFL + dt_c
        t = a / (a - b)
        if t < 0.0:  # numpy's maximum and minimum: NaN and -0.0 pass through
            t = 0.0
        if t > 1.0:
            t = 1.0
        ok = ok and isfinite(dt) and isfinite(t)
        if not ok:
            bad[nb] = i
            nb += 1
            continue
        v = vids[i]
        for c in range(width):
            zp = Z[p, c]
            zq = Z[q, c]
            d = zq - zp
            Z[v, c] = zp + t * d
            ad = fabs(d)
            rp = R[p, c]
            rq = R[q, c]
            rm = rp if (rp >= rq or isnan(rp)) else rq
            rn = rm + dt * ad + g3 * (fabs(zp) + ad)
            if rm != 0 or d != 0 or zp != 0:
                R[v, c] = rn * INFL + ETA
            else:
                R[v, c] = 0.0
    return nb


def layer_step(const double[:, ::1] post, const double[:, ::1] Rp, const double[:, ::1] W,
               const double[:, ::1] absW, const double[::1] bias, const double[::1] cb,
               const double[:, ::1] nzW, double gam, double INFL, double ETA, bint dense=False):
    """``Z = post W + b`` and its bound ``R`` (step 2 of the kernel's proof) with sequential
    sums; a term whose input is exactly 0 with bound 0 adds exactly 0 to every sum and is
    skipped (the weights must be finite: the kernel checks). ``dense``: no weight is 0 (``nzW``
    all 1), so an output has a term with a non-zero weight exactly when some term is kept."""
    cdef Py_ssize_t B = post.shape[0], m = post.shape[1], w = W.shape[1], i, j, c
    cdef double y, s
    cdef bint kept
    Zo = np.empty((B, w), dtype=np.float64)
    Ro = np.empty((B, w), dtype=np.float64)
    cdef double[:, ::1] Z = Zo
    cdef double[:, ::1] R = Ro
    cdef double *za = <double *> malloc(3 * (w + 1) * sizeof(double))
    if za == NULL:
        raise MemoryError()
    cdef double *ra = za + (w + 1)
    cdef double *la = ra + (w + 1)
    cdef const double *wr
    cdef const double *ar
    cdef const double *nr
    try:
        for i in range(B):
            for c in range(w):
                za[c] = 0.0
                ra[c] = 0.0
                la[c] = 0.0
            kept = False
            for j in range(m):
                y = post[i, j]
                s = Rp[i, j]
                if y == 0 and s == 0:
                    continue
                kept = True
                s = s + gam * fabs(y)
                wr = &W[j, 0]
                ar = &absW[j, 0]
                for c in range(w):  # separate loops: each one vectorizes
                    za[c] += y * wr[c]
                for c in range(w):
                    ra[c] += s * ar[c]
                if not dense:
                    nr = &nzW[j, 0]
                    for c in range(w):
                        la[c] += nr[c]  # > 0: some term with a non-zero weight (numpy's live)
            if dense and kept:
                for c in range(w):
                    la[c] = 1.0
            for c in range(w):
                Z[i, c] = za[c] + bias[c]
                R[i, c] = (ra[c] + cb[c]) * INFL
                if la[c] > 0:
                    R[i, c] = R[i, c] + ETA
    finally:
        free(za)
    return Zo, Ro


def pack_keys(const int8_t[::1] dims, const int8_t[:, ::1] sig, const i64[::1] cols):
    """The canonical sort keys of ``build._assemble`` packed into words: per cell, its
    dimension (8 bits), then the sign codes ``sig[c, cols[0]], sig[c, cols[1]], ...`` (2 bits
    each, 0 < 1 < 2), most significant first, in ``W`` uint64 words (the last one padded with
    zero bits). Comparing the rows of words lexicographically compares the keys."""
    cdef Py_ssize_t N = dims.shape[0], K = cols.shape[0], i, j, wi, j0, j1
    cdef Py_ssize_t W = (8 + 2 * K + 63) // 64
    out = np.zeros((N, W), dtype=np.uint64)
    if N == 0:
        return out
    cdef unsigned long long[:, ::1] O = out
    cdef unsigned long long acc
    cdef const int8_t *srow
    cdef const i64 *cp = &cols[0] if K else NULL
    cdef unsigned long long *orow
    cdef Py_ssize_t rs = sig.strides[0] if sig.shape[0] else 0
    cdef const int8_t *base = &sig[0, 0] if (sig.shape[0] and sig.shape[1]) else NULL
    for i in range(N):  # (local pointers: int8 loads, no stores the compiler must reload around)
        srow = base + i * rs
        orow = &O[i, 0]
        acc = <unsigned long long> (<uint8_t> dims[i])
        j0 = 0
        j1 = 28 if K > 28 else K  # the first word: 8 bits of dimension, then 28 codes
        for wi in range(W):
            for j in range(j0, j1):
                acc = (acc << 2) | <unsigned long long> (srow[cp[j]] & 3)
            if wi == 0:
                acc = acc << (2 * (28 - (j1 - j0)))
            else:
                acc = acc << (2 * (32 - (j1 - j0)))
            orow[wi] = acc
            acc = 0
            j0 = j1
            j1 = j0 + 32 if j0 + 32 < K else K
    return out


def facet_csr(Py_ssize_t N, const i64[::1] new_id, list ids, list pads):
    """``(indptr, indices)``: the facets of every cell, renumbered by ``new_id`` and listed in
    the new order, each cell's sorted (what ``build._assemble`` computes with numpy)."""
    cdef const i64[::1] cid
    cdef const i64[:, ::1] P
    cdef Py_ssize_t k, i, c, nk, w, p, q, start
    cdef i64 f, t, total = 0
    counts_a = np.zeros(N + 1, dtype=np.int64)
    cdef i64[::1] ptr = counts_a
    for k in range(1, len(ids)):
        cid = ids[k]
        P = pads[k]
        nk = cid.shape[0]
        w = P.shape[1]
        for i in range(nk):
            t = 0
            for c in range(w):
                if P[i, c] >= 0:
                    t += 1
            ptr[new_id[cid[i]] + 1] = t
    for i in range(N):
        total += ptr[i + 1]
        ptr[i + 1] = total
    ind_a = np.empty(total, dtype=np.int64)
    cdef i64[::1] ind = ind_a
    for k in range(1, len(ids)):
        cid = ids[k]
        P = pads[k]
        nk = cid.shape[0]
        w = P.shape[1]
        for i in range(nk):
            start = ptr[new_id[cid[i]]]
            p = start
            for c in range(w):
                f = P[i, c]
                if f >= 0:
                    t = new_id[f]
                    q = p - 1  # insertion into the sorted prefix
                    while q >= start and ind[q] > t:
                        ind[q + 1] = ind[q]
                        q -= 1
                    ind[q + 1] = t
                    p += 1
    return counts_a, ind_a


cdef inline int row_less(const unsigned long long[:, ::1] K, i64 a, i64 b, Py_ssize_t W) nogil:
    """Row ``a`` of ``K`` before row ``b`` (lexicographic; ties keep the smaller index first)."""
    cdef Py_ssize_t t
    for t in range(W):
        if K[a, t] != K[b, t]:
            return K[a, t] < K[b, t]
    return a < b


def sort_keys(const unsigned long long[:, ::1] words):
    """The order that sorts the rows of ``words`` lexicographically (first word most
    significant), stably (the same order as ``numpy.lexsort(words.T[::-1])``): for one or two
    words an LSD radix sort by 16-bit digits that skips the digits all rows share; for wider
    keys (which the first words mostly decide) the same radix sort of the indices by the first
    word, then a merge sort of each run of equal first words by the whole rows."""
    cdef Py_ssize_t N = words.shape[0], W = words.shape[1], i, j, p, wd, sh, d
    if W > 2:
        return _first_word_order(words)
    cdef Py_ssize_t *cnt = <Py_ssize_t *> malloc(65536 * sizeof(Py_ssize_t))
    if cnt == NULL:
        raise MemoryError()
    ka = np.array(words, dtype=np.uint64, copy=True)
    kb = np.empty_like(ka)
    ia = np.arange(N, dtype=np.int64)
    ib = np.empty_like(ia)
    cdef unsigned long long[:, ::1] K1 = ka
    cdef unsigned long long[:, ::1] K2 = kb
    cdef unsigned long long[:, ::1] Kt
    cdef i64[::1] I1 = ia
    cdef i64[::1] I2 = ib
    cdef i64[::1] It
    cdef Py_ssize_t s, t
    try:
        for p in range(4 * W):
            wd = W - 1 - p // 4
            sh = 16 * (p % 4)
            for d in range(65536):
                cnt[d] = 0
            for i in range(N):
                cnt[(K1[i, wd] >> sh) & 0xFFFF] += 1
            if N == 0 or cnt[(K1[0, wd] >> sh) & 0xFFFF] == N:
                continue  # a digit every row shares
            s = 0
            for d in range(65536):
                t = cnt[d]
                cnt[d] = s
                s += t
            for i in range(N):
                d = (K1[i, wd] >> sh) & 0xFFFF
                j = cnt[d]
                cnt[d] = j + 1
                I2[j] = I1[i]
                for t in range(W):
                    K2[j, t] = K1[i, t]
            Kt = K1
            K1 = K2
            K2 = Kt
            It = I1
            I1 = I2
            I2 = It
    finally:
        free(cnt)
    return np.asarray(I1)


def gather_signs(const int8_t[:, ::1] sig, const i64[::1] order, const i64[::1] cols):
    """``sig[order][:, cols] - 1`` as int8 (sign codes 0, 1, 2 to the signs -1, 0, 1)."""
    cdef Py_ssize_t N = order.shape[0], K = cols.shape[0], i, j
    out = np.empty((N, K), dtype=np.int8)
    if N == 0 or K == 0:
        return out
    cdef int8_t[:, ::1] O = out
    cdef int8_t *obase = &O[0, 0]
    cdef const int8_t *base = &sig[0, 0]
    cdef Py_ssize_t rs = sig.strides[0]
    cdef const i64 *cp = &cols[0]
    cdef const i64 *op = &order[0]
    cdef const int8_t *srow
    cdef int8_t *orow
    for i in range(N):  # local pointers: the int8 stores cannot alias them
        srow = base + op[i] * rs
        orow = obase + i * K
        for j in range(K):
            orow[j] = srow[cp[j]] - 1
    return out


def copy_parents(int8_t[:, ::1] sig, Py_ssize_t N, const i64[::1] par, int8_t[:, ::1] buf,
                 Py_ssize_t k, const int8_t[::1] child):
    """New cells ``N + i`` copy their parents' rows: ``sig[N + i] = sig[par[i]]``, and the first
    ``k`` rows of the column buffer likewise (``buf[:k, N + i] = buf[:k, par[i]]``), then take
    ``child[i]`` in buffer row ``k - 1`` (``build._Columns.new_cells``; ``k = 0``: no buffer)."""
    cdef Py_ssize_t m = par.shape[0], w = sig.shape[1], i, r
    if m == 0:
        return
    if N + m > sig.shape[0] or (k > 0 and (N + m > buf.shape[1] or k > buf.shape[0])):
        raise ValueError("the new rows do not fit")
    cdef char *sb = <char *> &sig[0, 0]
    cdef Py_ssize_t rs = sig.strides[0]
    cdef const i64 *pp = &par[0]
    cdef int8_t *brow
    if w:
        for i in range(m):
            memcpy(sb + (N + i) * rs, sb + pp[i] * rs, w)
    for r in range(k):
        brow = &buf[r, 0]
        for i in range(m):
            brow[N + i] = brow[pp[i]]
    if k:
        brow = &buf[k - 1, 0]
        for i in range(m):
            brow[N + i] = child[i]


def write_rows(i64[:, ::1] P, const i64[::1] rows, const i64[:, ::1] R):
    """``P[rows[i]] = R[i]`` padded with -1 (``R`` no wider than ``P``): the split cells' new
    facet rows (``build._write_pads``)."""
    cdef Py_ssize_t n = rows.shape[0], w = P.shape[1], wr = R.shape[1], i, c
    cdef i64 r
    if wr > w:
        raise ValueError("rows wider than the padded array")
    for i in range(n):
        r = rows[i]
        for c in range(wr):
            P[r, c] = R[i, c]
        for c in range(wr, w):
            P[r, c] = -1


def put_block(i64[:, ::1] P, Py_ssize_t start, const i64[:, ::1] X):
    """``P[start + i, :X.shape[1]] = X[i]`` (rows past the live ones are all -1 already)."""
    cdef Py_ssize_t n = X.shape[0], wx = X.shape[1], i, c
    if wx > P.shape[1] or start + n > P.shape[0]:
        raise ValueError("block does not fit the padded array")
    for i in range(n):
        for c in range(wx):
            P[start + i, c] = X[i, c]


def _first_word_order(const unsigned long long[:, ::1] K):
    """:func:`sort_keys` for three words or more: a stable LSD radix sort of the row indices by
    the first word (16-bit digits; digits all rows share are skipped), then every run of rows
    with equal first words sorted by :func:`row_less` (the whole row, then the index: with the
    runs' indices increasing for equal rows, the whole order is stable)."""
    cdef Py_ssize_t N = K.shape[0], W = K.shape[1], i, j, p, sh, d, s, t, lo, hi
    ia = np.arange(N, dtype=np.int64)
    ib = np.empty_like(ia)
    cdef i64[::1] A = ia
    cdef i64[::1] B = ib
    cdef i64[::1] T
    cdef unsigned long long k0
    cdef Py_ssize_t *cnt = <Py_ssize_t *> malloc(65536 * sizeof(Py_ssize_t))
    if cnt == NULL:
        raise MemoryError()
    try:
        for p in range(4):
            sh = 16 * p
            for d in range(65536):
                cnt[d] = 0
            for i in range(N):
                cnt[(K[A[i], 0] >> sh) & 0xFFFF] += 1
            if N == 0 or cnt[(K[A[0], 0] >> sh) & 0xFFFF] == N:
                continue  # a digit every row shares
            s = 0
            for d in range(65536):
                t = cnt[d]
                cnt[d] = s
                s += t
            for i in range(N):
                d = (K[A[i], 0] >> sh) & 0xFFFF
                j = cnt[d]
                cnt[d] = j + 1
                B[j] = A[i]
            T = A
            A = B
            B = T
    finally:
        free(cnt)
    lo = 0
    while lo < N:
        k0 = K[A[lo], 0]
        hi = lo + 1
        while hi < N and K[A[hi], 0] == k0:
            hi += 1
        if hi - lo > 1:
            _merge_run(K, W, A, B, lo, hi)
        lo = hi
    return np.asarray(A).copy() if A.shape[0] else np.zeros(0, dtype=np.int64)


cdef void _merge_run(const unsigned long long[:, ::1] K, Py_ssize_t W, i64[::1] A, i64[::1] B,
                     Py_ssize_t lo, Py_ssize_t hi) noexcept:
    """Sort ``A[lo:hi]`` by :func:`row_less` in place (``B[lo:hi]`` is scratch): insertion sort
    for short runs, else a bottom-up merge sort (stable either way; row_less breaks ties by
    index, so both give the one order)."""
    cdef Py_ssize_t width, a0, mid, end, a, b, o, i, q
    cdef i64 x
    cdef bint in_b = False
    if hi - lo <= 16:
        for i in range(lo + 1, hi):
            x = A[i]
            q = i - 1
            while q >= lo and row_less(K, x, A[q], W):
                A[q + 1] = A[q]
                q -= 1
            A[q + 1] = x
        return
    cdef i64[::1] S = A
    cdef i64[::1] D = B
    cdef i64[::1] T
    width = 1
    while width < hi - lo:
        a0 = lo
        while a0 < hi:
            mid = a0 + width if a0 + width < hi else hi
            end = a0 + 2 * width if a0 + 2 * width < hi else hi
            a = a0
            b = mid
            o = a0
            while a < mid and b < end:
                if row_less(K, S[b], S[a], W):
                    D[o] = S[b]
                    b += 1
                else:
                    D[o] = S[a]
                    a += 1
                o += 1
            while a < mid:
                D[o] = S[a]
                a += 1
                o += 1
            while b < end:
                D[o] = S[b]
                b += 1
                o += 1
            a0 = end
        T = S
        S = D
        D = T
        in_b = not in_b
        width *= 2
    if in_b:
        for i in range(lo, hi):
            A[i] = B[i]


# -- the distributed build's passes (exactcells.parallel) -------------------------------------

def unpack_signs(const uint8_t[:, ::1] rows, Py_ssize_t start, int8_t[:, ::1] out):
    """The sign vectors of packed rows into the int8 rows ``out``: entry ``j`` of row ``i`` is
    bits ``6 - 2 (j mod 4)`` of byte ``rows[i, start + j // 4]``, less one (the packing of
    :func:`exactcells.parallel._pack`: 2 bits per entry, ``s + 1``, the first entry in the high
    bits); only ``out``'s columns are written (the padding is dropped). The same values as
    ``parallel._unpack_into``'s table lookup, without its temporary."""
    cdef Py_ssize_t N = out.shape[0], w = out.shape[1], i, j, full = w // 4, rest = w % 4
    cdef uint32_t lut[256]
    cdef uint8_t b
    cdef const uint8_t *src
    cdef int8_t *dst
    cdef uint32_t word
    if rows.shape[0] != N or start < 0 or 4 * (rows.shape[1] - start) < w:
        raise ValueError("packed rows do not match the sign rows")
    for i in range(256):  # the four signs of byte i as the bytes of one word (memory order)
        for j in range(4):
            (<int8_t *> &lut[i])[j] = <int8_t>((i >> (6 - 2 * j)) & 3) - 1
    if N == 0 or w == 0:
        return
    with nogil:
        for i in range(N):
            src = &rows[i, start]
            dst = &out[i, 0]
            for j in range(full):
                memcpy(dst + 4 * j, &lut[src[j]], 4)
            if rest:
                word = lut[src[full]]
                memcpy(dst + 4 * full, &word, rest)


cdef int _cmp_i64(const void *a, const void *b) noexcept nogil:
    cdef i64 x = (<const i64 *> a)[0], y = (<const i64 *> b)[0]
    return (x > y) - (x < y)


def place_facets(const i64[::1] indptr, const i64[::1] flat, const i64[::1] cells, const i64[::1] gid,
                 const i64[::1] starts, i64 lo, i64[::1] out):
    """Write the facet list of every cell ``c = cells[j]`` of a lattice, in global indices and
    ascending, at ``out[starts[j] - lo :]``: the entries ``gid[flat[indptr[c] : indptr[c + 1]]]``
    sorted (insertion sort for short lists, ``qsort`` for long ones). Raises ``ValueError`` if a
    facet has no global index (``gid < 0``) or a list does not fit ``out``. The same values as
    ``parallel._global_facets``'s gather, sort by (cell, index) and scatter."""
    cdef Py_ssize_t n = cells.shape[0], F = out.shape[0], j, a, b, o, t, q, k
    cdef i64 v
    if starts.shape[0] != n:
        raise ValueError("one start per cell is needed")
    for j in range(n):
        a = indptr[cells[j]]
        b = indptr[cells[j] + 1]
        o = starts[j] - lo
        k = b - a
        if o < 0 or o + k > F:
            raise ValueError("a facet list does not fit its place")
        for t in range(a, b):
            v = gid[flat[t]]
            if v < 0:
                raise ValueError("a facet has no global index")
            if k > 32:
                out[o + t - a] = v
                continue
            q = o + (t - a) - 1
            while q >= o and out[q] > v:
                out[q + 1] = out[q]
                q -= 1
            out[q + 1] = v
        if k > 32:
            qsort(&out[o], k, sizeof(i64), _cmp_i64)


cdef void _sort_run(const uint8_t *S, Py_ssize_t K, Py_ssize_t off, i64 *p, i64 *t, Py_ssize_t n) noexcept nogil:
    """Sort the positions ``p[0:n]`` (increasing on entry) stably by the bytes ``off .. K`` of
    the rows ``S + K * p[i]``: insertion sort for short runs, else a bottom-up merge sort."""
    cdef Py_ssize_t i, q, width, a0, mid, end, a, b, o
    cdef i64 x
    cdef i64 *src
    cdef i64 *dst
    cdef i64 *tmp
    if n <= 16:
        for i in range(1, n):
            x = p[i]
            q = i - 1
            while q >= 0 and memcmp(S + K * x + off, S + K * p[q] + off, K - off) < 0:
                p[q + 1] = p[q]
                q -= 1
            p[q + 1] = x
        return
    src = p
    dst = t
    width = 1
    while width < n:
        a0 = 0
        while a0 < n:
            mid = a0 + width if a0 + width < n else n
            end = a0 + 2 * width if a0 + 2 * width < n else n
            a = a0
            b = mid
            o = a0
            while a < mid and b < end:
                if memcmp(S + K * src[b] + off, S + K * src[a] + off, K - off) < 0:
                    dst[o] = src[b]
                    b += 1
                else:
                    dst[o] = src[a]
                    a += 1
                o += 1
            while a < mid:
                dst[o] = src[a]
                a += 1
                o += 1
            while b < end:
                dst[o] = src[b]
                b += 1
                o += 1
            a0 = end
        tmp = src
        src = dst
        dst = tmp
        width *= 2
    if src != p:
        memcpy(p, src, n * sizeof(i64))


def sort_rows(const uint8_t[:, ::1] keys):
    """The stable order of the rows of ``keys`` as byte strings (``numpy.argsort`` of their
    opaque-row view, ``kind="stable"``), the rows in that order, and whether they are distinct.

    A stable LSD radix sort (16-bit digits; digits every row shares are skipped) of pairs (first
    8 bytes as a big-endian word, row index), moved together; the rows gathered in that order;
    then each run of equal first words sorted stably by the remaining bytes (``memcmp``)."""
    cdef Py_ssize_t M = keys.shape[0], K = keys.shape[1], i, j, p, sh, d, s, t, lo, hi, c, L
    cdef Py_ssize_t k8 = K if K < 8 else 8
    wa = np.zeros(M, dtype=np.uint64)
    wb = np.empty(M, dtype=np.uint64)
    ia = np.arange(M, dtype=np.int64)
    ib = np.empty(M, dtype=np.int64)
    srt = np.empty((M, K), dtype=np.uint8)
    cdef unsigned long long[::1] W1 = wa
    cdef unsigned long long[::1] W2 = wb
    cdef unsigned long long[::1] Wt
    cdef i64[::1] I1 = ia
    cdef i64[::1] I2 = ib
    cdef i64[::1] It
    cdef uint8_t[:, ::1] R = srt
    cdef unsigned long long x
    cdef Py_ssize_t *cnt
    cdef i64 *pp
    cdef i64 *tt
    cdef uint8_t *buf
    cdef bint distinct = True
    if M == 0:
        return ia, srt, True
    if K == 0:
        return ia, srt, M <= 1
    for i in range(M):
        x = 0
        for c in range(k8):
            x = (x << 8) | keys[i, c]
        W1[i] = x << (8 * (8 - k8)) if k8 < 8 else x
    cnt = <Py_ssize_t *> malloc(65536 * sizeof(Py_ssize_t))
    if cnt == NULL:
        raise MemoryError()
    try:
        with nogil:
            for p in range(4):
                sh = 16 * p
                for d in range(65536):
                    cnt[d] = 0
                for i in range(M):
                    cnt[(W1[i] >> sh) & 0xFFFF] += 1
                if cnt[(W1[0] >> sh) & 0xFFFF] == M:
                    continue  # a digit every row shares
                s = 0
                for d in range(65536):
                    t = cnt[d]
                    cnt[d] = s
                    s += t
                for i in range(M):
                    d = (W1[i] >> sh) & 0xFFFF
                    j = cnt[d]
                    cnt[d] = j + 1
                    W2[j] = W1[i]
                    I2[j] = I1[i]
                Wt = W1
                W1 = W2
                W2 = Wt
                It = I1
                I1 = I2
                I2 = It
    finally:
        free(cnt)
    with nogil:
        for i in range(M):
            memcpy(&R[i, 0], &keys[I1[i], 0], K)
    if K > 8:
        # runs of equal first words: positions sorted by the rest, then rows and indices permuted
        # (scratch for the longest run only)
        L = 1
        lo = 0
        with nogil:
            for i in range(1, M + 1):
                if i == M or W1[i] != W1[lo]:
                    if i - lo > L:
                        L = i - lo
                    lo = i
        pp = <i64 *> malloc(L * sizeof(i64))
        tt = <i64 *> malloc(L * sizeof(i64))
        buf = <uint8_t *> malloc(L * K)
        if pp == NULL or tt == NULL or buf == NULL:
            free(pp)
            free(tt)
            free(buf)
            raise MemoryError()
        with nogil:
            lo = 0
            while lo < M:
                hi = lo + 1
                while hi < M and W1[hi] == W1[lo]:
                    hi += 1
                L = hi - lo
                if L > 1:
                    for i in range(L):
                        pp[i] = lo + i
                    _sort_run(&R[0, 0], K, 8, pp, tt, L)
                    for i in range(L):
                        tt[i] = I1[pp[i]]
                        memcpy(buf + K * i, &R[pp[i], 0], K)
                    for i in range(L):
                        I1[lo + i] = tt[i]
                    memcpy(&R[lo, 0], buf, K * L)
                lo = hi
        free(pp)
        free(tt)
        free(buf)
    with nogil:
        for i in range(1, M):
            if memcmp(&R[i - 1, 0], &R[i, 0], K) >= 0:
                distinct = False
                break
    return np.asarray(I1).copy() if I1.shape[0] else np.zeros(0, dtype=np.int64), srt, distinct


def key_ranges(const uint8_t[:, ::1] keys, const uint8_t[:, ::1] splitters):
    """For each row of ``keys``, the number of rows of ``splitters`` (sorted) at or below it as
    byte strings: ``numpy.searchsorted(splitters, keys, side="right")`` on opaque rows."""
    cdef Py_ssize_t M = keys.shape[0], S = splitters.shape[0], K = keys.shape[1], i, a, b, m
    out = np.zeros(M, dtype=np.int64)
    cdef i64[::1] O = out
    if S == 0 or M == 0:
        return out
    if splitters.shape[1] != K:
        raise ValueError("keys and splitters differ in width")
    with nogil:
        for i in range(M):
            a = 0
            b = S
            while a < b:
                m = (a + b) // 2
                if memcmp(&splitters[m, 0], &keys[i, 0], K) <= 0:
                    a = m + 1
                else:
                    b = m
            O[i] = a
    return out


def pack_rows(const int8_t[::1] dims, const int8_t[:, ::1] sig, const i64[::1] cols):
    """Rows ``(dim, packed codes)``: byte 0 the dimension, then the sign codes ``sig[i, cols[j]]``
    (0, 1, 2) four to a byte, the first in the high bits, the last byte padded with zero bits
    (the bytes of :func:`exactcells.parallel._keys`). Four consecutive columns are read as one
    little-endian word and packed by one multiplication (as ``parallel._pack_codes`` does)."""
    cdef Py_ssize_t N = dims.shape[0], K = cols.shape[0], wb = (K + 3) // 4, i, b, t, j
    out = np.zeros((N, wb + 1), dtype=np.uint8)
    if N == 0:
        return out
    if sig.shape[0] < N:
        raise ValueError("fewer sign rows than dimensions")
    for j in range(K):
        if cols[j] < 0 or cols[j] >= sig.shape[1]:
            raise ValueError("a column is out of range")
    fast_arr = np.zeros(wb, dtype=np.uint8)
    cdef uint8_t[::1] fast = fast_arr
    for b in range(wb):
        if 4 * b + 3 < K and cols[4 * b + 1] == cols[4 * b] + 1 and cols[4 * b + 2] == cols[4 * b] + 2 \
                and cols[4 * b + 3] == cols[4 * b] + 3:
            fast[b] = 1
    cdef uint8_t[:, ::1] O = out
    cdef const int8_t *srow
    cdef const i64 *cp = &cols[0] if K else NULL
    cdef Py_ssize_t rs = sig.strides[0]
    cdef const int8_t *base = &sig[0, 0] if sig.shape[1] else NULL
    cdef uint32_t v
    cdef unsigned int acc
    with nogil:
        for i in range(N):
            O[i, 0] = <uint8_t> dims[i]
            if base == NULL:
                continue
            srow = base + i * rs
            for b in range(wb):
                if fast[b]:
                    memcpy(&v, srow + cp[4 * b], 4)
                    O[i, 1 + b] = <uint8_t> (((v & 0x03030303u) * 0x40100401u) >> 24)
                else:
                    acc = 0
                    for t in range(4):
                        j = 4 * b + t
                        acc = (acc << 2) | ((<unsigned int> (<uint8_t> srow[cp[j]]) & 3) if j < K else 0)
                    O[i, 1 + b] = <uint8_t> acc
    return out
