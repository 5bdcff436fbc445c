"""RVC v2's synthesizer and a user's voice file: the trainer's layout loads (weights_only), 40 and 48 kHz configs give
10 ms frames, weight norm folds as torch computes it, the relative attention is what VITS defines, and anything but
a plain RVC v2 voice is refused with the fix. Tiny random weights (tests/rvc_tiny.py)."""

from __future__ import annotations


import pytest
import torch

from rvc_tiny import REAL_40K, REAL_48K, tiny, trainer_weights, untrained, write_voice
from songforge.errors import EngineError
from songforge.voice.rvc.layers import RelativeAttention
from songforge.voice.rvc.model import SynthConfig, SynthesizerTrnMs768NSFsid
from songforge.voice.rvc.voice import fold_weight_norm, load_voice, read_voice

# Names RVC's own modules give (infer_pack/models.py, attentions.py, modules.py): the layout a real voice has
UPSTREAM_NAMES = ("enc_p.emb_phone.weight", "enc_p.emb_pitch.weight", "enc_p.encoder.attn_layers.0.emb_rel_k",
                  "enc_p.encoder.attn_layers.1.conv_o.bias", "enc_p.encoder.norm_layers_1.0.gamma",
                  "enc_p.encoder.ffn_layers.1.conv_2.weight", "enc_p.proj.weight",
                  "flow.flows.0.enc.in_layers.2.weight_g", "flow.flows.6.enc.res_skip_layers.2.weight_v",
                  "flow.flows.2.enc.cond_layer.weight_g", "flow.flows.4.post.bias", "dec.conv_pre.weight",
                  "dec.ups.3.weight_v", "dec.resblocks.11.convs2.2.weight_g", "dec.noise_convs.3.weight",
                  "dec.m_source.l_linear.weight", "dec.cond.weight", "dec.conv_post.weight", "emb_g.weight")


@pytest.mark.parametrize("config", [REAL_40K, REAL_48K], ids=["40k", "48k"])
def test_a_trainer_written_voice_loads_and_sings_100_frames_a_second(tmp_path, config):
    path = write_voice(tmp_path / "voice.pth", tiny(config))
    written = torch.load(path, weights_only=True)
    assert set(UPSTREAM_NAMES) <= set(written["weight"]) and not any("enc_q" in k for k in written["weight"])
    assert all(t.dtype == torch.float16 for t in written["weight"].values())
    voice = load_voice(path)
    assert voice.sample_rate == config[-1] and voice.hop == config[-1] // 100 and voice.speakers == 4
    frames = 37
    f0 = torch.full((1, frames), 220.0)
    audio = voice.model.infer(torch.randn(1, frames, 768), torch.full((1, frames), 60), f0,
                              generator=torch.Generator().manual_seed(1))
    again = voice.model.infer(torch.randn(1, frames, 768), torch.full((1, frames), 60), f0,
                              generator=torch.Generator().manual_seed(1))
    assert audio.shape == (1, frames * voice.hop) and torch.isfinite(audio).all() and audio.abs().max() <= 1
    assert not torch.equal(audio, again)  # other features, other audio: the content path is live


