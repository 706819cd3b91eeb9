# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Exact integer signs and constructions over GMP, and the certificate's compiled passes
(optional extension).

* Exact arithmetic. For integer forms ``m`` (rows of ``n + 1`` integers) and integer homogeneous
  points ``h = (D x, D)`` with ``D > 0``: the exact sign of ``m . h`` (:func:`dot_signs`,
  :func:`sign_table`, :func:`relu_signs`, :func:`forward_signs`) and exact new points, the
  primitive crossings of edges (:func:`cross_linear`, :func:`cross_relu`, :func:`cross_forward`).
  Inputs and outputs are Python integers; the arithmetic is GMP's. Signs are first tried by the
  float filter below; whatever it cannot decide (every exact zero among them) is computed with
  exact integers. Nothing here is rounded: a result is either proven by the filter's bound or
  exact.
* Float and bit-mask passes of the certificate (:func:`float_points`, :func:`filter_layer`,
  :func:`facet_link_faults`, :func:`joins`) and of the coordinates' rebuild (:func:`ancestors`,
  :func:`int_points`): loops of the numpy passes they replace, with the same results.

The pure-Python and numpy code of :mod:`exactcells.kernel` and :mod:`exactcells.certify` computes
the same results and stays the fallback (``EXACTCELLS_NO_EXT=1``); ``tests/test_exactc.py`` and
the certificate's tests compare the two.

The filter (proof)
------------------
Write ``u = 2^-53``, ``x_j = h_j / D`` (``j < n``), ``w = sum_{j<n} m_j x_j + m_n``; ``D > 0``, so
``sign(m . h) = sign(D w) = sign(w)``.

(F1) Conversions. GMP's ``mpz_get_d_2exp`` gives, for an integer ``a != 0``, ``d`` and ``e`` with
     ``1/2 <= |d| < 1`` and ``d`` the 53-bit truncation of ``a / 2^e``: ``|a| = |d| 2^e (1 + alpha)``,
     ``0 <= alpha < 2u``. A form's float ``m~ = d 2^e`` (exact: only for ``e <= 1000``, otherwise the
     form is never filtered) has ``|m - m~| <= 2u |m~|``. A point's ``x~_j = fl(d_j / d_D) 2^(e_j -
     e_D)`` (exact scaling: only for ``|e_j - e_D| <= 1000``, otherwise the point is never filtered;
     ``x~_j = 0`` exactly when ``h_j = 0``): with ``fl(d_j / d_D) = (d_j / d_D)(1 + theta)``,
     ``|theta| <= u``, ``x_j = x~_j (1 + alpha) / ((1 + beta)(1 + theta))`` and ``|x_j - x~_j| <= 4u
     |x~_j|``.
(F2) ``|m_j x_j - m~_j x~_j| <= |m_j - m~_j| |x_j| + |m~_j| |x_j - x~_j| <= (2u (1 + 4u) + 4u) |m~_j
     x~_j|``, so with ``S = sum_{j<n} |m~_j x~_j| + |m~_n|``, ``w~ = sum_{j<n} m~_j x~_j + m~_n``:
     ``|w - w~| <= 6.01 u S``.
(F3) ``s = fl(...)``, the products and the sum in the order ``j = 0 .. n-1`` and then ``+ m~_n``
     (compiled with ``-ffp-contract=off``: no fused multiply-add), is a dot product of ``n + 1``
     terms: ``|s - w~| <= gamma_{n+1} S``, ``gamma_k = k u / (1 - k u)``, plus at most ``2^-1074``
     per operation where a result is subnormal.
(F4) The computed ``S^`` (non-negative terms, ``2n + 1`` roundings) is ``>= S (1 - u)^(2n+1)`` less
     the same underflow. The bound used is ``B = fl(fl(c S^) + eta)``, ``c = 2 (n + 10) u`` (exact:
     an integer times a power of 2), ``eta = 2^-1000``. For ``(2n + 2) u <= 1/4`` (any real input
     dimension), ``(gamma_{n+1} + 6.01 u) / (1 - u)^(2n+3) <= c``, so ``B >= (gamma_{n+1} + 6.01 u) S +
     eta / 2``, and ``eta / 2`` exceeds every underflow term (at most ``4 (n + 1) 2^-1074``).
(F5) If ``s`` and ``B`` are finite and ``|s| > B``, then ``|w - s| < |s|``: ``sign(w) = sign(s)``.
     Otherwise the sign is computed exactly, ``sign(sum_j m_j h_j)`` in GMP integers.
