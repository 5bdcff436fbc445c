"""The most energetic voiced stretch of a recording, on constructed audio whose answer is known."""

import numpy as np

from songforge.audio.windows import energetic_vocal_window

RATE = 8000


def noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(int(seconds * RATE))


def test_the_loudest_stretch_with_a_voice_wins_over_a_louder_one_without():
    # 0-40 s quiet and sung, 40-80 s loud and sung, 80-120 s loudest but instrumental only
    mix = np.concatenate([noise(40, 0.1), noise(40, 0.3, 1), noise(40, 0.9, 2)])
    vocals = np.concatenate([noise(80, 0.1, 3), np.zeros(40 * RATE)])
    start, end = energetic_vocal_window(mix, vocals, RATE, seconds=30)
    assert end - start == 30
    assert 40 <= start and end <= 83  # the loud sung part (a window may be at most a tenth, 3 s, unsung)
    assert energetic_vocal_window(mix, np.zeros_like(mix), RATE, 30)[1] == 30  # no voice: the first stretch


def test_a_recording_shorter_than_the_window_is_used_whole():
    assert energetic_vocal_window(noise(12, 0.2), noise(12, 0.1), RATE, seconds=30) == (0.0, 12.0)
