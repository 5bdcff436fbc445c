"""YuE decoding speed against the official procedure, both measured in this run (a script, not a test).

    .venv/bin/python benchmarks/yue_speed.py                  # CPU: small shapes, real vocabulary
    .venv/bin/python benchmarks/yue_speed.py --device cuda    # GPU: the real 7B / 1B shapes in bf16

Models get random weights (no download): the numbers are speed and agreement, never music. Baselines:
stage 1 is transformers' `generate` with infer.py's arguments and logits processors (unbatched CFG);
stage 2 is infer.py's `stage2_generate`, one `generate` call per frame over the growing sequence, chunks
grouped 4 per call and the tail alone (SPEC §5). The official stage 2 runs only the first
--s2-baseline-frames frames of each chunk and is extrapolated linearly; its per-frame cost grows with the
frame index, so its extrapolated time (and every ratio against it) is an underestimate.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import platform
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessor, LogitsProcessorList

from songforge.engine.yue.generate import generate, generate_takes, stage1_sampling
from songforge.engine.yue.params import SamplingKnobs
from songforge.engine.yue.memory import kv_cache_bytes, release
from songforge.engine.yue.model import CONFIGS, ModelArgs, Transformer
from songforge.engine.yue.quantize import quantize_int8, weight_bytes
from songforge.engine.yue.stage2 import CHUNK_FRAMES, allowed_ranges, plan_chunks, teacher_force_rows
from songforge.engine.yue.tokenizer import EOA, SOA, STAGE_1, STAGE_2, XCODEC
from songforge.engine.yue.tokens import STAGE2_CODEBOOKS, XCODEC_OFFSET
from songforge.engine.yue.weights import convert_state_dict

SMALL = {"s1": ModelArgs(dim=512, n_layers=4, n_heads=8, n_kv_heads=2, intermediate_size=1376, max_seq_len=4096),
         "s2": ModelArgs(dim=256, n_layers=4, n_heads=4, n_kv_heads=4, intermediate_size=688, max_seq_len=4096)}
TOKENS_PER_30S = 3000  # stage 1: 50 Hz x 2 tracks x 30 s (SPEC §10.2)


class BlockTokenRange(LogitsProcessor):
    """infer.py's processor: scores[:, start:end] = -inf."""

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end

    def __call__(self, input_ids, scores):
        scores[:, self.start: self.end] = -float("inf")
        return scores


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bandwidth_gbps(device: torch.device) -> float:
    """Copy bandwidth (bytes read + written per second) of a tensor far larger than any cache, best of 5."""
    src = torch.ones((1 << 29 if device.type == "cuda" else 1 << 26), device=device)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        dst.copy_(src)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * src.element_size() / best / 1e9


