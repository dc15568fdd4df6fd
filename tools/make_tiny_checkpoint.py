#!/usr/bin/env python3
"""Write a random-weight Qwen2.5-VL checkpoint in the exact Hugging Face layout.

Files: config.json (hub or nested layout), generation_config.json, safetensors weights (one
model.safetensors, or K shards model-0000i-of-0000K.safetensors + model.safetensors.index.json),
tokenizer.json + tokenizer_config.json (copied from --tokenizer-dir, or a minimal valid stand-in),
and tensors.json: the generator's own record of every tensor (name, dtype, shape, file, file
offset, nbytes, crc32 of the bytes, float64 sum of the values) for tests to compare against.

Geometry is the real one (patch 14, temporal patch 2, merge 2, window 112, full-attention blocks,
tokens_per_second 2) with tiny widths; --preset full gives the real 7B shapes, written as sparse
zero-filled files (no checksums) so parameter counts and headers can be checked cheaply.

Weights: random bit patterns with the exponent confined to [2^-7, 2^-3): no zeros, denormals,
infinities or NaNs, exact in float64 sums. Standard library only.

  make_tiny_checkpoint.py --out DIR [--seed N] [--layout hub|nested] [--names hub|new]
                          [--shards K] [--dtype bf16|f16|f32] [--tokenizer-dir DIR]
                          [--vocab-size V] [--tie] [--preset tiny|geom7b|full] [--layers L ...]
                          [--sharpen F] [--sharpen-vision F] [--patch-embed-down F]
"""
import argparse
import array
import json
import math
import os
import random
import shutil
import struct
import sys
import zlib

DTYPES = {"bf16": ("BF16", 2), "f16": ("F16", 2), "f32": ("F32", 4)}

