/* mkckpt_full.c — fill the data of safetensors files with random bf16 weights, fast.
 *
 *   mkckpt_full FILE.safetensors...
 *
 * For the full-size benchmark (bench/bench_fullsize.sh): tools/make_tiny_checkpoint.py
 * --preset full writes the real Qwen2.5-VL-7B layout (config, 729 tensor names and shapes,
 * headers, index) with sparse zero-filled data; this overwrites every byte after each file's
 * header with random bf16 values of small magnitude: sign random, exponent so that
 * 2^-8 <= |w| < 2^-5, random mantissa. No zeros, denormals, infinities or NaNs, so the forward
 * pass runs on ordinary numbers at ordinary speed. All tensors of the full preset are bf16.
 * Writes 64 MiB at a time with a xorshift64* generator (~1-2 GB/s of CPU; the disk is the limit). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static inline uint64_t next(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

/* One bf16: bit 15 sign, bits 14..7 exponent, 6..0 mantissa. Exponent 119..121 (2^-8..2^-6 scale)
 * gives 2^-8 <= |w| < 2^-5. */
static inline uint16_t bf16_of(uint16_t r) {
    uint16_t sign = r & 0x8000u;
    uint16_t e = (uint16_t)(119 + ((r >> 7) & 0xFF) % 3);
    return (uint16_t)(sign | (e << 7) | (r & 0x7F));
}

static int fill(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t hlen = 0;
    struct stat sb;
    if (pread(fd, &hlen, 8, 0) != 8 || fstat(fd, &sb) != 0 || 8 + hlen > (uint64_t)sb.st_size) {
        fprintf(stderr, "%s: not a safetensors file\n", path);
        close(fd);
        return 1;
    }
    const size_t chunk = (size_t)64 << 20;
    uint16_t *buf = malloc(chunk);
    if (!buf) return 1;
    uint64_t off = 8 + hlen, end = (uint64_t)sb.st_size;
    while (off < end) {
        size_t n = end - off < chunk ? (size_t)(end - off) : chunk;
        for (size_t i = 0; i < n / 2; i += 4) {
            uint64_t r = next();
            for (int k = 0; k < 4 && i + (size_t)k < n / 2; k++) buf[i + (size_t)k] = bf16_of((uint16_t)(r >> (16 * k)));
        }
        if (n & 1) ((uint8_t *)buf)[n - 1] = 0x3c;
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w != (ssize_t)n) {
            fprintf(stderr, "%s: write failed at %llu: %s\n", path, (unsigned long long)off, strerror(errno));
            free(buf);
            close(fd);
            return 1;
        }
        off += n;
    }
    free(buf);
    if (close(fd) != 0) return 1;
    fprintf(stderr, "%s: %.2f GB of random bf16\n", path, (double)(end - 8 - hlen) / 1e9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: mkckpt_full FILE.safetensors...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) rc |= fill(argv[i]);
    return rc;
}
