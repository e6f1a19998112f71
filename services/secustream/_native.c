/* The normalisers' per-event steps that cost most in Python, in C: the trusted pydantic build (events.py
 * ``trusted_builder``), two looks over a parsed line's dict and the pop of its System fields by their aliases
 * (normalizers/windows.py).
 *
 * Why C: a real Windows event becomes five or six models (the event, its two endpoints, process, file ...).
 * In Python each build is a dict merge, a set and four ``object.__setattr__`` calls, ~1.2 us, and asking
 * whether any of a line's ~40 values is None, or any key holds a blank, ~1 us each: together a third of
 * normalising a real event (docs/sigma.md "Run O"). Here they are the same steps without the interpreter
 * between them. ``secustream/native.py`` holds the same logic in Python (``construct_python`` ...): the
 * fallback where this module is not built, and the reference tests/unit/test_native.py compares it with.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static PyObject *str_fields_set, *str_extra, *str_private;

/* TypeError "Name: unknown fields [...]": the keys of ``values`` that ``defaults`` lacks, sorted. */
static void
unknown_fields(PyObject *cls, PyObject *defaults, PyObject *values)
{
    PyObject *unknown = PyList_New(0), *key, *value;
    Py_ssize_t pos = 0;
    if (unknown == NULL)
        return;
    while (PyDict_Next(values, &pos, &key, &value)) {
        int known = PyDict_Contains(defaults, key);
        if (known < 0 || (!known && PyList_Append(unknown, key) < 0)) {
            Py_DECREF(unknown);
            return;
        }
    }
    if (PyList_Sort(unknown) == 0)
        PyErr_Format(PyExc_TypeError, "%s: unknown fields %R", ((PyTypeObject *)cls)->tp_name, unknown);
    Py_DECREF(unknown);
}

/* construct(cls, defaults, values) -> the model; TypeError when ``values`` names a field ``defaults`` lacks.
 *
 * The instance's ``__dict__`` is ``{**defaults, **values}`` (every field, in declaration order), its
 * ``__pydantic_fields_set__`` the set of ``values``' keys, its extra and private slots None: what
 * ``cls(**values)`` makes when every value already is what validation would return. */
static PyObject *
construct(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "construct() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *cls = args[0], *defaults = args[1], *values = args[2];
    if (!PyType_Check(cls) || !PyDict_CheckExact(defaults) || !PyDict_CheckExact(values)) {
        PyErr_SetString(PyExc_TypeError, "construct(cls, defaults: dict, values: dict)");
        return NULL;
    }
    PyObject *fields = PyDict_Copy(defaults);
    if (fields == NULL)
        return NULL;
    if (PyDict_Update(fields, values) < 0) {
        Py_DECREF(fields);
        return NULL;
    }
    if (PyDict_GET_SIZE(fields) != PyDict_GET_SIZE(defaults)) {
        Py_DECREF(fields);
        unknown_fields(cls, defaults, values);
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *model = type->tp_alloc(type, 0);
    if (model == NULL) {
        Py_DECREF(fields);
        return NULL;
    }
    int failed = PyObject_GenericSetDict(model, fields, NULL);
    Py_DECREF(fields);
    if (failed < 0) {
        Py_DECREF(model);
        return NULL;
    }
    PyObject *fields_set = PySet_New(values);
    if (fields_set == NULL) {
        Py_DECREF(model);
        return NULL;
    }
    failed = PyObject_GenericSetAttr(model, str_fields_set, fields_set);
    Py_DECREF(fields_set);
    if (failed < 0 || PyObject_GenericSetAttr(model, str_extra, Py_None) < 0
        || PyObject_GenericSetAttr(model, str_private, Py_None) < 0) {
        Py_DECREF(model);
        return NULL;
    }
    return model;
}

/* any_none(d) -> whether a value of the dict ``d`` is None. */
static PyObject *
any_none(PyObject *module, PyObject *d)
{
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "any_none(d: dict)");
        return NULL;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (value == Py_None)
            Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

/* any_spaced_key(d) -> whether a key of the dict ``d`` is a str holding a " ". */
static PyObject *
any_spaced_key(PyObject *module, PyObject *d)
{
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "any_spaced_key(d: dict)");
        return NULL;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (PyUnicode_Check(key)) {
            Py_ssize_t at = PyUnicode_FindChar(key, ' ', 0, PyUnicode_GET_LENGTH(key), 1);
            if (at == -2)
                return NULL;
            if (at >= 0)
                Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

/* take_first(d, groups, on_dict) -> {name: value}: for each (name, keys) of ``groups``, pops ``keys`` from the dict
 * ``d`` in order until one holds a value other than None, which becomes ``name``'s (``on_dict(value)`` where the
 * value is a dict); the keys after it stay in ``d``. ``native.take_first_python`` is the reference. */
static PyObject *
take_first(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "take_first(d: dict, groups: tuple[(name, (key, ...)), ...], on_dict)");
        return NULL;
    }
    PyObject *d = args[0], *groups = args[1], *on_dict = args[2];
    PyObject *taken = PyDict_New();
    if (taken == NULL)
        return NULL;
    for (Py_ssize_t g = 0; g < PyTuple_GET_SIZE(groups); g++) {
        PyObject *group = PyTuple_GET_ITEM(groups, g);
        if (!PyTuple_Check(group) || PyTuple_GET_SIZE(group) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(group, 1))) {
            PyErr_SetString(PyExc_TypeError, "take_first: a group is not (name, (key, ...))");
            goto fail;
        }
        PyObject *name = PyTuple_GET_ITEM(group, 0), *keys = PyTuple_GET_ITEM(group, 1);
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            PyObject *value = PyDict_GetItemWithError(d, PyTuple_GET_ITEM(keys, k));
            if (value == NULL) {
                if (PyErr_Occurred())
                    goto fail;
                continue;
            }
            Py_INCREF(value);
            if (PyDict_DelItem(d, PyTuple_GET_ITEM(keys, k)) < 0) {
                Py_DECREF(value);
                goto fail;
            }
            if (value == Py_None) {
                Py_DECREF(value);
                continue;
            }
            if (PyDict_Check(value)) {
                Py_SETREF(value, PyObject_CallOneArg(on_dict, value));
                if (value == NULL)
                    goto fail;
            }
            int failed = PyDict_SetItem(taken, name, value);
            Py_DECREF(value);
            if (failed < 0)
                goto fail;
            break;
        }
    }
    return taken;