def return_freed_memory_to_the_os() -> None:
    """glibc keeps freed blocks below a growing threshold for reuse, so resident-set peaks would miss them:
    a fixed 64 KiB mmap threshold makes every larger block come from, and go back to, the OS."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD
    except OSError:  # not glibc: peaks may then read low
        pass


@contextmanager
def peak_memory(device: torch.device, into: dict):
    """Peak extra memory of the block: CUDA allocator peak, or on CPU the resident set sampled every 2 ms."""
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield
        sync(device)
        into["peak"] = torch.cuda.max_memory_allocated(device) - base
        return
    rss = lambda: int(open("/proc/self/statm").read().split()[1]) * 4096
    base, peak, done = rss(), [0], threading.Event()

    def sample():
        while not done.wait(0.002):
            peak[0] = max(peak[0], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        done.set()
        sampler.join()
        into["peak"] = max(peak[0], rss()) - base


def timed(device: torch.device, fn):
    """(result, seconds, peak extra bytes) of fn()."""
    memory: dict = {}
    with peak_memory(device, memory):
        sync(device)
        start = time.perf_counter()
        result = fn()
        sync(device)
        seconds = time.perf_counter() - start
    return result, seconds, memory["peak"]


def build_pair(args: ModelArgs, device: torch.device, dtype: torch.dtype, seed: int = 0):
    """(transformers LlamaForCausalLM, our Transformer) sharing the same random weights."""
    config = LlamaConfig(vocab_size=args.vocab_size, hidden_size=args.dim, intermediate_size=args.intermediate_size,
                         num_hidden_layers=args.n_layers, num_attention_heads=args.n_heads,
                         num_key_value_heads=args.n_kv_heads, max_position_embeddings=args.max_seq_len,
                         rope_theta=args.rope_theta, rms_norm_eps=args.norm_eps, tie_word_embeddings=False)
    torch.manual_seed(seed)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            hf = LlamaForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(default)
    with torch.device("meta"):
        ours = Transformer(args)
    ours.load_state_dict(convert_state_dict(hf.state_dict(), args.n_layers, dtype), assign=True)
    return hf, ours.eval()


def streamed_bytes(model: torch.nn.Module) -> int:
    """Weight bytes one decode step must read: everything but the embedding table (one row is gathered)."""
    return weight_bytes(model) - model.tok_embeddings.weight.numel() * model.tok_embeddings.weight.element_size()


def first_difference(a: list[int], b: list[int]) -> str:
    diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    return "identical" if diff is None and len(a) == len(b) else f"differ from token {diff}"


# ---------------------------------------------------------------- stage 1

def official_stage1(hf, prompt: torch.Tensor, new: int, seed: int) -> list[int]:
    """infer.py's generate call (CFG 1.5, top-p 0.93, top-k 50, repetition penalty 1.1, blocked ranges)."""
    torch.manual_seed(seed)
    out = hf.generate(prompt[None], max_new_tokens=new, min_new_tokens=new, do_sample=True, top_p=0.93, top_k=50,
                      temperature=1.0, repetition_penalty=1.1, guidance_scale=1.5, eos_token_id=EOA,
                      pad_token_id=EOA,
                      logits_processor=LogitsProcessorList([BlockTokenRange(0, EOA), BlockTokenRange(XCODEC, XCODEC)]))
    return out[0, len(prompt):].tolist()


def stage1(hf, ours, device, opts) -> tuple[list, dict]:
    """Rows of the stage-1 table, and the facts the summary needs."""
    rng = torch.Generator().manual_seed(1)
    prompt = torch.cat([torch.randint(3, 32000, (opts.s1_prompt - 2,), generator=rng), torch.tensor([SOA, XCODEC])])
    prompt = prompt.to(device)
    new, takes = opts.s1_tokens, opts.takes
    s = stage1_sampling("official", SamplingKnobs(max_new_tokens=new, min_new_tokens=new))
    seeds = range(7, 7 + takes)

    def run(n: int, seed: int = 7) -> list[int]:
        ours.setup_caches(max_batch=2, max_seq_len=opts.s1_prompt + new + 8)
        return generate(ours, prompt, replace(s, max_new_tokens=n, min_new_tokens=n),
                        torch.Generator(device=device).manual_seed(seed)).tolist()

    def batch(s) -> list[torch.Tensor]:
        ours.setup_caches(max_batch=2 * takes, max_seq_len=opts.s1_prompt + new + 8)
        generators = [torch.Generator(device=device).manual_seed(x) for x in seeds]
        return generate_takes(ours, [prompt] * takes, s, generators, [0] * takes)

    warm = replace(s, max_new_tokens=4, min_new_tokens=4)
    official_stage1(hf, prompt, 4, 7), run(4), batch(warm)  # warm-up (and, on CUDA, graph capture)
    base, t_base, m_base = timed(device, lambda: official_stage1(hf, prompt, new, 7))
    ours.drop_caches()
    mine, t_ours, m_ours = timed(device, lambda: run(new))
    one_by_one = timed(device, lambda: [run(new, seed) for seed in seeds])[1]
    ours.drop_caches()
    batched, t_batch, m_batch = timed(device, lambda: batch(s))
    gb = streamed_bytes(ours) / 1e9
    rows = [("stage 1 tokens/s (CFG, sampled)", new / t_base, new / t_ours, "tok/s"),
            ("stage 1 achieved GB/s (weights once/token)", gb * new / t_base, gb * new / t_ours, "GB/s"),
            ("stage 1 s per 30 s of audio", TOKENS_PER_30S / new * t_base, TOKENS_PER_30S / new * t_ours, "s"),
            ("stage 1 peak memory beyond weights", m_base / 2**20, m_ours / 2**20, "MiB"),
            (f"stage 1, {takes} seeds: tokens/s (baseline: ours 1 by 1)", takes * new / one_by_one,
             takes * new / t_batch, "tok/s"),
            (f"stage 1, {takes} seeds: peak memory (baseline: 1 take)", m_ours / 2**20, m_batch / 2**20, "MiB")]
    same_takes = all(b.tolist() == run(new, seed) for b, seed in zip(batched, seeds))
    return rows, {"s1 tokens vs official": first_difference(mine, base),
                  "s1 batched takes vs one by one": "identical" if same_takes else "differ"}


