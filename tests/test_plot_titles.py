"""A song title in Chinese, Japanese or Korean shows in the plots (a CJK font backs DejaVu Sans up), not as boxes."""

import warnings

import numpy as np
import pytest

from songforge.report.plots import title_fonts, waveform_spectrogram_png


def test_a_cjk_title_renders_without_missing_glyphs(tmp_path):
    if len(title_fonts()) == 1:
        pytest.skip("no CJK font installed (scripts/install.sh installs fonts-wqy-zenhei where apt is available)")
    audio = np.random.default_rng(0).uniform(-0.3, 0.3, (44100, 2)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        waveform_spectrogram_png(audio, 44100, tmp_path / "w.png", "夏天的风 · ラーメン · 사랑해")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing
    assert (tmp_path / "w.png").stat().st_size > 10_000