"""

from libc.math cimport fabs, isfinite, ldexp
from libc.stdint cimport int8_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc

import numpy as np

ctypedef int64_t i64


cdef extern from "gmp.h":
    ctypedef struct __mpz_struct:
        pass
    ctypedef __mpz_struct* mpz_ptr
    ctypedef const __mpz_struct* mpz_srcptr
    void mpz_init(mpz_ptr)
    void mpz_clear(mpz_ptr)
    void mpz_set(mpz_ptr, mpz_srcptr)
    void mpz_set_ui(mpz_ptr, unsigned long)
    void mpz_add(mpz_ptr, mpz_srcptr, mpz_srcptr)
    void mpz_sub(mpz_ptr, mpz_srcptr, mpz_srcptr)
    void mpz_mul(mpz_ptr, mpz_srcptr, mpz_srcptr)
    void mpz_addmul(mpz_ptr, mpz_srcptr, mpz_srcptr)
    void mpz_submul(mpz_ptr, mpz_srcptr, mpz_srcptr)
    void mpz_gcd(mpz_ptr, mpz_srcptr, mpz_srcptr)
    void mpz_divexact(mpz_ptr, mpz_srcptr, mpz_srcptr)
    int mpz_sgn(mpz_srcptr)
    int mpz_cmp_ui(mpz_srcptr, unsigned long)
    int mpz_divisible_p(mpz_srcptr, mpz_srcptr)
    double mpz_get_d_2exp(long*, mpz_srcptr)


cdef extern from "_exactc_conv.h":
    int ec_mpz_set_py(mpz_ptr z, object o) except -1
    object ec_py_from_mpz(mpz_srcptr z)


cdef double U = 2.0 ** -53
cdef double ETA = 2.0 ** -1000
cdef long MAX_EXP = 1000


cdef struct Block:
    # r rows of w integers (forms, or homogeneous points whose last entry is D) and their floats
    Py_ssize_t r
    Py_ssize_t w
    __mpz_struct *z   # r * w integers
    double *f         # r * w floats: a form's m~_j, a point's x~_j (j < w - 1; the last is 1)
    uint8_t *ok       # 1: the row may be filtered (F1)
    uint8_t *set      # 1: the row is loaded


cdef int block_init(Block *b, Py_ssize_t r, Py_ssize_t w) except -1:
    cdef Py_ssize_t i
    b.r = r
    b.w = w
    b.z = <__mpz_struct *>malloc(max(r * w, 1) * sizeof(__mpz_struct))
    b.f = <double *>malloc(max(r * w, 1) * sizeof(double))
    b.ok = <uint8_t *>malloc(max(r, 1))
    b.set = <uint8_t *>malloc(max(r, 1))
    if b.z == NULL or b.f == NULL or b.ok == NULL or b.set == NULL:
        free(b.z)
        free(b.f)
        free(b.ok)
        free(b.set)
        b.z = NULL
        b.r = 0
        raise MemoryError()
    for i in range(r * w):
        mpz_init(b.z + i)
    for i in range(r):
        b.ok[i] = 0
        b.set[i] = 0
    return 0


cdef __mpz_struct *mpz_array(Py_ssize_t n) except NULL:
    """``n`` integers, each set to 0 (free with :func:`mpz_array_free`)."""
    cdef Py_ssize_t i
    cdef __mpz_struct *a = <__mpz_struct *>malloc(max(n, 1) * sizeof(__mpz_struct))
    if a == NULL:
        raise MemoryError()
    for i in range(n):
        mpz_init(a + i)
    return a


cdef void mpz_array_free(__mpz_struct *a, Py_ssize_t n):
    """Clear and free the ``n`` integers of :func:`mpz_array` (nothing for NULL)."""
    cdef Py_ssize_t i
    if a != NULL:
        for i in range(n):
            mpz_clear(a + i)
        free(a)


cdef void block_free(Block *b):
    cdef Py_ssize_t i
    if b.z != NULL:
        for i in range(b.r * b.w):
            mpz_clear(b.z + i)
    free(b.z)
    free(b.f)
    free(b.ok)
    free(b.set)
    b.z = NULL


cdef int load_ints(Block *b, Py_ssize_t i, object seq, str what) except -1:
    cdef Py_ssize_t j, w = b.w
    if len(seq) != w:
        raise ValueError(f"{what} {i} has {len(seq)} entries, expected {w}")
    for j in range(w):
        ec_mpz_set_py(b.z + i * w + j, seq[j])
    b.set[i] = 1
    return 0


cdef void form_floats(Block *b, Py_ssize_t i):
    """(F1) for a form: ``m~_j``; not filtered if an entry has 2^1000 or more."""
    cdef Py_ssize_t j, w = b.w
    cdef long e
    cdef double d
    b.ok[i] = 1
    for j in range(w):
        d = mpz_get_d_2exp(&e, b.z + i * w + j)
        if e > MAX_EXP:
            b.ok[i] = 0
            return
        b.f[i * w + j] = ldexp(d, e)


cdef void point_floats(Block *b, Py_ssize_t i):
    """(F1) for a point ``(D x, D)``: ``x~_j``; not filtered if ``D <= 0`` or a scale is out of range."""
    cdef Py_ssize_t j, w = b.w, n = b.w - 1
    cdef long e, eD
    cdef double d, dD
    cdef mpz_srcptr h = b.z + i * w
    b.ok[i] = 0
    if mpz_sgn(h + n) <= 0:
        return
    dD = mpz_get_d_2exp(&eD, h + n)
    for j in range(n):
        if mpz_sgn(h + j) == 0:
            b.f[i * w + j] = 0.0
            continue
        d = mpz_get_d_2exp(&e, h + j)
        if e - eD > MAX_EXP or e - eD < -MAX_EXP:
            return
        b.f[i * w + j] = ldexp(d / dD, e - eD)
    b.f[i * w + n] = 1.0
    b.ok[i] = 1


cdef inline int filtered_sign(const double *m, const double *x, Py_ssize_t n, double c) noexcept nogil:
    """(F3)-(F5): the sign of ``w``, or 2 (undecided)."""
    cdef Py_ssize_t j
    cdef double s = 0.0, S = 0.0, t, B
    for j in range(n):
        t = m[j] * x[j]
        s = s + t
        S = S + fabs(t)
    s = s + m[n]
    S = S + fabs(m[n])
    B = c * S + ETA
    if isfinite(s) and isfinite(B) and fabs(s) > B:
        return 1 if s > 0 else -1
    return 2


cdef inline void exact_dot(mpz_ptr out, mpz_srcptr m, mpz_srcptr h, Py_ssize_t w) noexcept:
    cdef Py_ssize_t j
    mpz_mul(out, m, h)
    for j in range(1, w):
        mpz_addmul(out, m + j, h + j)


cdef class _Signs:
    """The exact signs of forms at points, filtered: one instance per call, loading each form and
    point it meets once."""
    cdef Block forms
    cdef Block points
    cdef __mpz_struct tmp
    cdef double c
    cdef Py_ssize_t exact
    cdef object pylist_forms
    cdef object pylist_points

    def __cinit__(self, forms, points, Py_ssize_t width):
        mpz_init(&self.tmp)
        self.pylist_forms = forms
        self.pylist_points = points
        block_init(&self.forms, len(forms), width)
        block_init(&self.points, len(points), width)
        self.c = 2.0 * (width - 1 + 10) * U
        self.exact = 0

    def __dealloc__(self):
        block_free(&self.forms)
        block_free(&self.points)
        mpz_clear(&self.tmp)

    cdef int need_form(self, Py_ssize_t k) except -1:
        if k < 0 or k >= self.forms.r:
            raise IndexError(f"form {k} out of range")
        if not self.forms.set[k]:
            load_ints(&self.forms, k, self.pylist_forms[k], "form")
            form_floats(&self.forms, k)
        return 0

    cdef int need_point(self, Py_ssize_t p) except -1:
        if p < 0 or p >= self.points.r:
            raise IndexError(f"point {p} out of range")
        if not self.points.set[p]:
            load_ints(&self.points, p, self.pylist_points[p], "point")
            point_floats(&self.points, p)
        return 0

    cdef int sign(self, Py_ssize_t k, Py_ssize_t p) except -2:
        cdef Py_ssize_t w = self.forms.w
        cdef int s = 2
        self.need_form(k)
        self.need_point(p)
        if self.forms.ok[k] and self.points.ok[p]:
            s = filtered_sign(self.forms.f + k * w, self.points.f + p * w, w - 1, self.c)
        if s == 2:
            self.exact += 1
            exact_dot(&self.tmp, self.forms.z + k * w, self.points.z + p * w, w)
            s = mpz_sgn(&self.tmp)
        return s


def dot_signs(list forms, list points, const i64[::1] fi, const i64[::1] pi, int8_t[::1] out):
    """``out[t] = sign(forms[fi[t]] . points[pi[t]])``, exactly (integer sequences of one length
    ``n + 1``; a point whose last entry is not positive is never filtered, only computed exactly).
    Returns how many signs the filter left to exact arithmetic."""
    cdef Py_ssize_t t, m = fi.shape[0]
    if pi.shape[0] != m or out.shape[0] != m:
        raise ValueError("fi, pi and out differ in length")
    if m == 0:
        return 0
    width = len(forms[0]) if forms else 0
    cdef _Signs sg = _Signs(forms, points, width)
    for t in range(m):
        out[t] = sg.sign(fi[t], pi[t])
    return sg.exact


def sign_table(list forms, list points):
    """``(T, exact)``: ``T[p, k] = sign(forms[k] . points[p])`` (int8, exact) and how many signs the
    filter left to exact arithmetic."""
    cdef Py_ssize_t k, p, nf = len(forms), npnt = len(points)
    T = np.zeros((npnt, nf), dtype=np.int8)
    if nf == 0 or npnt == 0:
        return T, 0
    cdef int8_t[:, ::1] Tv = T
    cdef _Signs sg = _Signs(forms, points, len(forms[0]))
    for p in range(npnt):
        for k in range(nf):
            Tv[p, k] = sg.sign(k, p)
    return T, sg.exact


def float_points(list points, double[:, ::1] X, double[:, ::1] R):
    """(F1) for the certificate: ``X[p, j] = x~_j`` and a bound ``R[p, j] >= |x_j - x~_j|``
    (``fl(5u |x~_j|) + eta``, 0 where ``h_j = 0``); a point that cannot be filtered gets NaN
    values and infinite bounds (they decide nothing)."""
    cdef Py_ssize_t p, j, npnt = len(points)
    if npnt == 0:
        return
    cdef Py_ssize_t w = len(points[0]), n = w - 1
    if X.shape[0] != npnt or X.shape[1] != n or R.shape[0] != npnt or R.shape[1] != n:
        raise ValueError("X and R must have shape (len(points), n)")
    cdef Block b
    block_init(&b, 1, w)
    try:
        for p in range(npnt):
            load_ints(&b, 0, points[p], "point")
            point_floats(&b, 0)
            for j in range(n):
                if not b.ok[0]:
                    X[p, j] = float("nan")
                    R[p, j] = float("inf")
                elif b.f[j] == 0.0:
                    X[p, j] = 0.0
                    R[p, j] = 0.0
                else:
                    X[p, j] = b.f[j]
                    R[p, j] = 5.0 * U * fabs(b.f[j]) + ETA
    finally:
        block_free(&b)


cdef object crossing(mpz_ptr a, mpz_ptr b, mpz_srcptr hp, mpz_srcptr hq, Py_ssize_t w,
                     __mpz_struct *r, mpz_ptr g):
    """The primitive vector of ``a hq - b hp`` as a tuple of Python ints (the gcd of its entries:
    that of the last two, then of each other entry it does not divide; it is usually large)."""
    cdef Py_ssize_t j
    for j in range(w):
        mpz_mul(r + j, a, hq + j)
        mpz_submul(r + j, b, hp + j)
    if w == 1:
        mpz_gcd(g, r, r)
    else:
        mpz_gcd(g, r + (w - 1), r + (w - 2))  # >= 0
    for j in range(w - 2):
        if mpz_cmp_ui(g, 1) == 0:
            break
        if mpz_sgn(g) == 0 or not mpz_divisible_p(r + j, g):
            mpz_gcd(g, g, r + j)
    out = []
    for j in range(w):
        if mpz_cmp_ui(g, 1) > 0:
            mpz_divexact(r + j, r + j, g)
        out.append(ec_py_from_mpz(r + j))
    return tuple(out)


cdef class _Cross:
    """Scratch integers of one crossing call."""
    cdef Block hp
    cdef Block hq
    cdef __mpz_struct a
    cdef __mpz_struct b
    cdef __mpz_struct g
    cdef __mpz_struct *r
    cdef Py_ssize_t w

    def __cinit__(self, Py_ssize_t w):
        self.w = 0
        self.r = NULL
        block_init(&self.hp, 1, w)
        block_init(&self.hq, 1, w)
        mpz_init(&self.a)
        mpz_init(&self.b)
        mpz_init(&self.g)
        self.r = mpz_array(w)
        self.w = w

    def __dealloc__(self):
        block_free(&self.hp)
        block_free(&self.hq)
        mpz_clear(&self.a)
        mpz_clear(&self.b)
        mpz_clear(&self.g)
        mpz_array_free(self.r, self.w)

    cdef int load(self, object p, object q) except -1:
        """The edge's ends into ``hp`` and ``hq``."""
        load_ints(&self.hp, 0, p, "point")
        load_ints(&self.hq, 0, q, "point")
        return 0

    cdef object make(self, Py_ssize_t t):
        """The crossing of edge ``t`` from the values ``a`` and ``b`` at its ends (``a > 0 > b``
        checked: a ValueError names the edge otherwise)."""
        if not (mpz_sgn(&self.a) > 0 and mpz_sgn(&self.b) < 0):
            raise ValueError(f"edge {t}: the function is {ec_py_from_mpz(&self.a)} and "
                             f"{ec_py_from_mpz(&self.b)} at its ends (must be > 0 > )")
        return crossing(&self.a, &self.b, self.hp.z, self.hq.z, self.w, self.r, &self.g)


