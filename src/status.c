/* status.c — status codes, error messages, small shared utilities. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef VS2_VERSION_STRING
#define VS2_VERSION_STRING "0.0.0"
#endif

const char *vs2_version(void) { return VS2_VERSION_STRING; }

const char *vs2_strerror(vs2_status status) {
    switch (status) {
    case VS2_OK: return "success";
    case VS2_ERR_INVALID_ARG: return "invalid argument";
    case VS2_ERR_NOMEM: return "out of memory";
    case VS2_ERR_IO: return "file cannot be read";
    case VS2_ERR_FORMAT: return "malformed file";
    case VS2_ERR_MODEL: return "model files do not fit the architecture";
    case VS2_ERR_TOKENIZER: return "tokenizer error";
    case VS2_ERR_VIDEO: return "video cannot be decoded";
    case VS2_ERR_UNSUPPORTED: return "unsupported input";
    case VS2_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

vs2_status vs2__vfail(vs2_error *err, vs2_status status, const char *fmt, va_list ap) {
    if (err) {
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    }
    return status;
}

vs2_status vs2__fail(vs2_error *err, vs2_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vs2__vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

void vs2__ok(vs2_error *err) {
    if (err) {
        err->status = VS2_OK;
        err->message[0] = '\0';
    }
}

vs2_status vs2__read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                          vs2_error *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return vs2__fail(err, VS2_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return vs2__fail(err, VS2_ERR_IO, "%s: not a regular file", path);
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return vs2__fail(err, VS2_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return VS2_OK;
}

vs2_status vs2__ids_reserve(vs2_ids *ids, size_t extra) {
    if (ids->n + extra <= ids->cap) return VS2_OK;
    size_t cap = ids->cap ? ids->cap : 64;
    while (cap < ids->n + extra) {
        if (cap > SIZE_MAX / 2 / sizeof(int32_t)) return VS2_ERR_NOMEM;
        cap *= 2;
    }
    int32_t *p = realloc(ids->ids, cap * sizeof(int32_t));
    if (!p) return VS2_ERR_NOMEM;
    ids->ids = p;
    ids->cap = cap;
    return VS2_OK;
}

vs2_status vs2__ids_push(vs2_ids *ids, int32_t id) {
    vs2_status s = vs2__ids_reserve(ids, 1);
    if (s != VS2_OK) return s;
    ids->ids[ids->n++] = id;
    return VS2_OK;
}

void vs2_ids_free(vs2_ids *ids) {
    if (!ids) return;
    free(ids->ids);
    ids->ids = NULL;
    ids->n = ids->cap = 0;
}
