/* Python int <-> GMP mpz conversions for exactcells._exactc (CPython 3.10 and later).
 *
 * A Python int that fits a C long is converted through it. A larger one:
 * - on CPython 3.10 and 3.11, through its digits (Py_SIZE is the sign times the number of
 *   PyLong_SHIFT-bit digits, least significant first: GMP imports and exports them as words with
 *   nail bits);
 * - on 3.12, through its two's complement bytes (_PyLong_AsByteArray / _PyLong_FromByteArray, the
 *   3.10-3.12 signatures; 3.12 changed the digits' layout);
 * - on 3.13 and later, through the same bytes by the public PyLong_AsNativeBytes /
 *   PyLong_FromUnsignedNativeBytes (3.13 changed _PyLong_AsByteArray's signature).
 * An int subclass or an object with __index__ always takes the bytes path. Older versions do not
 * compile this header: setup.py then installs exactcells without the module, and the kernel and
 * the certificate use Python integers.
 */
#ifndef EXACTC_CONV_H
#define EXACTC_CONV_H

#include <Python.h>
#include <gmp.h>
#include <limits.h>

#if PY_VERSION_HEX < 0x030A0000
#error "exactcells._exactc needs CPython 3.10 or later"
#endif

#define EC_STACK_BYTES 512

#if PY_VERSION_HEX < 0x030C0000
/* CPython 3.10 and 3.11: an int is sign * ndigits (Py_SIZE) digits of PyLong_SHIFT bits, least first. */
#define EC_NAILS (8 * sizeof(digit) - PyLong_SHIFT)
#define EC_DIGITS 1
#endif

/* z = o (an int, or an object with __index__). 0, or -1 with a Python exception set. */
static int ec_mpz_set_py(mpz_ptr z, PyObject *o)
{
#ifdef EC_DIGITS
    if (PyLong_CheckExact(o)) {
        Py_ssize_t size = Py_SIZE(o);
        Py_ssize_t n = size < 0 ? -size : size;
        if (n <= 1) {
            mpz_set_si(z, n ? (long)((PyLongObject *)o)->ob_digit[0] : 0L);
        } else {
            mpz_import(z, (size_t)n, -1, sizeof(digit), 0, EC_NAILS, ((PyLongObject *)o)->ob_digit);
        }
        if (size < 0)
            mpz_neg(z, z);
        return 0;
    }
#endif
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (!overflow) {
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v >= LONG_MIN && v <= LONG_MAX) {
            mpz_set_si(z, (long)v);
            return 0;
        }
    }
    PyObject *x = PyNumber_Index(o); /* a new reference to an exact int */
    if (x == NULL)
        return -1;
#if PY_VERSION_HEX >= 0x030D0000
    /* the bytes the signed value needs (the sign bit included) */
    Py_ssize_t need = PyLong_AsNativeBytes(x, NULL, 0, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
    if (need < 0) {
        Py_DECREF(x);
        return -1;
    }
    size_t n = (size_t)need;
#else
    size_t nbits = _PyLong_NumBits(x); /* bits of |x| */
    if (nbits == (size_t)-1 && PyErr_Occurred()) {
        Py_DECREF(x);
        return -1;
    }
    size_t n = nbits / 8 + 1; /* room for the sign bit */
#endif
    unsigned char stackbuf[EC_STACK_BYTES];
    unsigned char *buf = n <= EC_STACK_BYTES ? stackbuf : (unsigned char *)PyMem_Malloc(n);
    if (buf == NULL) {
        Py_DECREF(x);
        PyErr_NoMemory();
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t got = PyLong_AsNativeBytes(x, buf, (Py_ssize_t)n, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
    int r = got < 0 ? -1 : 0; /* got <= n: n is what it asked for above */
#else
    int r = _PyLong_AsByteArray((PyLongObject *)x, buf, n, 1, 1); /* little endian, signed */
#endif
    Py_DECREF(x);
    if (r < 0) {
        if (buf != stackbuf)
            PyMem_Free(buf);
        return -1;
    }
    int neg = (buf[n - 1] & 0x80) != 0;
    if (neg) { /* two's complement of x < 0: its complement is |x| - 1 */
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)~buf[i];
    }
    mpz_import(z, n, -1, 1, 0, 0, buf);
    if (neg) {
        mpz_add_ui(z, z, 1);
        mpz_neg(z, z);
    }
    if (buf != stackbuf)
        PyMem_Free(buf);
    return 0;
}

/* A new Python int equal to z, or NULL with an exception set. */
static PyObject *ec_py_from_mpz(mpz_srcptr z)
{
    if (mpz_fits_slong_p(z))
        return PyLong_FromLong(mpz_get_si(z));
#ifdef EC_DIGITS
    {
        size_t nd = (mpz_sizeinbase(z, 2) + PyLong_SHIFT - 1) / PyLong_SHIFT, count = 0;
        PyLongObject *r = _PyLong_New((Py_ssize_t)nd);
        if (r == NULL)
            return NULL;
        mpz_export(r->ob_digit, &count, -1, sizeof(digit), 0, EC_NAILS, z);
        Py_SET_SIZE(r, mpz_sgn(z) < 0 ? -(Py_ssize_t)count : (Py_ssize_t)count);
        return (PyObject *)r;
    }
#endif
    size_t n = (mpz_sizeinbase(z, 2) + 7) / 8;
    unsigned char stackbuf[EC_STACK_BYTES];
    unsigned char *buf = n <= EC_STACK_BYTES ? stackbuf : (unsigned char *)PyMem_Malloc(n);
    if (buf == NULL)
        return PyErr_NoMemory();
    size_t count = 0;
    mpz_export(buf, &count, -1, 1, 0, 0, z); /* |z|, little endian */
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *r = PyLong_FromUnsignedNativeBytes(buf, count, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    PyObject *r = _PyLong_FromByteArray(buf, count, 1, 0);
#endif
    if (buf != stackbuf)
        PyMem_Free(buf);
    if (r != NULL && mpz_sgn(z) < 0) {
        PyObject *t = PyNumber_Negative(r);
        Py_DECREF(r);
        r = t;
    }
    return r;
}

#endif
