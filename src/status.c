/* status.c — status codes, error messages, small shared utilities. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

const char *vs2__file_kind(unsigned mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
}

int vs2__open_regular(const char *path, vs2_error *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        vs2__fail(err, VS2_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int fs = fstat(fd, &st);
    if (fs != 0 || !S_ISREG(st.st_mode)) {
        if (fs != 0) vs2__fail(err, VS2_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        else vs2__fail(err, VS2_ERR_IO, "%s: is %s, not a regular file", path, vs2__file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

vs2_status vs2__read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                          vs2_error *err) {
    *data = NULL;
    *len = 0;
    int fd = vs2__open_regular(path, err);
    if (fd < 0) return err ? err->status : VS2_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return vs2__fail(err, VS2_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    int bad = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            bad = r < 0 ? errno : 0;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return vs2__fail(err, VS2_ERR_IO, "%s: short read (%zu of %zu bytes)%s%s", path, got, n,
                         bad ? ": " : "", bad ? strerror(bad) : "");
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

int vs2_abi_version(void) { return VS2_ABI_VERSION; }

vs2_status vs2_ids_push(vs2_ids *ids, int32_t id) {
    if (!ids) return VS2_ERR_INVALID_ARG;
    return vs2__ids_push(ids, id);
}
