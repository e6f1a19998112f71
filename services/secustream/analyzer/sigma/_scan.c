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
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_WIDE 1  /* AVX2 may be there: ``wide_available`` asks the CPU once, at import */
#else
#define HAVE_WIDE 0
#endif

/* Ask for the cache line at ``address`` before it is read (a hint: nothing where the compiler has no such builtin). */
#if defined(__GNUC__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

static PyObject *str_text, *str_number, *str_value, *str_unmapped;
static PyObject *str_message, *str_raw, *str_process, *str_command_line;  /* the document's keys, made once */

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

/* A keyword group's guards, compiled once per group by ``guard_table`` into a bytes object that every ``gather``
 * then reads as it is: each guard a 4-character ASCII substring that one of the keyword literals holds (every literal
 * holds one), folded (``FOLD``) and packed big-endian; the distinct first and last bytes of the guards, each repeated
 * 16 times (what ``candidates16`` compares 16 windows with); and ``table``, a bit per ``SLOT`` of a packed window, set
 * for each guard's, so that a window that is no guard costs a multiply and a bit test, not a compare per guard. */
#define MOST_GRAMS 16
#define TABLE_BYTES 8192
#define SLOT(window) (((uint32_t)(window) * 0x9E3779B1u) >> 16)
typedef struct {
    uint32_t grams[MOST_GRAMS];
    unsigned char firsts[MOST_GRAMS][16], lasts[MOST_GRAMS][16];
    int32_t ngrams, nfirsts, nlasts;
    int32_t wide;  /* 1: the AVX2 pass (``candidates32``), 0: the SSE2 one; chosen by ``guard_table`` */
    /* ``candidates32``'s nibble tables: for the first byte, then the last, a guard's bucket bit (its index mod 8) at
     * the low and at the high nibble of its folded byte */
    unsigned char first_low[16], first_high[16], last_low[16], last_high[16];
    unsigned char table[TABLE_BYTES];
} guards_t;

/* A keyword group's probe (engine.py ``KeywordProbe``, unpacked): its clean set, its shortest literal, the longest
 * text the set keeps and its guards (NULL where none cover the literals). */
typedef struct {
    PyObject *clean;
    Py_ssize_t shortest, longest;
    const guards_t *guards;
} probe_t;

/* ASCII folded by setting bit 5: an upper-case letter becomes its lower-case one (other characters may meet
 * others, which only lets a text through to the exact search). Any other character becomes 0x80, which no guard
 * holds. engine.py ``_fold`` is the same in Python. */
#define FOLD(c) ((c) < 0x80 ? ((c) | 0x20) : 0x80)
static unsigned char folded_byte[256];

/* Whether the window is one of the guards: 1 or 0. */
static inline int
is_guard(const guards_t *guards, uint32_t window)
{
    uint32_t slot = SLOT(window);
    if (!(guards->table[slot >> 3] & (1u << (slot & 7))))
        return 0;
    for (int j = 0; j < guards->ngrams; j++)
        if (window == guards->grams[j])
            return 1;
    return 0;
}

/* Whether the 4 one-byte characters at ``chars`` fold to a guard. */
static inline int
guard_at(const guards_t *guards, const Py_UCS1 *chars)
{
    uint32_t window = ((uint32_t)folded_byte[chars[0]] << 24) | ((uint32_t)folded_byte[chars[1]] << 16)
        | ((uint32_t)folded_byte[chars[2]] << 8) | folded_byte[chars[3]];
    return is_guard(guards, window);
}

/* The windows a block pass flags, from ``found`` (bit k: the window at ``chars + k``), exactly checked: 1 where one is
 * a guard. */
static inline int
any_guard(const guards_t *guards, const Py_UCS1 *chars, uint64_t found)
{
    for (; found; found &= found - 1)
        if (guard_at(guards, chars + __builtin_ctzll(found)))
            return 1;
    return 0;
}

