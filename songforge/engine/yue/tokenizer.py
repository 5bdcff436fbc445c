"""YuE's text tokenizer: SentencePiece plus the mm wrapper's special strings; knows nothing of audio codes."""

from __future__ import annotations

from pathlib import Path

from ...errors import EngineError

# Special strings in the order the official wrapper registers them (mmtokenizer.py#L244-319); the order
# breaks ties when two strings start at the same index. Ids marked "appended" are not SentencePiece pieces.
SPECIAL_STRINGS = (
    "<CLS>", "<SEP>", "<EOD>", "<MASK>", "<SOA>", "<EOA>", "<SOV>", "<EOV>", "<SOI>", "<EOI>",
    "<s_local>", "<e_local>", "<s_global>", "<e_global>", "<stage_1>", "<stage_2>", "<PAD>", "<s>", "</s>",
)
_APPENDED = ("<CLS>", "<SEP>", "<MASK>", "<PAD>")  # get ids len(sp), len(sp)+1, ... in this order

SOA, EOA = 32001, 32002
STAGE_1, STAGE_2 = 32013, 32017
XCODEC = 32016  # the `<xcodec>` separator that follows every <SOA>


class MMTokenizer:
    """`tokenize(text) -> ids` exactly as YuE's `_MMSentencePieceTokenizer.tokenize`.

    The text is scanned for the special strings, earliest occurrence first; each plain chunk between
    them is encoded by SentencePiece on its own (so each non-empty chunk gets the dummy prefix '▁').
    No BOS or EOS is ever added. `[start_of_segment]` and friends are plain text, not specials.
    """

    def __init__(self, model_path: str | Path):
        import sentencepiece

        path = Path(model_path)
        if not path.is_file():
            raise EngineError(f"YuE tokenizer file {path} is missing. Fix: pull the stage-1 model of that folder "
                              f"(`songforge models pull {path.parent.name}`): every stage-1 model carries its "
                              "tokenizer.model.")
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.special_ids = self._special_ids()

    def _special_ids(self) -> dict[str, int]:
        ids, extra = {}, self.sp.get_piece_size()
        for text in SPECIAL_STRINGS:
            if text in _APPENDED:
                ids[text], extra = extra, extra + 1
            else:
                ids[text] = self.sp.piece_to_id(text)
                assert self.sp.id_to_piece(ids[text]) == text, f"{text} is not a piece of this tokenizer"
        return ids

    @property
    def vocab_size(self) -> int:
        """SentencePiece pieces plus the appended specials (83738 for mm_tokenizer_v0.2, not the model's 83968)."""
        return self.sp.get_piece_size() + len(_APPENDED)

    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = []
        start = 0
        while True:
            found = [(text.find(s, start), order, s) for order, s in enumerate(SPECIAL_STRINGS)]
            found = [f for f in found if f[0] >= 0]
            if not found:
                break
            index, _, special = min(found)
            ids += self.sp.encode_as_ids(text[start:index])
            ids.append(self.special_ids[special])
            start = index + len(special)
        return ids + self.sp.encode_as_ids(text[start:])

    def detokenize(self, ids: list[int]) -> str:
        """Text for text ids (specials rendered as their strings, space-separated as the wrapper does)."""
        by_id = {v: k for k, v in self.special_ids.items()}
        text, last = "", 0
        for i, token in enumerate(ids):
            if token in by_id:
                text += self.sp.decode_ids(ids[last:i]) + " " + by_id[token] + " "
                last = i + 1
        return text + self.sp.decode_ids(ids[last:])
