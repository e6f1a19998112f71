/* The Sigma prefilter's per-event loops in C: the pass over an event's ``unmapped`` values and the
 * candidate pick (engine.py ``_Prefilter``).
 *
 * Why C: with the full SigmaHQ corpus loaded, nearly every field of a real Windows event is constrained
 * by some rule and every string is a keyword text, so the engine's cost per event is the interpreter
 * visiting ~30 values (~0.3 us each), not the rules (docs/sigma.md "Prefilter"). Here a value costs a
 * few dict and set probes. The logic is exactly engine.py's pure-Python loops (``_scan_python``,
 * ``_pick_python``), which stay as the fallback where this module is not built and as the reference
 * the tests compare it with; memo misses call back into the same Python methods.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *str_text, *str_number, *str_value;

/* Add every id of ``found`` (a tuple) to ``satisfied``. */
static int
add_all(PyObject *satisfied, PyObject *found)
{
    if (!PyTuple_Check(found)) {
        PyErr_SetString(PyExc_TypeError, "a field scan answered something other than a tuple");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(found);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PySet_Add(satisfied, PyTuple_GET_ITEM(found, i)) < 0)
            return -1;
    }
    return 0;
}

/* The ids one value satisfies: a new reference, or NULL with an exception set. */
static PyObject *
answer(PyObject *entry, PyObject *value)
{
    /* entry: (memo: dict[str, tuple], numbers: dict[int, tuple], scan: _FieldScan) */
    PyObject *found;
    if (PyUnicode_CheckExact(value)) {
        found = PyDict_GetItemWithError(PyTuple_GET_ITEM(entry, 0), value);
        if (found != NULL) {
            Py_INCREF(found);
            return found;
        }
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallMethodOneArg(PyTuple_GET_ITEM(entry, 2), str_text, value);
    }
    if (PyLong_CheckExact(value)) {
        found = PyDict_GetItemWithError(PyTuple_GET_ITEM(entry, 1), value);
        if (found != NULL) {
            Py_INCREF(found);
            return found;
        }
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallMethodOneArg(PyTuple_GET_ITEM(entry, 2), str_number, value);
    }
    return PyObject_CallMethodOneArg(PyTuple_GET_ITEM(entry, 2), str_value, value);
}

/* Add the ids ``value`` of field ``key`` satisfies (``entry``: the field's memos and scan): 0, or -1 on error.
 * The references are held across the call: a memo miss runs Python code. */
static int
add_answer(PyObject *satisfied, PyObject *entry, PyObject *key, PyObject *value)
{
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
        PyErr_SetString(PyExc_TypeError, "a field entry is not (memo, numbers, scan)");
        return -1;
    }
    Py_INCREF(key);
    Py_INCREF(value);
    Py_INCREF(entry);
    PyObject *found = answer(entry, value);
    int failed = found == NULL || add_all(satisfied, found) < 0;
    Py_XDECREF(found);
    Py_DECREF(entry);
    Py_DECREF(value);
    Py_DECREF(key);
    return failed ? -1 : 0;
}

PyDoc_STRVAR(scan_doc,
"scan(unmapped, fields, satisfied, clean, longest, fresh)\n--\n\n"
"Add to ``satisfied`` the constraint ids the values of ``unmapped`` meet (``fields``: field name ->\n"
"(memo, numbers, _FieldScan)); where ``fresh`` is a list, append to it every string value longer than\n"
"``longest`` or not in the set ``clean`` (the keyword texts still to search).");

