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
    else if (*start > len)
        *start = len; /* (an empty range either way; no pointer past the buffer) */
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

/* The non-overlapping occurrences of needle in [at, stop). */
static Py_ssize_t
occurrences(const char *at, const char *stop, const char *needle, Py_ssize_t size)
{
    Py_ssize_t found = 0;
    while ((at = find(at, stop, needle, size)) != NULL) {
        found++;
        at += size;
    }
    return found;
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
        const char *base = buf.buf;
        Py_BEGIN_ALLOW_THREADS
        found = occurrences(base + start, base + end, needle.buf, needle.len);
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

/* Offsets into a buffer, in a growing array. */
typedef struct {
    Py_ssize_t *at, used, room;
} Offsets;

/* Add where each occurrence of needle starts in base[start:end] (overlapping ones too), but
 * those right after `before` (len 0: none left out; it may stand before start). */
static int
gather(Offsets *found, const char *base, Py_ssize_t start, Py_ssize_t end, const char *needle,
       Py_ssize_t size, const char *before, Py_ssize_t before_len)
{
    const char *at = base + start, *stop = base + (start < end ? end : start);
    while ((at = find(at, stop, needle, size)) != NULL) {
        Py_ssize_t offset = at - base;
        at++;
        if (before_len && offset >= before_len
            && memcmp(base + offset - before_len, before, (size_t)before_len) == 0)
            continue;
        if (found->used == found->room) {
            Py_ssize_t room = found->room ? 2 * found->room : 256;
            Py_ssize_t *more = PyMem_Realloc(found->at, sizeof(Py_ssize_t) * (size_t)room);
            if (more == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            found->at = more;
            found->room = room;
        }
        found->at[found->used++] = offset;
    }
    return 0;
}

static int
compare_offsets(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* Where each of the needles (a tuple of non-empty bytes) starts in base[start:end], sorted. */
static int
gather_all(Offsets *found, const char *base, Py_ssize_t start, Py_ssize_t end, PyObject *needles)
{
    Py_ssize_t hits = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(needles); i++) {
        PyObject *needle = PyTuple_GET_ITEM(needles, i);
        if (!PyBytes_Check(needle) || PyBytes_GET_SIZE(needle) == 0) {
            PyErr_SetString(PyExc_TypeError, "needles must be non-empty bytes");
            return -1;
        }
        Py_ssize_t before = found->used;
        if (gather(found, base, start, end, PyBytes_AS_STRING(needle), PyBytes_GET_SIZE(needle),
                   NULL, 0) < 0)
            return -1;
        hits += found->used > before;
    }
    if (hits > 1)
        qsort(found->at, (size_t)found->used, sizeof(Py_ssize_t), compare_offsets);
    return 0;
}

static PyObject *
offsets_list(const Offsets *found)
{
    PyObject *out = PyList_New(found->used);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < found->used; i++) {
        PyObject *number = PyLong_FromSsize_t(found->at[i]);
        if (number == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, number);
    }
    return out;
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
    Py_ssize_t start, end;
    Offsets found = {NULL, 0, 0};
    if (!PyArg_ParseTuple(args, "y*O!nn:positions", &buf, &PyTuple_Type, &needles, &start, &end))
        return NULL;
    clamp(buf.len, &start, &end);
    if (gather_all(&found, buf.buf, start, end, needles) == 0)
        out = offsets_list(&found);
    PyMem_Free(found.at);
    PyBuffer_Release(&buf);
    return out;
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
    Offsets found = {NULL, 0, 0};
    if (!PyArg_ParseTuple(args, "y*y*y*nn:positions_not_after", &buf, &needle, &before, &start,
                          &end))
        return NULL;
    if (needle.len == 0)
        PyErr_SetString(PyExc_ValueError, "empty needle");
    else {
        clamp(buf.len, &start, &end);
        if (gather(&found, buf.buf, start, end, needle.buf, needle.len, before.buf, before.len)
            == 0)
            out = offsets_list(&found);
    }
    PyMem_Free(found.at);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    PyBuffer_Release(&before);
    return out;
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

PyDoc_STRVAR(marked_lines_doc,
"marked_lines(buffer, needles, start, end) -> list[tuple[int, int, bytes]]\n\n"
"For each line of buffer[start:end] that holds one of the needles (non-empty bytes without a\n"
"newline), in order: the newlines in buffer[start:] before it, where it ends, the line (its\n"
"newline too, where it has one).");

static PyObject *
marked_lines(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf;
    PyObject *needles, *out = NULL;
    Py_ssize_t start, end;
    Offsets found = {NULL, 0, 0};
    if (!PyArg_ParseTuple(args, "y*O!nn:marked_lines", &buf, &PyTuple_Type, &needles, &start,
                          &end))
        return NULL;
    clamp(buf.len, &start, &end);
    const char *base = buf.buf;
    if (gather_all(&found, base, start, end, needles) < 0 || (out = PyList_New(0)) == NULL)
        goto fail;
    Py_ssize_t counted = start, newlines = 0, taken = start;
    for (Py_ssize_t i = 0; i < found.used; i++) {
        Py_ssize_t at = found.at[i];
        if (at < taken)
            continue; /* in a line already taken */
        const char *line = memrchr(base + start, '\n', (size_t)(at - start));
        const char *line_end = memchr(base + at, '\n', (size_t)(end - at));
        Py_ssize_t from = line == NULL ? start : line + 1 - base;
        taken = line_end == NULL ? end : line_end + 1 - base;
        newlines += occurrences(base + counted, base + from, "\n", 1);
        counted = from;
        PyObject *item = Py_BuildValue("nny#", newlines, taken, base + from, taken - from);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    PyMem_Free(found.at);
    PyBuffer_Release(&buf);
    return out;
fail:
    PyMem_Free(found.at);
    Py_XDECREF(out);
    PyBuffer_Release(&buf);
    return NULL;
}

static PyMethodDef methods[] = {
    {"marked_lines", marked_lines, METH_VARARGS, marked_lines_doc},
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