# ---------------------------------------------------------------- stage 2

def official_frame(hf, history: torch.Tensor) -> torch.Tensor:
    """One frame of infer.py stage2_generate: `generate` 7 greedy ids after history (B, L) -> (B, L + 7)."""
    blocks = LogitsProcessorList([BlockTokenRange(0, 46358), BlockTokenRange(53526, 83738)])
    return hf.generate(history, min_new_tokens=7, max_new_tokens=7, eos_token_id=EOA, pad_token_id=EOA,
                       attention_mask=torch.ones_like(history), logits_processor=blocks, do_sample=False)


def official_stage2(hf, cb0: np.ndarray, ours: np.ndarray, few: int, samples: int, device):
    """infer.py stage2_generate on one call's rows cb0 (B, T) -> (its ids for the first `few` frames (B, 8 few),
    its estimated seconds for all T frames, its peak memory).

    The first `few` frames run the official loop for real. Its cost per frame grows with the frame index
    (a re-prefill of 303 + 8f tokens), so later frames are timed at `samples` indices spread over the rest,
    each as one `generate` call on the history the loop would have built there (our identical ids), and
    the seconds of every frame are interpolated between the timed ones.
    """
    ids = torch.tensor(cb0 + XCODEC_OFFSET, device=device)
    rows, frames = ids.shape
    prompt = torch.cat([torch.tensor([[SOA, STAGE_1]] * rows, device=device), ids,
                        torch.tensor([[STAGE_2]] * rows, device=device)], 1)
    history, timings, peak = prompt, [], 0
    for f in range(min(few, frames)):
        history, seconds, memory = timed(device, lambda: official_frame(hf, torch.cat([history, ids[:, f:f + 1]], 1)))
        timings.append((f, seconds))
        peak = max(peak, memory)
    later = sorted({int(f) for f in np.linspace(few, frames - 1, samples)} - set(range(few)))
    made = torch.tensor(ours, device=device)
    for f in later:
        start = torch.cat([prompt, made[:, : 8 * f], ids[:, f:f + 1]], 1)
        _, seconds, memory = timed(device, lambda: official_frame(hf, start))
        timings.append((f, seconds))
        peak = max(peak, memory)
    frame_index, seconds = zip(*timings)
    total = float(np.interp(np.arange(frames), frame_index, seconds).sum())
    return history[:, prompt.shape[1]:].cpu().numpy(), total, peak


