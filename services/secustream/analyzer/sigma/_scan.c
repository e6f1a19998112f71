/* The Sigma prefilter's per-event loops in C: the gathering of an event's satisfied constraints and keyword
 * texts, and the candidate pick (engine.py ``_Prefilter``).
 *
 * Why C: with the full SigmaHQ corpus loaded, nearly every field of a real Windows event is constrained
 * by some rule and every string is a keyword text, so the engine's cost per event is the interpreter
 * visiting ~30 values (~0.3 us each), not the rules (docs/sigma.md "Prefilter"). Here a value costs a
 * few dict and set probes. The logic is exactly engine.py's pure-Python loops (``gather_event_python``,
 * ``pick_rules_python``), which stay as the fallback where this module is not built and as the reference
 * the tests compare it with; memo misses call back into the same Python methods.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *str_text, *str_number, *str_value, *str_unmapped;

/* 0 where a function got the ``want`` arguments it takes, else -1 with a TypeError. */
static int
arity(Py_ssize_t nargs, Py_ssize_t want, const char *name)
{
    if (nargs == want)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, nargs);
    return -1;
}

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

/* A keyword group's probe (engine.py ``KeywordProbe``, unpacked): its clean set, its shortest literal and the
 * longest text the set keeps. */
typedef struct {
    PyObject *clean;
    Py_ssize_t shortest, longest;
} probe_t;

/* Append ``text`` to ``fresh`` unless it is an ASCII string shorter than the shortest literal or a string of at
 * most ``longest`` characters in ``clean`` (engine.py ``_keyword_text``): 0, or -1. */
static int
keep_fresh(PyObject *fresh, const probe_t *probe, PyObject *text)
{
    if (PyUnicode_Check(text)) {
        Py_ssize_t length = PyUnicode_GET_LENGTH(text);
        if (length < probe->shortest && PyUnicode_IS_ASCII(text))
            return 0;
        if (length <= probe->longest) {
            int known = PySet_Contains(probe->clean, text);
            if (known != 0)
                return known < 0 ? -1 : 0;
        }
    }
    return PyList_Append(fresh, text);
}

/* Whether ``value`` is what a resolver skips: None or "" (fields.py ``first_value``). */
static int
is_blank(PyObject *value)
{
    return value == Py_None || (PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) == 0);
}

/* ``doc.get(key)`` where ``doc`` is a dict, else NULL; NULL too when absent (with an exception set on error). */
static PyObject *
child(PyObject *doc, const char *key)
{
    if (!PyDict_Check(doc))
        return NULL;
    return PyDict_GetItemString(doc, key);
}

/* fields.py ``document_texts``: the message (else the raw line) and the command line, to ``keep_fresh``. */
static int
document_texts(PyObject *doc, PyObject *fresh, const probe_t *probe)
{
    PyObject *text = child(doc, "message");
    int truthy = text != NULL ? PyObject_IsTrue(text) : 0;
    if (truthy < 0)
        return -1;
    if (!truthy) {
        text = child(doc, "raw");
        truthy = text != NULL ? PyObject_IsTrue(text) : 0;
        if (truthy < 0)
            return -1;
    }
    if (truthy && keep_fresh(fresh, probe, text) < 0)
        return -1;
    PyObject *process = child(doc, "process");
    text = process != NULL ? child(process, "command_line") : NULL;
    truthy = text != NULL ? PyObject_IsTrue(text) : 0;
    if (truthy < 0)
        return -1;
    return truthy ? keep_fresh(fresh, probe, text) : 0;
}

/* fields.py ``first_value``: the first value along ``paths`` (tuples of keys) that is not blank; borrowed, or
 * NULL when there is none. */
static PyObject *
first_value(PyObject *doc, PyObject *paths)
{
    Py_ssize_t n = PyTuple_GET_SIZE(paths);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *path = PyTuple_GET_ITEM(paths, i);
        if (!PyTuple_Check(path))
            continue;
        PyObject *node = doc;
        Py_ssize_t parts = PyTuple_GET_SIZE(path);
        for (Py_ssize_t j = 0; j < parts && node != NULL; j++)
            node = PyDict_Check(node) ? PyDict_GetItemWithError(node, PyTuple_GET_ITEM(path, j)) : NULL;
        if (node == NULL && PyErr_Occurred())
            return NULL;
        if (node != NULL && !is_blank(node))
            return node;
    }
    return NULL;
}

/* The pass over ``unmapped``: every constrained value's ids, and the keyword texts not known clean. */
static int
scan_unmapped(PyObject *unmapped, PyObject *fields, PyObject *satisfied, PyObject *fresh, const probe_t *probe)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    if (fresh == Py_None && PyDict_GET_SIZE(fields) < PyDict_GET_SIZE(unmapped)) {
        /* only the constrained fields count: probe the event for each (a group of few rules names few) */
        PyObject *entry;
        while (PyDict_Next(fields, &pos, &key, &entry)) {
            value = PyDict_GetItemWithError(unmapped, key);
            if (value == NULL) {
                if (PyErr_Occurred())
                    return -1;
                continue;
            }
            if (value != Py_None && add_answer(satisfied, entry, key, value) < 0)
                return -1;
        }
        return 0;
    }
    while (PyDict_Next(unmapped, &pos, &key, &value)) {
        if (PyUnicode_CheckExact(value)) {
            if (fresh != Py_None && keep_fresh(fresh, probe, value) < 0)
                return -1;
        }
        else if (value == Py_None) {
            continue;
        }
        PyObject *entry = PyDict_GetItemWithError(fields, key);
        if (entry == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        if (add_answer(satisfied, entry, key, value) < 0)
            return -1;
    }
    return 0;
}

