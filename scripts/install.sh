#!/usr/bin/env bash
# Install songforge into ./.venv from the project's own files. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
# torch first, then everything else under a constraint that keeps it, so nothing
# re-resolves torch to a multi-gigabyte CUDA build.
pip install -q "torch==2.13.0"
pip install -q -c requirements/constraints.txt -e ".[dev]"
# audio-separator (stem separation) declares torchvision, whose only builds for this torch are CUDA ones and
# whose presence breaks transformers, and onnx-weekly: installed without its declared dependencies; what it
# needs at run time is in pyproject.toml. (Its MDX-Net ONNX models need onnx2torch, hence torchvision: not here.)
pip install -q --no-deps "audio-separator==0.47.1"
# tinysoundfont renders SoundFonts with no system library; it declares pyaudio
# (portaudio headers) only for live playback, which songforge never uses.
pip install -q --no-deps "tinysoundfont==0.3.7"
# The muq package (MuQ / MuQ-MuLan reference code), for the parity tests of songforge/judge/muq.py only (the
# library has its own loader): its x-clip dependency declares torchvision (never here; the tests import x-clip's
# tokenizer module alone), so both go in without their declared dependencies.
pip install -q --no-deps "muq==0.1.0" "x-clip==0.14.4" "easydict==1.14" "ftfy==6.3.1"
# audiobox_aesthetics: songforge.judge.aesthetics builds its model class (AesMultiOutput: torch, huggingface_hub);
# its inference code, used by the parity tests only, needs torchaudio (pure-Python mode here, below), tqdm, rich.
# It declares torchaudio and submitit (its CLI's cluster launcher): installed without its declared dependencies.
pip install -q --no-deps "audiobox_aesthetics==0.0.4"
# torchcrepe imports torchaudio, whose only release for this torch is a CUDA build.
# Without its compiled libs torchaudio runs in pure-Python mode, which is all
# torchcrepe needs. A CUDA machine keeps its working torchaudio.
if ! .venv/bin/python -c "import torchaudio" 2>/dev/null; then
    rm -f .venv/lib/python*/site-packages/torchaudio/lib/*.so
fi
.venv/bin/python -c "import torchcrepe, tinysoundfont, prefect, mlflow, audio_separator.separator" >/dev/null
.venv/bin/python -c "import audiobox_aesthetics.model.aes, audiobox_aesthetics.infer" >/dev/null
.venv/bin/python -c "from transformers import LlamaForCausalLM" >/dev/null  # no torchvision crept in
# Debian packages: chromium lets tests open the review page headless (playwright drives it; no browser
# download); festival and its voices (below); ffmpeg, without which audio-separator will not start; a CJK font lets song titles in Chinese,
# Japanese or Korean show in the plots (else: boxes).
# Without apt (or root) the review-page tests skip and say why, and such titles show as boxes.
wanted=()
command -v chromium >/dev/null 2>&1 || wanted+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || wanted+=(ffmpeg)  # audio-separator refuses to start without it
command -v espeak-ng >/dev/null 2>&1 || wanted+=(espeak-ng)  # phonemizer's backend (lyric intelligibility: PER)
fc-list 2>/dev/null | grep -qiE "wqy|noto sans cjk" || wanted+=(fonts-wqy-zenhei)
# festival sings the sketch engine's guide vocal with its words (English: kal; Italian: lp and pc); without it the
# guide vocal is the GM synth voice, without words.
command -v festival >/dev/null 2>&1 || wanted+=(festival)
voices=/usr/share/festival/voices
[ -d $voices/english/kal_diphone ] || wanted+=(festvox-kallpc16k)
[ -d $voices/italian/lp_diphone ] || wanted+=(festvox-italp16k)
[ -d $voices/italian/pc_diphone ] || wanted+=(festvox-itapc16k)
if [ ${#wanted[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null; } \
            || echo "warning: could not install ${wanted[*]}" >&2
    else
        echo "warning: ${wanted[*]} missing and apt-get unavailable (or not root)" >&2
    fi
fi
echo "songforge installed in .venv"
