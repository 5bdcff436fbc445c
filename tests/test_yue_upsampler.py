"""The YuE Vocos upsampler on tiny random-weight decoders in the official layout, and the §6.5 low-band fusion."""

import dataclasses

import numpy as np
import pytest
import torch
import yaml

from songforge.engine.yue import lowband as L
from songforge.engine.yue import upsampler as U
from songforge.errors import AudioError, EngineError

TINY = U.VocosConfig(input_channels=16, dim=8, intermediate_dim=12, num_layers=2, n_fft=16, hop_length=4)


def random_decoder(seed: int, config: U.VocosConfig = TINY) -> U.VocosDecoder:
    """Every parameter random (gamma and LayerNorm affine included), so a misnamed one changes the output."""
    torch.manual_seed(seed)
    decoder = U.VocosDecoder(config)
    with torch.no_grad():
        for name, tensor in decoder.named_parameters():
            tensor.copy_(torch.randn_like(tensor) * (0.3 if name.endswith("weight") else 0.1))
    return decoder.eval()


def official_yaml(config: U.VocosConfig) -> dict:
    """decoders/config.yaml as xcodec_mini_infer ships it, with these sizes."""
    return {"backbone": {"class_path": "vocos.models.VocosBackbone",
                         "init_args": {"input_channels": config.input_channels, "dim": config.dim,
                                       "intermediate_dim": config.intermediate_dim, "num_layers": config.num_layers}},
            "head": {"class_path": "vocos.heads.ISTFTHead",
                     "init_args": {"dim": config.dim, "n_fft": config.n_fft, "hop_length": config.hop_length,
                                   "padding": "same"}}}


def write_official(root, vocal, instrumental, config=TINY, vocal_state=None):
    """The xcodec_mini_infer decoders/ folder: config.yaml and two flat state dicts (torch.save of state_dict())."""
    (root / "decoders").mkdir(parents=True)
    (root / U.CONFIG).write_text(yaml.safe_dump(official_yaml(config)))
    torch.save(vocal_state if vocal_state is not None else vocal.state_dict(), root / U.VOCAL_WEIGHTS)
    torch.save(instrumental.state_dict(), root / U.INSTRUMENTAL_WEIGHTS)
    return root


def test_real_config_matches_the_official_yaml_and_checkpoint_names():
    assert U.VocosConfig.from_official(official_yaml(U.VocosConfig())) == U.VocosConfig()
    with torch.device("meta"):
        names = set(U.VocosDecoder().state_dict())
    assert {"backbone.embed.weight", "backbone.norm.bias", "backbone.convnext.7.dwconv.weight",
            "backbone.convnext.7.gamma", "backbone.convnext.0.pwconv2.bias", "backbone.final_layer_norm.weight",
            "head.out.weight", "head.istft.window"} <= names
    assert len(names) == 4 + 8 * 9 + 2 + 2 + 1


def test_loaded_decoders_equal_the_in_memory_models(tmp_path):
    vocal, instrumental = random_decoder(0), random_decoder(1)
    upsampler = U.load_upsampler(write_official(tmp_path, vocal, instrumental), device="cpu")
    embeddings = torch.randn(1, TINY.input_channels, 13)
    with torch.no_grad():
        expected_vocal = vocal(embeddings)[0].numpy()
        expected_instrumental = instrumental(embeddings)[0].numpy()
    out_vocal = U.upsample(upsampler.vocal, embeddings)
    out_instrumental = U.upsample(upsampler.instrumental, embeddings)
    assert out_vocal.dtype == np.float32 and out_vocal.shape == (13 * TINY.hop_length,)
    np.testing.assert_allclose(out_vocal, expected_vocal, atol=1e-6)
    np.testing.assert_allclose(out_instrumental, expected_instrumental, atol=1e-6)
    assert np.abs(out_vocal - out_instrumental).max() > 1e-3  # 131000 is vocal, 151000 instrumental
    assert upsampler.vocal.head.out.weight.dtype == torch.float32 and not upsampler.vocal.training