fail:
    Py_DECREF(taken);
    return NULL;
}

/* Whether the ``n`` bytes at ``text`` hold ``\u0000`` (the one way JSON writes NUL) or a bare NUL byte. Why not
 * ``bytes.__contains__``: a real Windows event's JSON holds ~480 backslashes and many zeros in 6 KB, on which CPython's
 * search (and glibc's memmem) kept stopping, ~4 us a payload; here each 16 bytes are compared with a backslash and
 * their next 16 with a ``u`` at once, and only the rare pair (under one a payload) is checked further. */
static int
holds_nul(const unsigned char *text, Py_ssize_t n)
{
    if (memchr(text, 0, (size_t)n) != NULL)
        return 1;
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i backslash = _mm_set1_epi8('\\'), u = _mm_set1_epi8('u');
    for (; i + 17 <= n; i += 16) {
        __m128i here = _mm_loadu_si128((const __m128i *)(text + i));
        __m128i next = _mm_loadu_si128((const __m128i *)(text + i + 1));
        unsigned pairs = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(here, backslash),
                                                                   _mm_cmpeq_epi8(next, u)));
        for (; pairs; pairs &= pairs - 1) {
            Py_ssize_t at = i + __builtin_ctz(pairs);
            if (at + 6 <= n && memcmp(text + at + 2, "0000", 4) == 0)
                return 1;
        }
    }
#endif
    for (; i + 6 <= n; i++)
        if (text[i] == '\\' && memcmp(text + i + 1, "u0000", 5) == 0)
            return 1;
    return 0;
}

/* json_may_hold_nul(payload: bytes) -> bool: native.py ``json_may_hold_nul_python``. */
static PyObject *
json_may_hold_nul(PyObject *Py_UNUSED(module), PyObject *payload)
{
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "json_may_hold_nul() takes bytes");
        return NULL;
    }
    return PyBool_FromLong(holds_nul((const unsigned char *)PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload)));
}

static PyMethodDef methods[] = {
    {"take_first", (PyCFunction)(void (*)(void))take_first, METH_FASTCALL,
     "take_first(d, groups, on_dict): per (name, keys) group, the first of keys popped from d that is not None."},
    {"any_none", (PyCFunction)any_none, METH_O, "any_none(d): whether a value of the dict d is None."},
    {"any_spaced_key", (PyCFunction)any_spaced_key, METH_O,
     "any_spaced_key(d): whether a key of the dict d is a str holding a blank."},
    {"json_may_hold_nul", (PyCFunction)json_may_hold_nul, METH_O,
     "json_may_hold_nul(payload): whether the bytes hold a NUL byte or the JSON escape \\u0000."},
    {"construct", (PyCFunction)(void (*)(void))construct, METH_FASTCALL,
     "construct(cls, defaults, values): the model {**defaults, **values} makes without validation; "
     "TypeError when values names an unknown field."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "The normalisers' hot steps in C (secustream/native.py holds the reference).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    str_fields_set = PyUnicode_InternFromString("__pydantic_fields_set__");
    str_extra = PyUnicode_InternFromString("__pydantic_extra__");
    str_private = PyUnicode_InternFromString("__pydantic_private__");
    if (str_fields_set == NULL || str_extra == NULL || str_private == NULL)
        return NULL;
    return PyModule_Create(&module);
}
