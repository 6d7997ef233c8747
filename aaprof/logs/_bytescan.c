/* Byte searches over a chunk of a log: the optional accelerator of aaprof/logs/bytescan.py.
 *
 * Python's bytes.find and bytes.count skip ahead only where the byte after a window is not in
 * the needle, and the needles aaprof looks for in a log (`type=150`, `apparmor=`, a newline)
 * are made of a log's most common bytes: they walk a chunk nearly byte by byte. glibc's memchr
 * and memmem do not. These functions give exactly what their pure-Python twins in bytescan.py
 * give (tests/logs/test_bytescan.py holds them equal); nothing here knows what a log is.
 *
 * Copyright the aaprof authors. Licensed under the Apache License, Version 2.0.
 */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <Python.h>
#include <string.h>

/* start and end as a slice of a buffer of `len` bytes takes them (negative: from the end). */
static void
clamp(Py_ssize_t len, Py_ssize_t *start, Py_ssize_t *end)
{
    if (*end > len)
        *end = len;
    else if (*end < 0) {
        *end += len;
        if (*end < 0)
            *end = 0;
    }
    if (*start < 0) {
        *start += len;
        if (*start < 0)
            *start = 0;
    }
}

static const char *
find(const char *from, const char *to, const char *needle, Py_ssize_t size)
{
    if (to - from < size)
        return NULL;
    if (size == 1)
        return memchr(from, needle[0], (size_t)(to - from));
    return memmem(from, (size_t)(to - from), needle, (size_t)size);
}

PyDoc_STRVAR(count_doc,
"count(buffer, needle, start=0, end=None) -> int\n\n"
"bytes.count: the non-overlapping occurrences of a non-empty needle in buffer[start:end].");

static PyObject *
count(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf, needle;
    Py_ssize_t start = 0, end = PY_SSIZE_T_MAX, found = 0;
    PyObject *end_arg = Py_None;
    if (!PyArg_ParseTuple(args, "y*y*|nO:count", &buf, &needle, &start, &end_arg))
        return NULL;
    if (end_arg != Py_None) {
        end = PyNumber_AsSsize_t(end_arg, PyExc_OverflowError);
        if (end == -1 && PyErr_Occurred())
            goto fail;
    }
    if (needle.len == 0) {
        PyErr_SetString(PyExc_ValueError, "empty needle");
        goto fail;
    }
    clamp(buf.len, &start, &end);
    if (start < end) {
        const char *at = (const char *)buf.buf + start, *stop = (const char *)buf.buf + end;
        Py_BEGIN_ALLOW_THREADS
        while ((at = find(at, stop, needle.buf, needle.len)) != NULL) {
            found++;
            at += needle.len;
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    return PyLong_FromSsize_t(found);
fail:
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    return NULL;
}

/* Append to `out` where each occurrence of needle starts in buf[start:end] (overlapping ones
 * too), skipping those right after `before` (len 0: none skipped; it may stand before start). */
static int
collect(PyObject *out, const char *base, Py_ssize_t start, Py_ssize_t end,
        const char *needle, Py_ssize_t size, const char *before, Py_ssize_t before_len)
{
    const char *at = base + start, *stop = base + end;
    while ((at = find(at, stop, needle, size)) != NULL) {
        Py_ssize_t offset = at - base;
        if (!(before_len && offset >= before_len
              && memcmp(at - before_len, before, (size_t)before_len) == 0)) {
            PyObject *number = PyLong_FromSsize_t(offset);
            if (number == NULL || PyList_Append(out, number) < 0) {
                Py_XDECREF(number);
                return -1;
            }
            Py_DECREF(number);
        }
        at++;
    }
    return 0;
}

PyDoc_STRVAR(positions_doc,
"positions(buffer, needles, start, end) -> list[int]\n\n"
"Where each of the non-empty needles (a tuple of bytes) starts in buffer[start:end], every\n"
"occurrence (overlapping ones too), in ascending order.");

static PyObject *
positions(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf;
    PyObject *needles, *out = NULL;
    Py_ssize_t start, end, hits = 0;
    if (!PyArg_ParseTuple(args, "y*O!nn:positions", &buf, &PyTuple_Type, &needles, &start, &end))
        return NULL;
    clamp(buf.len, &start, &end);
    out = PyList_New(0);
    if (out == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(needles); i++) {
        PyObject *needle = PyTuple_GET_ITEM(needles, i);
        if (!PyBytes_Check(needle) || PyBytes_GET_SIZE(needle) == 0) {
            PyErr_SetString(PyExc_TypeError, "needles must be non-empty bytes");
            goto fail;
        }
        Py_ssize_t before = PyList_GET_SIZE(out);
        if (start < end
            && collect(out, buf.buf, start, end, PyBytes_AS_STRING(needle),
                       PyBytes_GET_SIZE(needle), NULL, 0) < 0)
            goto fail;
        hits += PyList_GET_SIZE(out) > before;
    }
    if (hits > 1 && PyList_Sort(out) < 0)
        goto fail;
    PyBuffer_Release(&buf);
    return out;
fail:
    Py_XDECREF(out);
    PyBuffer_Release(&buf);
    return NULL;
}

PyDoc_STRVAR(positions_not_after_doc,
"positions_not_after(buffer, needle, before, start, end) -> list[int]\n\n"
"Where needle starts in buffer[start:end] but not right after `before` (which may stand\n"
"before start), in ascending order; for a needle that cannot overlap itself.");

static PyObject *
positions_not_after(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf, needle, before;
    PyObject *out = NULL;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "y*y*y*nn:positions_not_after", &buf, &needle, &before, &start,
                          &end))
        return NULL;
    if (needle.len == 0) {
        PyErr_SetString(PyExc_ValueError, "empty needle");
        goto fail;
    }
    clamp(buf.len, &start, &end);
    out = PyList_New(0);
    if (out == NULL)
        goto fail;
    if (start < end
        && collect(out, buf.buf, start, end, needle.buf, needle.len, before.buf, before.len) < 0)
        goto fail;
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    PyBuffer_Release(&before);
    return out;
fail:
    Py_XDECREF(out);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    PyBuffer_Release(&before);
    return NULL;
}

