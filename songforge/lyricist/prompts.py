"""The lyricist's instructions, written in the language the song is asked in (a model answers in the language it
is addressed in). Section tags, field names and JSON keys stay as YuE and the schema spell them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from . import fit
from .fit import MAX_LINE_SYLLABLES, MAX_SECTIONS, SECTION_LINES, Problem

Message = dict[str, str]


@dataclass(frozen=True)
class Prompt:
    system: str  # who the model is and every rule, with {sections} {low} {high} {syllables} filled in
    song: str  # the ask: {brief}, and the song's fixed {fixed} fields (bpm, length) when it has them
    repair: str  # what precedes the list of broken rules


_FORMAT = ("title, lyrics, genre, mood, instrument, voice, bpm, key. lyrics: [intro] [verse] [prechorus] [chorus] "
           "[bridge] [outro]")
PROMPTS = {
    "en": Prompt(
        "You are a songwriter. Write singable song lyrics in English. Rules: at most {sections} sections, each a tag "
        "on its own line; every sung section has {low} to {high} lines; every line has at most {syllables} sung "
        "syllables; the chorus comes at least twice with exactly the same lines. Answer as JSON with the fields "
        + _FORMAT + ". Tags (genre, mood, instrument, voice) are short English words such as folk, melancholic, "
        "acoustic guitar, female.",
        "Write a song: {brief}{fixed}", "The song breaks these rules. Rewrite the whole song so that none is broken:"),
    "it": Prompt(
        "Sei un paroliere. Scrivi testi di canzoni cantabili in italiano. Regole: al massimo {sections} sezioni, "
        "ognuna con il suo tag su una riga a sé; ogni sezione cantata ha da {low} a {high} versi; ogni verso ha al "
        "massimo {syllables} sillabe cantate, contando ogni parola da sola, senza sinalefe (\"canta ancora\" ha cinque "
        "sillabe); il ritornello ([chorus]) torna almeno due volte con gli stessi versi. "
        "Rispondi in JSON con i campi " + _FORMAT + ". I tag (genre, mood, instrument, voice) sono brevi parole "
        "inglesi come folk, melancholic, acoustic guitar, female.",
        "Scrivi una canzone: {brief}{fixed}",
        "La canzone infrange queste regole. Riscrivi tutta la canzone in modo che nessuna sia infranta:"),
    "zh": Prompt(
        "你是一位作词人。请用中文写可以演唱的歌词。规则：最多 {sections} 个段落，每段的标签单独一行；每个演唱段落有 "
        "{low} 到 {high} 行；每行最多 {syllables} 个字；副歌（[chorus]）至少出现两次，歌词完全相同。请用 JSON 回答，字段为 "
        + _FORMAT + "。标签（genre、mood、instrument、voice）用简短的英文词，例如 folk、melancholic、acoustic guitar、female。",
        "请写一首歌：{brief}{fixed}", "这首歌违反了以下规则。请重写整首歌，使其不违反任何一条："),
    "ja": Prompt(
        "あなたは作詞家です。日本語で歌える歌詞を書いてください。規則：セクションは最大 {sections} 個、各セクションのタグは"
        "一行に単独で書く。歌うセクションは {low} 行から {high} 行。各行は最大 {syllables} 音（モーラ）。サビ（[chorus]）は"
        "同じ歌詞で少なくとも二回繰り返す。次のフィールドを持つ JSON で答えてください：" + _FORMAT + "。タグ（genre、mood、"
        "instrument、voice）は folk、melancholic、acoustic guitar、female のような短い英単語です。",
        "歌を書いてください：{brief}{fixed}", "この歌は次の規則に違反しています。どの規則にも違反しないよう、歌全体を書き直してください："),
    "ko": Prompt(
        "당신은 작사가입니다. 한국어로 부를 수 있는 가사를 쓰세요. 규칙: 섹션은 최대 {sections}개, 각 섹션의 태그는 한 줄에 "
        "따로 씁니다. 노래하는 섹션은 {low}줄에서 {high}줄입니다. 각 줄은 최대 {syllables}음절입니다. 후렴([chorus])은 같은 "
        "가사로 적어도 두 번 나옵니다. 다음 필드를 가진 JSON으로 답하세요: " + _FORMAT + ". 태그(genre, mood, instrument, "
        "voice)는 folk, melancholic, acoustic guitar, female 같은 짧은 영어 단어입니다.",
        "노래를 써 주세요: {brief}{fixed}", "이 노래는 다음 규칙을 어깁니다. 어떤 규칙도 어기지 않도록 노래 전체를 다시 쓰세요:"),
}


# Bump on any edit of what a draft depends on beyond the text and numbers hashed below: the fit rules' code
# (fit.py), the reply reader (draft.py) or the repair loop (repair.py). It is in the lyricist steps' version, so a
# cached draft made under other rules is drafted again.
RULES_VERSION = "1"


def _prompt_digest() -> str:
    """The prompts' text and the fit rules' numbers: any edit of either changes the lyricist steps' version."""
    rules = {name: getattr(fit, name) for name in ("MAX_SECTIONS", "MAX_LINE_BARS", "MAX_LINE_SYLLABLES",
                                                   "SECTION_LINES", "FILL_SHARE", "MIN_DURATION_S")}
    text = json.dumps([{k: asdict(p) for k, p in PROMPTS.items()}, _FORMAT, rules], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


PROMPT_VERSION = f"{RULES_VERSION}-{_prompt_digest()}"


def opening(language: str, brief: str, fixed: str = "") -> list[Message]:
    """The first messages of a draft: the rules, then the brief (`fixed`: e.g. ' (bpm 96, 120 s)')."""
    prompt = PROMPTS[language]
    low, high = SECTION_LINES
    system = prompt.system.format(sections=MAX_SECTIONS, low=low, high=high, syllables=MAX_LINE_SYLLABLES)
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt.song.format(brief=brief,
                                                                                                  fixed=fixed)}]


def repair(language: str, reply: str, problems: list[Problem]) -> list[Message]:
    """The model's reply, and the list of rules it broke, each with where: the next round's extra messages."""
    listed = "\n".join(f"- {problem}" for problem in problems)
    return [{"role": "assistant", "content": reply},
            {"role": "user", "content": f"{PROMPTS[language].repair}\n{listed}"}]
