"""AxBench's three axes offline: the logistic calibration, the judges' scores, and the harmonic mean."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mechscope.models import load
from mechscope.steer import load_concept
from mechscope.steer.axes import calibrate, fit_logistic, harmonic, per_text_ppl, score_axes
from mechscope.steer.evaluate import _nll, score_texts


def _bag(vocab):
    """A deterministic embedding for tests: unit bag-of-words over a small vocabulary (plus a constant)."""
    def embed(texts):
        rows = []
        for t in texts:
            w = t.lower().split()
            v = np.array([sum(x.startswith(k) for x in w) for k in vocab] + [0.3], float)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows)
    return embed


def test_fit_logistic_equals_sklearn_unregularised():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 50), rng.normal(1.5, 1, 50)])
    y = np.r_[np.zeros(50), np.ones(50)]
    a, b = fit_logistic(x, y, l2=0.0)
    ref = LogisticRegression(C=1e9, tol=1e-10, max_iter=1000).fit(x[:, None], y)
    assert a == pytest.approx(ref.coef_[0, 0], rel=1e-4) and b == pytest.approx(ref.intercept_[0], rel=1e-4)


def test_harmonic_mean():
    assert harmonic([0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert harmonic([1.0, 0.25, 0.5]) == pytest.approx(3 / (1 + 4 + 2))
    assert harmonic([0.9, 0.0, 0.9]) == 0.0


def test_judges_score_concept_relevance_and_fluency():
    model = load("random:llama-tiny")
    c = load_concept("ocean")
    embed = _bag(["sea", "wave", "ocean", "beach", "think", "best", "yesterday", "morning", "train"])
    prompts = ["I think that", "The best thing about", "Yesterday I", "This morning the train"]
    unsteered = ["I think it is fine", "the best part is the food", "yesterday I slept", "the train was late"]
    judges = calibrate(model, embed, "the sea, waves and the ocean beach", c.target, c.source, prompts, unsteered,
                       c.lexicon)
    assert judges.concept_accuracy > 0.8
    ocean = ["the sea and the waves", "waves on the beach", "the ocean sea", "sea sea waves"]
    a = score_axes(model, judges, prompts, ocean, judge=None)
    b = score_axes(model, judges, prompts, unsteered)
    assert a["concept"] > b["concept"] and a["lexicon"] == 1.0 and b["lexicon"] == 0.0
    assert b["instruction"] > a["instruction"]  # unsteered continuations share words with their prompts
    # fluency is min(1, ref / ppl) * distinct-2 per text, with ppl the text's perplexity after its prompt
    ppl = per_text_ppl(model, prompts, ocean)
    for i, t in enumerate(ocean):
        s = score_texts(model, [t], [prompts[i]], keep_logp=False)
        assert ppl[i] == pytest.approx(float(np.exp(_nll(s))), rel=1e-5)
    repeated = score_axes(model, judges, prompts, ["sea sea sea sea sea sea"] * 4)
    assert repeated["fluency"] <= 0.2 + 1e-9  # distinct-2 of a repeated word is 1/5
    h = a["per_text"]
    assert a["harmonic"] == pytest.approx(np.mean([harmonic([x, y, z]) for x, y, z in
                                                   zip(h["concept"], h["instruction"], h["fluency"])]))
    ext = score_axes(model, judges, prompts, ocean, judge=lambda p, t: {"concept": 1.0, "instruction": 0.5,
                                                                          "fluency": 0.5})
    assert ext["harmonic"] == pytest.approx(0.6)
