/* internal.h — helpers shared by the library's stages; not part of the public API. */
#ifndef VS2_INTERNAL_H
#define VS2_INTERNAL_H

#include "vs2.h"
#include "video_plan.h"

#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__)
#define VS2_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VS2_PRINTF(a, b)
#endif

/* Record status and a formatted message in err (if non-NULL); returns status. */
vs2_status vs2__fail(vs2_error *err, vs2_status status, const char *fmt, ...) VS2_PRINTF(3, 4);
vs2_status vs2__vfail(vs2_error *err, vs2_status status, const char *fmt, va_list ap);
/* Reset err to VS2_OK with an empty message. */
void vs2__ok(vs2_error *err);

/* Read a whole file into a malloc'd, NUL-terminated buffer. max_bytes caps the size
 * (0 = no cap). Errors name the path. */
vs2_status vs2__read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                          vs2_error *err);

/* Open path read-only without ever blocking: O_NONBLOCK so a FIFO with no writer (or a device)
 * returns at once, then anything but a regular file is refused with an error naming its kind
 * ("a FIFO", "a character device", ...). Returns the fd (blocking mode restored) or -1. */
int vs2__open_regular(const char *path, vs2_error *err);
/* "a FIFO", "a directory", ... for a st_mode that is not a regular file. */
const char *vs2__file_kind(unsigned mode);

/* Append to a vs2_ids, growing it; returns VS2_ERR_NOMEM on failure. */
vs2_status vs2__ids_push(vs2_ids *ids, int32_t id);
vs2_status vs2__ids_reserve(vs2_ids *ids, size_t extra);

/* Check a parsed configuration for internal consistency (config.c). Calls problem() for each
 * inconsistency found (when non-NULL) and returns the status of the first, or VS2_OK. */
vs2_status vs2__config_check(const vs2_config *c, const char *file,
                             void (*problem)(void *user, const vs2_error *e), void *user);

/* Checked size arithmetic: returns 0 on overflow. */
static inline int vs2__mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int vs2__add_ok(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

#endif
