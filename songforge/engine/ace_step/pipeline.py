"""Loading diffusers' AceStepPipeline from a model folder (safetensors, local files only), with a LoRA, in one of
three memory modes: resident (every model on the GPU), offload (one model on the GPU at a time: diffusers' model
CPU offload, which moves each in as the pipeline calls it), cpu (no GPU: float32, slow but complete).

Memory floors (bf16, turbo DiT ~2.4 B parameters, text encoder 0.6 B, VAE 0.17 B, plus activations of a 4-minute
song): resident from 16 GiB, offload from 8 GiB; smaller cards run on the CPU. They are estimates from the weights'
sizes; benchmarks/engine_speed.py measures the peaks.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ...errors import EngineError
from .params import AceStepParams, MemoryMode
from .weights import components, missing_files, verified_folder

log = logging.getLogger(__name__)
GIB = 1 << 30
FLOORS: dict[str, int] = {"resident": 16 * GIB, "offload": 8 * GIB}


def choose_mode(device_bytes: int) -> MemoryMode:
    """The fastest mode a GPU of device_bytes total memory holds; cpu below the offload floor (0: no GPU)."""
    return next((mode for mode, floor in FLOORS.items() if device_bytes >= floor), "cpu")  # type: ignore[return-value]


def resolve_memory(memory: MemoryMode) -> MemoryMode:
    """`auto` made concrete for this host; a GPU mode asked for on a host with none is an error that says so."""
    import torch

    gpu = torch.cuda.is_available()
    if memory == "auto":
        return choose_mode(torch.cuda.get_device_properties(0).total_memory if gpu else 0)
    if memory != "cpu" and not gpu:
        raise EngineError(f"engine.params.memory is {memory}, but this host has no GPU. Fix: set memory: cpu "
                          "(or auto), or run the song on a GPU host.")
    return memory


def dtype_for(dtype: str, memory: MemoryMode):
    import torch

    if dtype == "auto":
        return torch.float32 if memory == "cpu" else torch.bfloat16
    return getattr(torch, dtype)


def load_pipeline(folder: Path, dtype: Any = None) -> Any:
    """AceStepPipeline from a folder of either layout (weights.components), every component loaded from its own
    subfolder with local_files_only: nothing is downloaded."""
    import torch
    from diffusers import AceStepPipeline, AceStepTransformer1DModel, AutoencoderOobleck
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.pipelines.ace_step import (AceStepAudioTokenDetokenizer, AceStepAudioTokenizer,
                                              AceStepConditionEncoder)
    from transformers import AutoModel, AutoTokenizer

    missing = missing_files(folder)
    if missing:
        raise EngineError(f"the ACE-Step model folder {folder} lacks {', '.join(missing[:5])}. Fix: run `songforge "
                          "models pull ace-step-1.5`, or point engine.params.model at a complete folder.")
    dtype = dtype or torch.float32
    where = components(folder)
    local = {"local_files_only": True}
    diffusers_models = {"vae": AutoencoderOobleck, "transformer": AceStepTransformer1DModel,
                        "condition_encoder": AceStepConditionEncoder, "audio_tokenizer": AceStepAudioTokenizer,
                        "audio_token_detokenizer": AceStepAudioTokenDetokenizer}
    loaded: dict[str, Any] = {name: cls.from_pretrained(where[name], torch_dtype=dtype, **local)
                              for name, cls in diffusers_models.items() if name in where}
    loaded["text_encoder"] = AutoModel.from_pretrained(where["text_encoder"], dtype=dtype, **local)
    loaded["tokenizer"] = AutoTokenizer.from_pretrained(where["tokenizer"], **local)
    loaded["scheduler"] = (FlowMatchEulerDiscreteScheduler.from_pretrained(where["scheduler"], **local)
                           if "scheduler" in where else FlowMatchEulerDiscreteScheduler(num_train_timesteps=1,
                                                                                        shift=1.0))
    for model in loaded.values():
        if isinstance(model, torch.nn.Module):
            model.eval()
    pipe = AceStepPipeline(**loaded)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def apply_lora(pipe: Any, path: Path) -> None:
    """Load a LoRA (ACE-Step's PEFT format or diffusers') into the DiT; its scale is given at each call."""
    path = Path(path).expanduser()
    try:
        if path.is_file():
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, local_files_only=True)
        else:
            pipe.load_lora_weights(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise EngineError(f"engine.params.lora_path {path} could not be loaded as an ACE-Step LoRA ({error}). Fix: "
                          "give a .safetensors LoRA trained for ACE-Step 1.5, or a folder holding one.") from error


def place(pipe: Any, memory: MemoryMode) -> Any:
    """The pipeline where the mode puts it: all on the GPU, offloaded one model at a time, or on the CPU."""
    if memory == "resident":
        return pipe.to("cuda")
    if memory == "offload":
        pipe.enable_model_cpu_offload(device="cuda")
        return pipe
    return pipe.to("cpu")


@contextmanager
def loaded(params: AceStepParams) -> Iterator[tuple[Any, MemoryMode]]:
    """The params' pipeline, placed, with their LoRA; given back (GPU memory freed) when the block ends: its model
    components are set to None then, so a caller still holding the pipeline holds no model. Reference counting
    frees them; the garbage collector runs only if something still holds one (device_memory.free_memory_of)."""
    import weakref

    import torch

    from ...device_memory import free_memory_of

    memory = resolve_memory(params.memory)
    pipe = load_pipeline(verified_folder(params.model), dtype_for(params.dtype, memory))
    if params.lora_path is not None:
        apply_lora(pipe, params.lora_path)
    modules = [name for name, component in pipe.components.items() if isinstance(component, torch.nn.Module)]
    models = [weakref.ref(getattr(pipe, name)) for name in modules]  # every model, not the DiT alone
    try:
        yield place(pipe, memory), memory
    finally:
        if memory == "offload":
            pipe.remove_all_hooks()  # the offload hooks (pipe._all_hooks) refer to every model
        drop_empty_hook_registries(pipe)
        for name in modules:
            setattr(pipe, name, None)
        del pipe
        free_memory_of(models)


def drop_empty_hook_registries(pipe: Any) -> None:
    """Remove the hook registries that hold no hook from the pipeline's models. The pipeline's call makes one on its
    DiT for its cache contexts (`module._diffusers_hook`, which refers back to the module): a reference cycle, so
    the models would wait for the garbage collector. A registry with hooks (an offload's, a LoRA's) is left."""
    import torch

    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            for module in component.modules():
                registry = getattr(module, "_diffusers_hook", None)
                if registry is not None and not getattr(registry, "hooks", True):
                    del module._diffusers_hook
