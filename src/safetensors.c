/* safetensors.c — validate a safetensors image (header + data buffer) without copying data.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON (an object), then the data buffer.
 * The rules follow the reference reader (huggingface/safetensors): N ≤ 100,000,000, 8+N within
 * the file, every entry's byte count = elements × dtype size, and the tensors, sorted by offset,
 * tile the data buffer exactly (no overlap, no gap, nothing after the last tensor). vs2 adds one
 * rule for zero-copy use: each tensor's file offset is a multiple of its element size.
 * See docs/model-files.md. */
#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000ULL

typedef struct {
    vs2_dtype dtype;
    const char *name;
    size_t size;
} dtype_info;

static const dtype_info k_dtypes[] = {
    {VS2_DTYPE_F32, "F32", 4},   {VS2_DTYPE_F16, "F16", 2},         {VS2_DTYPE_BF16, "BF16", 2},
    {VS2_DTYPE_F64, "F64", 8},   {VS2_DTYPE_I64, "I64", 8},         {VS2_DTYPE_I32, "I32", 4},
    {VS2_DTYPE_I16, "I16", 2},   {VS2_DTYPE_I8, "I8", 1},           {VS2_DTYPE_U8, "U8", 1},
    {VS2_DTYPE_BOOL, "BOOL", 1}, {VS2_DTYPE_F8_E4M3, "F8_E4M3", 1}, {VS2_DTYPE_F8_E5M2, "F8_E5M2", 1},
};
#define N_DTYPES (sizeof k_dtypes / sizeof k_dtypes[0])

const char *vs2_dtype_name(vs2_dtype dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dtype == dtype) return k_dtypes[i].name;
    return "UNKNOWN";
}

size_t vs2_dtype_size(vs2_dtype dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dtype == dtype) return k_dtypes[i].size;
    return 0;
}

static vs2_dtype dtype_from_string(const char *s) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (!strcmp(k_dtypes[i].name, s)) return k_dtypes[i].dtype;
    return VS2_DTYPE_UNKNOWN;
}

/* One parsed entry; begin/end are relative to the data buffer. */
typedef struct {
    vs2_tensor t;
    uint64_t begin, end;
} st_entry;

static uint64_t read_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A non-negative JSON integer (jansson rejects integers beyond int64 while parsing). */
static int json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0) return 0;
    *out = (uint64_t)x;
    return 1;
}

static vs2_status parse_shape(const json_t *shape, const char *file, const char *tname,
                              st_entry *e, uint64_t *n_elems, vs2_error *err) {
    if (!json_is_array(shape))
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s': \"shape\" is not an array", file,
                         tname);
    size_t nd = json_array_size(shape);
    if (nd > VS2_MAX_DIMS)
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s': %zu dimensions, more than %d", file,
                         tname, nd, VS2_MAX_DIMS);
    uint64_t n = 1;
    for (size_t d = 0; d < nd; d++) {
        uint64_t dim;
        if (!json_u64(json_array_get(shape, d), &dim))
            return vs2__fail(err, VS2_ERR_FORMAT,
                             "%s: tensor '%s': shape[%zu] is not a non-negative integer", file,
                             tname, d);
        if (!vs2__mul_ok(n, dim, &n))
            return vs2__fail(err, VS2_ERR_FORMAT,
                             "%s: tensor '%s': element count of the shape overflows 64 bits", file,
                             tname);
        e->t.shape[d] = (int64_t)dim;
    }
    e->t.ndim = (int)nd;
    *n_elems = n;
    return VS2_OK;
}

static vs2_status parse_offsets(const json_t *offs, const char *file, const char *tname,
                                st_entry *e, vs2_error *err) {
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_u64(json_array_get(offs, 0), &e->begin) || !json_u64(json_array_get(offs, 1), &e->end))
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: tensor '%s': \"data_offsets\" is not a pair of non-negative integers",
                         file, tname);
    if (e->end < e->begin)
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] are reversed", file, tname,
                         (unsigned long long)e->begin, (unsigned long long)e->end);
    return VS2_OK;
}

/* Validate one header entry against the data buffer [data, data+data_size) at file offset base. */
static vs2_status parse_entry(const char *tname, const json_t *info, const char *file,
                              const unsigned char *data, uint64_t data_size, uint64_t base,
                              st_entry *e, vs2_error *err) {
    memset(e, 0, sizeof *e);
    e->t.name = e->t.stored_name = tname;
    e->t.file = file;
    if (!json_is_object(info))
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s': entry is not an object", file, tname);
    const json_t *jd = json_object_get(info, "dtype");
    if (!json_is_string(jd))
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is missing or not a string",
                         file, tname);
    e->t.dtype = dtype_from_string(json_string_value(jd));
    if (e->t.dtype == VS2_DTYPE_UNKNOWN)
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", file, tname,
                         json_string_value(jd));
    uint64_t n_elems = 0, nbytes = 0;
    vs2_status s = parse_shape(json_object_get(info, "shape"), file, tname, e, &n_elems, err);
    if (s != VS2_OK) return s;
    size_t esize = vs2_dtype_size(e->t.dtype);
    if (!vs2__mul_ok(n_elems, esize, &nbytes))
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s': byte size of the shape overflows 64 bits",
                         file, tname);
    s = parse_offsets(json_object_get(info, "data_offsets"), file, tname, e, err);
    if (s != VS2_OK) return s;
    if (e->end - e->begin != nbytes)
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but %s shape needs %llu",
                         file, tname, (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)(e->end - e->begin), vs2_dtype_name(e->t.dtype),
                         (unsigned long long)nbytes);
    if (e->end > data_size)
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets end %llu is beyond the %llu-byte data buffer "
                         "(file truncated?)",
                         file, tname, (unsigned long long)e->end, (unsigned long long)data_size);
    e->t.nbytes = nbytes;
    e->t.offset = base + e->begin; /* cannot overflow: end ≤ data_size and base + data_size = file size */
    e->t.data = data + e->begin;
    if (nbytes && e->t.offset % esize)
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: tensor '%s': data at file offset %llu is not aligned to its %zu-byte "
                         "element size (zero-copy needs aligned data; re-save the file)",
                         file, tname, (unsigned long long)e->t.offset, esize);
    return VS2_OK;
}