/* The block pass of ``may_hold_narrow``, WIDTH windows a step with CANDIDATES (``candidates16`` or ``candidates32``,
 * each reading WIDTH + 3 bytes): whole blocks, then the block that ends where the text ends, masked to the windows not
 * passed yet (it starts before the text only where ``before`` says those bytes are the string's own), else a copy of
 * the tail. A macro, not a function, so that each pass keeps its CANDIDATES inlined under its own target. */
#define BLOCK_PASS(WIDTH, CANDIDATES)                                                                                 \
    do {                                                                                                              \
        Py_ssize_t i = 0;                                                                                             \
        for (; i + (WIDTH) + 3 <= n; i += (WIDTH))                                                                    \
            if (any_guard(guards, chars + i, CANDIDATES(guards, chars + i)))                                          \
                return 1;                                                                                             \
        if (i > n - 4)                                                                                                \
            return 0;                                                                                                 \
        Py_ssize_t start = n - (WIDTH) - 3;  /* its first i - start windows were passed */                            \
        if (start >= -before)                                                                                         \
            return any_guard(guards, chars + start,                                                                   \
                             CANDIDATES(guards, chars + start) & (~(uint64_t)0 << (i - start)));                      \
        Py_UCS1 tail[64] = {0};                                                                                       \
        memcpy(tail, chars + i, (size_t)(n - i));                                                                     \
        return any_guard(guards, tail, CANDIDATES(guards, tail) & (~(uint64_t)0 >> (64 - (n - 3 - i))));              \
    } while (0)

#ifdef __SSE2__
/* The windows starting at the 16 bytes of ``chars`` (19 readable) whose first and last bytes, with bit 5 set, are
 * some guard's first and last: a bit each (a superset of the guards' windows; bytes over 0x7F meet none). */
static inline uint64_t
candidates16(const guards_t *guards, const Py_UCS1 *chars)
{
    const __m128i bit5 = _mm_set1_epi8(0x20);
    __m128i first = _mm_or_si128(_mm_loadu_si128((const __m128i *)chars), bit5);
    __m128i last = _mm_or_si128(_mm_loadu_si128((const __m128i *)(chars + 3)), bit5);
    __m128i firsts = _mm_setzero_si128(), lasts = _mm_setzero_si128();
    for (int j = 0; j < guards->nfirsts; j++)
        firsts = _mm_or_si128(firsts, _mm_cmpeq_epi8(first, _mm_loadu_si128((const __m128i *)guards->firsts[j])));
    for (int j = 0; j < guards->nlasts; j++)
        lasts = _mm_or_si128(lasts, _mm_cmpeq_epi8(last, _mm_loadu_si128((const __m128i *)guards->lasts[j])));
    return (unsigned)_mm_movemask_epi8(_mm_and_si128(firsts, lasts));
}
#endif

#if HAVE_WIDE
/* The windows starting at the 32 bytes of ``chars`` (35 readable) whose first and last bytes, with bit 5 set, are
 * the first and last of one same guard, up to the guards sharing its bucket (``guard_table``): a bit each. Each byte's
 * buckets are two table looks, one per nibble (``vpshufb``), whatever the number of guards. */
__attribute__((target("avx2"))) static inline uint64_t
candidates32(const guards_t *guards, const Py_UCS1 *chars)
{
    const __m256i bit5 = _mm256_set1_epi8(0x20), low4 = _mm256_set1_epi8(0x0F);
#define TABLE32(row) _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(row)))
#define BUCKETS(bytes, low, high) _mm256_and_si256(_mm256_shuffle_epi8(TABLE32(low), _mm256_and_si256(bytes, low4)), \
        _mm256_shuffle_epi8(TABLE32(high), _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4)))
    __m256i first = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)chars), bit5);
    __m256i last = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(chars + 3)), bit5);
    __m256i both = _mm256_and_si256(BUCKETS(first, guards->first_low, guards->first_high),
                                    BUCKETS(last, guards->last_low, guards->last_high));