def cross_linear(form, list hp, list hq):
    """Crossings of the edges ``(hp[t], hq[t])`` by the linear form ``form``: with ``a = form . hp[t]
    > 0 > b = form . hq[t]`` (checked: a ValueError names the edge otherwise), the primitive vector of
    ``a hq[t] - b hp[t]``."""
    cdef Py_ssize_t t, m = len(hp), w = len(form)
    if len(hq) != m:
        raise ValueError("hp and hq differ in length")
    cdef _Cross cx = _Cross(w)
    cdef Block f
    block_init(&f, 1, w)
    out = []
    try:
        load_ints(&f, 0, form, "form")
        for t in range(m):
            cx.load(hp[t], hq[t])
            exact_dot(&cx.a, f.z, cx.hp.z, w)
            exact_dot(&cx.b, f.z, cx.hq.z, w)
            out.append(cx.make(t))
    finally:
        block_free(&f)
    return out


cdef class _Relu:
    """``f(h) = sum_{i : s_i} C_i (M_i . h) + c h_n`` for a fixed 0/1 pattern ``s``: ``A(s) . h`` with
    ``A(s) = sum_{i : s_i} T_i + c e_n`` and ``T_i = C_i M_i`` (computed once). ``A`` is kept from one
    call to the next and updated by the rows whose bit changed (neighbouring points have nearly
    the same pattern)."""
    cdef Block M      # the first layer's rows (w0 x w), filtered
    cdef Block T      # T_i = C_i M_i (w0 x w)
    cdef __mpz_struct *A
    cdef uint8_t *cur  # the pattern of A (valid when has_cur)
    cdef bint has_cur
    cdef __mpz_struct tail
    cdef __mpz_struct tmp
    cdef Py_ssize_t w0
    cdef Py_ssize_t w
    cdef double c
    cdef uint8_t *pat

    def __cinit__(self, list M0, C, tail):
        cdef Py_ssize_t i, j, w
        mpz_init(&self.tail)
        mpz_init(&self.tmp)
        self.w0 = len(M0)
        self.w = 0
        if self.w0 == 0 or len(C) != self.w0:
            raise ValueError(f"{len(C)} coefficients for {self.w0} rows")
        w = len(M0[0])
        block_init(&self.M, self.w0, w)
        block_init(&self.T, self.w0, w)
        self.A = mpz_array(w)
        self.w = w
        self.pat = <uint8_t *>malloc(max(self.w0, 1))
        self.cur = <uint8_t *>malloc(max(self.w0, 1))
        if self.pat == NULL or self.cur == NULL:
            raise MemoryError()
        self.has_cur = False
        ec_mpz_set_py(&self.tail, tail)
        self.c = 2.0 * (w - 1 + 10) * U
        for i in range(self.w0):
            load_ints(&self.M, i, M0[i], "row")
            form_floats(&self.M, i)
            ec_mpz_set_py(&self.tmp, C[i])
            for j in range(w):
                mpz_mul(self.T.z + i * w + j, &self.tmp, self.M.z + i * w + j)

    def __dealloc__(self):
        block_free(&self.M)
        block_free(&self.T)
        mpz_clear(&self.tail)
        mpz_clear(&self.tmp)
        mpz_array_free(self.A, self.w)
        free(self.pat)
        free(self.cur)

    cdef void pattern(self, Block *pts, Py_ssize_t p):
        """``s_i = [M_i . h > 0]`` at point ``p`` of ``pts`` (loaded, floats computed)."""
        cdef Py_ssize_t i, w = self.w
        cdef int s
        for i in range(self.w0):
            s = 2
            if self.M.ok[i] and pts.ok[p]:
                s = filtered_sign(self.M.f + i * w, pts.f + p * w, w - 1, self.c)
            if s == 2:
                exact_dot(&self.tmp, self.M.z + i * w, pts.z + p * w, w)
                s = mpz_sgn(&self.tmp)
            self.pat[i] = s > 0

    cdef void value(self, mpz_ptr out, const uint8_t *pat, mpz_srcptr h):
        cdef Py_ssize_t i, j, w = self.w, diff = 0
        if self.has_cur:
            for i in range(self.w0):
                diff += (pat[i] != 0) != (self.cur[i] != 0)
        if not self.has_cur or 2 * diff > self.w0:  # from scratch
            for j in range(w):
                mpz_set_ui(self.A + j, 0)
            mpz_set(self.A + (w - 1), &self.tail)
            for i in range(self.w0):
                self.cur[i] = pat[i] != 0
                if self.cur[i]:
                    for j in range(w):
                        mpz_add(self.A + j, self.A + j, self.T.z + i * w + j)
            self.has_cur = True
        elif diff:
            for i in range(self.w0):
                if (pat[i] != 0) != self.cur[i]:
                    self.cur[i] = pat[i] != 0
                    if self.cur[i]:
                        for j in range(w):
                            mpz_add(self.A + j, self.A + j, self.T.z + i * w + j)
                    else:
                        for j in range(w):
                            mpz_sub(self.A + j, self.A + j, self.T.z + i * w + j)
        exact_dot(out, self.A, h, w)