/* The fields with other places to look, where ``unmapped`` lacks them: resolved along their paths. */
static int
scan_fallback(PyObject *doc, PyObject *unmapped, PyObject *fields, PyObject *satisfied, PyObject *fallback)
{
    Py_ssize_t n = PyTuple_GET_SIZE(fallback);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(fallback, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "a fallback entry is not (field, paths)");
            return -1;
        }
        PyObject *field = PyTuple_GET_ITEM(item, 0);
        PyObject *value = PyDict_GetItemWithError(unmapped, field);
        if (value == NULL && PyErr_Occurred())
            return -1;
        if (value != NULL && !is_blank(value))
            continue;  /* the pass over ``unmapped`` answered it */
        value = first_value(doc, PyTuple_GET_ITEM(item, 1));
        if (value == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        PyObject *entry = PyDict_GetItemWithError(fields, field);
        if (entry == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, field);
            return -1;
        }
        if (add_answer(satisfied, entry, field, value) < 0)
            return -1;
    }
    return 0;
}

PyDoc_STRVAR(gather_doc,
"gather(doc, fields, satisfied, fresh, probe, fallback, given)\n--\n\n"
"Add to ``satisfied`` the constraint ids event ``doc`` meets (``fields``: field name -> (memo, numbers,\n"
"_FieldScan), looked up in ``doc['unmapped']``, then along the paths of each (field, paths) of ``fallback``\n"
"that ``unmapped`` lacks) and every id of ``given``; where ``fresh`` is a list, append to it every keyword\n"
"text (each string of ``unmapped``, then fields.document_texts) that ``probe`` (clean set, shortest literal,\n"
"longest text kept clean) does not rule out. engine.py ``gather_event_python`` is the same in Python.");

static PyObject *
gather(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (arity(nargs, 7, "gather") < 0)
        return NULL;
    PyObject *doc = args[0], *fields = args[1], *satisfied = args[2], *fresh = args[3], *given = args[6];
    PyObject *fallback = args[5];
    if (!PyDict_Check(doc) || !PyDict_Check(fields) || !PySet_Check(satisfied) || !PyTuple_Check(fallback)
            || !PyTuple_Check(given)) {
        PyErr_SetString(PyExc_TypeError, "gather() needs a dict, a dict, a set, ..., a tuple and a tuple");
        return NULL;
    }
    probe_t probe = {NULL, 0, 0};
    if (fresh != Py_None) {
        PyObject *given_probe = args[4];
        if (!PyList_Check(fresh) || !PyTuple_Check(given_probe) || PyTuple_GET_SIZE(given_probe) != 3
                || !PyAnySet_Check(PyTuple_GET_ITEM(given_probe, 0))) {
            PyErr_SetString(PyExc_TypeError, "gather() needs a list for the fresh texts and a (clean set, shortest, "
                            "longest) probe");
            return NULL;
        }
        probe.clean = PyTuple_GET_ITEM(given_probe, 0);
        probe.shortest = PyLong_AsSsize_t(PyTuple_GET_ITEM(given_probe, 1));
        if (probe.shortest == -1 && PyErr_Occurred())
            return NULL;
        probe.longest = PyLong_AsSsize_t(PyTuple_GET_ITEM(given_probe, 2));
        if (probe.longest == -1 && PyErr_Occurred())
            return NULL;
    }
    PyObject *unmapped = PyDict_GetItemWithError(doc, str_unmapped);
    if (unmapped == NULL && PyErr_Occurred())
        return NULL;
    int truthy = unmapped != NULL ? PyObject_IsTrue(unmapped) : 0;
    if (truthy < 0)
        return NULL;
    PyObject *empty = NULL;
    if (!truthy) {  /* ``doc.get("unmapped") or {}`` */
        unmapped = empty = PyDict_New();
        if (empty == NULL)
            return NULL;
    }
    else if (!PyDict_Check(unmapped)) {
        PyErr_SetString(PyExc_TypeError, "an event's unmapped is not a dict");
        return NULL;
    }
    Py_INCREF(unmapped);
    int failed = scan_unmapped(unmapped, fields, satisfied, fresh, &probe) < 0
        || (fresh != Py_None && document_texts(doc, fresh, &probe) < 0)
        || add_all(satisfied, given) < 0
        || scan_fallback(doc, unmapped, fields, satisfied, fallback) < 0;
    Py_DECREF(unmapped);
    Py_XDECREF(empty);
    if (failed)
        return NULL;
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
    if (arity(nargs, 3, "pick") < 0)
        return NULL;
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
    {"gather", (PyCFunction)(void (*)(void))gather, METH_FASTCALL, gather_doc},
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
    str_unmapped = PyUnicode_InternFromString("unmapped");
    if (str_text == NULL || str_number == NULL || str_value == NULL || str_unmapped == NULL)
        return NULL;
    return PyModule_Create(&module);
}