def test_state_dict_without_the_window_buffer_still_loads(tmp_path):
    vocal = random_decoder(0)
    state = {k: v for k, v in vocal.state_dict().items() if k != "head.istft.window"}
    upsampler = U.load_upsampler(write_official(tmp_path, vocal, random_decoder(1), vocal_state=state), device="cpu")
    embeddings = torch.randn(1, TINY.input_channels, 5)
    with torch.no_grad():
        np.testing.assert_allclose(U.upsample(upsampler.vocal, embeddings), vocal(embeddings)[0].numpy(), atol=1e-6)


def test_output_is_not_clipped(tmp_path):
    decoder = random_decoder(2)
    with torch.no_grad():
        decoder.head.out.bias[: TINY.n_fft // 2 + 1] = 4.0  # magnitudes e^4 per bin: far beyond full scale
    audio = U.upsample(decoder, torch.randn(1, TINY.input_channels, 6))
    assert np.abs(audio).max() > 1.5


def test_real_size_decoder_gives_882_samples_per_frame():
    decoder = U.VocosDecoder().eval()
    audio = U.upsample(decoder, torch.randn(1, 1024, 3))
    assert audio.shape == (3 * 882,) and np.isfinite(audio).all()


def test_istft_inverts_a_same_padded_stft():
    """frames centred on each hop (pad (n_fft - hop) / 2 both sides), analysed by torch.stft, come back exactly."""
    n_fft, hop, frames = 3528, 882, 20
    istft = U.ISTFT(n_fft, hop)
    t = np.arange(frames * hop) / U.SAMPLE_RATE
    noise = np.random.default_rng(0).standard_normal(t.size)
    signal = torch.from_numpy(0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * noise).float()[None]
    pad = (n_fft - hop) // 2
    spec = torch.stft(torch.nn.functional.pad(signal, (pad, pad)), n_fft, hop, window=torch.hann_window(n_fft),
                      center=False, return_complex=True)
    assert spec.shape == (1, n_fft // 2 + 1, frames)
    restored = istft(spec)
    assert restored.shape == signal.shape
    assert (restored - signal).abs().max() < 1e-5


def test_head_splits_magnitude_then_phase():
    """A head whose Linear is the identity turns (log|S|, angle S) of a real STFT back into the signal."""
    head = U.ISTFTHead(TINY.n_fft + 2, TINY.n_fft, TINY.hop_length)
    with torch.no_grad():
        head.out.weight.copy_(torch.eye(TINY.n_fft + 2))
        head.out.bias.zero_()
    signal = torch.randn(1, 10 * TINY.hop_length) * 0.5
    pad = (TINY.n_fft - TINY.hop_length) // 2
    spec = torch.stft(torch.nn.functional.pad(signal, (pad, pad)), TINY.n_fft, TINY.hop_length,
                      window=torch.hann_window(TINY.n_fft), center=False, return_complex=True)
    features = torch.cat([spec.abs().log(), spec.angle()], dim=1).transpose(1, 2)  # (1, T, n_fft + 2)
    with torch.no_grad():
        assert (head(features) - signal).abs().max() < 1e-5


def test_wrong_key_is_rejected_by_name(tmp_path):
    vocal = random_decoder(0)
    state = vocal.state_dict()
    state["backbone.convnext.0.scale"] = state.pop("backbone.convnext.0.gamma")
    write_official(tmp_path, vocal, random_decoder(1), vocal_state=state)
    with pytest.raises(EngineError, match=r"decoder_131000\.pth.*missing keys \['backbone\.convnext\.0\.gamma'\], "
                                          r"unexpected keys \['backbone\.convnext\.0\.scale'\]"):
        U.load_upsampler(tmp_path, device="cpu")


def test_weights_of_another_size_are_rejected(tmp_path):
    write_official(tmp_path, random_decoder(0), random_decoder(1, dataclasses.replace(TINY, dim=6)))
    with pytest.raises(EngineError, match=r"decoder_151000\.pth does not fit the sizes in decoders/config\.yaml: "
                                          r"backbone\.embed\.weight \(6, 16, 7\) \(config: \(8, 16, 7\)\)"):
        U.load_upsampler(tmp_path, device="cpu")


@pytest.mark.parametrize("missing", [U.CONFIG, U.VOCAL_WEIGHTS, U.INSTRUMENTAL_WEIGHTS])
def test_missing_file_names_the_fetch_command(tmp_path, missing):
    write_official(tmp_path, random_decoder(0), random_decoder(1))
    (tmp_path / missing).unlink()
    with pytest.raises(EngineError, match=rf"{missing.replace('.', '[.]')} is missing.*songforge models pull xcodec"):
        U.load_upsampler(tmp_path, device="cpu")


def test_config_of_another_head_is_rejected(tmp_path):
    config = official_yaml(TINY)
    config["head"]["init_args"]["padding"] = "center"
    (tmp_path / "decoders").mkdir()
    (tmp_path / U.CONFIG).write_text(yaml.safe_dump(config))
    with pytest.raises(EngineError, match="padding 'same'"):
        U.load_upsampler(tmp_path, device="cpu")


def test_upsample_rejects_a_wrong_shape():
    with pytest.raises(EngineError, match=r"\(1, 16, T\).*codec\.embed"):
        U.upsample(random_decoder(0), torch.randn(1, 8, 5))


def tone(freq, seconds, rate, amplitude, phase=0.0):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate + phase)).astype(np.float32)


