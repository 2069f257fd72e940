"""describe units: the explainer/simulator protocol scores a known unit perfectly and a wrong description
poorly, records agree with the single-unit path, and the random-description baseline is reported."""

import numpy as np
import pytest
import torch

from mechscope.describe.simulate import (
    Record,
    TokenExplainer,
    TokenSimulator,
    auroc,
    score_description,
    split_records,
)
from mechscope.describe.unit import UnitSite, unit_activations
from mechscope.describe.unit_scores import DirectionUnit, record_units, score_units
from mechscope.models import load

torch.set_num_threads(1)


def _cat_unit(n=120):
    """A unit that fires 3.0 on ' cat' and 0 elsewhere, on texts of which a third mention a cat."""
    rng = np.random.default_rng(0)
    fillers = [" the", " a", " dog", " sat", " ran", " on", " mat", " big"]
    records = []
    for i in range(n):
        toks = ["The"] + [str(rng.choice(fillers)) for _ in range(6)]
        if i % 3 == 0:
            toks[int(rng.integers(1, 7))] = " cat"
        acts = np.array([3.0 if t == " cat" else 0.0 for t in toks])
        records.append(Record("".join(toks), tuple(toks), acts))
    return records


def test_protocol_scores_the_true_description_perfectly_and_a_wrong_one_poorly():
    split = split_records(_cat_unit(), seed=0)
    description = TokenExplainer().explain(split.top, split.others)
    assert description == "fires on the tokens 'cat'"
    good = score_description(description, split, TokenSimulator())
    bad = score_description("fires on the tokens 'dog'", split, TokenSimulator())
    assert good["correlation"] == pytest.approx(1.0) and good["detection"] == 1.0 and good["fuzzing"] == 1.0
    assert bad["correlation"] < 0.1 and bad["detection"] < 0.7 and bad["fuzzing"] <= 0.6  # chance level
    assert auroc([1.0], [1.0]) == 0.5


@pytest.fixture(scope="module")
def tiny():
    return load("random:llama-tiny")


def test_records_agree_with_the_single_unit_path(tiny):
    texts = ["a cat sat on the mat", "the dog ran", "hello world again and again"]
    mlp, resid = UnitSite("mlp", 1, 7), UnitSite("resid", 0, 3)
    e3 = torch.zeros(tiny.adapter.d_model)
    e3[3] = 1.0
    direction = DirectionUnit(0, e3, "e3")
    rec = record_units(tiny, [mlp, resid, direction], texts, batch_size=2)
    for site in (mlp, resid):
        assert np.allclose([r.max for r in rec[str(site)]], unit_activations(tiny, site, texts), atol=1e-5)
    for a, b in zip(rec[str(direction)], rec[str(resid)]):  # a basis direction is that dimension
        assert np.allclose(a.acts, b.acts, atol=1e-5) and a.tokens == b.tokens
    assert "".join(rec[str(mlp)][0].tokens).strip() == texts[0]


def test_score_units_reports_explained_and_random_distributions(tiny):
    texts = [f"note {i}: the {w} is here" for i, w in enumerate(["cat", "dog", "sea", "sun"] * 15)]
    res = score_units(tiny, ["mlp.0:1", "mlp.1:2", "resid.1:5"], texts=texts, seed=1)
    assert [r["unit"] for r in res["units"]] == ["mlp.0:1", "mlp.1:2", "resid.1:5"]
    for kind in ("mlp", "resid", "all"):
        for metric in ("correlation", "detection", "fuzzing"):
            assert set(res["summary"][kind][metric]) == {"explained", "random"}
    assert res["summary"]["all"]["correlation"]["explained"]["n"] == 3
    assert all(-1.0 <= r["scores"]["correlation"] <= 1.0 for r in res["units"])