def cross_relu(list M0, C, tail, list hp, list hq):
    """:func:`cross_linear` for ``f(h) = sum_i C_i relu(M0_i . h) + tail h_n`` (the second layer
    after a ReLU layer ``M0``), evaluated at each end with its own exact activation pattern."""
    cdef Py_ssize_t t, m = len(hp)
    if len(hq) != m:
        raise ValueError("hp and hq differ in length")
    if m == 0:
        return []
    cdef _Relu F = _Relu(M0, C, tail)
    cdef Py_ssize_t w = F.w
    cdef _Cross cx = _Cross(w)
    out = []
    for t in range(m):
        cx.load(hp[t], hq[t])
        point_floats(&cx.hp, 0)
        point_floats(&cx.hq, 0)
        F.pattern(&cx.hp, 0)
        F.value(&cx.a, F.pat, cx.hp.z)
        F.pattern(&cx.hq, 0)
        F.value(&cx.b, F.pat, cx.hq.z)
        out.append(cx.make(t))
    return out


def relu_signs(list M0, list Cs, list tails, const uint8_t[:, ::1] S, list points,
               const i64[::1] pi, const i64[::1] ki, int8_t[::1] out):
    """``out[t] = sign(sum_{i : S[p, i]} Cs[k][i] (M0_i . h_p) + tails[k] h_p[n])`` with ``p = pi[t]``,
    ``k = ki[t]``: exact signs of the second layer given the first layer's exact pattern ``S``."""
    cdef Py_ssize_t t, m = pi.shape[0], k, p
    if ki.shape[0] != m or out.shape[0] != m:
        raise ValueError("pi, ki and out differ in length")
    if m == 0:
        return
    if not M0 or S.shape[0] != len(points) or S.shape[1] != len(M0):
        raise ValueError("S must have shape (len(points), len(M0))")
    cdef list rel = [None] * len(Cs)
    cdef _Relu F
    cdef Block pts
    cdef __mpz_struct v
    block_init(&pts, len(points), len(M0[0]))
    mpz_init(&v)
    try:
        for t in range(m):
            k = ki[t]
            p = pi[t]
            if p < 0 or p >= pts.r or k < 0 or k >= len(Cs):
                raise IndexError(f"pair {t} out of range")
            if rel[k] is None:
                rel[k] = _Relu(M0, Cs[k], tails[k])
            F = <_Relu>rel[k]
            if not pts.set[p]:
                load_ints(&pts, p, points[p], "point")
            F.value(&v, &S[p, 0], pts.z + p * pts.w)
            out[t] = mpz_sgn(&v)
    finally:
        block_free(&pts)
        mpz_clear(&v)


