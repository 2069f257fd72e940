"""The small word-level vocabulary of the ground-truth models.

Every token is a word: task markers (``first``, ``prev``, ``induct``, ``major``)
and sixteen symbols ``a`` ... ``p``. A prompt is a marker and symbols separated
by spaces, so one word is one token and an answer is written ``" c"`` as for
any other tokenizer. The tokenizer is a `transformers` fast tokenizer, saved
next to each model, so ``mechscope.load("hf:<dir>")`` loads the pair.

>>> tok = word_tokenizer()
>>> tok("first c a b")["input_ids"] == [tok.convert_tokens_to_ids(w) for w in "first c a b".split()]
True
"""

from __future__ import annotations

SPECIAL = ("<pad>", "<unk>")
MARKERS = ("first", "prev", "induct", "major")
SYMBOLS = tuple("abcdefghijklmnop")
WORDS = SPECIAL + MARKERS + SYMBOLS


def word_tokenizer():
    """A `PreTrainedTokenizerFast` over `WORDS`, splitting on whitespace."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>")
