/*
 * vs2.h — VideoScore2 in C: the one public header of libvs2.
 *
 * Usage (open a Hugging Face model directory, render the VideoScore2 prompt for a video of
 * 1,200 merged tokens, tokenize it):
 *
 *     #include <vs2.h>
 *
 *     vs2_error err;
 *     vs2_model_files *mf = NULL;
 *     vs2_model_files_params mp = vs2_model_files_default_params();
 *     if (vs2_model_files_open("/models/VideoScore2", &mp, &mf, &err) != VS2_OK) {
 *         fprintf(stderr, "vs2: %s\n", err.message);          // names the file and the cause
 *         return 1;
 *     }
 *     const vs2_config *cfg = vs2_model_files_config(mf);
 *     printf("%d LM layers, %d vision blocks\n", cfg->num_hidden_layers, cfg->vision.depth);
 *
 *     vs2_tokenizer *tok = NULL;
 *     if (vs2_tokenizer_load("/models/VideoScore2", &tok, &err) != VS2_OK) { ... }
 *
 *     char *user = vs2_prompt_render(VS2_TEMPLATE_EVAL, "a cat playing piano");  // T-EVAL text
 *     vs2_ids ids = {0};
 *     vs2_chat_video_ids(tok, user, 1200, &ids, &err);        // chat with 1200 <|video_pad|>
 *     ...
 *     vs2_ids_free(&ids);
 *     free(user);
 *     vs2_tokenizer_free(tok);
 *     vs2_model_files_close(mf);
 *
 * Conventions
 *   - Every fallible call returns a vs2_status and, when given a vs2_error*, fills it with a
 *     message naming the thing (file, tensor, byte offset, line) and the cause.
 *   - Objects come in open/close (or load/free) pairs; there is no global state, and separate
 *     objects may be used from separate threads. A const object may be shared by threads.
 *   - Parameter structs are obtained from *_default_params() and then changed field by field.
 *   - The library never exits the process and never prints unless a log callback is set.
 */
#ifndef VS2_H
#define VS2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Status, errors, version                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef enum vs2_status {
    VS2_OK = 0,
    VS2_ERR_INVALID_ARG,  /* a caller passed a bad argument                              */
    VS2_ERR_NOMEM,        /* an allocation failed                                        */
    VS2_ERR_IO,           /* a file is missing or cannot be read / mapped / written      */
    VS2_ERR_FORMAT,       /* a file is malformed (JSON, safetensors, manifest, ...)      */
    VS2_ERR_MODEL,        /* model files are well-formed but do not fit the architecture */
    VS2_ERR_TOKENIZER,    /* tokenizer.json is unusable, or an id is out of range        */
    VS2_ERR_VIDEO,        /* a video cannot be decoded or has no usable frames           */
    VS2_ERR_UNSUPPORTED,  /* valid input that vs2 does not handle                        */
    VS2_ERR_INTERNAL      /* a bug in vs2                                                */
} vs2_status;

/* A short, static description of a status code ("malformed file"). */
const char *vs2_strerror(vs2_status status);

/* Filled by failing calls. message names the thing and the cause, e.g.
 * "model-00002-of-00005.safetensors: tensor 'model.norm.weight': data_offsets [10, 8] are reversed". */
typedef struct vs2_error {
    vs2_status status;
    char message[1024];
} vs2_error;

/* "0.1.0" */
const char *vs2_version(void);

/* Optional logging: level 0 = error, 1 = warning, 2 = info, 3 = debug. */
typedef void (*vs2_log_fn)(int level, const char *message, void *user);

/* A growable array of token ids (owned; release with vs2_ids_free). */
typedef struct vs2_ids {
    int32_t *ids;
    size_t n;
    size_t cap;
} vs2_ids;
void vs2_ids_free(vs2_ids *ids);

/* ---------------------------------------------------------------------------------------- */
/* Model directory: config.json, generation_config.json, safetensors (mmap'd, zero-copy)     */
/* ---------------------------------------------------------------------------------------- */