PRESETS = {
    # Tiny widths, real geometry; vision depth 4 with a full-attention block.
    "tiny": dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128,
                 v_depth=4, v_hidden=32, v_heads=2, v_intermediate=64, fullatt=[1, 3],
                 mrope=[2, 3, 3]),
    # The 7B attention geometry at small depth and width: head_dim 128, 7 query heads per KV
    # head, mrope_section [16, 24, 24]; vision head_dim 80; full attention at blocks 1 and 3.
    "geom7b": dict(hidden=896, layers=2, heads=7, kv_heads=1, intermediate=256,
                   v_depth=4, v_hidden=160, v_heads=2, v_intermediate=128, fullatt=[1, 3],
                   mrope=[16, 24, 24]),
    # Qwen2.5-VL-7B-Instruct.
    "full": dict(hidden=3584, layers=28, heads=28, kv_heads=4, intermediate=18944,
                 v_depth=32, v_hidden=1280, v_heads=16, v_intermediate=3420,
                 fullatt=[7, 15, 23, 31], mrope=[16, 24, 24]),
}

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
]
FIRST_SPECIAL_ID = 151643
# The Qwen2 pre-tokenizer split (docs/qwen2.5-vl.md §7), as data.
QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
               "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def tensor_list(g, vocab, tie):
    """(hub name, shape) for every tensor of Qwen2.5-VL, in the order of docs/qwen2.5-vl.md §2."""
    H, I, V = g["hidden"], g["intermediate"], vocab
    hd = H // g["heads"]
    Q, KV = g["heads"] * hd, g["kv_heads"] * hd
    vh, vi = g["v_hidden"], g["v_intermediate"]
    m = vh * 4  # spatial_merge_size 2 → 2×2 patches
    out = [("visual.patch_embed.proj.weight", [vh, 3, 2, 14, 14])]
    for i in range(g["v_depth"]):
        p = f"visual.blocks.{i}."
        out += [(p + "norm1.weight", [vh]), (p + "norm2.weight", [vh]),
                (p + "attn.qkv.weight", [3 * vh, vh]), (p + "attn.qkv.bias", [3 * vh]),
                (p + "attn.proj.weight", [vh, vh]), (p + "attn.proj.bias", [vh]),
                (p + "mlp.gate_proj.weight", [vi, vh]), (p + "mlp.gate_proj.bias", [vi]),
                (p + "mlp.up_proj.weight", [vi, vh]), (p + "mlp.up_proj.bias", [vi]),
                (p + "mlp.down_proj.weight", [vh, vi]), (p + "mlp.down_proj.bias", [vh])]
    out += [("visual.merger.ln_q.weight", [vh]), ("visual.merger.mlp.0.weight", [m, m]),
            ("visual.merger.mlp.0.bias", [m]), ("visual.merger.mlp.2.weight", [H, m]),
            ("visual.merger.mlp.2.bias", [H])]
    out.append(("model.embed_tokens.weight", [V, H]))
    for l in range(g["layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", [H]),
                (p + "self_attn.q_proj.weight", [Q, H]), (p + "self_attn.q_proj.bias", [Q]),
                (p + "self_attn.k_proj.weight", [KV, H]), (p + "self_attn.k_proj.bias", [KV]),
                (p + "self_attn.v_proj.weight", [KV, H]), (p + "self_attn.v_proj.bias", [KV]),
                (p + "self_attn.o_proj.weight", [H, Q]),
                (p + "post_attention_layernorm.weight", [H]),
                (p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.up_proj.weight", [I, H]),
                (p + "mlp.down_proj.weight", [H, I])]
    out.append(("model.norm.weight", [H]))
    if not tie:
        out.append(("lm_head.weight", [V, H]))
    return out


def stored_name(name, names):
    """The name as written by transformers 4.52 re-saves (--names new) or the hub (--names hub)."""
    if names == "new":
        if name.startswith("visual."):
            return "model." + name
        if name.startswith("model."):
            return "model.language_model." + name[len("model."):]
    return name


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _table(fn):
    return bytes(fn(r) for r in range(256))


# Top byte of each element: keep the sign bit, force the exponent into a narrow normal range.
BF16_HI = _table(lambda r: (r & 0x80) | 0x3C | (r & 1))          # exponent 120..123
F32_HI = BF16_HI
F16_HI = _table(lambda r: (r & 0x80) | ((8 + ((r >> 2) & 3)) << 2) | (r & 3))  # exponent 8..11


def boosted(table, m):
    """The bf16/f32 top-byte table with the exponent raised by 2·m (values × 4^m)."""
    return _table(lambda r: (table[r] & 0x80) | ((table[r] & 0x7F) + m))


# --sharp: tensors scaled by 4^m (same random draws, so the other tensors are unchanged).
# q/k ×4 each make attention scores ×16 (peaked softmax); the final norm ×16 and the head ×256
# ×64 spread the logits over several units (a real model's scale), so next-token distributions are far from ties and a
# backend's top-1 agreement, KL and greedy tokens mean something.
SHARP = [(".self_attn.q_proj.", 1), (".self_attn.k_proj.", 1), (".attn.qkv.", 1),
         ("model.norm.weight", 2), ("lm_head.weight", 3)]


def sharp_boost(name):
    return next((m for key, m in SHARP if key in name), 0)


def random_bytes(rng, n, dtype, boost=0):
    """n elements of random values of the given dtype, little-endian (× 4^boost)."""
    size = DTYPES[dtype][1]
    # randbytes takes < 2^31 bits per call; chunks of whole 32-bit words give the same stream.
    chunk = 1 << 26
    b = bytearray(b"".join(rng.randbytes(min(chunk, n * size - i)) for i in range(0, n * size, chunk)))
    hi = {"bf16": BF16_HI, "f16": F16_HI, "f32": F32_HI}[dtype]
    if boost:
        hi = boosted(hi, boost)
    b[size - 1::size] = bytes(b[size - 1::size]).translate(hi)
    return bytes(b)


def value_sum(data, dtype):
    """Exact float64 sum of the values (math.fsum: independent of summation order)."""
    if dtype == "f32":
        a = array.array("f")
        a.frombytes(data)
    elif dtype == "f16":
        a = struct.unpack(f"<{len(data) // 2}e", data)
    else:  # bf16 → f32 by appending two zero low bytes to each element
        w = bytearray(len(data) * 2)
        w[2::4] = data[0::2]
        w[3::4] = data[1::2]
        a = array.array("f")
        a.frombytes(bytes(w))
    if sys.byteorder != "little" and dtype != "f16":
        a.byteswap()
    return math.fsum(a)


def qk_rows(name, shape):
    """Rows of a weight/bias that feed attention scores: q/k projections (LLM) and the q and k
    thirds of the vision qkv."""
    if ".self_attn.q_proj." in name or ".self_attn.k_proj." in name:
        return shape[0]
    if ".attn.qkv." in name:
        return shape[0] * 2 // 3
    return 0


def scale_exponent(data, n, dtype, k):
    """Multiply the first n bytes' elements by 2^k (k may be negative) through the exponent;
    the generator's exponents (f16 8..11, bf16/f32 120..123) stay normal for |k| <= 8."""
    size = DTYPES[dtype][1]
    b = bytearray(data)
    hi = b[size - 1:n:size]
    if dtype == "f16":  # exponent bits 2..6 of the top byte
        b[size - 1:n:size] = bytes(x + (k << 2) if k >= 0 else x - ((-k) << 2) for x in hi)
    else:  # bf16/f32: the exponent spans the top byte's low 7 bits and the next byte's top bit
        lo = b[size - 2:n:size]
        e = [((h & 0x7F) << 1 | l >> 7) + k for h, l in zip(hi, lo)]
        b[size - 1:n:size] = bytes((h & 0x80) | (x >> 1) for h, x in zip(hi, e))
        b[size - 2:n:size] = bytes((l & 0x7F) | ((x & 1) << 7) for l, x in zip(lo, e))
    return bytes(b)


def sharpen_bytes(data, name, shape, dtype, factor, factor_vision, patch_down=1):
    """Scale the q/k rows by a power of two (factor_vision in the vision tower) by raising the
    exponent: random weights give nearly uniform attention, where RoPE, masks and window order
    hardly show."""
    if name == "visual.patch_embed.proj.weight" and patch_down > 1:
        # A smaller residual stream, so that the blocks' contributions are not dwarfed by it.
        return scale_exponent(data, len(data), dtype, -int(math.log2(patch_down)))
    rows = qk_rows(name, shape)
    if name.startswith("visual."):
        factor = factor_vision
    if not rows or factor == 1:
        return data
    n = rows * (numel(shape) // shape[0]) * DTYPES[dtype][1]
    return scale_exponent(data, n, dtype, int(math.log2(factor)))


def write_shard(path, entries, dtype, rng, sparse, names, sharpen=1, sharpen_vision=1, patch_down=1,
                sharp=False):
    """entries: [(hub name, shape)]; returns manifest rows. Header padded to 8 bytes."""
    st_dtype, esize = DTYPES[dtype]
    header, off, rows = {}, 0, []
    ordered = sorted(entries, key=lambda e: stored_name(e[0], names))
    for name, shape in ordered:
        nb = numel(shape) * esize
        header[stored_name(name, names)] = {"dtype": st_dtype, "shape": shape,
                                            "data_offsets": [off, off + nb]}
        off += nb
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    base = 8 + len(hb)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape in ordered:
            sn = stored_name(name, names)
            begin, end = header[sn]["data_offsets"]
            row = {"name": name, "stored_name": sn, "dtype": st_dtype, "shape": shape,
                   "file": os.path.basename(path), "offset": base + begin, "nbytes": end - begin}
            if sparse:
                row["crc32"] = row["sum"] = None
            else:
                data = sharpen_bytes(random_bytes(rng, numel(shape), dtype, sharp_boost(name) if sharp else 0),
                                     name, shape, dtype, sharpen, sharpen_vision, patch_down)
                f.write(data)
                row["crc32"] = zlib.crc32(data)
                row["sum"] = value_sum(data, dtype)
            rows.append(row)
        if sparse:
            f.truncate(base + off)
    return rows, off


def split_shards(tensors, k, esize):
    """Split in order into k groups of roughly equal bytes (as save_pretrained does)."""
    total = sum(numel(s) for _, s in tensors) * esize
    groups, cur, acc = [[] for _ in range(k)], 0, 0
    for t in tensors:
        if cur < k - 1 and acc >= total * (cur + 1) / k and groups[cur]:
            cur += 1
        groups[cur].append(t)
        acc += numel(t[1]) * esize
    groups = [g for g in groups if g]
    while len(groups) < k:  # a few huge tensors can leave shards empty: split the longest group
        i = max(range(len(groups)), key=lambda j: len(groups[j]))
        if len(groups[i]) < 2:
            break
        h = len(groups[i]) // 2
        groups[i:i + 1] = [groups[i][:h], groups[i][h:]]
    return groups


def text_params(g, vocab, tie, dtype_name):
    return {
        "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
        "hidden_act": "silu", "hidden_size": g["hidden"], "initializer_range": 0.02,
        "intermediate_size": g["intermediate"], "max_position_embeddings": 128000,
        "max_window_layers": g["layers"], "num_attention_heads": g["heads"],
        "num_hidden_layers": g["layers"], "num_key_value_heads": g["kv_heads"],
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
        "tie_word_embeddings": tie, "torch_dtype": dtype_name, "use_cache": True,
        "use_sliding_window": False, "vocab_size": vocab,
    }


def make_config(g, vocab, tie, layout, dtype):
    dtype_name = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[dtype]
    vision = {
        "depth": g["v_depth"], "hidden_act": "silu", "hidden_size": g["v_hidden"],
        "intermediate_size": g["v_intermediate"], "num_heads": g["v_heads"], "in_chans": 3,
        "out_hidden_size": g["hidden"], "patch_size": 14, "spatial_merge_size": 2,
        "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": g["fullatt"],
        "tokens_per_second": 2, "temporal_patch_size": 2,
    }
    ids = {"vision_start_token_id": 151652, "vision_end_token_id": 151653,
           "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656}
    text = text_params(g, vocab, tie, dtype_name)
    if layout == "hub":
        cfg = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], **text, **ids,
               "model_type": "qwen2_5_vl",
               "rope_scaling": {"type": "mrope", "mrope_section": g["mrope"]},
               "transformers_version": "4.41.2", "vision_config": vision}
    else:  # transformers ≥ 4.52 save: text in text_config, vision ids at the top level
        text.update({"model_type": "qwen2_5_vl_text", "image_token_id": None,
                     "video_token_id": None, "vision_token_id": 151654,
                     "vision_start_token_id": 151652, "vision_end_token_id": 151653,
                     "rope_scaling": {"mrope_section": g["mrope"], "rope_type": "default",
                                      "type": "default"}})
        vision.update({"in_channels": 3, "initializer_range": 0.02, "model_type": "qwen2_5_vl"})
        cfg = {"architectures": ["Qwen2_5_VLForConditionalGeneration"],
               "image_token_id": 151655, "model_type": "qwen2_5_vl", "text_config": text,
               "tie_word_embeddings": tie, "torch_dtype": dtype_name,
               "transformers_version": "4.53.2", "video_token_id": 151656,
               "vision_config": vision, "vision_end_token_id": 151653,
               "vision_start_token_id": 151652}
    return cfg


GENERATION_CONFIG = {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True,
                     "eos_token_id": [151645, 151643], "repetition_penalty": 1.05,
                     "temperature": 1e-06, "transformers_version": "4.49.0"}


def byte_level_alphabet():
    """GPT-2 bytes_to_unicode: the 256 one-byte tokens of a byte-level BPE."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for b, c in sorted(zip(bs, cs))]


def write_min_tokenizer(out):
    """A small valid Qwen2-style tokenizer.json: the byte alphabet, four merges and the Qwen
    added tokens at their real ids (the regular ids above 259 are unreachable fillers)."""
    vocab = {ch: i for i, ch in enumerate(byte_level_alphabet())}
    merges = [["\u0120", "t"], ["h", "e"], ["\u0120t", "he"], ["i", "n"]]  # Ġt, he, Ġthe, in
    for a, b in merges:
        vocab[a + b] = len(vocab)
    # Fill the regular range so that the added tokens sit at their real ids, as in Qwen2
    # (loaders check that ids continue the vocabulary): unreachable 2- and 3-byte strings.
    alpha = byte_level_alphabet()
    for n in range(256 * 256 * 256):
        if len(vocab) >= FIRST_SPECIAL_ID:
            break
        t = alpha[n % 256] + alpha[(n // 256) % 256] + ("" if n < 65536 else alpha[n // 65536])
        if t not in vocab:
            vocab[t] = len(vocab)
    added = [{"id": FIRST_SPECIAL_ID + i, "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": i < 14}
             for i, t in enumerate(SPECIAL_TOKENS)]
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
           "normalizer": {"type": "NFC"},
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated",
                "invert": False},
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                "use_regex": False}]},
           "post_processor": {"type": "ByteLevel", "add_prefix_space": False,
                              "trim_offsets": False, "use_regex": False},
           "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                       "use_regex": False},
           "model": {"type": "BPE", "dropout": None, "unk_token": None,
                     "continuing_subword_prefix": "", "end_of_word_suffix": "",
                     "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": vocab, "merges": merges}}
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    cfg = {"add_prefix_space": False, "bos_token": None, "clean_up_tokenization_spaces": False,
           "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 131072,
           "pad_token": "<|endoftext|>", "split_special_tokens": False,
           "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
           "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in a if k != "id"}
                                    for a in added}}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layout", choices=["hub", "nested"], default="hub")
    ap.add_argument("--names", choices=["hub", "new"], default="hub",
                    help="tensor names: hub (visual.*, model.*) or new (model.visual.*, "
                         "model.language_model.*)")
    ap.add_argument("--shards", type=int, default=1, help="1 writes model.safetensors")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--tokenizer-dir", help="copy tokenizer.json + tokenizer_config.json from here")
    ap.add_argument("--vocab-size", type=int, default=152064)
    ap.add_argument("--tie", action="store_true", help="tie_word_embeddings (no lm_head.weight)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    for k in PRESETS["tiny"]:
        if k not in ("fullatt", "mrope"):
            ap.add_argument("--" + k.replace("_", "-"), type=int, dest=k)
    ap.add_argument("--fullatt", help="comma-separated full-attention block indexes")
    ap.add_argument("--mrope", help="comma-separated mrope_section (sums to head_dim/2)")
    ap.add_argument("--no-generation-config", action="store_true")
    ap.add_argument("--sharp", action="store_true",
                    help="scale q/k, the final norm and the head (bf16/f32, untied) so that "
                         "attention and next-token distributions are peaked")
    ap.add_argument("--sharpen", type=int, default=1, choices=[1, 2, 4, 8, 16],
                    help="scale the LLM's q/k projections by this factor")
    ap.add_argument("--sharpen-vision", type=int, choices=[1, 4, 16, 64, 256],
                    help="scale the vision q/k by this factor (default: --sharpen); its random "
                         "inputs are small after the norms, so it needs more to be peaked")
    ap.add_argument("--patch-embed-down", type=int, default=1, choices=[1, 4, 16, 64],
                    help="divide the vision patch embedding by this factor (a smaller residual "
                         "stream makes the vision blocks' attention visible in their outputs)")
    a = ap.parse_args()
    if a.sharp and (a.dtype == "f16" or a.tie):
        sys.exit("--sharp needs --dtype bf16 or f32 and an untied head")

    g = dict(PRESETS[a.preset])
    for k in g:
        v = getattr(a, k, None)
        if v is not None:
            g[k] = [int(x) for x in v.split(",")] if isinstance(v, str) else v
    hd = g["hidden"] // g["heads"]
    if sum(g["mrope"]) * 2 != hd:
        sys.exit(f"mrope_section {g['mrope']} must sum to head_dim/2 = {hd // 2}")
    if a.shards < 1:
        sys.exit("--shards must be >= 1")
    sparse = a.preset == "full"
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    for n in os.listdir(a.out):  # stale weights of an earlier run would confuse readers
        if n.startswith("model") and ".safetensors" in n:
            os.remove(os.path.join(a.out, n))

    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(make_config(g, a.vocab_size, a.tie, a.layout, a.dtype), f, indent=2)
    if not a.no_generation_config:
        with open(os.path.join(a.out, "generation_config.json"), "w") as f:
            json.dump(GENERATION_CONFIG, f, indent=2)
    if a.tokenizer_dir:
        for n in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(a.tokenizer_dir, n), os.path.join(a.out, n))
    else:
        write_min_tokenizer(a.out)

    tensors = tensor_list(g, a.vocab_size, a.tie)
    esize = DTYPES[a.dtype][1]
    groups = split_shards(tensors, a.shards, esize) if a.shards > 1 else [tensors]
    manifest, weight_map, total = [], {}, 0
    for i, grp in enumerate(groups):
        fname = (f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" if a.shards > 1
                 else "model.safetensors")
        rows, nbytes = write_shard(os.path.join(a.out, fname), grp, a.dtype, rng, sparse, a.names,
                                   a.sharpen, a.sharpen_vision or a.sharpen, a.patch_embed_down, a.sharp)
        manifest += rows
        total += nbytes
        for r in rows:
            weight_map[r["stored_name"]] = fname
    if a.shards > 1:
        index = {"metadata": {"total_size": total},
                 "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
    params = sum(numel(r["shape"]) for r in manifest)
    with open(os.path.join(a.out, "tensors.json"), "w") as f:
        json.dump({"generator": "make_tiny_checkpoint.py", "seed": a.seed, "dtype": a.dtype,
                   "layout": a.layout, "names": a.names, "n_shards": len(groups),
                   "n_tensors": len(manifest), "parameters": params, "total_bytes": total,
                   "tensors": manifest}, f, indent=1)


if __name__ == "__main__":
    main()
