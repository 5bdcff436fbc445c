"""The lyricist in process with transformers: a causal LM from a pulled catalogue name, a local folder, or a hub id
already in the Hugging Face cache (at `revision` when given), its own chat template, on the GPU where one is
visible. Nothing downloads here: `songforge models pull` fetches weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalogue import CATALOGUE, model_folder
from ..errors import EngineError
from ..models import folder_identity
from .endpoint import Reply
from ..lyricist_params import LyricistParams
from .prompts import Message


@dataclass
class LocalChat:
    """Chat with `params.model` (a folder, or a catalogue name under the models folder) through its chat template."""

    params: LyricistParams
    requests: int = 0
    _loaded: tuple[Any, Any, str] | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return model_folder(self.params.model)

    def __call__(self, messages: list[Message], schema: dict | None = None) -> Reply:
        """The model's answer to `messages` (schema: not enforced in process; the reply is parsed and checked)."""
        import torch

        tokenizer, model, device = self._load()
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True).to(device)
        sample = self.params.temperature > 0
        settings = {"do_sample": sample, "max_new_tokens": self.params.max_tokens,
                    "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id}
        if sample:
            settings |= {"temperature": self.params.temperature, "top_p": self.params.top_p}
        # generate() takes no torch.Generator: the seed is set inside fork_rng, limited to the CPU's and this
        # device's RNG, which it restores after (other steps' sampling in this process is left as it was)
        cuda = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
        with torch.random.fork_rng(devices=cuda), torch.inference_mode():
            torch.manual_seed(self.params.seed)  # sampling is reproducible per seed on one host and device
            out = model.generate(**inputs, **settings)
        self.requests += 1
        text = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return Reply(text, self.params.model)

    def provenance(self) -> dict:
        """The model's name and its pinned revision: the catalogue's commit, else the folder's own identity."""
        entry = CATALOGUE.get(self.params.model)
        revision = self.params.revision or (entry.revision if entry else None)
        if self.folder.is_dir():
            identity = folder_identity(self.folder, self.params.model, f"songforge models pull {self.params.model}")
        else:  # a hub id in the Hugging Face cache: the snapshot's folder is named by its commit
            identity, snapshot = "hub-cache", self._cached_config()
            revision = Path(snapshot).parent.name if snapshot else revision
        return {"backend": "transformers", "model": self.params.model, "revision": revision, "weights": identity}

    def _load(self) -> tuple[Any, Any, str]:
        if self._loaded is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from ..device_memory import default_device

            source = self._source()
            where = {} if isinstance(source, Path) else {"revision": self.params.revision, "local_files_only": True}
            device = default_device()
            tokenizer = AutoTokenizer.from_pretrained(source, **where)
            if not getattr(tokenizer, "chat_template", None):  # a base model: it would only continue the prompt
                raise EngineError(f"lyricist model '{self.params.model}' has no chat template (a base model, not a "
                                  "chat one). Fix: use its instruct or chat version, or add a chat_template to its "
                                  "tokenizer_config.json")
            model = AutoModelForCausalLM.from_pretrained(source, **where).to(device).eval()
            self._loaded = (tokenizer, model, device)
        return self._loaded

    def _cached_config(self) -> str | None:
        """The path of the model's config.json in the Hugging Face cache (.../snapshots/<commit>/), if there."""
        name = self.params.model
        if "/" not in name or name in CATALOGUE or name.startswith((".", "/", "~")):
            return None
        from huggingface_hub import try_to_load_from_cache

        try:
            found = try_to_load_from_cache(name, "config.json", revision=self.params.revision)
        except ValueError:  # not a hub id at all (HFValidationError): a folder that is not there, said at load
            return None
        return found if isinstance(found, str) else None

    def _source(self) -> Path | str:
        """The folder, or a hub id found in the Hugging Face cache; EngineError saying how to get it otherwise."""
        if self.folder.is_dir():
            return self.folder
        name = self.params.model
        if self._cached_config():
            return name
        raise EngineError(f"lyricist model '{name}' is not at {self.folder} nor in the Hugging Face cache. Fix: run "
                          f"`songforge models pull {name}` for a catalogue model, or give a local folder as model")