typedef enum vs2_dtype {
    VS2_DTYPE_UNKNOWN = 0,
    VS2_DTYPE_F32,
    VS2_DTYPE_F16,
    VS2_DTYPE_BF16,
    VS2_DTYPE_F64,
    VS2_DTYPE_I64,
    VS2_DTYPE_I32,
    VS2_DTYPE_I16,
    VS2_DTYPE_I8,
    VS2_DTYPE_U8,
    VS2_DTYPE_BOOL,
    VS2_DTYPE_F8_E4M3,
    VS2_DTYPE_F8_E5M2
} vs2_dtype;

const char *vs2_dtype_name(vs2_dtype dtype); /* "BF16" as in safetensors */
size_t vs2_dtype_size(vs2_dtype dtype);      /* bytes per element; 0 for UNKNOWN */

#define VS2_MAX_DIMS 8
#define VS2_MAX_FULLATT 64
#define VS2_MAX_EOS 8

typedef struct vs2_vision_config {
    int depth;                  /* 32 */
    int hidden_size;            /* 1280 */
    int num_heads;              /* 16 */
    int intermediate_size;      /* 3420 */
    int in_chans;               /* 3 */
    int patch_size;             /* 14 */
    int temporal_patch_size;    /* 2 */
    int spatial_merge_size;     /* 2 */
    int window_size;            /* 112 (pixels) */
    int out_hidden_size;        /* 3584 = LM width */
    int tokens_per_second;      /* 2 */
    int n_fullatt;
    int fullatt_block_indexes[VS2_MAX_FULLATT]; /* 7, 15, 23, 31 */
    char hidden_act[16];        /* "silu" */
} vs2_vision_config;

typedef struct vs2_config {
    char model_type[32];        /* "qwen2_5_vl" */
    char layout[16];            /* "hub" (flat keys) or "nested" (text_config/vision_config) */
    int hidden_size;            /* 3584 */
    int num_hidden_layers;      /* 28 */
    int num_attention_heads;    /* 28 */
    int num_key_value_heads;    /* 4 */
    int head_dim;               /* hidden_size / num_attention_heads = 128 */
    int intermediate_size;      /* 18944 */
    int vocab_size;             /* 152064 */
    double rms_norm_eps;        /* 1e-6 */
    double rope_theta;          /* 1e6 */
    int mrope_section[3];       /* 16, 24, 24 */
    int tie_word_embeddings;    /* 0 */
    char hidden_act[16];        /* "silu" */
    char torch_dtype[16];       /* "bfloat16" */
    int bos_token_id, eos_token_id;
    int vision_start_token_id, vision_end_token_id, vision_token_id;
    int image_token_id, video_token_id;
    vs2_vision_config vision;
} vs2_config;

typedef struct vs2_generation_config {
    int present;                /* generation_config.json existed */
    int do_sample;              /* transformers default 0 */
    double temperature;         /* default 1.0 */
    int top_k;                  /* default 50 */
    double top_p;               /* default 1.0 */
    double repetition_penalty;  /* default 1.0 */
    int max_new_tokens;         /* -1 when unset */
    int bos_token_id, pad_token_id; /* -1 when unset */
    int n_eos;
    int eos_token_ids[VS2_MAX_EOS];
} vs2_generation_config;

