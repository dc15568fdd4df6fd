/* test_safetensors.c — vs2_safetensors_parse on hand-made byte images: valid files, and every
 * malformation the reader must reject with a message naming the file and the tensor. */
#include "check.h"
#include "vs2.h"

#include <stdint.h>

#define FILE_NAME "shard-x.safetensors"

typedef struct {
    unsigned char *buf;
    size_t size;
} image;

/* 8-byte length + header (padded with spaces to pad_to) + data_len bytes of data (0..255). */
static image make_image(const char *header, size_t pad_to, size_t data_len) {
    size_t h = strlen(header), n = h;
    if (pad_to) n = (h + pad_to - 1) / pad_to * pad_to;
    image im = {calloc(8 + n + data_len + 1, 1), 8 + n + data_len};
    uint64_t len = n;
    for (int i = 0; i < 8; i++) im.buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(im.buf + 8, header, h);
    memset(im.buf + 8 + h, ' ', n - h);
    for (size_t i = 0; i < data_len; i++) im.buf[8 + n + i] = (unsigned char)i;
    return im;
}

typedef struct {
    int n;
    vs2_tensor last;
    char names[8][64];
} seen;

static void visit(const vs2_tensor *t, void *user) {
    seen *s = user;
    if (s->n < 8) snprintf(s->names[s->n], sizeof s->names[0], "%s", t->stored_name);
    s->last = *t;
    s->n++;
}

/* Parse header+data; return the status and keep the error for message checks. */
static vs2_status parse(const char *header, size_t pad_to, size_t data_len, vs2_error *err,
                        seen *s) {
    image im = make_image(header, pad_to, data_len);
    memset(s, 0, sizeof *s);
    vs2_status st = vs2_safetensors_parse(im.buf, im.size, FILE_NAME, visit, s, err);
    free(im.buf);
    return st;
}

/* A failure must carry FORMAT, name the file, and contain the given words. */
static void expect_bad(const char *header, size_t pad_to, size_t data_len, const char *w1,
                       const char *w2) {
    vs2_error err;
    seen s;
    vs2_status st = parse(header, pad_to, data_len, &err, &s);
    CHECK_EQ_INT(st, VS2_ERR_FORMAT);
    CHECK_EQ_INT(err.status, VS2_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.message, FILE_NAME);
    if (w1) CHECK_STR_CONTAINS(err.message, w1);
    if (w2) CHECK_STR_CONTAINS(err.message, w2);
    CHECK_EQ_INT(s.n, 0); /* nothing is visited from a rejected file */
}

static void test_valid_two_tensors(void) {
    /* Entries out of offset order: visited in offset order, offsets relative to the file. */
    const char *h = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"__metadata__\":{\"format\":\"pt\"}}";
    vs2_error err;
    seen s;
    image im = make_image(h, 8, 16);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(vs2_safetensors_parse(im.buf, im.size, FILE_NAME, visit, &s, &err), VS2_OK);
    CHECK_EQ_INT(s.n, 2);
    CHECK(!strcmp(s.names[0], "a") && !strcmp(s.names[1], "b"));
    CHECK_EQ_INT(s.last.dtype, VS2_DTYPE_BF16);
    CHECK_EQ_INT(s.last.ndim, 2);
    CHECK_EQ_INT(s.last.shape[1], 2);
    CHECK_EQ_INT(s.last.nbytes, 8);
    size_t hlen = im.size - 16 - 8;
    CHECK_EQ_INT(s.last.offset, 8 + hlen + 8);
    /* Zero-copy: data points into the caller's buffer. */
    CHECK(s.last.data == im.buf + s.last.offset);
    CHECK(!strcmp(s.last.file, FILE_NAME));
    free(im.buf);
}

static void test_valid_edge_cases(void) {
    vs2_error err;
    seen s;
    /* No tensors at all (what the reference writes for an empty dict). */
    CHECK_EQ_INT(parse("{}", 8, 0, &err, &s), VS2_OK);
    CHECK_EQ_INT(s.n, 0);
    /* Zero-size tensors and a scalar (shape []) are legal. */
    CHECK_EQ_INT(parse("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                       "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                       8, 4, &err, &s),
                 VS2_OK);
    CHECK_EQ_INT(s.n, 2);
    /* Unknown keys in an entry are ignored, as serde does in the reference reader. */
    CHECK_EQ_INT(parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3],\"x\":1}}", 0,
                       3, &err, &s),
                 VS2_OK);
    CHECK_EQ_INT(vs2_dtype_size(VS2_DTYPE_BF16), 2);
    CHECK(!strcmp(vs2_dtype_name(VS2_DTYPE_F8_E4M3), "F8_E4M3"));
    CHECK_EQ_INT(vs2_dtype_size(VS2_DTYPE_UNKNOWN), 0);
}