def stage2(hf, ours, device, opts) -> tuple[list, dict]:
    frames = int(opts.s2_seconds * 50)
    tracks = [np.random.default_rng(k).integers(0, 1024, frames) for k in range(2)]
    calls = [np.stack([track[a:b] for a, b in call]) for track in tracks for call in plan_chunks(frames, 4)]
    chunks = [row for call in calls for row in call]
    few = opts.s2_baseline_frames
    warm = chunks if device.type == "cuda" else [c[:2] for c in chunks]  # CUDA graphs: capture the timed shapes
    teacher_force_rows(ours, warm, "official"), official_frame(hf, torch.tensor([[SOA]], device=device))
    ours.drop_caches()
    mine, t_ours, m_ours = timed(device, lambda: teacher_force_rows(ours, chunks, "official"))
    base, t_base, m_base, row = [], 0.0, 0, 0
    for call in calls:
        ids, seconds, peak = official_stage2(hf, call, np.stack(mine[row: row + len(call)]), few, 4, device)
        base, t_base, m_base, row = base + list(ids), t_base + seconds, max(m_base, peak), row + len(call)
    new_tokens = (STAGE2_CODEBOOKS - 1) * sum(len(c) for c in chunks)
    steps = (STAGE2_CODEBOOKS - 1) * max(len(c) for c in chunks)
    head = ours.output.weight
    drawable_rows = sum(end - start for start, end in allowed_ranges(head.shape[0], "official", 1))
    drawable = drawable_rows * head.shape[1] * head.element_size()
    gb = (streamed_bytes(ours) - head.numel() * head.element_size() + drawable) / 1e9
    same = all(np.array_equal(m[: 8 * few], b[: 8 * few]) for m, b in zip(mine, base))
    rows = [("stage 2 tokens/s (all chunks, greedy)", new_tokens / t_base, new_tokens / t_ours, "tok/s"),
            ("stage 2 achieved GB/s (weights once/step)", gb * steps / t_base, gb * steps / t_ours, "GB/s"),
            ("stage 2 s per 30 s of audio", t_base * 30 / opts.s2_seconds, t_ours * 30 / opts.s2_seconds, "s"),
            ("stage 2 peak memory beyond weights", m_base / 2**20, m_ours / 2**20, "MiB")]
    return rows, {"s2 codes vs official (first frames)": "identical" if same else "differ",
                  "s2 workload": f"2 tracks x {frames} frames = {len(chunks)} chunks ({CHUNK_FRAMES}-frame "
                                 f"chunks + tails); official: {few} frames per call run, 4 more timed, "
                                 "the rest interpolated"}


# ---------------------------------------------------------------- memory modes

def agreement(reference: Transformer, other: Transformer, ids: torch.Tensor) -> str:
    """Relative logit error and top-1 agreement of `other` against `reference`, teacher-forced on ids (1, T)."""
    logits = []
    for model in (reference, other):
        model.setup_caches(max_batch=1, max_seq_len=ids.shape[1])
        with torch.inference_mode():
            logits.append(model(ids, torch.arange(ids.shape[1], device=ids.device)[None]).float())
    ref, got = logits
    error = ((got - ref).norm() / ref.norm()).item()
    top1 = (got.argmax(-1) == ref.argmax(-1)).float().mean().item()
    return f"logit error {error:.2%}, top-1 agreement {top1:.1%} over {ids.shape[1]} positions"


def memory_modes(ours: Transformer, device, opts) -> dict:
    """Quality cost of each memory mode against the unquantised model on the same prompt."""
    ids = torch.randint(3, 32000, (1, 256), generator=torch.Generator().manual_seed(3)).to(device)
    facts = {}
    if device.type == "cpu":  # CPU runs fp32: bf16 is the GPU mode's cost
        facts["bf16 vs fp32"] = agreement(ours, copy.deepcopy(ours).to(torch.bfloat16), ids)
    int8 = quantize_int8(copy.deepcopy(ours))
    facts["int8 (stage 1) vs unquantised"] = agreement(ours, int8, ids)
    s = stage1_sampling("official", SamplingKnobs(max_new_tokens=opts.s1_tokens, min_new_tokens=opts.s1_tokens))
    int8.setup_caches(2, 256 + opts.s1_tokens)
    generate(int8, ids[0], replace(s, max_new_tokens=4, min_new_tokens=4))
    seconds = timed(device, lambda: generate(int8, ids[0], s, torch.Generator(device=device).manual_seed(1)))[1]
    facts["int8 stage 1 tokens/s"] = f"{opts.s1_tokens / seconds:.1f} (weights {weight_bytes(int8) / 1e9:.2f} GB " \
                                     f"vs {weight_bytes(ours) / 1e9:.2f} GB)"
    before = agreement(ours, ours, ids)
    moved = timed(device, lambda: (release(ours), ours.to(device)))[1]
    same = agreement(ours, ours, ids) == before
    facts["offload: release to CPU + reload"] = f"{moved:.2f} s, {'same' if same else 'changed'} logits"
    return facts


