"""Separation through audio-separator's own loader on a tiny random BS-Roformer (no UVR weights can be downloaded
here), on real audio: the sketch engine's stems mixed. Nothing may touch the network (the `no_network` guard)."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from separation_fixtures import TINY, no_network, sketch_mix, tiny_models  # noqa: F401 (fixtures)

from songforge.audio.io import resample
from songforge.errors import AudioError, EngineError
from songforge.separation.chunks import chunk_spans
from songforge.separation.models import MODEL_LIST, checkpoint
from songforge.separation.separator import loaded, pick, separate
from songforge.separation.tiny import CHECKPOINT, CONFIG, DIM_T, HOP

WINDOW = HOP * (DIM_T - 1)  # the tiny model's own window (samples): how far a chunk's edge reaches


def direct(models, path, out) -> dict[str, np.ndarray]:
    """audio-separator called directly: its Separator on the file, full-scale threshold, float WAVs out."""
    from audio_separator.separator import Separator

    separator = Separator(log_level=logging.WARNING, model_file_dir=str(models / TINY), output_dir=str(out),
                          normalization_threshold=1.0, use_soundfile=True)
    separator.load_model(CHECKPOINT)
    found = {}
    for name in separator.separate(str(path)):
        found[name.split("_(")[1].split(")_")[0].lower()] = sf.read(out / name, dtype="float32")[0]
    return found


def test_a_file_shorter_than_one_chunk_equals_audio_separator_called_directly(tiny_models, no_network, tmp_path):
    path, mix, rate = sketch_mix(tmp_path, duration_s=20)
    with loaded(TINY) as model:
        ours = separate(model, mix, rate, chunk_s=300)
    theirs = direct(tiny_models, path, tmp_path / "direct")
    assert set(ours) == set(theirs) == {"vocals", "instrumental"}
    for stem in ours:
        assert ours[stem].shape == mix.shape
        assert np.array_equal(ours[stem], theirs[stem]), stem  # bit for bit


def away_from(spans: list[tuple[int, int]], length: int) -> np.ndarray:
    """True for samples farther than one model window from every chunk edge but the audio's own ends."""
    away = np.ones(length, bool)
    for edge in {edge for span in spans for edge in span} - {0, length}:
        away[max(0, edge - WINDOW):edge + WINDOW] = False
    return away


def test_the_chunked_path_matches_one_pass_away_from_the_seams(tiny_models, no_network, tmp_path):
    """Chunks of 20 s sharing 4 s: equal to one pass (within 1e-5) farther than one model window from any chunk
    edge, and as long as the input to the sample. The control: chunks that start off the model's window grid
    differ everywhere after the first seam."""
    _, mix, rate = sketch_mix(tmp_path, duration_s=45)
    said = []
    with loaded(TINY) as model:
        whole = separate(model, mix, rate, chunk_s=300)
        chunked = separate(model, mix, rate, chunk_s=20, overlap_s=4, progress=lambda f, what: said.append(what))
        assert model.align == WINDOW // 2  # chunks start on the model's own window grid
        spans = chunk_spans(len(mix), 20 * rate, 4 * rate, model.align)
        off_grid = replace(model, align=1000)
        control = separate(off_grid, mix, rate, chunk_s=20, overlap_s=4)["vocals"]
        control_spans = chunk_spans(len(mix), 20 * rate, 4 * rate, off_grid.align)
    assert len(spans) == 3 and said[-2] == "separating chunk 3 of 3"
    away = away_from(spans, len(mix))
    assert away.mean() > 0.8
    for stem in whole:
        assert chunked[stem].shape == whole[stem].shape == mix.shape
        assert np.abs(chunked[stem] - whole[stem])[away].max() < 1e-5, stem
    assert np.abs(control - whole["vocals"])[away_from(control_spans, len(mix))].max() > 1e-3


def test_a_mix_above_full_scale_keeps_its_level_in_every_chunk(tiny_models, no_network, tmp_path):
    """A 1.4-peak mix: audio-separator would scale each chunk to full scale; here the stems still sum to the mix
    (the tiny model's instrumental is the mix minus its vocals), chunked or not."""
    _, mix, rate = sketch_mix(tmp_path, duration_s=30, peak=1.4)
    with loaded(TINY) as model:
        for chunk_s in (300, 12):
            stems = separate(model, mix, rate, chunk_s=chunk_s, overlap_s=2)
            np.testing.assert_allclose(stems["vocals"] + stems["instrumental"], mix, atol=2e-5)


def test_other_rates_and_mono_come_back_at_their_rate_and_length(tiny_models, no_network, tmp_path):
    _, mix, rate = sketch_mix(tmp_path, duration_s=12)
    mono = resample(mix, rate, 48000)[:, 0]
    with loaded(TINY) as model:
        stems = separate(model, mono, 48000)
        with pytest.raises(AudioError, match="the audio to separate: .*at least one sample"):
            separate(model, mono[:0], 48000)
    assert {stem: audio.shape for stem, audio in stems.items()} == {"vocals": (len(mono), 2),
                                                                     "instrumental": (len(mono), 2)}


def test_a_folder_without_its_model_list_or_config_says_what_to_copy(tiny_models, no_network):
    (tiny_models / TINY / CONFIG).unlink()
    with pytest.raises(EngineError, match=f"lacks {CONFIG}"):
        checkpoint(TINY)
    (tiny_models / TINY / MODEL_LIST).unlink()
    with pytest.raises(EngineError, match=f"{MODEL_LIST} is missing .*download it at every load.*Fix: put"):
        checkpoint(TINY)
    with pytest.raises(EngineError, match="songforge models pull bs-roformer-viperx-1297.*copy that folder"):
        checkpoint("bs-roformer-viperx-1297")


def test_an_onnx_model_says_why_it_cannot_load_here(tiny_models, no_network):
    """MDX-Net models load through onnx2torch, which imports torchvision (never installed here)."""
    import json

    folder = tiny_models / "mdx"
    folder.mkdir()
    for name in ("net.onnx", "mdx_model_data.json", "vr_model_data.json"):
        (folder / name).write_text("{}")
    lists = json.loads((tiny_models / TINY / MODEL_LIST).read_text())
    (folder / MODEL_LIST).write_text(json.dumps({**lists, "roformer_download_list": {},
                                                 "mdx_download_list": {"MDX own": "net.onnx"}}))
    assert checkpoint("mdx")[1:] == ("net.onnx", "MDX")
    with pytest.raises(EngineError, match="MDX model.*torchvision.*Fix: choose a Roformer"):
        with loaded("mdx"):
            pass


def test_pick_sums_a_multi_stem_models_instrumental_and_names_what_it_makes():
    ones = np.ones((4, 2), np.float32)
    stems = {"vocals": ones, "drums": 2 * ones, "bass": 3 * ones, "other": 4 * ones}
    assert np.all(pick(stems, ["instrumental"], "htdemucs")["instrumental"] == 9)
    with pytest.raises(EngineError, match="makes no noise, noise, not vocals"):
        pick({"noise": ones, "no noise": ones}, ["vocals"], "denoise")


def test_the_tiny_model_is_a_real_checkpoint_of_the_roformer_layout(tiny_models):
    """What audio-separator's own loader reports for it: its new Roformer implementation, not a fallback."""
    with loaded(TINY) as model:
        instance = model.separator.model_instance
        assert instance.is_roformer and instance.roformer_model_type == "bs_roformer"
        assert instance.get_roformer_loading_stats()["new_implementation_success"] == 1