def test_the_same_call_gives_the_same_audio(tmp_path):
    voice = load_voice(write_voice(tmp_path / "voice.pth", tiny(REAL_40K)))
    phone, pitch, f0 = torch.randn(1, 20, 768), torch.full((1, 20), 80), torch.full((1, 20), 330.0)
    runs = [voice.model.infer(phone, pitch, f0, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(*runs)


def test_real_configs_build_the_published_model_sizes():
    """RVC's inference model (no enc_q) of the 40 kHz config: its published fp32 ONNX export is 110,674,999 bytes
    (the 'sample voice' of a model catalogue pinning f0G40k.pth); ours holds the same parameters to 0.6 %."""
    with torch.device("meta"):
        model = SynthesizerTrnMs768NSFsid(SynthConfig.from_list(REAL_40K))
    assert sum(p.numel() for p in model.parameters()) * 4 == pytest.approx(110_674_999, rel=0.006)
    assert SynthConfig.from_list([*REAL_48K[:-1], "48k"]).sample_rate == 48000


def test_weight_norm_folds_as_torch_computes_it():
    model = untrained(tiny(REAL_40K))
    weights = trainer_weights(model)  # wraps the layers in torch's weight_norm, as the trainer's are
    folded = fold_weight_norm({k: v.float() for k, v in weights.items()})
    assert torch.allclose(folded["dec.ups.0.weight"], model.dec.ups[0].weight.float(), atol=1e-3)
    assert torch.allclose(folded["flow.flows.0.enc.in_layers.1.weight"],
                          model.flow.flows[0].enc.in_layers[1].weight.float(), atol=1e-3)
    newer = {k.replace(".weight_g", ".parametrizations.weight.original0")
             .replace(".weight_v", ".parametrizations.weight.original1"): v for k, v in weights.items()}
    assert fold_weight_norm(newer).keys() == fold_weight_norm(weights).keys()


def test_relative_attention_is_vitss_definition():
    """score(i, j) = q_i.k_j / sqrt(d) + q_i.E_k[j - i] / sqrt(d) and out_i += sum_j p(i, j) E_v[j - i], |j - i| <= w,
    written out frame by frame."""
    torch.manual_seed(0)
    attention, t, w = RelativeAttention(8, 2, window=3), 9, 3
    x = torch.randn(1, 8, t)
    q, k, v = (conv(x).view(2, 4, t).transpose(1, 2) for conv in (attention.conv_q, attention.conv_k, attention.conv_v))
    expected = torch.zeros(2, t, 4)
    for h in range(2):
        scores = torch.stack([torch.stack([(q[h, i] @ k[h, j] + (q[h, i] @ attention.emb_rel_k[0, j - i + w]
                                                                  if abs(j - i) <= w else 0)) / 2
                                           for j in range(t)]) for i in range(t)])
        p = scores.softmax(-1)
        for i in range(t):
            expected[h, i] = p[i] @ v[h] + sum(p[i, j] * attention.emb_rel_v[0, j - i + w]
                                               for j in range(t) if abs(j - i) <= w)
    reference = attention.conv_o(expected.transpose(1, 2).reshape(1, 8, t))
    assert torch.allclose(attention(x), reference, atol=1e-5)


class Payload:
    def __reduce__(self):
        return (print, ("this would have run",))


@pytest.mark.parametrize("content, refused", [
    ({"weight": {}, "config": [], "version": "v2", "f0": 1, "hook": Payload()}, "Python objects"),
    ({"model": {"a": torch.zeros(1)}}, "not an RVC voice"),
    ({"weight": {}, "config": REAL_40K, "version": "v1", "f0": 1}, "RVC v1 voice"),
    ({"weight": {}, "config": REAL_40K, "version": "v2", "f0": 0}, "without pitch guidance"),
], ids=["pickle", "training-checkpoint", "v1", "no-f0"])
def test_anything_but_a_plain_v2_voice_is_refused_with_the_fix(tmp_path, content, refused, capsys):
    path = tmp_path / "voice.pth"
    torch.save(content, path)
    with pytest.raises(EngineError, match=refused) as error:
        read_voice(path)
    assert "Fix:" in str(error.value) and "voice.pth" in str(error.value)
    assert "this would have run" not in capsys.readouterr().out


def test_a_voice_of_another_shape_is_refused_naming_the_tensor(tmp_path):
    path = write_voice(tmp_path / "voice.pth", tiny(REAL_40K))
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["config"][3] = 24  # hidden channels the weights do not have
    torch.save(checkpoint, path)
    with pytest.raises(EngineError, match="does not fit RVC v2's synthesizer.*enc_p"):
        load_voice(path)
