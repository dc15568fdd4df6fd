/* weight_cache.c — prepared (int8) weights kept in a file and mmap'd on the next load.
 *
 * Quantising the 8.3 B parameters of the 7B model takes tens of seconds and touches all 16.6 GB
 * of bf16 pages; the cached copy maps 8.8 GB read-only in a moment and lets the page cache share
 * it between processes. The model directory is never written.
 *
 * File: <dir>/<key>.<format>, where key = sha256 of the cache version, the kernel format, the
 * model directory's real path and each safetensors shard's name, size, inode and modification
 * time (so a changed checkpoint gets a new file). Layout: a 4096-byte preamble (magic, key,
 * count, table offset), the weights' data each at a 4096-byte offset, then a table of
 * (N, K, Np, Kp, offset, bytes) per weight in preparation order. It is written to a temporary
 * file, synced and renamed, so a crash never leaves a partial cache under the real name.
 * A file that does not match (size, magic, key, table, or any weight's shape) is not used:
 * the weights are quantised again and the file is rewritten. */
#define _DEFAULT_SOURCE
#include "internal.h"
#include "kernels.h"
#include "weight_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "vs2 weight cache"
#define VERSION 2 /* 2: weights in the order of the tensor table (model_tensors.c) */
#define ALIGN 4096

typedef struct entry {
    uint64_t N, K, Np, Kp, offset, bytes;
} entry;

typedef struct preamble {
    char magic[16];
    uint64_t version, count, table_offset;
    char key[65];
} preamble;

