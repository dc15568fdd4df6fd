/*
 * vs2.h — VideoScore2 in C: the one public header of libvs2.
 *
 * Usage: load VideoScore2 once (a model directory, or a Hugging Face repo id found in or
 * downloaded to the Hugging Face cache) and score a video against its text prompt:
 *
 *     #include <vs2.h>
 *
 *     vs2_error err;
 *     vs2_engine *eng = NULL;
 *     vs2_engine_params ep = vs2_engine_default_params();   // model = "TIGER-Lab/VideoScore2"
 *     if (vs2_engine_load(&ep, &eng, &err) != VS2_OK) {
 *         fprintf(stderr, "vs2: %s\n", err.message);          // names the file and the cause
 *         return 1;
 *     }
 *     vs2_score_params sp = vs2_score_default_params();      // T-EVAL prompt, greedy, 1024 tokens
 *     vs2_result *r = NULL;
 *     if (vs2_score(eng, "clip.mp4", "a cat playing piano", &sp, &r, &err) == VS2_OK) {
 *         const vs2_sample *s = &r->samples[0];
 *         if (s->has_scores)                                  // visual, alignment, physical
 *             printf("%ld %ld %ld\n", s->scores[0], s->scores[1], s->scores[2]);
 *         else
 *             printf("no scores: %s\n", s->parse_error);     // never an invented score
 *         vs2_result_free(r);
 *     }
 *     vs2_engine_free(eng);
 *
 * Sections, each using only those before it: status and errors (vs2_abi_version); model files
 * (vs2_model_files_open); tokenizer (vs2_tokenizer_load, vs2_tokenize); prompts
 * (vs2_prompt_render, vs2_chat_video_ids); video input (vs2_video_load, vs2_video_from_rgb for
 * decoded frames); the Hugging Face hub (vs2_hub_resolve); scoring (vs2_engine_load, vs2_score,
 * the options table vs2_options and its setters, Best-of-N vs2_rank); evaluation (manifests,
 * result files, metrics, reports).
 *
 * Build: `pkg-config --cflags --libs vs2` (shared), `pkg-config --static --cflags --libs vs2`.
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

/* VS2_API marks the public functions: the only symbols libvs2.so exports (the library is built
 * with hidden visibility; `nm -D --defined-only libvs2.so` lists nothing else). */
#if defined(__GNUC__) || defined(__clang__)
#define VS2_API __attribute__((visibility("default")))
#else
#define VS2_API
#endif

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
VS2_API const char *vs2_strerror(vs2_status status);

/* Filled by failing calls. message names the thing and the cause, e.g.
 * "model-00002-of-00005.safetensors: tensor 'model.norm.weight': data_offsets [10, 8] are reversed". */
typedef struct vs2_error {
    vs2_status status;
    char message[1024];
} vs2_error;

/* "0.1.0" */
VS2_API const char *vs2_version(void);

/* The ABI this header describes, bumped whenever a public struct's layout or a function's
 * signature changes: a program built against one header and run with another libvs2.so should
 * compare vs2_abi_version() with VS2_ABI_VERSION before using it. */
#define VS2_ABI_VERSION 2
VS2_API int vs2_abi_version(void);

/* Optional logging: level 0 = error, 1 = warning, 2 = info, 3 = debug. */
typedef void (*vs2_log_fn)(int level, const char *message, void *user);

/* A growable array of token ids (owned; release with vs2_ids_free). */
typedef struct vs2_ids {
    int32_t *ids;
    size_t n;
    size_t cap;
} vs2_ids;
VS2_API void vs2_ids_free(vs2_ids *ids);
/* Append one id, growing the array (VS2_ERR_NOMEM when it cannot). */
VS2_API vs2_status vs2_ids_push(vs2_ids *ids, int32_t id);

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

VS2_API const char *vs2_dtype_name(vs2_dtype dtype); /* "BF16" as in safetensors */
VS2_API size_t vs2_dtype_size(vs2_dtype dtype);      /* bytes per element; 0 for UNKNOWN */

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
    int max_position_embeddings; /* 128000: the longest sequence vs2 accepts */
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

VS2_API vs2_model_files_params vs2_model_files_default_params(void);

/* Open a Hugging Face model directory. On failure *out is NULL unless params->keep_going,
 * in which case *out is returned with the problems recorded (status still reports the first). */
VS2_API vs2_status vs2_model_files_open(const char *dir, const vs2_model_files_params *params,
                                vs2_model_files **out, vs2_error *err);
VS2_API void vs2_model_files_close(vs2_model_files *mf);

VS2_API const vs2_config *vs2_model_files_config(const vs2_model_files *mf);
VS2_API const vs2_generation_config *vs2_model_files_generation_config(const vs2_model_files *mf);
VS2_API const char *vs2_model_files_dir(const vs2_model_files *mf);

VS2_API size_t vs2_model_files_n_tensors(const vs2_model_files *mf);
VS2_API const vs2_tensor *vs2_model_files_tensor_at(const vs2_model_files *mf, size_t i);
/* Lookup by canonical (hub-layout) name; NULL if absent. */
VS2_API const vs2_tensor *vs2_model_files_tensor(const vs2_model_files *mf, const char *name);

/* The problems kept: at most VS2_MAX_PROBLEMS; any beyond are only counted (n_problems_omitted). */
#define VS2_MAX_PROBLEMS 1000
VS2_API size_t vs2_model_files_n_problems(const vs2_model_files *mf);
VS2_API const char *vs2_model_files_problem(const vs2_model_files *mf, size_t i);
VS2_API size_t vs2_model_files_n_problems_omitted(const vs2_model_files *mf);