def real_shape_memory() -> dict:
    """Weights and caches of the real models in bf16 (GB), the arithmetic behind memory.MODE_FLOORS."""
    gb = lambda n: f"{n / 1e9:.1f} GB"
    s1, s2 = CONFIGS["s1-7b"], CONFIGS["s2-1b"]
    params = lambda a: a.vocab_size * a.dim * 2 + a.n_layers * (a.dim * (a.n_heads + 2 * a.n_kv_heads) * a.head_dim
                                                                + a.dim * a.dim + 3 * a.dim * a.intermediate_size)
    linear_s1 = params(s1) - s1.vocab_size * s1.dim
    return {"s1 bf16 weights": gb(2 * params(s1)), "s1 int8 weights": gb(linear_s1 + 2 * s1.vocab_size * s1.dim),
            "s2 bf16 weights": gb(2 * params(s2)),
            "s1 KV cache, CFG 2 rows x 16384": gb(kv_cache_bytes(s1, 2, 16384, torch.bfloat16)),
            "s2 KV cache per 6-s chunk row": gb(kv_cache_bytes(s2, 1, 303 + 8 * 300, torch.bfloat16))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the project box is shared)")
    parser.add_argument("--s1-prompt", type=int, help="stage-1 prompt tokens (default 300 CPU, 2000 GPU)")
    parser.add_argument("--s1-tokens", type=int, help="stage-1 new tokens (default 48 CPU, 256 GPU)")
    parser.add_argument("--takes", type=int, default=4, help="seeds batched together in the takes row")
    parser.add_argument("--s2-seconds", type=float, help="seconds per track for stage 2 (default 12.4 CPU, 30 GPU)")
    parser.add_argument("--s2-baseline-frames", type=int, help="frames per chunk the official stage 2 runs")
    opts = parser.parse_args()
    device = torch.device(opts.device)
    gpu = device.type == "cuda"
    torch.set_num_threads(opts.threads)
    return_freed_memory_to_the_os()
    opts.s1_prompt = opts.s1_prompt or (2000 if gpu else 300)
    opts.s1_tokens = opts.s1_tokens or (256 if gpu else 48)
    opts.s2_seconds = opts.s2_seconds or (30.0 if gpu else 12.4)
    opts.s2_baseline_frames = opts.s2_baseline_frames or (20 if gpu else 6)
    dtype = torch.bfloat16 if gpu else torch.float32
    shapes = {"s1": CONFIGS["s1-7b"], "s2": CONFIGS["s2-1b"]} if gpu else SMALL
    name = torch.cuda.get_device_name(device) if gpu else f"{platform.processor() or platform.machine()} CPU"
    print(f"device: {name}, {opts.threads} thread(s), torch {torch.__version__}, {dtype}")
    print(f"measured copy bandwidth: {bandwidth_gbps(device):.1f} GB/s (read + write)")
    rows, facts = [], {}
    for stage, measure in (("s1", stage1), ("s2", stage2)):
        hf, ours = build_pair(shapes[stage], device, dtype)
        print(f"{stage}: {shapes[stage]}")
        stage_rows, stage_facts = measure(hf, ours, device, opts)
        rows += stage_rows
        facts |= stage_facts
        del hf
        if stage == "s1":
            facts |= memory_modes(ours, device, opts)
        release(ours)
        del ours
    print(f"\n| {'measurement':52} | {'baseline':>10} | {'songforge':>10} | {'gain':>6} | unit |")
    print(f"|{'-' * 54}|{'-' * 12}|{'-' * 12}|{'-' * 8}|------|")
    for what, base, ours_value, unit in rows:
        lower_is_better = unit in ("s", "MiB")
        ratio = base / ours_value if lower_is_better else ours_value / base
        print(f"| {what:52} | {base:10.2f} | {ours_value:10.2f} | {ratio:5.1f}x | {unit} |")
    print()
    for key, value in (facts | real_shape_memory()).items():
        print(f"- {key}: {value}")


if __name__ == "__main__":
    main()