#undef BUCKETS
#undef TABLE32
    return ~(uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(both, _mm256_setzero_si256()))
        & 0xFFFFFFFFu;
}

/* ``may_hold_narrow`` 32 windows at a time (``candidates32``). */
__attribute__((target("avx2"))) static int
may_hold_wide(const guards_t *guards, const Py_UCS1 *chars, Py_ssize_t n, Py_ssize_t before)
{
    BLOCK_PASS(32, candidates32);
}
#endif

/* ``may_hold`` for one-byte characters (ASCII and Latin-1 strings: nearly every real one). With SSE2 (every x86-64),
 * 16 windows at a time are narrowed to the few whose first and last bytes fit (``candidates16``), and only those are
 * folded and looked up; with AVX2 where ``guard_table`` chose it, 32 at a time. The last windows are those of the
 * block that ends where the text ends, masked to the ones not passed yet: its bytes before the text (``before`` of
 * them readable: a compact string's own header, which no window it keeps starts in) are read, never a byte after
 * it; a text with fewer bytes before it than a block (a legacy string) has its tail copied. */
static int
may_hold_narrow(const guards_t *guards, const Py_UCS1 *chars, Py_ssize_t n, Py_ssize_t before)
{
    if (n < 4)
        return 0;
#if HAVE_WIDE
    if (guards->wide)
        return may_hold_wide(guards, chars, n, before);
#endif
#ifdef __SSE2__
    BLOCK_PASS(16, candidates16);
#else
    uint32_t window = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        window = (window << 8) | folded_byte[chars[i]];
        if (i >= 3 && is_guard(guards, window))
            return 1;
    }
    return 0;
#endif
}

/* Whether ``text`` may hold a guard: a window of 4 characters that folds to one (every text whose lower-cased
 * form holds a guard does); also a text with U+0130 or U+212A, which ``str.lower`` turns into ASCII (engine.py
 * ``_may_hold``). One pass over the characters where they are stored: nothing is copied, hashed or encoded. 1, 0,
 * or -1 with an exception set. */
static int
may_hold(const guards_t *guards, PyObject *text)
{
    if (PyUnicode_READY(text) < 0)  /* a legacy string not in its canonical form yet (none after 3.12) */
        return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (kind == PyUnicode_1BYTE_KIND) {
        /* a compact string's characters follow its header in the same block: those bytes may be read */
        Py_ssize_t before = PyUnicode_IS_COMPACT(text) ? (const char *)data - (const char *)text : 0;
        return may_hold_narrow(guards, (const Py_UCS1 *)data, n, before);
    }
    uint32_t window = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == 0x130 || c == 0x212A)
            return 1;
        window = (window << 8) | FOLD(c);
        if (i >= 3 && is_guard(guards, window))
            return 1;
    }
    return 0;
}

/* Append ``text`` to ``fresh`` unless it cannot hold a keyword literal (engine.py ``_keyword_text``): with guards,
 * a text that may hold none of them (``may_hold``); without, an ASCII string shorter than the shortest literal or a
 * string of at most ``longest`` characters in ``clean``. 0, or -1. */