struct vs2_wcache {
    char *path;
    char key[65];
    int reading;        /* the file matched so far: weights come from the map */
    int writable;       /* build the file at the end (all weights were quantised here) */
    uint8_t *map;
    size_t map_size;
    const entry *table;
    uint64_t count, next;
    /* build mode: the weights to write, in order */
    const vs2_weight **ws;
    size_t n, cap;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static vs2_status make_key(const char *model_dir, const vs2_model_files *mf, const vs2_kernels *k, char out[65],
                           vs2_error *err) {
    char real[PATH_MAX];
    if (!realpath(model_dir, real)) return vs2__fail(err, VS2_ERR_IO, "%s: %s", model_dir, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return vs2__fail(err, VS2_ERR_NOMEM, "weight cache: cannot hash");
    }
    char buf[PATH_MAX + 256];
    int len = snprintf(buf, sizeof buf, "%s %d %s q8-b%d-g%d\n%s\n", MAGIC, VERSION, k->name, VS2_Q8_BLOCK,
                       VS2_Q8_GROUP, real);
    EVP_DigestUpdate(md, buf, (size_t)len);
    /* Each shard once, in name order (the tensor list's order follows how shards were opened). */
    const size_t nt = vs2_model_files_n_tensors(mf);
    const char **files = malloc((nt ? nt : 1) * sizeof *files);
    size_t nf = 0;
    for (size_t i = 0; files && i < nt; i++) {
        const char *f = vs2_model_files_tensor_at(mf, i)->file;
        size_t at = 0;
        while (at < nf && strcmp(files[at], f)) at++;
        if (at == nf) files[nf++] = f;
    }
    if (files) qsort(files, nf, sizeof *files, cmp_str);
    for (size_t i = 0; files && i < nf; i++) {
        struct stat st;
        snprintf(buf, sizeof buf, "%s/%s", real, files[i]);
        if (stat(buf, &st) != 0) continue;
        len = snprintf(buf, sizeof buf, "%s %lld %llu %lld.%09ld\n", files[i], (long long)st.st_size,
                       (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        EVP_DigestUpdate(md, buf, (size_t)len);
    }
    if (!files) {
        EVP_MD_CTX_free(md);
        return vs2__fail(err, VS2_ERR_NOMEM, "weight cache: out of memory");
    }
    free(files);
    unsigned char h[32];
    unsigned int hn = 0;
    EVP_DigestFinal_ex(md, h, &hn);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
    return VS2_OK;
}

/* Map an existing file and check its preamble and table; 0 if it cannot be used. */
static int map_file(vs2_wcache *c) {
    int fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return 0;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= ALIGN;
    if (ok) {
        c->map_size = (size_t)st.st_size;
        c->map = mmap(NULL, c->map_size, PROT_READ, MAP_SHARED, fd, 0);
        ok = c->map != MAP_FAILED;
        if (!ok) c->map = NULL;
    }
    close(fd);
    if (!ok) return 0;
    preamble pre;
    memcpy(&pre, c->map, sizeof pre);
    ok = !memcmp(pre.magic, MAGIC, 16) && pre.version == VERSION && !memcmp(pre.key, c->key, 65) &&
         pre.table_offset <= c->map_size && pre.count <= (c->map_size - pre.table_offset) / sizeof(entry) &&
         pre.table_offset % 8 == 0;
    if (ok) {
        c->table = (const entry *)(c->map + pre.table_offset);
        c->count = pre.count;
        for (uint64_t i = 0; i < c->count && ok; i++)
            ok = c->table[i].offset % ALIGN == 0 && c->table[i].offset <= pre.table_offset &&
                 c->table[i].bytes <= pre.table_offset - c->table[i].offset;
    }
    if (!ok) {
        munmap(c->map, c->map_size);
        c->map = NULL;
    }
    return ok;
}

char *vs2_wcache_default_dir(void) {
    const char *v = getenv("VS2_CACHE_DIR");
    if (v && *v) return strdup(v);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char buf[PATH_MAX];
    if (xdg && *xdg) snprintf(buf, sizeof buf, "%s/vs2", xdg);
    else snprintf(buf, sizeof buf, "%s/.cache/vs2", home && *home ? home : "/tmp");
    return strdup(buf);
}

char *vs2_wcache_dir_for(const char *opt) {
    const char *env = getenv("VS2_WEIGHT_CACHE");
    if (!opt && env && *env) opt = env;
    if (opt && !strcmp(opt, "off")) return NULL;
    return opt && *opt ? strdup(opt) : vs2_wcache_default_dir();
}

vs2_status vs2_wcache_open(const char *dir, const char *model_dir, const vs2_model_files *mf, const vs2_kernels *k,
                           vs2_wcache **out, vs2_error *err) {
    *out = NULL;
    vs2_wcache *c = calloc(1, sizeof *c);
    if (!c) return vs2__fail(err, VS2_ERR_NOMEM, "weight cache: out of memory");
    vs2_status st = make_key(model_dir, mf, k, c->key, err);
    size_t plen = strlen(dir) + 80;
    if (st == VS2_OK && !(c->path = malloc(plen))) st = vs2__fail(err, VS2_ERR_NOMEM, "weight cache: out of memory");
    if (st != VS2_OK) {
        vs2_wcache_close(c);
        return st;
    }
    snprintf(c->path, plen, "%s/%s.%s", dir, c->key, k->name);
    c->reading = map_file(c);
    c->writable = !c->reading;
    *out = c;
    return VS2_OK;
}

int vs2_wcache_hit(const vs2_wcache *c) { return c && c->reading; }
const char *vs2_wcache_path(const vs2_wcache *c) { return c ? c->path : NULL; }

const uint8_t *vs2_wcache_take(vs2_wcache *c, const vs2_weight *w, size_t bytes) {
    if (!c || !c->reading) return NULL;
    const entry *e = c->next < c->count ? &c->table[c->next] : NULL;
    if (!e || e->N != (uint64_t)w->N || e->K != (uint64_t)w->K || e->Np != (uint64_t)w->Np ||
        e->Kp != (uint64_t)w->Kp || e->bytes != bytes) {
        c->reading = 0; /* stale: quantise the rest; the weights already taken matched */
        return NULL;
    }
    c->next++;
    return c->map + e->offset;
}

void vs2_wcache_add(vs2_wcache *c, const vs2_weight *w) {
    if (!c || !c->writable) return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        const vs2_weight **ws = realloc(c->ws, cap * sizeof *ws);
        if (!ws) {
            c->writable = 0;
            return;
        }
        c->ws = ws;
        c->cap = cap;
    }
    c->ws[c->n++] = w;
}

static int write_all(int fd, const void *p, size_t n, uint64_t off) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, b, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
        if (w <= 0) return 0;
        b += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 1;
}

vs2_status vs2_wcache_finish(vs2_wcache *c, const char *dir, vs2_error *err) {
    if (!c || !c->writable || c->n == 0) return VS2_OK;
    c->writable = 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return vs2__fail(err, VS2_ERR_IO, "weight cache %s: %s", dir, strerror(errno));
    size_t tlen = strlen(c->path) + 32;
    char *tmp = malloc(tlen);
    entry *table = calloc(c->n, sizeof *table);
    if (!tmp || !table) {
        free(tmp);
        free(table);
        return vs2__fail(err, VS2_ERR_NOMEM, "weight cache: out of memory");
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", c->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0;
    uint64_t off = ALIGN;
    for (size_t i = 0; i < c->n && ok; i++) {
        const vs2_weight *w = c->ws[i];
        table[i] = (entry){(uint64_t)w->N, (uint64_t)w->K, (uint64_t)w->Np, (uint64_t)w->Kp, off,
                           vs2k_weight_bytes(w)};
        ok = write_all(fd, w->q, table[i].bytes, off);
        off = (off + table[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
    preamble pre = {MAGIC, VERSION, c->n, off, {0}};
    memcpy(pre.key, c->key, 65);
    char head[ALIGN] = {0};
    memcpy(head, &pre, sizeof pre);
    ok = ok && write_all(fd, table, c->n * sizeof *table, off) && write_all(fd, head, sizeof head, 0) &&
         fsync(fd) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) ok = 0, e = errno;
    if (ok && rename(tmp, c->path) != 0) ok = 0, e = errno;
    if (!ok) unlink(tmp);
    free(tmp);
    free(table);
    return ok ? VS2_OK : vs2__fail(err, VS2_ERR_IO, "weight cache %s: cannot write: %s", c->path, strerror(e));
}

void vs2_wcache_close(vs2_wcache *c) {
    if (!c) return;
    if (c->map) munmap(c->map, c->map_size);
    free(c->ws);
    free(c->path);
    free(c);
}