def int_points(list points, Py_ssize_t w):
    """-1 if every entry of ``points`` is a tuple of ``w`` Python ints whose last is positive (a
    homogeneous point ``(D x, D)`` with ``D > 0``, usable as is); otherwise the first that is not."""
    cdef Py_ssize_t p, j
    cdef tuple h
    for p in range(len(points)):
        o = points[p]
        if type(o) is not tuple:
            return p
        h = <tuple>o
        if len(h) != w:
            return p
        for j in range(w):
            if type(h[j]) is not int:
                return p
        if not h[w - 1] > 0:
            return p
    return -1


def filter_layer(const double[:, ::1] W, const double[:] b, const double[:, ::1] Y,
                 const double[:, ::1] RY, const int8_t[:, ::1] live, double[:, ::1] Z,
                 double[:, ::1] B, int8_t[:, ::1] sg):
    """One layer of the certificate's float filter (P2, P3 and P4 of the proof in
    :mod:`exactcells.certify`), the operations of its numpy pass ``_float_layer`` in one loop:
    ``Z = Y W^T + b``, ``B = fl(fl(T F) + eta)`` with ``T = (RY + c |Y|) |W|^T + c |b|``, ``c =
    gamma_{m+2}``, ``F = 1 + 8 (m + 5) u``; ``sg`` is ``sign(Z)`` where ``Z`` and ``B`` are finite
    and ``|Z| > B``, 2 elsewhere (undecided). With ``live`` (the previous layer's exact signs,
    shape of ``Y``), the inputs are P4's: ``y = max(Y, 0)`` and ``r = RY`` where ``live > 0``, 0 and 0
    elsewhere. Returns the number of undecided entries."""
    cdef Py_ssize_t N = Y.shape[0], m = Y.shape[1], k = W.shape[0], p, i, j, bad = 0
    cdef double c = (m + 2) * U / (1 - (m + 2) * U), F = 1 + 8 * (m + 5) * U
    cdef double z, t, y, r, bb
    cdef bint use_live = live.shape[0] > 0
    if W.shape[1] != m or b.shape[0] != k or RY.shape[0] != N or RY.shape[1] != m:
        raise ValueError("W, b, Y and RY do not match")
    if Z.shape[0] != N or Z.shape[1] != k or B.shape[0] != N or B.shape[1] != k \
            or sg.shape[0] != N or sg.shape[1] != k:
        raise ValueError("Z, B and sg must have shape (len(Y), len(W))")
    if use_live and (live.shape[0] != N or live.shape[1] != m):
        raise ValueError("live must have the shape of Y")
    # |W|^T and W^T (m x k): the inner loop runs over the outputs, contiguous and independent
    # (each output's sums still run over j in increasing order)
    WT = np.ascontiguousarray(np.asarray(W).T)
    AT = np.abs(WT)
    cdef const double[:, ::1] wt = WT
    cdef const double[:, ::1] at = AT
    cdef double *za = <double *>malloc(max(k, 1) * sizeof(double))
    cdef double *ta = <double *>malloc(max(k, 1) * sizeof(double))
    cdef double yj, rj, sj
    cdef const double *wrow
    cdef const double *arow
    if za == NULL or ta == NULL:
        free(za)
        free(ta)
        raise MemoryError()
    try:
        for p in range(N):
            for i in range(k):
                za[i] = 0.0
                ta[i] = 0.0
            for j in range(m):
                if use_live and live[p, j] <= 0:
                    continue  # y = 0 and r = 0: the terms are exact zeros
                yj = Y[p, j]
                if use_live and yj <= 0.0:  # max(Y, 0) as numpy's maximum: a NaN stays NaN
                    yj = 0.0
                rj = RY[p, j]
                sj = rj + c * fabs(yj)
                wrow = &wt[j, 0]
                arow = &at[j, 0]
                for i in range(k):
                    za[i] = za[i] + yj * wrow[i]
                    ta[i] = ta[i] + sj * arow[i]
            for i in range(k):
                z = za[i] + b[i]
                bb = (ta[i] + c * fabs(b[i])) * F + ETA
                Z[p, i] = z
                B[p, i] = bb
                if isfinite(z) and isfinite(bb) and fabs(z) > bb:
                    sg[p, i] = 1 if z > 0 else -1
                else:
                    sg[p, i] = 2
                    bad += 1
    finally:
        free(za)
        free(ta)
    return bad


