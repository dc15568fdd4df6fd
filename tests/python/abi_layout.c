/* abi_layout.c — the size and every field offset of the structures the Python package mirrors
 * with ctypes (python/vs2/_lib.py), as this compiler lays them out, printed as JSON for
 * tests/python/test_vs2.py to compare. A field added to vs2.h but not to the mirror shows up as
 * a size mismatch; a reordered or retyped one as an offset mismatch. */
#include <vs2.h>

#include <stddef.h>
#include <stdio.h>

#define FIELD(T, f) printf("%s\"%s\":%zu", first ? "" : ",", #f, offsetof(T, f)), first = 0
#define BEGIN(T) printf("%s\"%s\":{\"size\":%zu,\"fields\":{", n++ ? "," : "", #T, sizeof(T)), first = 1
#define END() printf("}}")

int main(void) {
    int n = 0, first;
    printf("{");
    BEGIN(vs2_error);
    FIELD(vs2_error, status); FIELD(vs2_error, message);
    END();
    BEGIN(vs2_video_params);
    FIELD(vs2_video_params, fps); FIELD(vs2_video_params, min_pixels); FIELD(vs2_video_params, max_pixels);
    FIELD(vs2_video_params, total_pixels); FIELD(vs2_video_params, image_min_pixels);
    FIELD(vs2_video_params, image_max_pixels); FIELD(vs2_video_params, resized_height);
    FIELD(vs2_video_params, resized_width); FIELD(vs2_video_params, processor_fps); FIELD(vs2_video_params, threads);
    FIELD(vs2_video_params, max_source_pixels); FIELD(vs2_video_params, keep_frames);
    FIELD(vs2_video_params, keep_source_frames); FIELD(vs2_video_params, no_pixels); FIELD(vs2_video_params, nframes);
    FIELD(vs2_video_params, max_frames); FIELD(vs2_video_params, max_video_tokens);
    END();
    BEGIN(vs2_video);
    FIELD(vs2_video, kind); FIELD(vs2_video, total_frames); FIELD(vs2_video, video_fps); FIELD(vs2_video, n_frames);
    FIELD(vs2_video, indices); FIELD(vs2_video, sample_fps); FIELD(vs2_video, src_width); FIELD(vs2_video, src_height);
    FIELD(vs2_video, width); FIELD(vs2_video, height); FIELD(vs2_video, grid_t); FIELD(vs2_video, grid_h);
    FIELD(vs2_video, grid_w); FIELD(vs2_video, video_tokens); FIELD(vs2_video, second_per_grid_t);
    FIELD(vs2_video, rows); FIELD(vs2_video, pixel_values); FIELD(vs2_video, frames); FIELD(vs2_video, source_frames);
    FIELD(vs2_video, codec); FIELD(vs2_video, pix_fmt); FIELD(vs2_video, rotation); FIELD(vs2_video, decode_passes);
    END();
    BEGIN(vs2_engine_params);
    FIELD(vs2_engine_params, model); FIELD(vs2_engine_params, hub); FIELD(vs2_engine_params, threads);
    FIELD(vs2_engine_params, backend); FIELD(vs2_engine_params, weight_cache); FIELD(vs2_engine_params, log);
    FIELD(vs2_engine_params, log_user);
    END();
    BEGIN(vs2_score_params);
    FIELD(vs2_score_params, tmpl); FIELD(vs2_score_params, video); FIELD(vs2_score_params, max_new_tokens);
    FIELD(vs2_score_params, decoding); FIELD(vs2_score_params, temperature); FIELD(vs2_score_params, top_k);
    FIELD(vs2_score_params, top_p); FIELD(vs2_score_params, repetition_penalty); FIELD(vs2_score_params, seed);
    FIELD(vs2_score_params, samples); FIELD(vs2_score_params, threads); FIELD(vs2_score_params, dump_dir);
    FIELD(vs2_score_params, dump); FIELD(vs2_score_params, dump_user); FIELD(vs2_score_params, dump_all_logits);
    FIELD(vs2_score_params, answer); FIELD(vs2_score_params, on_token); FIELD(vs2_score_params, on_token_user);
    FIELD(vs2_score_params, on_progress); FIELD(vs2_score_params, on_progress_user);
    END();
    BEGIN(vs2_rank_params);
    FIELD(vs2_rank_params, by); FIELD(vs2_rank_params, weighted); FIELD(vs2_rank_params, weights);
    FIELD(vs2_rank_params, on_candidate); FIELD(vs2_rank_params, on_candidate_user);
    END();
    BEGIN(vs2_option);
    FIELD(vs2_option, name); FIELD(vs2_option, type); FIELD(vs2_option, range); FIELD(vs2_option, default_value);
    FIELD(vs2_option, help); FIELD(vs2_option, scope); FIELD(vs2_option, metavar); FIELD(vs2_option, group);
    END();
    BEGIN(vs2_score_item);
    FIELD(vs2_score_item, video_path); FIELD(vs2_score_item, video); FIELD(vs2_score_item, prompt);
    END();
    printf("}\n");
    return 0;
}