def amplitude_and_phase(audio, freq, rate):
    """Least-squares fit of one sinusoid over the steady middle half (away from filter and resampler edges)."""
    n = len(audio)
    t = np.arange(n // 4, 3 * n // 4) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    (s, c), *_ = np.linalg.lstsq(basis, audio[n // 4: 3 * n // 4], rcond=None)
    return float(np.hypot(s, c)), float(np.arctan2(c, s))


def test_fusion_keeps_the_low_tone_from_low_rms_matched_and_the_high_tone_from_high():
    low = tone(440, 2.0, 16000, 0.3)  # the codec mix: the right low band, phase 0
    high = tone(440, 1.9, 44100, 0.1, phase=np.pi / 2) + tone(15000, 1.9, 44100, 0.4)  # the vocoder mix
    fused = L.fuse_low_band(low, 16000, high, 44100)
    assert fused.dtype == np.float32 and fused.shape == (len(high),)  # min(88200 resampled, 83790)
    low_amplitude, low_phase = amplitude_and_phase(fused, 440, 44100)
    # The low band takes high's low-band RMS: its 440 Hz tone (0.1) plus the lowpass's leak of 15 kHz
    # (RBJ Q 0.707 at 5.5 kHz passes |H| ~ 0.052 there): amplitude sqrt(0.1^2 + (0.4 * 0.052)^2) ~ 0.102.
    assert low_amplitude == pytest.approx(0.102, rel=0.02)
    # low's phase (0), not high's (pi/2), delayed by the lowpass: the bilinear Butterworth lag at 440 Hz; the
    # highpass lets through only ~omega^2 = 0.6 % of high's own 440 Hz tone.
    omega = np.tan(np.pi * 440 / 44100) / np.tan(np.pi * 5500 / 44100)
    assert low_phase == pytest.approx(-np.arctan2(np.sqrt(2) * omega, 1 - omega**2), abs=0.01)
    high_amplitude, _ = amplitude_and_phase(fused, 15000, 44100)
    assert high_amplitude == pytest.approx(0.4, rel=0.01)


def test_fusion_truncates_to_the_shorter_input():
    fused = L.fuse_low_band(tone(440, 0.5, 16000, 0.3), 16000, tone(440, 1.0, 44100, 0.3), 44100)
    assert fused.shape == (22050,)


def test_biquads_pass_minus_3_db_at_the_cutoff():
    """RBJ lowpass and highpass with Q = 0.707 both give |H| = Q at the cutoff; lowpass ~1 at 440 Hz."""
    def amplitude(filtered, freq):
        return amplitude_and_phase(filtered, freq, 44100)[0]

    at_cutoff, at_440 = tone(5500, 1.0, 44100, 0.5), tone(440, 1.0, 44100, 0.5)
    assert amplitude(L.lowpass_biquad(at_cutoff, 44100, 5500), 5500) == pytest.approx(0.5 * 0.707, rel=1e-3)
    assert amplitude(L.highpass_biquad(at_cutoff, 44100, 5500), 5500) == pytest.approx(0.5 * 0.707, rel=1e-3)
    assert amplitude(L.lowpass_biquad(at_440, 44100, 5500), 440) == pytest.approx(0.5, rel=1e-3)


def test_biquad_clamps_like_torchaudio_lfilter():
    square = np.sign(tone(200, 0.2, 44100, 1.0)) * 0.99  # a lowpassed square overshoots full scale
    out = L.lowpass_biquad(square, 44100, 5500)
    assert out.max() == 1.0 and out.min() == -1.0


def test_sinc_resample_length_and_passband():
    out = L.sinc_resample(tone(1000, 1.0, 16000, 0.5), 16000, 44100)
    assert out.shape == (44100,)
    assert amplitude_and_phase(out, 1000, 44100) == pytest.approx((0.5, 0.0), abs=2e-3)


def test_fusion_rejects_bad_input():
    with pytest.raises(AudioError, match="low audio"):
        L.fuse_low_band(np.array([np.nan, 0.0]), 16000, tone(440, 0.1, 44100, 0.1), 44100)
    with pytest.raises(AudioError, match="channel counts differ"):
        L.fuse_low_band(np.zeros((100, 2)), 16000, np.zeros(300), 44100)


class TestAgainstTorchaudio:
    """torchaudio runs here in pure-Python mode (no compiled ops): the reference for the official procedure."""

    @pytest.fixture(autouse=True)
    def torchaudio(self):
        return pytest.importorskip("torchaudio")

    def test_resample_is_bit_exact(self, torchaudio):
        x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.3
        expected = torchaudio.transforms.Resample(16000, 44100)(torch.from_numpy(x)[None])[0].numpy()
        np.testing.assert_array_equal(L.sinc_resample(x, 16000, 44100), expected)

    def test_biquads_match(self, torchaudio):
        x = np.random.default_rng(1).standard_normal(6000).astype(np.float32) * 0.5  # some outputs hit the clamp
        for ours, theirs in [(L.lowpass_biquad, torchaudio.functional.lowpass_biquad),
                             (L.highpass_biquad, torchaudio.functional.highpass_biquad)]:
            expected = theirs(torch.from_numpy(x)[None], 44100, 5500.0)[0].numpy()
            np.testing.assert_allclose(ours(x, 44100, 5500.0), expected, atol=2e-6)

    def test_fusion_matches_the_official_procedure(self, torchaudio):
        """replace_low_freq_with_energy_matched on tensors (files left out): resample, lowpass both, RMS match,
        highpass, sum, truncate."""
        F, T = torchaudio.functional, torchaudio.transforms
        rng = np.random.default_rng(2)
        low = (rng.standard_normal(4000) * 0.4).astype(np.float32)
        high = (rng.standard_normal(11000) * 0.3 + tone(300, 11000 / 44100, 44100, 0.5)).astype(np.float32)
        wave_a = T.Resample(16000, 44100)(torch.from_numpy(low)[None])
        wave_b = torch.from_numpy(high)[None]
        a_low, b_low = F.lowpass_biquad(wave_a, 44100, 5500.0), F.lowpass_biquad(wave_b, 44100, 5500.0)
        scale = (b_low.pow(2).mean().sqrt().item() + 1e-10) / (a_low.pow(2).mean().sqrt().item() + 1e-10)
        b_high = F.highpass_biquad(wave_b, 44100, 5500.0)
        n = min(a_low.shape[1], b_high.shape[1])
        expected = (a_low[:, :n] * scale + b_high[:, :n])[0].numpy()
        np.testing.assert_allclose(L.fuse_low_band(low, 16000, high, 44100), expected, atol=1e-5)