# -- the certificate's structural passes on sign bit masks -------------------------------------

def facet_link_faults(const unsigned long long[:, ::1] pos, const unsigned long long[:, ::1] neg,
                      const i64[::1] indptr, const i64[::1] indices, const i64[::1] dims):
    """The positions ``e`` in ``indices`` of the facet links ``f -> c`` (``f = indices[e]``, ``c`` the
    cell whose range of ``indptr`` holds ``e``) that are not a face relation of codimension 1:
    ``s_f <= s_c`` entrywise (every + entry of ``f`` is + in ``c``, every - entry is -), ``s_f !=
    s_c``, and ``dim f = dim c - 1``. ``pos``, ``neg``: the + and - entries as bit masks
    (``_sign_words``). The loop of the numpy pass of ``_check_facet_links``, without its copies."""
    cdef Py_ssize_t N = indptr.shape[0] - 1, W = pos.shape[1], c, e, f, k
    cdef bint ok, differ
    cdef unsigned long long pf, pc, nf, nc
    if pos.shape[0] != N or neg.shape[0] != N or neg.shape[1] != W or dims.shape[0] != N:
        raise ValueError("pos, neg, dims and indptr do not match")
    if N >= 0 and (indptr[0] != 0 or indptr[N] != indices.shape[0]):
        raise ValueError("indptr does not cover indices")
    out = []
    for c in range(N):
        for e in range(indptr[c], indptr[c + 1]):
            f = indices[e]
            if f < 0 or f >= N:
                out.append(e)
                continue
            ok = dims[f] == dims[c] - 1
            differ = False
            for k in range(W):
                if not ok:
                    break
                pf = pos[f, k]
                pc = pos[c, k]
                nf = neg[f, k]
                nc = neg[c, k]
                if (pf & ~pc) | (nf & ~nc):
                    ok = False
                if pf != pc or nf != nc:
                    differ = True
            if not (ok and differ):
                out.append(e)
    return np.array(out, dtype=np.int64)