static PyObject *
scan(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 6 arguments");
        return NULL;
    }
    PyObject *unmapped = args[0], *fields = args[1], *satisfied = args[2], *clean = args[3], *fresh = args[5];
    Py_ssize_t longest = PyLong_AsSsize_t(args[4]);
    if (longest == -1 && PyErr_Occurred())
        return NULL;
    if (!PyDict_Check(unmapped) || !PyDict_Check(fields) || !PySet_Check(satisfied)) {
        PyErr_SetString(PyExc_TypeError, "scan() needs a dict, a dict and a set");
        return NULL;
    }
    int keywords = fresh != Py_None;
    if (keywords && (!PyList_Check(fresh) || !PyAnySet_Check(clean))) {
        PyErr_SetString(PyExc_TypeError, "scan() needs a set of clean texts and a list for the fresh ones");
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    if (!keywords && PyDict_GET_SIZE(fields) < PyDict_GET_SIZE(unmapped)) {
        /* only the constrained fields count: probe the event for each (a group of few rules names few) */
        PyObject *entry;
        while (PyDict_Next(fields, &pos, &key, &entry)) {
            value = PyDict_GetItemWithError(unmapped, key);
            if (value == NULL) {
                if (PyErr_Occurred())
                    return NULL;
                continue;
            }
            if (value != Py_None && add_answer(satisfied, entry, key, value) < 0)
                return NULL;
        }
        Py_RETURN_NONE;
    }
    while (PyDict_Next(unmapped, &pos, &key, &value)) {
        int text = PyUnicode_CheckExact(value);
        if (text && keywords) {
            int known = 0;
            if (PyUnicode_GET_LENGTH(value) <= longest) {
                known = PySet_Contains(clean, value);
                if (known < 0)
                    return NULL;
            }
            if (!known && PyList_Append(fresh, value) < 0)
                return NULL;
        }
        else if (value == Py_None) {
            continue;
        }
        PyObject *entry = PyDict_GetItemWithError(fields, key);
        if (entry == NULL) {
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
        if (add_answer(satisfied, entry, key, value) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* Whether every item of ``need`` (a frozenset) is in ``satisfied``: 1, 0, or -1 on error. */
static int
holds(PyObject *need, PyObject *satisfied)
{
    if (PySet_GET_SIZE(need) > PySet_GET_SIZE(satisfied))
        return 0;
    PyObject *items = PyObject_GetIter(need);
    if (items == NULL)
        return -1;
    PyObject *item;
    int result = 1;
    while ((item = PyIter_Next(items)) != NULL) {
        int in = PySet_Contains(satisfied, item);
        Py_DECREF(item);
        if (in <= 0) {
            result = in;
            break;
        }
    }
    Py_DECREF(items);
    if (result == 1 && PyErr_Occurred())
        return -1;
    return result;
}

PyDoc_STRVAR(pick_doc,
"pick(satisfied, anchored, always)\n--\n\n"
"The sorted rule indices of ``always`` and of every (rule, need) in ``anchored[cid]`` for a ``cid`` of\n"
"``satisfied`` whose ``need`` is a subset of ``satisfied``.");

static PyObject *
pick(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "pick() takes 3 arguments");
        return NULL;
    }
    PyObject *satisfied = args[0], *anchored = args[1], *always = args[2];
    if (!PyAnySet_Check(satisfied) || !PyDict_Check(anchored)) {
        PyErr_SetString(PyExc_TypeError, "pick() needs a set and a dict");
        return NULL;
    }
    PyObject *picked = PySet_New(always);
    if (picked == NULL)
        return NULL;
    PyObject *cids = PyObject_GetIter(satisfied);
    if (cids == NULL)
        goto error;
    PyObject *cid;
    while ((cid = PyIter_Next(cids)) != NULL) {
        PyObject *entries = PyDict_GetItemWithError(anchored, cid);
        Py_DECREF(cid);
        if (entries == NULL) {
            if (PyErr_Occurred())
                goto error_iter;
            continue;
        }
        if (!PyTuple_Check(entries)) {
            PyErr_SetString(PyExc_TypeError, "anchored values must be tuples");
            goto error_iter;
        }
        Py_INCREF(entries);
        Py_ssize_t n = PyTuple_GET_SIZE(entries);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *pair = PyTuple_GET_ITEM(entries, i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyAnySet_Check(PyTuple_GET_ITEM(pair, 1))) {
                PyErr_SetString(PyExc_TypeError, "anchored entries must be (rule, frozenset)");
                Py_DECREF(entries);
                goto error_iter;
            }
            int ok = holds(PyTuple_GET_ITEM(pair, 1), satisfied);
            if (ok < 0 || (ok && PySet_Add(picked, PyTuple_GET_ITEM(pair, 0)) < 0)) {
                Py_DECREF(entries);
                goto error_iter;
            }
        }
        Py_DECREF(entries);
    }
    Py_DECREF(cids);
    if (PyErr_Occurred())
        goto error;
    PyObject *result = PySequence_List(picked);
    Py_DECREF(picked);
    if (result != NULL && PyList_Sort(result) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
error_iter:
    Py_DECREF(cids);
error:
    Py_DECREF(picked);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, scan_doc},
    {"pick", (PyCFunction)(void (*)(void))pick, METH_FASTCALL, pick_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The Sigma prefilter's per-event loops in C (engine.py keeps the same logic in Python).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    str_text = PyUnicode_InternFromString("text");
    str_number = PyUnicode_InternFromString("number");
    str_value = PyUnicode_InternFromString("value");
    if (str_text == NULL || str_number == NULL || str_value == NULL)
        return NULL;
    return PyModule_Create(&module);
}
