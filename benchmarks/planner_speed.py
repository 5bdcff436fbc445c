"""The ACE-Step planner's code phase: tokens per second against its memory-bandwidth floor, and against
transformers' `generate` on the same weights, both measured in this run (a script, not a test).

    .venv/bin/python benchmarks/planner_speed.py                  # CPU: reduced shapes, the real vocabulary
    .venv/bin/python benchmarks/planner_speed.py --device cuda    # GPU: the 1.7B LM's shapes in bf16

Random weights (no download): speed, never music. Both decoders sample the code phase as ACE-Step does (CFG 2.0
against an empty metadata block, temperature 0.85, top-p 0.9, audio-code tokens only, exactly --codes tokens);
the baseline is `generate` with guidance_scale + negative_prompt_ids (transformers' unbatched CFG: a second
forward per token over its own cache) and a logits processor holding the code mask. The floor: the weight bytes
one decode step reads (every weight once; the tied embedding once, as the output head) over the measured copy
bandwidth (bytes read + written per second, benchmarks/yue_speed.py), so 100 % is a step that reads the weights
once at that bandwidth: half the time a copy of them takes (a copy moves every byte twice). The 1.7B shape:
Qwen3-1.7B's (2048 wide, 28 layers, 16/8 heads of 128, MLP 6144, tied head) with a vocabulary of 217204
(Qwen3's plus 64000 audio codes, inferred from the 3.71 GB bf16 model.safetensors).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch
from transformers import LogitsProcessorList, Qwen3Config, Qwen3ForCausalLM
from yue_speed import bandwidth_gbps, timed

# The baseline's code mask is the tests' CodesOnly (tests/ace_step_planner_tiny.py): the one transformers-side
# reference our decoder is checked against there, so the benchmark times the very baseline the tests compare with.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ace_step_planner_tiny import CodesOnly  # noqa: E402

from songforge.engine.ace_step.planner.generate import Sampling, code_phase
from songforge.engine.ace_step.planner.model import Planner, Vocab

VOCAB, CODES = 217204, 64000
SHAPES = {"1.7B": dict(hidden_size=2048, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                       head_dim=128, intermediate_size=6144),
          "reduced": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                          head_dim=64, intermediate_size=768)}


def build(shape: str, device: torch.device, dtype: torch.dtype) -> Planner:
    config = Qwen3Config(vocab_size=VOCAB, max_position_embeddings=8192, tie_word_embeddings=True,
                         attn_implementation="sdpa", **SHAPES[shape])
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3ForCausalLM(config).to(dtype).eval()
    vocab = Vocab(torch.arange(VOCAB - CODES, VOCAB), eos_id=0, think_end_id=None, size=VOCAB)
    return Planner(model, None, vocab)


def weight_bytes(model: torch.nn.Module) -> int:
    """Every weight read once per decode step (a tied embedding counted once: it is read as the head)."""
    unique = {p.data_ptr(): p for p in model.parameters()}
    return sum(p.numel() * p.element_size() for p in unique.values())


def baseline(planner: Planner, cond: list[int], uncond: list[int], codes: int, seed: int) -> list[int]:
    torch.manual_seed(seed)
    device = planner.device
    out = planner.model.generate(torch.tensor([cond], device=device), max_new_tokens=codes, min_new_tokens=codes,
                                 do_sample=True, temperature=0.85, top_p=0.9, top_k=0, guidance_scale=2.0,
                                 negative_prompt_ids=torch.tensor([uncond], device=device), eos_token_id=0,
                                 pad_token_id=0,
                                 logits_processor=LogitsProcessorList([CodesOnly(planner.vocab.code_mask(device))]))
    return out[0, len(cond):].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the project box is shared)")
    parser.add_argument("--prompt", type=int, default=600, help="prompt tokens (caption, lyrics, metadata block)")
    parser.add_argument("--codes", type=int, help="codes to write (default 40 CPU, 750 GPU: 150 s of song)")
    parser.add_argument("--takes", type=int, default=4, help="seeds batched together in the takes row")
    parser.add_argument("--compile", action="store_true", help="compile our decode step (CUDA graphs; GPU only)")
    opts = parser.parse_args()
    device = torch.device(opts.device)
    gpu = device.type == "cuda"
    torch.set_num_threads(opts.threads)
    codes = opts.codes or (750 if gpu else 40)
    dtype = torch.bfloat16 if gpu else torch.float32
    shape = "1.7B" if gpu else "reduced"
    name = torch.cuda.get_device_name(device) if gpu else f"{platform.processor() or platform.machine()} CPU"
    bandwidth = bandwidth_gbps(device)
    planner = build(shape, device, dtype)
    gb = weight_bytes(planner.model) / 1e9
    print(f"device: {name}, {opts.threads} thread(s), torch {torch.__version__}, {dtype}")
    print(f"shape: {shape} {SHAPES[shape]}, vocabulary {VOCAB}; weights {gb:.2f} GB")
    print(f"measured copy bandwidth: {bandwidth:.1f} GB/s (read + write); floor {gb / bandwidth * 1e3:.2f} ms/token")
    rng = torch.Generator().manual_seed(1)
    cond = torch.randint(1, VOCAB - CODES, (opts.prompt,), generator=rng).tolist()
    uncond = cond[: opts.prompt // 2] + cond[-20:]  # a shorter unconditional prompt, as the empty block makes
    s = Sampling(0.85, 0.9, 0, 2.0)

    def ours(seeds: list[int], n: int = codes) -> torch.Tensor:
        generators = [torch.Generator(device).manual_seed(seed) for seed in seeds]
        return code_phase(planner, cond, uncond, n, s, generators, compile=opts.compile)

    # Warm-up: our decoder with the timed runs' shapes (the same rows and cache bucket, so --compile's graphs are
    # captured here and replayed when timed), the baseline briefly.
    ours([7]), ours(list(range(opts.takes))), baseline(planner, cond, uncond, 4, 7)
    _, t_base, m_base = timed(device, lambda: baseline(planner, cond, uncond, codes, 7))
    _, t_ours, m_ours = timed(device, lambda: ours([7]))
    _, t_takes, m_takes = timed(device, lambda: ours(list(range(opts.takes))))
    ceiling = bandwidth / gb  # tokens/s of a step that reads the weights once at copy speed
    rows = [("code phase tokens/s (CFG 2, sampled)", codes / t_base, codes / t_ours, "tok/s"),
            ("  share of the bandwidth floor's tokens/s", 100 * codes / t_base / ceiling,
             100 * codes / t_ours / ceiling, "%"),
            ("  s per 30 s of song (150 codes)", 150 / codes * t_base, 150 / codes * t_ours, "s"),
            ("  peak memory beyond weights", m_base / 2**20, m_ours / 2**20, "MiB"),
            (f"{opts.takes} takes batched: tokens/s (baseline: 1 take)", codes / t_ours,
             opts.takes * codes / t_takes, "tok/s"),
            (f"{opts.takes} takes batched: peak memory (baseline: 1 take)", m_ours / 2**20, m_takes / 2**20, "MiB")]
    print(f"\n| {'measurement':46} | {'baseline':>10} | {'songforge':>10} | {'gain':>6} | unit |")
    print(f"|{'-' * 48}|{'-' * 12}|{'-' * 12}|{'-' * 8}|-------|")
    for what, base, mine, unit in rows:
        ratio = base / mine if unit in ("s", "MiB") else mine / base
        print(f"| {what:46} | {base:10.2f} | {mine:10.2f} | {ratio:5.1f}x | {unit:5} |")
    head = planner.model.lm_head.weight
    code_gb = gb - (VOCAB - CODES) * head.shape[1] * head.element_size() / 1e9
    print(f"\nbandwidth floor: {ceiling:.1f} tokens/s ({gb:.2f} GB of weights per token at {bandwidth:.1f} GB/s); "
          f"our code-phase step scores only the head's {CODES} code rows: {code_gb:.2f} GB a token, its own floor "
          f"{bandwidth / code_gb:.1f} tokens/s ({100 * codes / t_ours / (bandwidth / code_gb):.1f} % reached)")


if __name__ == "__main__":
    main()