def joins(const unsigned long long[:, ::1] pos, const unsigned long long[:, ::1] neg,
          const i64[::1] vptr, const i64[::1] vind):
    """``(jp, jn)``: for every cell (a range of ``vptr``), the OR of the bit masks ``pos`` and
    ``neg`` of its vertices ``vind`` (zero for a cell without vertices): its vertices' join."""
    cdef Py_ssize_t N = vptr.shape[0] - 1, W = pos.shape[1], c, e, v, k, nv = pos.shape[0]
    if neg.shape[0] != nv or neg.shape[1] != W:
        raise ValueError("pos and neg differ in shape")
    if N >= 0 and (vptr[0] != 0 or vptr[N] != vind.shape[0]):
        raise ValueError("vptr does not cover vind")
    JP = np.zeros((max(N, 0), W), dtype=np.uint64)
    JN = np.zeros((max(N, 0), W), dtype=np.uint64)
    cdef unsigned long long[:, ::1] jp = JP
    cdef unsigned long long[:, ::1] jn = JN
    for c in range(N):
        for e in range(vptr[c], vptr[c + 1]):
            v = vind[e]
            if v < 0 or v >= nv:
                raise IndexError(f"vertex {v} of cell {c} out of range")
            for k in range(W):
                jp[c, k] |= pos[v, k]
                jn[c, k] |= neg[v, k]
    return JP, JN


def ancestors(const i64[::1] pa, const i64[::1] pb, uint8_t[::1] need, const uint8_t[::1] known):
    """Marks in ``need`` every ancestor (through the parents ``pa``, ``pb``; -1: none) of a vertex
    already marked, stopping at vertices marked ``known``; parents precede their children, so one
    pass from the last vertex down suffices. Returns the first marked vertex that is neither
    known nor has both parents (-1 if none)."""
    cdef Py_ssize_t v, size = need.shape[0], bad = -1
    cdef i64 p, q
    if pa.shape[0] < size or pb.shape[0] < size or known.shape[0] < size:
        raise ValueError("pa, pb and known must cover need")
    for v in range(size - 1, -1, -1):
        if not need[v] or known[v]:
            continue
        p = pa[v]
        q = pb[v]
        if p < 0 or q < 0 or p >= v or q >= v:
            bad = v
            continue
        need[p] = 1
        need[q] = 1
    return bad


# -- exact forward passes of plain ReLU networks ------------------------------------------------