/* Parse config.json / generation_config.json text (used by open; exposed for tools and fuzzing).
 * name is used in error messages. */
VS2_API vs2_status vs2_config_parse(const char *json, size_t len, const char *name, vs2_config *out,
                            vs2_error *err);
VS2_API vs2_status vs2_generation_config_parse(const char *json, size_t len, const char *name,
                                       vs2_generation_config *out, vs2_error *err);

/* Validate a safetensors image held in memory (header and offsets); on success calls
 * visit(tensor, user) for each tensor. name is used in messages. For fuzzing and tools. */
VS2_API vs2_status vs2_safetensors_parse(const void *data, size_t size, const char *name,
                                 void (*visit)(const vs2_tensor *t, void *user), void *user,
                                 vs2_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Tokenizer: Qwen2 byte-level BPE from tokenizer.json (identical ids to HF tokenizers)     */
/* ---------------------------------------------------------------------------------------- */

typedef struct vs2_tokenizer vs2_tokenizer;

/* path: a model directory (reads tokenizer.json and, if present, tokenizer_config.json)
 * or a tokenizer.json file. */
VS2_API vs2_status vs2_tokenizer_load(const char *path, vs2_tokenizer **out, vs2_error *err);
/* From tokenizer.json text in memory; config_json (tokenizer_config.json) may be NULL. */
VS2_API vs2_status vs2_tokenizer_load_json(const char *json, size_t len, const char *config_json,
                                   size_t config_len, vs2_tokenizer **out, vs2_error *err);
VS2_API void vs2_tokenizer_free(vs2_tokenizer *tok);

/* Encode UTF-8 text (added tokens matched first; no BOS/EOS is added). Invalid UTF-8 is
 * replaced by U+FFFD (maximal-subpart rule, as Python and Rust lossy decoding do) first.
 * Appends to out. */
VS2_API vs2_status vs2_tokenize(const vs2_tokenizer *tok, const char *text, size_t len, vs2_ids *out,
                        vs2_error *err);

/* Decode ids to UTF-8 (malloc'd, NUL-terminated; *len_out excludes the NUL). Invalid UTF-8
 * byte sequences become U+FFFD as in HF. skip_special drops tokens flagged special. */
VS2_API vs2_status vs2_detokenize(const vs2_tokenizer *tok, const int32_t *ids, size_t n, int skip_special,
                          char **text_out, size_t *len_out, vs2_error *err);

/* Number of ids (regular vocabulary + added tokens). */
VS2_API int32_t vs2_tokenizer_n_vocab(const vs2_tokenizer *tok);
/* The id of an exact token string (vocabulary or added token), or -1. */
VS2_API int32_t vs2_tokenizer_token_id(const vs2_tokenizer *tok, const char *token);
/* The token string of an id (byte-level form for BPE tokens), or NULL. */
VS2_API const char *vs2_tokenizer_token_text(const vs2_tokenizer *tok, int32_t id);
/* 1 if id is an added token flagged special. */
VS2_API int vs2_tokenizer_is_special(const vs2_tokenizer *tok, int32_t id);
/* Special token ids named by the tokenizer files; -1 when absent. */
VS2_API int32_t vs2_tokenizer_eos_id(const vs2_tokenizer *tok);
VS2_API int32_t vs2_tokenizer_pad_id(const vs2_tokenizer *tok);

/* ---------------------------------------------------------------------------------------- */
/* Prompts: VideoScore2 templates and the Qwen2.5-VL chat rendering                         */
/* ---------------------------------------------------------------------------------------- */

typedef enum vs2_template {
    VS2_TEMPLATE_EVAL = 0,      /* T-EVAL: the paper's eval harness (default) */
    VS2_TEMPLATE_INF = 1        /* T-INF: vs2_inference.py */
} vs2_template;

/* The user text: the template with $t2v_prompt replaced by prompt (malloc'd; NULL on OOM). */
VS2_API char *vs2_prompt_render(vs2_template tmpl, const char *prompt);

/* The chat string for one user turn [video, text] with the default system prompt and the
 * generation prompt, with a single <|video_pad|> placeholder (malloc'd; NULL on OOM). */
VS2_API char *vs2_chat_render(const char *user_text);

/* The chat token ids with the placeholder expanded to n_video_tokens <|video_pad|> ids.
 * Appends to out. */
VS2_API vs2_status vs2_chat_video_ids(const vs2_tokenizer *tok, const char *user_text,
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
    int nframes;                /* > 0: this many frames (rounded half-even to even), as
                                 * qwen-vl-utils' "nframes"; 0 = from fps */
    int max_frames;             /* > 0: cap on the fps-based count, as qwen-vl-utils'
                                 * "max_frames" (default min(768, total)); 0 = none */
    int64_t max_video_tokens;   /* > 0: refuse a plan with more video tokens (VS2_ERR_UNSUPPORTED,
                                 * before any pixel work); 0 = no limit */
} vs2_video_params;

VS2_API vs2_video_params vs2_video_default_params(void);

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

VS2_API void vs2_video_free(vs2_video *v);

/* Where FFmpeg's own log lines go (its log is process-wide): to fn at level 2 (info), one line
 * each without the newline, or nowhere when fn is NULL. Without a call FFmpeg prints to stderr.
 * vs2's errors already name the file and the cause; these lines are the decoder's detail. */
VS2_API void vs2_set_ffmpeg_log(vs2_log_fn fn, void *user);

/* Decode a video file (any container/codec FFmpeg reads) or one image file. Errors name the
 * file and the cause; *out is zeroed first and left empty on failure. */
VS2_API vs2_status vs2_video_load(const char *path, const vs2_video_params *params, vs2_video *out,
                          vs2_error *err);
/* Images as the frames of a video (qwen-vl-utils list input); n == 1 tiles one image. */
VS2_API vs2_status vs2_video_from_images(const char *const *paths, size_t n, const vs2_video_params *params,
                                 vs2_video *out, vs2_error *err);
/* Every image file (png, jpg, jpeg, bmp, webp, tif, tiff) in dir, in byte order of names. */
VS2_API vs2_status vs2_video_from_dir(const char *dir, const vs2_video_params *params, vs2_video *out,
                              vs2_error *err);
/* Raw decoded frames: n frames of height x width x 3 RGB24 bytes, packed (T x H x W x 3), at fps:
 * treated as the decoded frames of a video file of that rate (the frames params->fps selects,
 * the torch resize), so a clip scores the same as frames as it does as a file. fps must be
 * finite and > 0 (VS2_ERR_INVALID_ARG otherwise): it places the frames in time, i.e. which are
 * sampled, sample_fps and the M-RoPE temporal positions (second_per_grid_t, see processor_fps). */
VS2_API vs2_status vs2_video_from_rgb(const uint8_t *rgb, size_t n, int width, int height, double fps,
                              const vs2_video_params *params, vs2_video *out, vs2_error *err);

/* The longest video vs2 samples: the reference's float32 frame positions are exact below 2^24. */
#define VS2_MAX_VIDEO_FRAMES (1 << 24)

/* ---------------------------------------------------------------------------------------- */
/* Hugging Face hub: find a model in the local cache, or download it there (see docs/hub.md) */
/* ---------------------------------------------------------------------------------------- */

#define VS2_DEFAULT_MODEL "TIGER-Lab/VideoScore2"

/* Progress of a download, reported per file. done/total cover every byte this call fetches. */
typedef struct vs2_hub_progress {
    const char *file;           /* repo-relative name, e.g. "model-00001-of-00004.safetensors" */
    int file_index, n_files;    /* 1-based position among the files being fetched */
    int64_t file_done, file_total;
    int64_t done, total;
    int finished;               /* 1 on the last call for this file (it is verified and in place) */
} vs2_hub_progress;

typedef struct vs2_hub_params {
    const char *revision;       /* branch, tag or commit; NULL = "main" */
    int offline;                /* 1: never touch the network (HF_HUB_OFFLINE=1 also sets it) */
    int check_hub;              /* 1: ask the hub for the revision's current commit even when a
                                 * complete snapshot is cached (vs2 download); 0: a cached
                                 * snapshot is used without any network access */
    const char *endpoint;       /* NULL = $HF_ENDPOINT or https://huggingface.co */
    const char *token;          /* NULL = $HF_TOKEN or the token file Hugging Face tools write */
    const char *cache_dir;      /* NULL = $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub */
    int max_retries;            /* retries of a transient failure (network, 5xx); default 5 */
    int retry_delay_ms;         /* first back-off, doubled per retry up to 8 s; default 1000 */
    int stall_seconds;          /* no byte for this long = stalled, retried;
                                 * 0 = $HF_HUB_DOWNLOAD_TIMEOUT or 10 */
    vs2_log_fn log;             /* messages: the size announcement (2), waits and retries (1) */
    void *log_user;
    /* Called about 10 times a second while a file downloads, and once when it is in place. */
    void (*progress)(void *user, const vs2_hub_progress *p);
    void *progress_user;
} vs2_hub_params;

VS2_API vs2_hub_params vs2_hub_default_params(void);

/* model: a local directory (returned as it is) or a repo id "owner/name" (NULL = the default
 * model). Returns in *path_out (malloc'd) the snapshot directory holding the files the engine
 * needs: a complete snapshot already in the Hugging Face cache is used without network access
 * (unless check_hub); otherwise the missing files are downloaded into the cache, resumably,
 * each verified against the hub's size and sha256 (git sha1 for small files) before it is moved
 * into place. Offline, errors list what is missing and how to get it. Thread-safe for separate
 * calls; concurrent processes share the cache through per-file locks. */
VS2_API vs2_status vs2_hub_resolve(const char *model, const vs2_hub_params *params, char **path_out,
                           vs2_error *err);

/* The hub cache directory params and the environment select (malloc'd), without touching it. */
VS2_API char *vs2_hub_cache_dir(const vs2_hub_params *params);

/* ---------------------------------------------------------------------------------------- */
/* Scoring: load a model once, score many (video, prompt) pairs (see docs/cli.md)            */
/* ---------------------------------------------------------------------------------------- */

/* The usage example is at the top of this header.
 *
 * Threads: an engine is read-only after vs2_engine_load. Any number of threads may call
 * vs2_score / vs2_score_video with the same engine at once; each call allocates its own KV
 * cache and buffers (the KV cache of a 3,600-token video at the 7B shapes: about 0.5 GB in fp32 with
 * the reference set, half that in bf16 with the int8 set) and frees them. */

/* Score dimensions, in this order everywhere: visual quality, text-to-video alignment,
 * physical/common-sense consistency (the reference's v, t, p). A missing score (Python None,
 * JSON null) is NAN. */
enum { VS2_DIM_V = 0, VS2_DIM_T = 1, VS2_DIM_P = 2, VS2_NDIMS = 3 };

typedef struct vs2_engine vs2_engine;

typedef struct vs2_engine_params {
    const char *model;          /* model directory or Hugging Face repo id; NULL = VS2_DEFAULT_MODEL */
    /* How a repo id is resolved (cache first; see vs2_hub_resolve below); NULL = defaults. */
    const struct vs2_hub_params *hub;
    int threads;                /* compute threads per scoring call; 0 = one per online core */
    /* The CPU kernel set (docs/perf.md): NULL or "auto" = $VS2_BACKEND if set, else the
     * fastest tested set this CPU runs ("q8" on CPUs with AVX-512 VNNI, else "ref"); "ref" =
     * the fp32 reference path (weights used as stored, the exact path); "q8" = int8 weights
     * and activations in blocks of 32, quantised at load. */
    const char *backend;
    /* Where int8 sets keep their prepared weights for the next load (mmap'd, shared by
     * processes): NULL = $VS2_WEIGHT_CACHE if set, else $VS2_CACHE_DIR, else
     * $XDG_CACHE_HOME/vs2, else ~/.cache/vs2; "off" = never read or write a cache file.
     * Files are named by the checkpoint's identity; deleting the directory clears it. */
    const char *weight_cache;
    vs2_log_fn log;             /* optional: load messages (2 = info) */
    void *log_user;
} vs2_engine_params;

VS2_API vs2_engine_params vs2_engine_default_params(void);
/* Resolve the model, open and validate its files, load the tokenizer, the vision tower and
 * the language model (weights stay mmap'd). Errors name the file and the cause; a repo id
 * missing from the cache offline says how to get it. */
VS2_API vs2_status vs2_engine_load(const vs2_engine_params *params, vs2_engine **out, vs2_error *err);
VS2_API void vs2_engine_free(vs2_engine *engine);
VS2_API const char *vs2_engine_model_dir(const vs2_engine *engine);          /* the resolved directory */
VS2_API const char *vs2_engine_backend(const vs2_engine *engine); /* the kernel set's name, e.g. "q8-avx512vnni" */
VS2_API const vs2_model_files *vs2_engine_model_files(const vs2_engine *engine);
VS2_API const vs2_tokenizer *vs2_engine_tokenizer(const vs2_engine *engine);

typedef enum vs2_decoding {
    VS2_DECODE_GREEDY = 0,      /* argmax after generation_config's repetition penalty (default) */
    VS2_DECODE_SAMPLE = 1       /* repetition penalty, temperature, top-k, top-p; seeded */
} vs2_decoding;

/* A stage output for debugging: rows x cols fp32 values (row-major). */
typedef void (*vs2_dump_fn)(void *user, const char *stage, const float *x, int64_t rows,
                            int64_t cols);

typedef enum vs2_phase {
    VS2_PHASE_VISION = 0,       /* the vision tower */
    VS2_PHASE_PREFILL = 1,      /* the language model over the prompt */
    VS2_PHASE_GENERATE = 2      /* decoding the answer */
} vs2_phase;

typedef struct vs2_score_params {
    vs2_template tmpl;          /* VS2_TEMPLATE_EVAL (default) or VS2_TEMPLATE_INF */
    vs2_video_params video;     /* sampling and resizing (vs2_video_default_params) */
    int max_new_tokens;         /* 1024 */
    vs2_decoding decoding;      /* VS2_DECODE_GREEDY */
    /* Decoding values; a negative value means "the default": temperature 0.7 (the reference's
     * override) when sampling; top_k, top_p and repetition_penalty from generation_config.json
     * (transformers' defaults 50, 1.0, 1.0 where it has none). The repetition penalty applies
     * in greedy mode too, as transformers' greedy decoding applies it. */
    double temperature;
    int top_k;                  /* 0 = off */
    double top_p;
    double repetition_penalty;
    uint64_t seed;              /* sampling RNG seed (sample i uses seed + i); default 0 */
    int samples;                /* > 1: that many seeded samples from one prefill (sampling only) */
    int threads;                /* 0 = the engine's */
    /* Debugging: every stage of the vision tower and of the prefill (vision.patch_embed,
     * vision.block.<i>, vision.merger, llm.embed, llm.layer.<i>, llm.norm), the input
     * ("pixel_values", rows × 1176), the prompt ids ("input_ids", 1 × n) and M-RoPE positions
     * ("positions", 3 × n), exact integers as floats,
     * and rope delta ("rope_delta", 1 × 1), and the raw logits of the last prompt position
     * ("logits"; see dump_all_logits). dump_dir: write <stage>.f32 (little-endian fp32)
     * and index.json there (created if missing); dump: a callback. Either, both or neither. */
    const char *dump_dir;
    vs2_dump_fn dump;
    void *dump_user;
    /* With dump_dir or dump: the raw logits of EVERY prompt position ("logits", n × vocab)
     * instead of the last one only (for comparisons with a reference; large). */
    int dump_all_logits;
    /* Teacher forcing: when non-NULL, nothing is generated; this UTF-8 answer is tokenized and
     * fed as the generated ids (one sample; stop_reason "answer", or "eos" if it holds an end
     * token, where it is cut), and the parse and soft scores are read from it as from a
     * generated answer, from the logits processed as the decoding settings say (sampling:
     * repetition penalty, temperature, top-k, top-p, as generate(output_scores=True) returns
     * them; greedy: the repetition penalty only). */
    const char *answer;
    /* Optional: called after each generated token (sample index, step, id); return nonzero to
     * stop that sample early (it is then reported as stopped by the caller). */
    int (*on_token)(void *user, int sample, int step, int32_t id);
    void *on_token_user;
    /* Optional: progress for a display. Called when a phase starts (done 0) and as it advances:
     * vision per block (total = vision depth), prefill per layer (total = layers), generate
     * per decode step (done = tokens generated so far by all samples, total = samples ×
     * max_new_tokens, an upper bound: answers usually stop earlier). */
    void (*on_progress)(void *user, vs2_phase phase, int64_t done, int64_t total);
    void *on_progress_user;
} vs2_score_params;

VS2_API vs2_score_params vs2_score_default_params(void);

/* The longest video the scoring defaults accept, in video tokens (vs2_video_params.max_video_tokens
 * in vs2_score_default_params; 0 = no limit): 60 s of 480p at 2 fps plans about 30,600. */
#define VS2_DEFAULT_MAX_VIDEO_TOKENS 16384

/* ---- Scoring options: one table for every front end ------------------------------------- */
/* `vs2 score`, `vs2 batch`, `vs2 rank`, the server and the Python package read their scoring
 * options through this table and its setters, so names, limits and messages are the same
 * everywhere (docs/cli.md lists them). */
typedef enum vs2_option_type {
    VS2_OPT_INT,                /* a decimal integer within range */
    VS2_OPT_DOUBLE,             /* a finite number within range */
    VS2_OPT_STRING,             /* any non-empty text (not copied: keep it alive) */
    VS2_OPT_ENUM,               /* one of the words in range, "eval|inf" */
    VS2_OPT_FLAG                /* no value (on), or true/false, 1/0, yes/no, on/off */
} vs2_option_type;

#define VS2_OPT_ENGINE 1        /* set with vs2_engine_params_set (model, threads, backend, ...) */
#define VS2_OPT_SCORE 2         /* set with vs2_score_params_set (template, decoding, video) */

typedef struct vs2_option {
    const char *name;           /* "max-new-tokens" (CLI spelling; setters also take "max_new_tokens") */
    vs2_option_type type;
    const char *range;          /* "1..1048576", "(0, 1]", "eval|inf", ... for help and messages */
    const char *default_value;  /* as text, for people ("1024", "generation_config's") */
    const char *help;           /* one or more lines (separated by '\n') */
    int scope;                  /* VS2_OPT_ENGINE or VS2_OPT_SCORE */
    const char *metavar;        /* the value's name in help ("N", "eval|inf"); NULL for a flag */
    const char *group;          /* "model", "prompt", "decoding" or "video" (help sections) */
} vs2_option;

/* The whole table (static; n receives its length). */
VS2_API const vs2_option *vs2_options(size_t *n);
/* The entry named name ("top-p", "top_p" or "--top-p"), or NULL. */
VS2_API const vs2_option *vs2_option_find(const char *name);
/* Set one option from text: the same parser and messages for every front end. String values
 * are NOT copied: the caller keeps them alive while the params are used. An unknown name, or an
 * option of the other scope, is VS2_ERR_INVALID_ARG naming it; a bad value is VS2_ERR_INVALID_ARG
 * "--top-p: 1.5 is out of range (0, 1]". Decoding options also set the mode: --sample, a
 * temperature > 0 or samples > 1 choose sampling, temperature 0 chooses greedy. */
VS2_API vs2_status vs2_score_params_set(vs2_score_params *p, const char *name, const char *value, vs2_error *err);
VS2_API vs2_status vs2_engine_params_set(vs2_engine_params *p, const char *name, const char *value, vs2_error *err);
/* After all options: refuse contradictions (temperature 0 with sampling or several samples,
 * several greedy samples) with a message naming the options. */
VS2_API vs2_status vs2_score_params_check(const vs2_score_params *p, vs2_error *err);

/* One generated answer and what was read from it. Dimensions in VS2_DIM_* order. */
typedef struct vs2_sample {
    uint64_t seed;              /* the RNG seed of this sample (unused when greedy) */
    char *output;               /* generated text, special tokens skipped (as the reference) */
    int32_t *ids;               /* generated ids, the stop token included when there was one */
    size_t n_ids;
    const char *stop_reason;    /* "eos", "max_new_tokens" or "callback" (static string) */
    char *rationale;            /* inside <think>...</think>, else the text before the last "(1)" */
    /* Reference parse (first regex match over the whole output): 1..5 normally, but the
     * reference reads \d+ unclamped, so any value is possible. */
    int has_scores;
    long scores[VS2_NDIMS];
    char *parse_error;          /* why has_scores is 0; NULL when it is 1 */
    int has_robust;             /* robust parse (last numbered list, values 1..5) */
    long robust[VS2_NDIMS];
    char *robust_error;
    /* Soft scores from the full-vocabulary distribution at the score digit: normed (the
     * paper's) and expected value. NAN where no value exists; as in the reference, NAN for
     * every dimension when the reference parse failed. soft_index: the generated-token index
     * the digit was read at, -1 where none was found. */
    double soft[VS2_NDIMS];
    double soft_expected[VS2_NDIMS];
    int64_t soft_index[VS2_NDIMS];
    double generate_ms;         /* from the first decode step until this sample stopped (samples
                                   decode together, up to 8 at a time, so their times overlap) */
    double tokens_per_second;   /* decode steps / generate time; 0 when there were none */
} vs2_sample;

/* Means over samples (only samples where the value exists count; NAN when none). */
typedef struct vs2_score_mean {
    double scores[VS2_NDIMS], robust[VS2_NDIMS], soft[VS2_NDIMS], soft_expected[VS2_NDIMS];
    int n_scores[VS2_NDIMS], n_robust[VS2_NDIMS], n_soft[VS2_NDIMS], n_soft_expected[VS2_NDIMS];
} vs2_score_mean;

typedef struct vs2_result {
    char *model;                /* the resolved model directory */
    char *video;                /* the path given, or "" for vs2_score_video */
    char *prompt;               /* the T2V prompt */
    vs2_template tmpl;
    /* Video as sampled (vs2_video fields). */
    int frames;
    int64_t total_frames;
    double video_fps, sample_fps, second_per_grid_t;
    int src_width, src_height, width, height;
    int grid_t, grid_h, grid_w;
    int64_t video_tokens;
    int64_t prompt_tokens;      /* the whole chat, video tokens included */
    /* Decoding as run (defaults resolved). */
    vs2_decoding decoding;
    uint64_t seed;
    double temperature;         /* as used when sampling (reported in greedy mode too) */
    int top_k;
    double top_p;
    double repetition_penalty;
    int max_new_tokens;
    int n_stop_ids;
    int32_t stop_ids[VS2_MAX_EOS];
    int threads;
    const char *backend;        /* the kernel set that computed it (static string) */
    /* Milliseconds per phase: decode+resize, vision tower, prefill (first token included),
     * generation (all samples), whole call. */
    double video_ms, vision_ms, prefill_ms, generate_ms, total_ms;
    vs2_sample *samples;        /* params->samples entries (1 by default) */
    size_t n_samples;
    vs2_score_mean mean;
} vs2_result;

/* Decode, sample and resize the video, run the model and read the scores. A model output
 * without scores is a success (has_scores = 0 with the reason); errors are for inputs that
 * cannot be scored (bad video, bad params) and failures. *out is NULL on failure. */
VS2_API vs2_status vs2_score(const vs2_engine *engine, const char *video_path, const char *prompt,
                     const vs2_score_params *params, vs2_result **out, vs2_error *err);
/* The same from an already prepared video (vs2_video_load / _from_rgb / _from_images; its
 * pixel_values must be present). params->video is not used. */
VS2_API vs2_status vs2_score_video(const vs2_engine *engine, const vs2_video *video, const char *prompt,
                           const vs2_score_params *params, vs2_result **out, vs2_error *err);
VS2_API void vs2_result_free(vs2_result *result);

/* One item of a multi-video call: a video file, or a prepared video (then video_path is unused
 * and the result's "video" is ""). */
typedef struct vs2_score_item {
    const char *video_path;
    const vs2_video *video;
    const char *prompt;
} vs2_score_item;

/* Score n items with the same params, decoding their answers together: up to 8 answers (of
 * all items and samples) share each pass over the weights, which costs about what one answer's
 * pass costs, so throughput grows with n (docs/perf.md). Each item's result is what vs2_score
 * would give it alone (batched rows are computed exactly as lone ones). results[i] and
 * errors[i] are per item: an item that fails (bad video, sequence too long) does not fail the
 * others; results[i] is NULL and errors[i] says why. Items are prepared in order and their
 * caches held until their answers are done; items whose KV caches would pass the memory budget
 * together decode in separate rounds. The on_token callback's sample argument counts across
 * items: item i's sample s is i * samples + s. Stage dumps are for one item only. Returns
 * VS2_OK unless the arguments are bad or memory runs out. */
VS2_API vs2_status vs2_score_batch(const vs2_engine *engine, const vs2_score_item *items, size_t n,
                                   const vs2_score_params *params, vs2_result **results, vs2_error *errors,
                                   vs2_error *err);

/* The result as one JSON object on one line (no newline; malloc'd; NULL on OOM): the format
 * `vs2 score --json` prints, documented in docs/cli.md. */
VS2_API char *vs2_result_to_json(const vs2_result *result);

/* Best-of-N ranking (`vs2 rank`, `vs2 batch --groups`; see docs/batch.md). The key of a result
 * is the mean of its three scores of one kind (the reference: hard scores, np.mean), or with
 * `weighted` the sum w[0]*v + w[1]*t + w[2]*p. Results of several samples use the means over
 * the samples. A result lacking a needed score (no parse) has no key (NAN). */
typedef enum vs2_rank_by {
    VS2_RANK_HARD = 0,          /* "scores": the reference parse (default, the reference rule) */
    VS2_RANK_ROBUST,            /* "scores_robust" */
    VS2_RANK_SOFT,              /* "soft_scores" (normed, the paper's) */
    VS2_RANK_SOFT_EXPECTED      /* "soft_scores_expected" */
} vs2_rank_by;

typedef struct vs2_rank_params {
    vs2_rank_by by;
    int weighted;               /* 0: (v + t + p) / 3; 1: weights[] (a zero weight ignores a dim) */
    double weights[VS2_NDIMS];
    /* Optional, for vs2_rank / vs2_rank_videos: called after each candidate (done of n). */
    void (*on_candidate)(void *user, size_t done, size_t n);
    void *on_candidate_user;
} vs2_rank_params;

VS2_API vs2_rank_params vs2_rank_default_params(void);
/* "hard", "robust", "soft", "soft_expected" (-1 for anything else) and back. */
VS2_API int vs2_rank_by_from_name(const char *name);
VS2_API const char *vs2_rank_by_name(vs2_rank_by by);
/* The ranking key of a result (NAN when it has none; NULL params = defaults). */
VS2_API double vs2_rank_key(const vs2_result *result, const vs2_rank_params *params);
/* order[0..n-1] = candidate indices, best first: keys descending, equal keys in index order
 * (the reference's argmax takes the first index on ties), NAN keys last in index order. */
VS2_API void vs2_rank_order(const double *keys, size_t n, size_t *order);
/* The three values (VS2_DIM_* order) a key is made of: the sample's own for a one-sample
 * result, else the means over the samples; NAN where missing. */
VS2_API void vs2_rank_values(const vs2_result *result, vs2_rank_by by, double v[VS2_NDIMS]);

/* Best-of-N: score n candidate videos for one prompt with the same params, then rank them. */
typedef struct vs2_rank_result {
    size_t n;
    vs2_result **results;       /* NULL where scoring that candidate failed (or was not reached) */
    char **errors;              /* that failure's message, else NULL */
    double *keys;               /* vs2_rank_key of each; NAN = no key */
    size_t *order;              /* best first (vs2_rank_order) */
    size_t n_failed, n_keyed;   /* candidates that failed; candidates with a key */
    int stopped;                /* the score params' on_token callback stopped a candidate: the
                                 * ranking is incomplete (that candidate and the rounds after its
                                 * own are unscored) */
} vs2_rank_result;

/* A candidate that cannot be scored (a bad video) does not fail the call: it gets an error and
 * ranks last. The call fails only on bad arguments or when memory runs out. NULL rp = defaults.
 * Candidates are scored 8 at a time through vs2_score_batch (their answers decode together; each
 * result is what vs2_score gives alone). Free *out with vs2_rank_result_free. */
VS2_API vs2_status vs2_rank(const vs2_engine *engine, const char *prompt, const char *const *video_paths, size_t n,
                    const vs2_score_params *sp, const vs2_rank_params *rp, vs2_rank_result **out,
                    vs2_error *err);
/* The same from prepared videos (vs2_video_load / _from_rgb / _from_images). */
VS2_API vs2_status vs2_rank_videos(const vs2_engine *engine, const char *prompt, const vs2_video *const *videos,
                           size_t n, const vs2_score_params *sp, const vs2_rank_params *rp,
                           vs2_rank_result **out, vs2_error *err);
VS2_API void vs2_rank_result_free(vs2_rank_result *result);
/* The ranking as one JSON object on one line (malloc'd; NULL on OOM), the format of
 * `vs2 rank --json` (docs/batch.md): prompt, by, weights, best, best_video, ranking and the
 * candidates, each with index, video (names[i], or the result's path; names may be NULL), rank,
 * key and either "result" (full: the vs2_result_to_json object), a summary of its scores (the
 * lines of `vs2 batch --groups`) or "error"; "error" at the top when the ranking is incomplete. */
VS2_API char *vs2_rank_result_to_json(const vs2_rank_result *result, const char *prompt, const char *const *names,
                              const vs2_rank_params *rp, int full);

/* ---------------------------------------------------------------------------------------- */
/* Evaluation: manifests, result files, metrics as the release scripts define them, reports  */
/* (see docs/metrics.md, docs/report.md)                                                     */
/* ---------------------------------------------------------------------------------------- */

typedef enum vs2_manifest_format {
    VS2_MANIFEST_AUTO = 0,      /* from the extension and the content */
    VS2_MANIFEST_JSONL,         /* one object a line: id, video, prompt, optional human_scores */
    VS2_MANIFEST_CSV,           /* RFC 4180, header: id, video, prompt, optional score columns */
    VS2_MANIFEST_VS2_BENCH,     /* VideoScore-Bench-v2 JSON list (VideoFeedback2 test file) */
    VS2_MANIFEST_VIDEOGEN_RB,   /* VideoGen-RewardBench pairs CSV (path_A, path_B, VQ, TA, Overall) */
    VS2_MANIFEST_T2VQA_DB,      /* T2VQA-DB txt, lines "file|prompt|score" */
    VS2_MANIFEST_MJ_BENCH,      /* MJ-Bench-Video JSON, two videos per record */
    VS2_MANIFEST_VIDEOPHY2      /* VideoPhy2 test CSV (video_url, caption, sa, pc, ...) */
} vs2_manifest_format;

/* Reproduce the reference loaders' off-by-ones: drop the first CSV data row (pandas iloc[1:])
 * and keep only the first 2000 valid T2VQA-DB lines (pairs from the first 2001 lines). */
#define VS2_MANIFEST_REFERENCE_QUIRKS 1u

typedef struct vs2_manifest_item {
    char *id;                   /* video_name: the key results are joined on */
    char *video;                /* path or URL; may be NULL */
    char *prompt;               /* may be NULL */
    double human[VS2_NDIMS];    /* human scores (the reference's *_score_gt); NAN = none */
    double human_overall;       /* MJ total_score / T2VQA quality_score; NAN = none */
    int line;                   /* 1-based line (record number for JSON lists) */
} vs2_manifest_item;

/* Preference labels of a pair: which video humans preferred. */
enum { VS2_PREF_SECOND = -1, VS2_PREF_SAME = 0, VS2_PREF_FIRST = 1, VS2_PREF_NONE = 2 };

typedef struct vs2_pref_pair {
    char *a, *b;                /* ids of the two videos */
    signed char pref[3];        /* [0] visual quality, [1] text alignment, [2] overall */
    int line;
} vs2_pref_pair;

typedef struct vs2_manifest {
    vs2_manifest_format format;
    vs2_manifest_item *items;   /* distinct videos, in file order */
    size_t n_items;
    vs2_pref_pair *pairs;       /* preference benchmarks only */
    size_t n_pairs;
} vs2_manifest;

/* Load a manifest; errors name the file, the line and the cause. *out is zeroed first. */
VS2_API vs2_status vs2_manifest_load(const char *path, vs2_manifest_format format, unsigned flags,
                             vs2_manifest *out, vs2_error *err);
/* The same from memory; name is used in messages and for AUTO detection by extension. */
VS2_API vs2_status vs2_manifest_parse(const char *data, size_t len, const char *name,
                              vs2_manifest_format format, unsigned flags, vs2_manifest *out,
                              vs2_error *err);
VS2_API void vs2_manifest_free(vs2_manifest *m);
/* "jsonl", "csv", "vs2_bench", "videogen_reward_bench", "t2vqa_db", "mj_bench_video",
 * "video_phy2_test"; -1 for an unknown name. */
VS2_API int vs2_manifest_format_from_name(const char *name);
VS2_API const char *vs2_manifest_format_name(vs2_manifest_format format);

/* One scored video of a result file: vs2's JSONL or the reference's JSON list. */
typedef struct vs2_result_item {
    char *id, *video, *prompt, *rationale, *output, *error;   /* any may be NULL */
    double model[VS2_NDIMS];    /* reference files: *_score_model as stored */
    int has_model_keys;         /* all three *_score_model keys present (reference rule) */
    int has_vs2_scores;         /* a vs2 line with "scores"/"soft_scores" objects */
    double hard[VS2_NDIMS];     /* vs2: "scores" (reference regex) */
    double robust[VS2_NDIMS];   /* vs2: "scores_robust" */
    double soft[VS2_NDIMS];     /* vs2: "soft_scores" (normed, the paper's) */
    double soft_expected[VS2_NDIMS]; /* vs2: "soft_scores_expected" */
    double human[VS2_NDIMS];    /* *_score_gt or "human_scores"; NAN = none */
    double human_overall;       /* total_score / quality_score; NAN = none */
    char **thumbnails;          /* data: URIs, may be empty */
    size_t n_thumbnails;
    int line;
} vs2_result_item;

typedef struct vs2_results {
    int is_vs2;                 /* 1: vs2 JSONL, 0: the reference's JSON list */
    vs2_result_item *items;
    size_t n;
    size_t n_errors;            /* vs2 error lines (kept in items with error set) */
} vs2_results;

VS2_API vs2_status vs2_results_load(const char *path, vs2_results *out, vs2_error *err);
VS2_API vs2_status vs2_results_parse(const char *data, size_t len, const char *name, vs2_results *out,
                             vs2_error *err);
VS2_API void vs2_results_free(vs2_results *r);
/* Fill human scores from a manifest, joined on id (manifest values win). Returns the number of
 * result items that found a manifest row. */
VS2_API size_t vs2_results_join(vs2_results *r, const vs2_manifest *m);

/* The model score the release scripts would read as *_score_model under a method:
 * reference files: as stored; vs2 files: "vs2"/"vs2_int" -> hard, "vs2_robust" -> robust,
 * "vs2_float_weighted" -> soft_expected, anything else -> soft (normed). */
VS2_API double vs2_result_model_score(const vs2_result_item *it, int is_vs2, const char *method, int dim);

#define VS2_METRICS_MAX 64

typedef struct vs2_metric {
    char key[48];               /* the release scripts' names: v_acc, t_plcc, overall_spcc, ... */
    double value;               /* NAN when undefined (None) or NaN (constant input) */
} vs2_metric;

typedef struct vs2_metrics_params {
    const char *bench;          /* vs2_bench, videogen_reward_bench, t2vqa_db, mj_bench_video,
                                 * video_phy2_test (aliases in docs/metrics.md) */
    const char *method;         /* vs2_float (default), vs2, vs1, video_reward, ... */
    const vs2_manifest *pairs;  /* preference GT for pairwise accuracy, or NULL */
    int round_digits;           /* 3 (ROUND_DIGIT); -1 = unrounded */
} vs2_metrics_params;

typedef struct vs2_metrics {
    vs2_metric m[VS2_METRICS_MAX];
    size_t n;
    size_t n_items;             /* result items read (error lines excluded) */
    size_t n_dropped;           /* items dropped because a model score is None */
} vs2_metrics;

VS2_API vs2_metrics_params vs2_metrics_default_params(void);
VS2_API vs2_status vs2_metrics_compute(const vs2_results *r, const vs2_metrics_params *params,
                               vs2_metrics *out, vs2_error *err);
/* The value of key, or NAN if absent. */
VS2_API double vs2_metrics_get(const vs2_metrics *m, const char *key);

/* Pearson r (two-pass means, double) of n pairs; NAN for n < 2 or a constant input. */
VS2_API double vs2_plcc(const double *x, const double *y, size_t n);
/* Spearman rho: Pearson r of average ranks (ties share the mean rank); NAN as vs2_plcc. */
VS2_API double vs2_srcc(const double *x, const double *y, size_t n);
/* Python's round(x, digits): correctly rounded, exact halves to even. */
VS2_API double vs2_round_py(double x, int digits);

typedef struct vs2_report_params {
    const char *title;          /* NULL = "vs2 report" */
    const char *bench;          /* for the metrics table; NULL = vs2_bench */
    const char *method;         /* NULL = vs2_float */
    int make_thumbnails;        /* 1: decode each item's video for a frame strip if it has none */
    int thumb_count;            /* frames in a strip: 4 */
    int thumb_height;           /* pixels: 72 */
} vs2_report_params;

VS2_API vs2_report_params vs2_report_default_params(void);
/* Write one self-contained HTML page comparing n result sets (names label them). With
 * make_thumbnails, items without thumbnails get them (stored into the items). */
VS2_API vs2_status vs2_report_write(vs2_results *const *results, const char *const *names, size_t n,
                            const vs2_report_params *params, const char *out_path, vs2_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VS2_H */
