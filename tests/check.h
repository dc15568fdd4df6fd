/* check.h — the unit-test harness: CHECK macros and a summary line ctest and CI can read.
 * Each test file defines test functions and calls them from main() through RUN(). */
#ifndef VS2_CHECK_H
#define VS2_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_ = 0, check_passed_ = 0, check_failed_ = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            check_failures_++;                                                             \
        }                                                                                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                                               \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            check_failures_++;                                                             \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__,    \
                    __LINE__, #a, #b, a_, b_);                                             \
            check_failures_++;                                                             \
        }                                                                                  \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                    \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        if (!h_ || !strstr(h_, n_)) {                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: \"%s\" does not contain \"%s\"\n",        \
                    __FILE__, __LINE__, h_ ? h_ : "(null)", n_);                           \
            check_failures_++;                                                             \
        }                                                                                  \
    } while (0)

/* Normalised mean squared error of a against ref: Σ(a − ref)² / Σref² (Σ(a − ref)² when ref is 0). */
static inline double check_nmse(const float *a, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

/* Run one test function and count it as passed if it raised no CHECK failure. */
#define RUN(fn)                                                                            \
    do {                                                                                   \
        int before_ = check_failures_;                                                     \
        fn();                                                                              \
        if (check_failures_ == before_) {                                                  \
            check_passed_++;                                                               \
        } else {                                                                           \
            check_failed_++;                                                               \
            fprintf(stderr, "FAIL %s\n", #fn);                                             \
        }                                                                                  \
    } while (0)

/* Print the summary line and return the exit status for main(). */
#define CHECK_DONE()                                                                       \
    (printf("%d passed, %d failed\n", check_passed_, check_failed_), check_failed_ ? 1 : 0)

/* Environment helpers for paths the test CMake passes in. */
static inline const char *check_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set (run through ctest)\n", name);
        exit(2);
    }
    return v;
}

#endif