PyDoc_STRVAR(lines_with_doc,
"lines_with(buffer, needle, start, end) -> bytes\n\n"
"The lines of buffer[start:end] that hold needle (which holds no newline), each whole (its\n"
"newline too, where it has one), one after the other.");

static PyObject *
lines_with(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf, needle;
    PyObject *out = NULL;
    Py_ssize_t start, end, size = 0;
    if (!PyArg_ParseTuple(args, "y*y*nn:lines_with", &buf, &needle, &start, &end))
        return NULL;
    if (needle.len == 0) {
        PyErr_SetString(PyExc_ValueError, "empty needle");
        goto fail;
    }
    clamp(buf.len, &start, &end);
    out = PyBytes_FromStringAndSize(NULL, start < end ? end - start : 0);
    if (out == NULL)
        goto fail;
    if (start < end) {
        const char *base = buf.buf, *first = base + start, *stop = base + end, *at = first;
        char *to = PyBytes_AS_STRING(out);
        while ((at = find(at, stop, needle.buf, needle.len)) != NULL) {
            const char *line = memrchr(first, '\n', (size_t)(at - first));
            const char *line_end = memchr(at, '\n', (size_t)(stop - at));
            line = line == NULL ? first : line + 1;
            line_end = line_end == NULL ? stop : line_end + 1;
            memcpy(to + size, line, (size_t)(line_end - line));
            size += line_end - line;
            at = line_end;
        }
    }
    if (_PyBytes_Resize(&out, size) < 0)
        goto fail;
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    return out;
fail:
    Py_XDECREF(out);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    return NULL;
}

static PyMethodDef methods[] = {
    {"lines_with", lines_with, METH_VARARGS, lines_with_doc},
    {"count", count, METH_VARARGS, count_doc},
    {"positions", positions, METH_VARARGS, positions_doc},
    {"positions_not_after", positions_not_after, METH_VARARGS, positions_not_after_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_bytescan", "Byte searches in C (see aaprof/logs/bytescan.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__bytescan(void)
{
    return PyModule_Create(&module);
}