static int
keep_fresh(PyObject *fresh, const probe_t *probe, PyObject *text)
{
    if (PyUnicode_Check(text)) {
        if (probe->guards != NULL) {
            int held = may_hold(probe->guards, text);
            return held < 0 ? -1 : held ? PyList_Append(fresh, text) : 0;
        }
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

/* The number of guards in ``grams`` (bytes, 4 per guard, at most MOST_GRAMS), or -1 with a TypeError. */
static int
count_grams(PyObject *grams)
{
    if (!PyBytes_Check(grams) || PyBytes_GET_SIZE(grams) % 4 != 0 || PyBytes_GET_SIZE(grams) / 4 > MOST_GRAMS) {
        PyErr_Format(PyExc_TypeError, "the guards are bytes, 4 per guard, at most %d of them", MOST_GRAMS);
        return -1;
    }
    return (int)(PyBytes_GET_SIZE(grams) / 4);
}

/* Add ``byte`` repeated 16 times to ``rows`` (``*n`` of them) unless a row holds it already. */
static void
add_distinct(unsigned char rows[][16], int32_t *n, unsigned char byte)
{
    for (int32_t k = 0; k < *n; k++)
        if (rows[k][0] == byte)
            return;
    memset(rows[(*n)++], byte, 16);
}

/* Whether this CPU runs the AVX2 pass (asked once, at import; constant after). */
static int wide_available;

/* Set ``guard``'s bucket bit for ``byte`` (folded, under 0x80) in a pair of nibble tables. */
static void
add_bucket(unsigned char low[16], unsigned char high[16], unsigned char byte, int guard)
{
    low[byte & 15] |= (unsigned char)(1u << (guard & 7));
    high[byte >> 4] |= (unsigned char)(1u << (guard & 7));
}

PyDoc_STRVAR(guard_table_doc,
"guard_table(guards, wide=None)\n--\n\n"
"``guards`` (bytes, 4 ASCII characters per guard, at most 16) compiled for ``gather``: folded, their first and last\n"
"bytes, their nibble tables, their bit table; built once per keyword group (engine.py ``_KeywordScan``), read as it\n"
"is by each gather. ``wide``: the pass 32 windows at a time (AVX2) or 16 (SSE2); None: the widest this CPU runs\n"
"(``WIDE``); True where the CPU lacks AVX2 is a ValueError. Both answer the same.");

static PyObject *
guard_table(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "guard_table() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *grams = args[0];
    int wide = wide_available;
    if (nargs == 2 && args[1] != Py_None) {
        wide = PyObject_IsTrue(args[1]);
        if (wide < 0)
            return NULL;
        if (wide && !wide_available) {
            PyErr_SetString(PyExc_ValueError, "this CPU has no AVX2 (or the module was built without it)");
            return NULL;
        }
    }
    int n = count_grams(grams);
    if (n < 0)
        return NULL;
    PyObject *compiled = PyBytes_FromStringAndSize(NULL, sizeof(guards_t));
    if (compiled == NULL)
        return NULL;
    guards_t *guards = (guards_t *)PyBytes_AS_STRING(compiled);
    memset(guards, 0, sizeof(guards_t));
    const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(grams);
    guards->ngrams = n;
    guards->wide = wide;
    for (int j = 0; j < n; j++) {
        uint32_t gram = 0;
        for (int k = 0; k < 4; k++)
            gram = (gram << 8) | FOLD(bytes[4 * j + k]);
        guards->grams[j] = gram;
        uint32_t slot = SLOT(gram);
        guards->table[slot >> 3] |= (unsigned char)(1u << (slot & 7));
        add_distinct(guards->firsts, &guards->nfirsts, (unsigned char)(gram >> 24));
        add_distinct(guards->lasts, &guards->nlasts, (unsigned char)gram);
        add_bucket(guards->first_low, guards->first_high, (unsigned char)(gram >> 24), j);
        add_bucket(guards->last_low, guards->last_high, (unsigned char)gram, j);
    }
    return compiled;
}

/* Unpack a ``(clean, shortest, longest, guards, compiled)`` probe (``guards`` as ``count_grams`` takes them,
 * ``compiled`` what ``guard_table`` made of them): 0, or -1 with a TypeError or an OverflowError. */
static int
unpack_probe(PyObject *given, probe_t *probe)
{
    if (!PyTuple_Check(given) || PyTuple_GET_SIZE(given) != 5 || !PyAnySet_Check(PyTuple_GET_ITEM(given, 0))) {
        PyErr_SetString(PyExc_TypeError, "gather() needs a list for the fresh texts and a (clean set, shortest, "
                        "longest, guards, table) probe");
        return -1;
    }
    probe->clean = PyTuple_GET_ITEM(given, 0);
    probe->shortest = PyLong_AsSsize_t(PyTuple_GET_ITEM(given, 1));
    if (probe->shortest == -1 && PyErr_Occurred())
        return -1;
    probe->longest = PyLong_AsSsize_t(PyTuple_GET_ITEM(given, 2));
    if (probe->longest == -1 && PyErr_Occurred())
        return -1;
    int n = count_grams(PyTuple_GET_ITEM(given, 3));
    if (n < 0)
        return -1;
    probe->guards = NULL;
    if (n == 0)
        return 0;
    PyObject *compiled = PyTuple_GET_ITEM(given, 4);
    if (!PyBytes_Check(compiled) || PyBytes_GET_SIZE(compiled) != (Py_ssize_t)sizeof(guards_t)
            || ((const guards_t *)PyBytes_AS_STRING(compiled))->ngrams != n) {
        PyErr_SetString(PyExc_TypeError, "the guards' table is not guard_table(guards)");
        return -1;
    }
    probe->guards = (const guards_t *)PyBytes_AS_STRING(compiled);
    return 0;
}

/* Whether ``value`` is what a resolver skips: None or "" (fields.py ``first_value``). */
static int
is_blank(PyObject *value)
{
    return value == Py_None || (PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) == 0);
}

/* ``doc.get(key)`` where ``doc`` is a dict, else NULL; NULL too when absent, with an exception set on error (the
 * caller asks ``PyErr_Occurred``). ``key`` is one of the strings made at import: a key made per call cost a string's
 * allocation and hash, four times an event. */
static PyObject *
child(PyObject *doc, PyObject *key)
{
    if (!PyDict_Check(doc))
        return NULL;
    return PyDict_GetItemWithError(doc, key);
}

/* ``bool(text)`` for a value ``child`` found (NULL: absent, or an error it set): 1, 0, or -1 with an exception. */
static int
truthy_child(PyObject *text)
{
    if (text == NULL)
        return PyErr_Occurred() ? -1 : 0;
    return PyObject_IsTrue(text);
}

/* fields.py ``document_texts``: the message (else the raw line) and the command line, to ``keep_fresh``. */
static int
document_texts(PyObject *doc, PyObject *fresh, const probe_t *probe)
{
    PyObject *text = child(doc, str_message);
    int truthy = truthy_child(text);
    if (truthy < 0)
        return -1;
    if (!truthy) {
        text = child(doc, str_raw);
        truthy = truthy_child(text);
        if (truthy < 0)
            return -1;
    }
    if (truthy && keep_fresh(fresh, probe, text) < 0)
        return -1;
    PyObject *process = child(doc, str_process);
    if (process == NULL && PyErr_Occurred())
        return -1;
    text = process != NULL ? child(process, str_command_line) : NULL;
    truthy = truthy_child(text);
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

/* Advance ``*ahead`` (a second position in ``dict``) by one item and ask for its key and its value's first two cache
 * lines (a short string's header and characters): the passes over ``unmapped`` keep it two items before the one they
 * read, since the values are scattered over the heap. */
static inline void
prefetch_next(PyObject *dict, Py_ssize_t *ahead)
{
    PyObject *key, *value;
    if (!PyDict_Next(dict, ahead, &key, &value))
        return;
    PREFETCH(key);
    PREFETCH(value);
    PREFETCH((const char *)value + 64);
}

/* Every string of ``unmapped``, in order, to ``keep_fresh``, each value and key asked for ahead (``prefetch_next``):
 * the looks by field name that follow compare the event's keys (a dumped event's own objects, not read before). 0, or
 * -1. */
static int
keyword_strings(PyObject *unmapped, PyObject *fresh, const probe_t *probe)
{
    Py_ssize_t pos = 0, ahead = 0;
    PyObject *key, *value;
    prefetch_next(unmapped, &ahead);
    prefetch_next(unmapped, &ahead);
    while (PyDict_Next(unmapped, &pos, &key, &value)) {
        prefetch_next(unmapped, &ahead);
        if (PyUnicode_CheckExact(value) && keep_fresh(fresh, probe, value) < 0)
            return -1;
    }
    return 0;
}

/* The pass over ``unmapped``: every constrained value's ids, and the keyword texts not known clean. */
static int
scan_unmapped(PyObject *unmapped, PyObject *fields, PyObject *satisfied, PyObject *fresh, const probe_t *probe)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    if (PyDict_GET_SIZE(fields) < PyDict_GET_SIZE(unmapped)) {
        /* only the constrained fields count: probe the event for each (a group of few rules names few), after a
         * pass over the strings for the keyword texts where keyword rules apply */
        if (fresh != Py_None && keyword_strings(unmapped, fresh, probe) < 0)
            return -1;
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
    Py_ssize_t ahead = 0;
    prefetch_next(unmapped, &ahead);
    prefetch_next(unmapped, &ahead);
    while (PyDict_Next(unmapped, &pos, &key, &value)) {
        prefetch_next(unmapped, &ahead);
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
"longest text kept clean, guards, their table) does not rule out. engine.py ``gather_event_python`` is the same in Python.");

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
    probe_t probe;
    probe.guards = NULL;
    if (fresh != Py_None) {
        if (!PyList_Check(fresh)) {
            PyErr_SetString(PyExc_TypeError, "gather() needs a list for the fresh texts");
            return NULL;
        }
        if (unpack_probe(args[4], &probe) < 0)
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

/* A walk over a set's items: by position where CPython still exports ``_PySet_NextEntry`` (3.11, 3.12: no
 * iterator allocated per set, which the pick did ~10 times an event), else an iterator. */
typedef struct {
    PyObject *set;
    Py_ssize_t pos;
    PyObject *items;  /* the iterator, 3.13 and later */
} walk_t;

static int
walk_start(walk_t *walk, PyObject *set)
{
    walk->set = set;
    walk->pos = 0;
    walk->items = NULL;
#if PY_VERSION_HEX >= 0x030D0000
    walk->items = PyObject_GetIter(set);
    if (walk->items == NULL)
        return -1;
#endif
    return 0;
}

/* 1 and a new reference in ``*item``; 0 at the end (an error set from an iterator: ask ``PyErr_Occurred``). */
static int
walk_next(walk_t *walk, PyObject **item)
{
#if PY_VERSION_HEX >= 0x030D0000
    *item = PyIter_Next(walk->items);
    return *item != NULL;
#else
    Py_hash_t hash;
    if (_PySet_NextEntry(walk->set, &walk->pos, item, &hash) <= 0)  /* -1: not a set (the callers check first) */
        return 0;
    Py_INCREF(*item);
    return 1;
#endif
}

static void
walk_end(walk_t *walk)
{
    Py_CLEAR(walk->items);
}

/* Whether every item of ``need`` (a frozenset) is in ``satisfied``: 1, 0, or -1 on error. */
static int
holds(PyObject *need, PyObject *satisfied)
{
    if (PySet_GET_SIZE(need) > PySet_GET_SIZE(satisfied))
        return 0;
    walk_t walk;
    if (walk_start(&walk, need) < 0)
        return -1;
    PyObject *item;
    int result = 1;
    while (walk_next(&walk, &item)) {
        int in = PySet_Contains(satisfied, item);
        Py_DECREF(item);
        if (in <= 0) {
            result = in;
            break;
        }
    }
    walk_end(&walk);
    return result == 1 && PyErr_Occurred() ? -1 : result;
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
    if (!PyAnySet_Check(satisfied) || !PyDict_Check(anchored) || !PyAnySet_Check(always)) {
        PyErr_SetString(PyExc_TypeError, "pick() needs a set, a dict and a frozenset");
        return NULL;
    }
    /* most events pick nothing or one rule: the rules go to a list, and only more than one, or ``always``, costs a
     * set (the repeats dropped) and a sort */
    PyObject *found = PyList_New(0);
    if (found == NULL)
        return NULL;
    walk_t walk;
    if (walk_start(&walk, satisfied) < 0)
        goto error;
    PyObject *cid;
    while (walk_next(&walk, &cid)) {
        PyObject *entries = PyDict_GetItemWithError(anchored, cid);
        Py_DECREF(cid);
        if (entries == NULL) {
            if (PyErr_Occurred())
                goto error_walk;
            continue;
        }
        if (!PyTuple_Check(entries)) {
            PyErr_SetString(PyExc_TypeError, "anchored values must be tuples");
            goto error_walk;
        }
        Py_INCREF(entries);
        Py_ssize_t n = PyTuple_GET_SIZE(entries);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *pair = PyTuple_GET_ITEM(entries, i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyAnySet_Check(PyTuple_GET_ITEM(pair, 1))) {
                PyErr_SetString(PyExc_TypeError, "anchored entries must be (rule, frozenset)");
                Py_DECREF(entries);
                goto error_walk;
            }
            int ok = holds(PyTuple_GET_ITEM(pair, 1), satisfied);
            if (ok < 0 || (ok && PyList_Append(found, PyTuple_GET_ITEM(pair, 0)) < 0)) {
                Py_DECREF(entries);
                goto error_walk;
            }
        }
        Py_DECREF(entries);
    }
    walk_end(&walk);
    if (PyErr_Occurred())
        goto error;
    if (PySet_GET_SIZE(always) == 0 && PyList_GET_SIZE(found) < 2)
        return found;
    PyObject *picked = PySet_New(always);
    if (picked == NULL)
        goto error;
    Py_ssize_t count = PyList_GET_SIZE(found);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PySet_Add(picked, PyList_GET_ITEM(found, i)) < 0) {
            Py_DECREF(picked);
            goto error;
        }
    }
    Py_DECREF(found);
    PyObject *result = PySequence_List(picked);
    Py_DECREF(picked);
    if (result != NULL && PyList_Sort(result) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
error_walk:
    walk_end(&walk);
error:
    Py_DECREF(found);
    return NULL;
}

static PyMethodDef methods[] = {
    {"gather", (PyCFunction)(void (*)(void))gather, METH_FASTCALL, gather_doc},
    {"pick", (PyCFunction)(void (*)(void))pick, METH_FASTCALL, pick_doc},
    {"guard_table", (PyCFunction)(void (*)(void))guard_table, METH_FASTCALL, guard_table_doc},
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
    for (int c = 0; c < 256; c++)
        folded_byte[c] = (unsigned char)FOLD(c);
    str_text = PyUnicode_InternFromString("text");
    str_number = PyUnicode_InternFromString("number");
    str_value = PyUnicode_InternFromString("value");
    str_unmapped = PyUnicode_InternFromString("unmapped");
    str_message = PyUnicode_InternFromString("message");
    str_raw = PyUnicode_InternFromString("raw");
    str_process = PyUnicode_InternFromString("process");
    str_command_line = PyUnicode_InternFromString("command_line");
    if (str_text == NULL || str_number == NULL || str_value == NULL || str_unmapped == NULL || str_message == NULL
            || str_raw == NULL || str_process == NULL || str_command_line == NULL)
        return NULL;
#if HAVE_WIDE
    __builtin_cpu_init();
    wide_available = __builtin_cpu_supports("avx2");
#endif
    PyObject *created = PyModule_Create(&module);
    if (created != NULL && PyModule_AddObjectRef(created, "WIDE", wide_available ? Py_True : Py_False) < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