cdef class _Net:
    """The integer rows of layers ``0 .. nl-1`` of a network whose stages are plain ReLUs, and
    each layer's factor of the homogeneous coordinate: a layer's values are ``rows_l . (y, t)``
    with ``y`` the previous layer's ReLU outputs (the point's ``D x`` for layer 0) and ``t`` the
    point's ``D`` times the factors of the layers before."""
    cdef Block *L
    cdef __mpz_struct *fac
    cdef Py_ssize_t nl
    cdef Py_ssize_t wmax
    cdef __mpz_struct *A   # the current layer's input (wmax + 1)
    cdef __mpz_struct *Bv  # the current layer's values (wmax + 1)
    cdef __mpz_struct t

    def __cinit__(self, list mats, list factors):
        cdef Py_ssize_t l, i, wprev, r
        self.nl = 0
        self.L = NULL
        self.fac = NULL
        self.A = NULL
        self.Bv = NULL
        mpz_init(&self.t)
        nl = len(mats)
        if nl == 0 or len(factors) != nl:
            raise ValueError("one factor per layer, at least one layer")
        self.L = <Block *>malloc(nl * sizeof(Block))
        if self.L == NULL:
            raise MemoryError()
        for l in range(nl):
            self.L[l].z = NULL
            self.L[l].r = 0
        self.nl = nl
        self.fac = mpz_array(nl)
        wprev = len(mats[0][0]) - 1 if mats[0] else 0
        self.wmax = wprev
        for l in range(nl):
            r = len(mats[l])
            if r == 0:
                raise ValueError(f"layer {l} has no rows")
            block_init(self.L + l, r, wprev + 1)
            for i in range(r):
                load_ints(self.L + l, i, mats[l][i], f"layer {l} row")
            ec_mpz_set_py(self.fac + l, factors[l])
            wprev = r
            self.wmax = max(self.wmax, r)
        self.A = mpz_array(self.wmax + 1)
        self.Bv = mpz_array(self.wmax + 1)

    def __dealloc__(self):
        cdef Py_ssize_t l
        if self.L != NULL:
            for l in range(self.nl):
                block_free(self.L + l)
            free(self.L)
        mpz_array_free(self.fac, self.nl)
        mpz_array_free(self.A, self.wmax + 1)
        mpz_array_free(self.Bv, self.wmax + 1)
        mpz_clear(&self.t)

    cdef int forward(self, mpz_srcptr h, Py_ssize_t upto, int8_t *signs) except -1:
        """Values of layers ``0 .. upto`` at the homogeneous point ``h`` (width of layer 0's
        input + 1); the last layer's are left in ``Bv``; every layer's signs go to ``signs`` (one
        after the other) unless it is NULL."""
        cdef Py_ssize_t l, k, j, w, r, col = 0
        cdef Block *b
        w = self.L[0].w
        for j in range(w - 1):
            mpz_set(self.A + j, h + j)
        mpz_set(&self.t, h + (w - 1))
        for l in range(upto + 1):
            b = self.L + l
            w = b.w
            r = b.r
            mpz_set(self.A + (w - 1), &self.t)
            for k in range(r):
                if l == 0:
                    exact_dot(self.Bv + k, b.z + k * w, self.A, w)
                else:  # the dead ReLUs' zeros skipped
                    mpz_set_ui(self.Bv + k, 0)
                    for j in range(w):
                        if mpz_sgn(self.A + j) != 0:
                            mpz_addmul(self.Bv + k, b.z + k * w + j, self.A + j)
                if signs != NULL:
                    signs[col + k] = mpz_sgn(self.Bv + k)
            col += r
            if l < upto:
                for k in range(r):
                    if mpz_sgn(self.Bv + k) > 0:
                        mpz_set(self.A + k, self.Bv + k)
                    else:
                        mpz_set_ui(self.A + k, 0)
                mpz_mul(&self.t, &self.t, self.fac + l)
        return 0

    cdef int end_value(self, mpz_ptr out, mpz_srcptr h, object key, dict memo, Py_ssize_t layer,
                       Py_ssize_t row, Py_ssize_t minus) except -1:
        """``out = z_row - z_minus`` (``minus < 0``: ``z_row``) of ``layer`` at ``h`` (loaded from the
        object ``key``), remembered in ``memo`` by ``id(key)`` (the caller keeps ``key`` alive)."""
        known = memo.get(id(key))
        if known is not None:
            ec_mpz_set_py(out, known)
            return 0
        self.forward(h, layer, NULL)
        mpz_set(out, self.Bv + row)
        if minus >= 0:
            mpz_sub(out, out, self.Bv + minus)
        memo[id(key)] = ec_py_from_mpz(out)
        return 0


def cross_forward(list mats, Py_ssize_t layer, Py_ssize_t row, Py_ssize_t minus, list hp, list hq):
    """:func:`cross_linear` for ``f = z_row - z_minus`` (``minus < 0``: ``z_row``), ``z`` the values of
    ``layer`` of the plain ReLU network ``mats`` (integer rows ``[W | b]`` of layers ``0 ..
    layer``, the homogeneous coordinate carried unchanged: the kernel's integer network), each
    end's values by an exact forward pass."""
    cdef Py_ssize_t t, m = len(hp)
    if len(hq) != m:
        raise ValueError("hp and hq differ in length")
    if m == 0:
        return []
    if layer < 0 or layer >= len(mats):
        raise ValueError(f"layer {layer} out of range")
    cdef _Net F = _Net(mats[:layer + 1], [1] * (layer + 1))
    if row < 0 or row >= F.L[layer].r or minus >= F.L[layer].r:
        raise ValueError("row out of range")
    cdef Py_ssize_t w = F.L[0].w
    cdef _Cross cx = _Cross(w)
    cdef dict memo = {}  # id of an end's tuple -> its value (an end is shared by several edges)
    out = []
    for t in range(m):
        cx.load(hp[t], hq[t])
        F.end_value(&cx.a, cx.hp.z, hp[t], memo, layer, row, minus)
        F.end_value(&cx.b, cx.hq.z, hq[t], memo, layer, row, minus)
        out.append(cx.make(t))
    return out


def forward_signs(list mats, list factors, list points, int8_t[:, ::1] out):
    """The exact signs of every layer's values (layers of ``mats``, plain ReLU stages between
    them; layer ``l``'s homogeneous coordinate is ``D`` times ``factors[0 .. l-1]``: the
    certificate's integer matrices) at each homogeneous point, one row of ``out`` per point, the
    layers' columns one after the other."""
    cdef Py_ssize_t p, npnt = len(points), total = 0, l
    cdef _Net F = _Net(mats, factors)
    for l in range(F.nl):
        total += F.L[l].r
    if out.shape[0] != npnt or out.shape[1] != total:
        raise ValueError(f"out must have shape ({npnt}, {total})")
    cdef Block pts
    block_init(&pts, 1, F.L[0].w)
    try:
        for p in range(npnt):
            load_ints(&pts, 0, points[p], "point")
            F.forward(pts.z, F.nl - 1, &out[p, 0])
    finally:
        block_free(&pts)
