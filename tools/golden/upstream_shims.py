"""Load Hugging Face transformers v4.53.2 from a source snapshot on Debian 12's python3-torch 1.13.1.

transformers 4.53.2 wants torch >= 2.1 and imports huggingface_hub, safetensors and tokenizers,
which Debian 12 does not package. The golden generator only builds models from config.json,
fills them with load_state_dict, and tokenizes with the pure-Python Qwen2Tokenizer, so these
names are needed at import time only. Every shim, and why it cannot change a number:

 1. transformers.dependency_versions_check is replaced by an empty module (with a no-op
    dep_version_check): it only compares installed versions with the pins.
 2. huggingface_hub (+ .utils, .errors, .file_download, .constants, .dataclasses) and
    safetensors(.torch), tokenizers(.models, ...) are import-only stand-ins whose attributes are
    empty classes; the hub constants are plain paths. Nothing here downloads, reads weights
    through safetensors or runs the Rust tokenizer: weights come from our own reader
    (make_goldens.read_safetensors, checked against tensors.json's crc32), text from the slow
    Qwen2Tokenizer (pure Python, part of transformers).
 3. importlib.metadata.version("torch") reports "2.1.0" so that transformers enables its torch
    code (it disables torch below 2.1). Every "torch >= 2.x" feature test then still says no
    for x > 1, so no torch-2-only path is taken; the paths used below work on 1.13.
 4. torch.compiler (2.0+) = {disable: identity decorator, is_compiling/is_exporting: False}:
    only compilation hints; eager execution is what runs.
 5. torch.float8_e4m3fn, float8_e5m2, uint16/32/64: placeholders that only fill a
    safetensors dtype-name table; no tensor of those types exists here.
 6. torchvision 0.14's InterpolationMode has no NEAREST_EXACT: mapped to NEAREST in a table of
    resampling modes; the video path resizes with BICUBIC only.
 7. Without the tokenizers package transformers defines its own AddedToken dataclass, which is
    unhashable (eq=True) and has no __setstate__, so the slow tokenizer's special-token handling
    fails; it gets the hash of its content and an attribute-setting __setstate__, as tokenizers'
    AddedToken has. Only the bookkeeping of added tokens (their flags, set membership) uses it.
 8. torchvision 0.14's functional.resize takes at most 4-D tensors; the Qwen2-VL video
    processor passes stacked videos [B, T, C, H, W] (torchvision >= 0.15 accepts any leading
    dims). The wrapper flattens the leading dims, resizes, and restores them: each image is
    resized by the same call as before, independently.
 9. torch.vmap (2.0) = functorch.vmap, which torch 1.13 ships: transformers builds the boolean
    causal/padding mask with it; a boolean mask is exact either way.
10. transformers.integrations.fsdp.is_fsdp_managed_module -> False (also as imported by
    generation.utils): it imports torch.distributed.fsdp, which fails on Python 3.11 with torch
    1.13, only to ask whether GPUs must be synchronised; nothing here is FSDP-wrapped.
"""
import importlib.machinery
import importlib.metadata
import sys
import types


def _stub(name):
    m = types.ModuleType(name)
    m.__path__ = []
    m.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)

    def ga(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return type(attr, (Exception,), {})

    m.__getattr__ = ga
    sys.modules[name] = m
    if "." in name:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, m)
    return m


def install(transformers_src):
    """Apply the shims above and put the transformers source tree first on sys.path."""
    sys.path.insert(0, transformers_src)
    dvc = types.ModuleType("transformers.dependency_versions_check")
    dvc.dep_version_check = lambda pkg, hint=None: None
    sys.modules["transformers.dependency_versions_check"] = dvc  # 1
    for n in ("huggingface_hub", "huggingface_hub.utils", "huggingface_hub.errors",  # 2
              "huggingface_hub.file_download", "huggingface_hub.constants",
              "huggingface_hub.dataclasses", "safetensors", "safetensors.torch", "tokenizers",
              "tokenizers.models", "tokenizers.decoders", "tokenizers.normalizers",
              "tokenizers.pre_tokenizers", "tokenizers.processors"):
        _stub(n)
    c = sys.modules["huggingface_hub.constants"]
    for k, v in dict(HF_HOME="/nonexistent/hf", HF_HUB_CACHE="/nonexistent/hf/hub",
                     HUGGINGFACE_HUB_CACHE="/nonexistent/hf/hub",
                     default_cache_path="/nonexistent/hf/hub", HF_HUB_OFFLINE=True,
                     HF_HUB_DISABLE_TELEMETRY=True, ENDPOINT="http://stub.invalid",
                     HUGGINGFACE_CO_RESOLVE_ENDPOINT="http://stub.invalid",
                     HF_HUB_ENABLE_HF_TRANSFER=False, HF_HUB_ETAG_TIMEOUT=10,
                     HF_HUB_DOWNLOAD_TIMEOUT=10, REPO_TYPES=["model"],
                     SAFETENSORS_SINGLE_FILE="model.safetensors",
                     SAFETENSORS_INDEX_FILE="model.safetensors.index.json",
                     HF_TOKEN_PATH="/nonexistent/hf/token").items():
        setattr(c, k, v)
    sys.modules["huggingface_hub"].__version__ = "0.0.0-stub"
    sys.modules["huggingface_hub.utils"].are_progress_bars_disabled = lambda: True

    import torch
    real_version = importlib.metadata.version
    importlib.metadata.version = lambda name: "2.1.0" if name == "torch" else real_version(name)  # 3

    def disable(fn=None, recursive=True):
        return fn if fn is not None else (lambda f: f)

    if not hasattr(torch, "compiler"):  # 4
        torch.compiler = types.SimpleNamespace(disable=disable, is_compiling=lambda: False,
                                               is_exporting=lambda: False)
    for n in ("float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64"):  # 5
        if not hasattr(torch, n):
            setattr(torch, n, type(n, (), {})())
    from torchvision.transforms import InterpolationMode
    if not hasattr(InterpolationMode, "NEAREST_EXACT"):  # 6
        InterpolationMode.NEAREST_EXACT = InterpolationMode.NEAREST
    if not hasattr(torch, "vmap"):  # 9
        import functorch
        torch.vmap = functorch.vmap
    import torchvision.transforms.functional as TF
    resize = TF.resize

    def resize_nd(img, size, *a, **k):  # 8
        if isinstance(img, torch.Tensor) and img.dim() > 4:
            lead = img.shape[:-3]
            out = resize(img.reshape(-1, *img.shape[-3:]), size, *a, **k)
            return out.reshape(*lead, *out.shape[-3:])
        return resize(img, size, *a, **k)
    TF.resize = resize_nd
    from transformers.integrations import fsdp  # 10
    from transformers.generation import utils as gen_utils
    fsdp.is_fsdp_managed_module = gen_utils.is_fsdp_managed_module = lambda module: False
    from transformers import tokenization_utils_base
    if tokenization_utils_base.AddedToken.__hash__ is None:  # 7
        tokenization_utils_base.AddedToken.__hash__ = lambda self: hash(self.content)
    if not hasattr(tokenization_utils_base.AddedToken, "__setstate__"):
        tokenization_utils_base.AddedToken.__setstate__ = lambda self, st: self.__dict__.update(st)