static vs2_status check_metadata(const json_t *meta, const char *file, vs2_error *err) {
    if (!json_is_object(meta))
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: \"__metadata__\" is not an object", file);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v))
            return vs2__fail(err, VS2_ERR_FORMAT, "%s: \"__metadata__\" value of '%s' is not a string",
                             file, k);
    }
    return VS2_OK;
}

static int cmp_entry(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sorted by offset, the tensors must tile [0, data_size) exactly, as in the reference reader. */
static vs2_status check_tiling(const st_entry *e, size_t n, const char *file, uint64_t data_size,
                               vs2_error *err) {
    uint64_t pos = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin < pos)
            return vs2__fail(err, VS2_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' "
                             "(which ends at %llu)",
                             file, e[i].t.stored_name, (unsigned long long)e[i].begin,
                             (unsigned long long)e[i].end, prev, (unsigned long long)pos);
        if (e[i].begin > pos)
            return vs2__fail(err, VS2_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets begin %llu leaves a gap of %llu unused "
                             "bytes after %s",
                             file, e[i].t.stored_name, (unsigned long long)e[i].begin,
                             (unsigned long long)(e[i].begin - pos), prev ? prev : "the header");
        pos = e[i].end;
        prev = e[i].t.stored_name;
    }
    if (pos != data_size)
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: the tensors cover %llu bytes of data but the file holds %llu after the "
                         "header (%llu unused bytes at the end)",
                         file, (unsigned long long)pos, (unsigned long long)data_size,
                         (unsigned long long)(data_size - pos));
    return VS2_OK;
}

static vs2_status parse_header_json(const unsigned char *p, size_t n, const char *file,
                                    json_t **root, vs2_error *err) {
    json_error_t jerr;
    *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root)
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: header is not valid JSON (byte %d: %s)", file,
                         jerr.position, jerr.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: header is not a JSON object", file);
    }
    return VS2_OK;
}

/* Parse every entry, then check the tiling; visit in offset order. */
static vs2_status parse_entries(json_t *root, const char *file, const unsigned char *data,
                                uint64_t data_size, uint64_t base,
                                void (*visit)(const vs2_tensor *, void *), void *user,
                                vs2_error *err) {
    size_t cap = json_object_size(root);
    st_entry *ents = calloc(cap ? cap : 1, sizeof *ents);
    if (!ents) return vs2__fail(err, VS2_ERR_NOMEM, "%s: cannot allocate %zu entries", file, cap);
    size_t n = 0;
    vs2_status s = VS2_OK;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) s = check_metadata(val, file, err);
        else if (n < cap) s = parse_entry(key, val, file, data, data_size, base, &ents[n++], err);
        if (s != VS2_OK) break;
    }
    if (s == VS2_OK) {
        qsort(ents, n, sizeof *ents, cmp_entry);
        s = check_tiling(ents, n, file, data_size, err);
    }
    if (s == VS2_OK && visit)
        for (size_t i = 0; i < n; i++) visit(&ents[i].t, user);
    free(ents);
    return s;
}

vs2_status vs2_safetensors_parse(const void *data, size_t size, const char *name,
                                 void (*visit)(const vs2_tensor *t, void *user), void *user,
                                 vs2_error *err) {
    const char *file = name ? name : "(safetensors)";
    if (!data && size) return vs2__fail(err, VS2_ERR_INVALID_ARG, "%s: no data", file);
    const unsigned char *p = data;
    if (size < 8)
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: %zu bytes, too small for the 8-byte header length",
                         file, size);
    uint64_t n = read_u64_le(p);
    if (n > ST_MAX_HEADER)
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: header length %llu exceeds the %llu-byte limit",
                         file, (unsigned long long)n, ST_MAX_HEADER);
    if (n > size - 8)
        return vs2__fail(err, VS2_ERR_FORMAT,
                         "%s: header length %llu exceeds the %zu bytes after the length field "
                         "(file truncated?)",
                         file, (unsigned long long)n, size - 8);
    json_t *root;
    vs2_status s = parse_header_json(p + 8, (size_t)n, file, &root, err);
    if (s != VS2_OK) return s;
    uint64_t base = 8 + n;
    s = parse_entries(root, file, p + base, size - base, base, visit, user, err);
    json_decref(root);
    if (s == VS2_OK) vs2__ok(err);
    return s;
}