/* One tensor as stored: data points into the mmap'd shard (little-endian, never copied). */
typedef struct vs2_tensor {
    const char *name;           /* canonical name (hub layout: "visual.*", "model.*", "lm_head.weight") */
    const char *stored_name;    /* name in the file (may be "model.language_model.*") */
    const char *file;           /* shard file name */
    vs2_dtype dtype;
    int ndim;
    int64_t shape[VS2_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
    uint64_t offset;            /* byte offset of data in the shard file */
} vs2_tensor;

typedef struct vs2_model_files vs2_model_files;

typedef struct vs2_model_files_params {
    /* 0 (default): fail on the first problem. 1: open anyway and collect every problem
     * (vs2 inspect); the caller must then not run a model from it. */
    int keep_going;
    /* Check that every tensor the architecture needs exists with a valid dtype and shape. */
    int check_tensors;
    vs2_log_fn log;
    void *log_user;
} vs2_model_files_params;

vs2_model_files_params vs2_model_files_default_params(void);

/* Open a Hugging Face model directory. On failure *out is NULL unless params->keep_going,
 * in which case *out is returned with the problems recorded (status still reports the first). */
vs2_status vs2_model_files_open(const char *dir, const vs2_model_files_params *params,
                                vs2_model_files **out, vs2_error *err);
void vs2_model_files_close(vs2_model_files *mf);

const vs2_config *vs2_model_files_config(const vs2_model_files *mf);
const vs2_generation_config *vs2_model_files_generation_config(const vs2_model_files *mf);
const char *vs2_model_files_dir(const vs2_model_files *mf);

size_t vs2_model_files_n_tensors(const vs2_model_files *mf);
const vs2_tensor *vs2_model_files_tensor_at(const vs2_model_files *mf, size_t i);
/* Lookup by canonical (hub-layout) name; NULL if absent. */
const vs2_tensor *vs2_model_files_tensor(const vs2_model_files *mf, const char *name);

size_t vs2_model_files_n_problems(const vs2_model_files *mf);
const char *vs2_model_files_problem(const vs2_model_files *mf, size_t i);

/* Parse config.json / generation_config.json text (used by open; exposed for tools and fuzzing).
 * name is used in error messages. */
vs2_status vs2_config_parse(const char *json, size_t len, const char *name, vs2_config *out,
                            vs2_error *err);
vs2_status vs2_generation_config_parse(const char *json, size_t len, const char *name,
                                       vs2_generation_config *out, vs2_error *err);

/* Validate a safetensors image held in memory (header and offsets); on success calls
 * visit(tensor, user) for each tensor. name is used in messages. For fuzzing and tools. */
vs2_status vs2_safetensors_parse(const void *data, size_t size, const char *name,
                                 void (*visit)(const vs2_tensor *t, void *user), void *user,
                                 vs2_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Tokenizer: Qwen2 byte-level BPE from tokenizer.json (identical ids to HF tokenizers)     */
/* ---------------------------------------------------------------------------------------- */

typedef struct vs2_tokenizer vs2_tokenizer;

/* path: a model directory (reads tokenizer.json and, if present, tokenizer_config.json)
 * or a tokenizer.json file. */
vs2_status vs2_tokenizer_load(const char *path, vs2_tokenizer **out, vs2_error *err);
/* From tokenizer.json text in memory; config_json (tokenizer_config.json) may be NULL. */
vs2_status vs2_tokenizer_load_json(const char *json, size_t len, const char *config_json,
                                   size_t config_len, vs2_tokenizer **out, vs2_error *err);
void vs2_tokenizer_free(vs2_tokenizer *tok);

/* Encode UTF-8 text (added tokens matched first; no BOS/EOS is added). Invalid UTF-8 is
 * replaced by U+FFFD (maximal-subpart rule, as Python and Rust lossy decoding do) first.
 * Appends to out. */
vs2_status vs2_tokenize(const vs2_tokenizer *tok, const char *text, size_t len, vs2_ids *out,
                        vs2_error *err);

/* Decode ids to UTF-8 (malloc'd, NUL-terminated; *len_out excludes the NUL). Invalid UTF-8
 * byte sequences become U+FFFD as in HF. skip_special drops tokens flagged special. */
vs2_status vs2_detokenize(const vs2_tokenizer *tok, const int32_t *ids, size_t n, int skip_special,
                          char **text_out, size_t *len_out, vs2_error *err);

/* Number of ids (regular vocabulary + added tokens). */
int32_t vs2_tokenizer_n_vocab(const vs2_tokenizer *tok);
/* The id of an exact token string (vocabulary or added token), or -1. */
int32_t vs2_tokenizer_token_id(const vs2_tokenizer *tok, const char *token);
/* The token string of an id (byte-level form for BPE tokens), or NULL. */
const char *vs2_tokenizer_token_text(const vs2_tokenizer *tok, int32_t id);
/* 1 if id is an added token flagged special. */
int vs2_tokenizer_is_special(const vs2_tokenizer *tok, int32_t id);
/* Special token ids named by the tokenizer files; -1 when absent. */
int32_t vs2_tokenizer_eos_id(const vs2_tokenizer *tok);
int32_t vs2_tokenizer_pad_id(const vs2_tokenizer *tok);

/* ---------------------------------------------------------------------------------------- */
/* Prompts: VideoScore2 templates and the Qwen2.5-VL chat rendering                         */
/* ---------------------------------------------------------------------------------------- */

typedef enum vs2_template {
    VS2_TEMPLATE_EVAL = 0,      /* T-EVAL: the paper's eval harness (default) */
    VS2_TEMPLATE_INF = 1        /* T-INF: vs2_inference.py */
} vs2_template;

/* The user text: the template with $t2v_prompt replaced by prompt (malloc'd; NULL on OOM). */
char *vs2_prompt_render(vs2_template tmpl, const char *prompt);

/* The chat string for one user turn [video, text] with the default system prompt and the
 * generation prompt, with a single <|video_pad|> placeholder (malloc'd; NULL on OOM). */
char *vs2_chat_render(const char *user_text);

/* The chat token ids with the placeholder expanded to n_video_tokens <|video_pad|> ids.
 * Appends to out. */
vs2_status vs2_chat_video_ids(const vs2_tokenizer *tok, const char *user_text,
                              size_t n_video_tokens, vs2_ids *out, vs2_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Video input: decode, sample and resize exactly as qwen-vl-utils + the Qwen2.5-VL processor */
/* (see docs/video.md)                                                                       */
/* ---------------------------------------------------------------------------------------- */

#define VS2_PATCH_DIM 1176      /* 3 channels x 2 frames x 14 x 14: one row of pixel_values */

typedef struct vs2_video_params {
    double fps;                 /* target sampling rate: 2.0 */
    int64_t min_pixels;         /* video per-frame minimum: 128*28*28 = 100352 */
    int64_t max_pixels;         /* video per-frame cap: 768*28*28 = 602112 */
    int64_t total_pixels;       /* budget over all frames: 90316800 */
    int64_t image_min_pixels;   /* image inputs (qwen-vl-utils fetch_image): 4*28*28 = 3136 */
    int64_t image_max_pixels;   /* 16384*28*28 = 12845056 */
    int resized_height;         /* both > 0: fixed size (rounded by smart_resize); 0 = auto */
    int resized_width;
    double processor_fps;       /* fps handed to the HF processor: second_per_grid_t = 2 / it.
                                 * 2.0 as VideoScore2 does (-> 1.0); 0 = use sample_fps */
    int threads;                /* decoder + resize threads; 0 = one per core */
    int64_t max_source_pixels;  /* refuse larger frames (memory bound): 8192*8192 */
    int keep_frames;            /* 1: keep the resized uint8 RGB frames (vs2_video.frames) */
    int keep_source_frames;     /* 1: keep the selected frames as decoded RGB (tests; large) */
    int no_pixels;              /* 1: skip pixel_values (plan and frames only) */
} vs2_video_params;

vs2_video_params vs2_video_default_params(void);

typedef enum vs2_video_kind {
    VS2_VIDEO_FILE = 0,         /* a video file (libavformat demuxer) */
    VS2_VIDEO_IMAGES = 1,       /* one image, a list of images or a directory of images */
    VS2_VIDEO_RGB = 2           /* raw RGB frames from the caller */
} vs2_video_kind;

typedef struct vs2_video {
    vs2_video_kind kind;
    int64_t total_frames;       /* frames the reference reader returns (see docs/video.md) */
    double video_fps;           /* average frame rate (stream avg_frame_rate) */
    int n_frames;               /* selected frames, even */
    int64_t *indices;           /* n_frames indices into the total_frames frames */
    double sample_fps;          /* n_frames / total_frames * video_fps */
    int src_width, src_height;  /* decoded frame size */
    int width, height;          /* resized size, multiples of 28 */
    int grid_t, grid_h, grid_w; /* video_grid_thw */
    int64_t video_tokens;       /* grid_t * grid_h * grid_w / 4 */
    double second_per_grid_t;
    int64_t rows;               /* grid_t * grid_h * grid_w */
    float *pixel_values;        /* pixel_values_videos, rows x VS2_PATCH_DIM, or NULL */
    uint8_t *frames;            /* n_frames x height x width x 3, if keep_frames */
    uint8_t *source_frames;     /* n_frames x src_height x src_width x 3, if keep_source_frames */
    char codec[32];             /* decoder name ("h264"), "" for raw RGB */
    char pix_fmt[32];           /* decoded pixel format ("yuv420p") */
    double rotation;            /* display-matrix rotation in degrees; reported, NOT applied */
    int decode_passes;          /* 1 or 2 (see docs/video.md) */
} vs2_video;

void vs2_video_free(vs2_video *v);

/* Decode a video file (any container/codec FFmpeg reads) or one image file. Errors name the
 * file and the cause; *out is zeroed first and left empty on failure. */
vs2_status vs2_video_load(const char *path, const vs2_video_params *params, vs2_video *out,
                          vs2_error *err);
/* Images as the frames of a video (qwen-vl-utils list input); n == 1 tiles one image. */
vs2_status vs2_video_from_images(const char *const *paths, size_t n, const vs2_video_params *params,
                                 vs2_video *out, vs2_error *err);
/* Every image file (png, jpg, jpeg, bmp, webp, tif, tiff) in dir, in byte order of names. */
vs2_status vs2_video_from_dir(const char *dir, const vs2_video_params *params, vs2_video *out,
                              vs2_error *err);
/* Raw decoded frames: n frames of height x width x 3 RGB24 bytes, packed, at fps. */
vs2_status vs2_video_from_rgb(const uint8_t *rgb, size_t n, int width, int height, double fps,
                              const vs2_video_params *params, vs2_video *out, vs2_error *err);

/* Building blocks (exposed for tests and tools). */
/* qwen-vl-utils smart_nframes with fps; 0 if total_frames is too small (< 2 after clamping). */
int vs2_video_nframes(int64_t total_frames, double video_fps, double fps);
/* round_half_even(torch 1.13 float32 linspace(0, total-1, n)), n indices. */
void vs2_video_indices(int64_t total_frames, int n, int64_t *indices);
/* qwen-vl-utils smart_resize(h, w, 28, min, max) in Python's double arithmetic (max_pixels
 * may be fractional: total_pixels / n * 2); VS2_ERR_UNSUPPORTED beyond 200:1. */
vs2_status vs2_smart_resize(int64_t height, int64_t width, double min_pixels, double max_pixels,
                            int *out_height, int *out_width, vs2_error *err);
/* The per-frame pixel cap of fetch_video: min(max(min(VIDEO_MAX, total/n*2), int(min*1.05)),
 * params->max_pixels). */
double vs2_video_max_pixels(const vs2_video_params *params, int n);
/* torchvision resize(uint8, BICUBIC, antialias=True) on one packed RGB24 image. */
vs2_status vs2_resize_torch_bicubic_aa(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw,
                                       int dh, vs2_error *err);
/* PIL Image.resize(BICUBIC) on one packed RGB24 image (qwen-vl-utils image inputs). */
vs2_status vs2_resize_pil_bicubic(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                                  vs2_error *err);
/* Normalise (CLIP mean/std, float32) and patchify n (even) frames of h x w x 3 into
 * rows = n/2 * h/14 * w/14 rows of VS2_PATCH_DIM floats. */
void vs2_video_patchify(const uint8_t *frames, int n, int height, int width, float *out);

/* ---------------------------------------------------------------------------------------- */
/* Hugging Face hub: find a model in the local cache, or download it there (see docs/hub.md) */
/* ---------------------------------------------------------------------------------------- */

#define VS2_DEFAULT_MODEL "TIGER-Lab/VideoScore2"

typedef struct vs2_hub_params {
    const char *revision;       /* branch, tag or commit; NULL = "main" */
    int offline;                /* 1: never touch the network (HF_HUB_OFFLINE=1 also sets it) */
    const char *endpoint;       /* NULL = $HF_ENDPOINT or https://huggingface.co */
    const char *token;          /* NULL = $HF_TOKEN or the token file Hugging Face tools write */
    const char *cache_dir;      /* NULL = $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub */
    vs2_log_fn log;             /* messages (what is downloaded, retries) */
    void *log_user;
    /* Progress of one file: called periodically with bytes done and total (-1 if unknown). */
    void (*progress)(void *user, const char *file, int64_t done, int64_t total);
    void *progress_user;
} vs2_hub_params;

vs2_hub_params vs2_hub_default_params(void);

/* model: a local directory (returned as it is) or a repo id "owner/name". Returns in *path_out
 * (malloc'd) the snapshot directory holding the files the engine needs, downloading the
 * missing ones unless offline. Errors say what is missing and how to get it. */
vs2_status vs2_hub_resolve(const char *model, const vs2_hub_params *params, char **path_out,
                           vs2_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VS2_H */