static void test_bad_sizes(void) {
    vs2_error err;
    /* Fewer than 8 bytes: there is no header length. */
    CHECK_EQ_INT(vs2_safetensors_parse("abc", 3, FILE_NAME, NULL, NULL, &err), VS2_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.message, FILE_NAME);
    /* Header length above the 100,000,000-byte cap of the reference reader. */
    unsigned char big[16] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100000001 */
    CHECK_EQ_INT(vs2_safetensors_parse(big, sizeof big, FILE_NAME, NULL, NULL, &err), VS2_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.message, "limit");
    CHECK_STR_CONTAINS(err.message, FILE_NAME);
    /* Header length larger than the file (and the u64 maximum, which must not wrap). */
    unsigned char longer[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    CHECK_EQ_INT(vs2_safetensors_parse(longer, sizeof longer, FILE_NAME, NULL, NULL, &err),
                 VS2_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.message, "truncated");
    unsigned char huge[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    CHECK_EQ_INT(vs2_safetensors_parse(huge, sizeof huge, FILE_NAME, NULL, NULL, &err),
                 VS2_ERR_FORMAT);
}

static void test_bad_json(void) {
    expect_bad("{\"a\":", 0, 0, "not valid JSON", NULL);       /* malformed */
    expect_bad("[1,2]", 0, 0, "not a JSON object", NULL);       /* header must be an object */
    expect_bad("{\"a\":1}", 0, 0, "'a'", "not an object");     /* entry must be an object */
    /* Two entries with one name: ambiguous, rejected by the JSON parser. */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 0, 2,
               "not valid JSON", NULL);
    /* __metadata__ must map strings to strings. */
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, 0, "__metadata__", NULL);
    expect_bad("{\"__metadata__\":[]}", 0, 0, "__metadata__", NULL);
    /* Trailing garbage after the object is not padding. */
    expect_bad("{}x", 0, 0, "not valid JSON", NULL);
}

static void test_bad_entries(void) {
    /* Unknown dtype string. */
    expect_bad("{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1, "'w'",
               "unknown dtype");
    expect_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1, "'w'", "dtype");
    /* Negative, fractional and non-numeric dimensions. */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 0, 1, "'w'",
               "shape[0]");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 0, 1, "'w'",
               "shape[0]");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":\"1\",\"data_offsets\":[0,1]}}", 0, 1, "'w'",
               "shape");
    /* More than VS2_MAX_DIMS dimensions. */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 0,
               1, "'w'", "dimensions");
    /* Element count overflows 64 bits (2^32 · 2^32 · 2). */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],"
               "\"data_offsets\":[0,1]}}", 0, 1, "'w'", "overflow");
    /* Element count fits but × dtype size (8) overflows. */
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,1073741824],"
               "\"data_offsets\":[0,1]}}", 0, 1, "'w'", "overflow");
    /* An integer beyond int64 cannot even be parsed. */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999],\"data_offsets\":[0,1]}}",
               0, 1, "not valid JSON", NULL);
}

static void test_bad_offsets(void) {
    /* data_offsets span must equal elements × dtype size (4 × 2 = 8, not 6). */
    expect_bad("{\"w\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,6]}}", 8, 6, "'w'",
               "needs 8");
    /* end < begin. */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 0, 4, "'w'",
               "reversed");
    /* Malformed offsets: not a pair, negative. */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 0, 1, "'w'",
               "data_offsets");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 0, 1, "'w'",
               "data_offsets");
    /* end beyond the data buffer (a truncated file). */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 0, 4, "'w'",
               "beyond");
    /* Huge offsets must not wrap around when added to the header size. */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
               "\"data_offsets\":[9223372036854775806,9223372036854775807]}}", 0, 1, "'w'",
               "beyond");
    /* Overlapping tensors: b starts inside a. */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 0, 6, "'b'",
               "overlap");
    /* Two tensors on the same bytes. */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 0, 4, "overlap",
               NULL);
    /* A gap between tensors (the reference reader rejects it too). */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", 0, 6, "'b'", "gap");
    /* Bytes after the last tensor (reference: MetadataIncompleteBuffer). */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0, 5,
               "unused bytes", NULL);
}

static void test_misaligned(void) {
    /* A 4-byte F32 whose data starts at an odd file offset cannot be used in place. Header
     * "{...}" unpadded: choose its length so that 8 + N is odd. */
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} ";
    size_t n = strlen(h);
    const char *hh = (n % 2) ? h : "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    CHECK((8 + strlen(hh)) % 4 != 0);
    expect_bad(hh, 0, 4, "'w'", "aligned");
}

int main(void) {
    RUN(test_valid_two_tensors);
    RUN(test_valid_edge_cases);
    RUN(test_bad_sizes);
    RUN(test_bad_json);
    RUN(test_bad_entries);
    RUN(test_bad_offsets);
    RUN(test_misaligned);
    return CHECK_DONE();
}
