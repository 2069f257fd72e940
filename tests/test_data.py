"""mechscope.data: reading prompt sets, embeddings, the map, empty regions, coverage and augmentation.

Fast tests use the hashed-words space or the real MiniLM on the shipped sets; checks that run the real
generator for minutes are marked slow (the figures of docs/data.md).
"""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mechscope.data import augment, map_prompts, read_prompts
from mechscope.data.geometry import coverage, empty_regions
from mechscope.data.generation import Generator
from mechscope.data.geometry import coverage_threshold, nearest
from mechscope.data.projection import MIN_PROMPTS, ctfidf_labels
from mechscope.data.prompts import PromptSet
from mechscope.errors import MechscopeError


def test_reads_txt_jsonl_csv_parquet_and_task_files(tmp_path):
    (tmp_path / "a.txt").write_text("How do I fix a tap?\n\n  \nWhy is rice sticky?\nhow do i fix a tap?\n")
    s = read_prompts(tmp_path / "a.txt")
    assert s.texts == ["How do I fix a tap?", "Why is rice sticky?", "how do i fix a tap?"]
    assert s.n_empty == 2 and s.duplicates == [[0, 2]]
    (tmp_path / "b.jsonl").write_text('{"q": "one two", "tag": 1}\n{"q": "", "tag": 2}\n{"q": "three", "tag": [3]}\n')
    s = read_prompts(tmp_path / "b.jsonl", text_column="q")
    assert s.texts == ["one two", "three"] and s.metadata == {"tag": [1, "[3]"]} and s.n_empty == 1
    (tmp_path / "c.csv").write_text("id,text\n7,alpha beta\n8,\"gamma, delta\"\n")
    s = read_prompts(tmp_path / "c.csv")
    assert s.texts == ["alpha beta", "gamma, delta"] and s.metadata["id"] == ["7", "8"]
    pq.write_table(pa.table({"text": ["x y", None, "z"], "score": [0.5, 0.1, 0.9]}), tmp_path / "d.parquet")
    s = read_prompts(tmp_path / "d.parquet")
    assert s.texts == ["x y", "z"] and s.metadata["score"] == [0.5, 0.9] and s.n_empty == 1
    (tmp_path / "task.jsonl").write_text(json.dumps({"clean": "When Mary met John, John gave it to",
                                                     "corrupt": "When Anna met Jim, Tom gave it to",
                                                     "answers": [" Mary"], "wrong_answers": [" John"]}) + "\n")
    s = read_prompts(tmp_path / "task.jsonl")
    assert s.texts == ["When Mary met John, John gave it to"] and s.task is not None
    assert s.metadata["answers"] == ['[" Mary"]']


@pytest.mark.parametrize("name, content, expected", [
    ("empty.txt", b"", "is empty"),
    ("blank.jsonl", b'{"text": ""}\n{"text": "  "}\n', "every text is empty"),
    ("nocol.csv", b"prompt,id\nhello,1\n", "no text column 'text' (columns: prompt, id); pass --text-column"),
    ("nocol.jsonl", b'{"prompt": "hello"}\n', "no text column 'text' (columns: prompt); pass --text-column"),
    ("latin1.txt", "caf\u00e9 au lait\n".encode("latin-1"), "is not UTF-8 (byte 0xe9 on line 1)"),
    ("bad.jsonl", b'{"text": "a"}\n{oops\n', "line 2 is not JSON"),
])
def test_bad_prompt_files_get_one_line(tmp_path, name, content, expected):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(MechscopeError) as exc:
        read_prompts(tmp_path / name)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_too_small_to_map_names_the_minimum():
    with pytest.raises(MechscopeError, match=f"at least {MIN_PROMPTS}"):
        map_prompts(PromptSet.from_texts([f"prompt number {i}" for i in range(MIN_PROMPTS - 1)]), embed="words")


def test_nearest_leaves_out_self_and_exact_copies():
    x = np.array([[1.0, 0, 0], [1.0, 0, 0], [0.6, 0.8, 0], [0, 0.6, 0.8]], dtype=np.float32)
    d, i = nearest(x, x, 1, exclude_self=True)
    assert i[[0, 1, 3], 0].tolist() == [2, 2, 2] and i[2, 0] in (0, 1)  # rows 0 and 1 are copies: never each other
    assert round(float(d[0, 0]), 4) == round(float(np.sqrt(2 - 2 * 0.6)), 4)


def test_coverage_threshold_is_the_quantile_of_nearest_neighbour_distances():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(50, 8)) + 3 * np.eye(8)[0]).astype(np.float32)  # a cap around e0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    nn = nearest(x, x, 1, exclude_self=True)[0][:, 0]
    assert coverage_threshold(x, 0.75) == pytest.approx(float(np.quantile(nn, 0.75)), abs=1e-6)
    ref = np.concatenate([x[:5], -x[:5]])  # copies are covered (distance 0); antipodes are not
    cov = coverage(x, ref)
    assert cov.uncovered == [5, 6, 7, 8, 9] and cov.coverage == 0.5


def test_empty_regions_find_a_planted_hole():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cap = np.array([1.0, 0, 0, 0, 0])
    x = x[x @ cap < 0.8]  # nothing within a cap around +e0 (cosine 0.8: distance 0.63)
    regions = empty_regions(x.astype(np.float32), n_regions=3, seed=0)
    best = regions[0]
    assert best.radius >= 0.5 and float(np.asarray(best.center) @ cap) > 0.85
    assert [r.radius for r in regions] == sorted((r.radius for r in regions), reverse=True)
    centre = np.asarray(best.center)
    assert np.sqrt(np.clip(2 - 2 * x @ centre, 0, None)).min() == pytest.approx(best.radius, abs=1e-4)


def test_ctfidf_labels_pick_each_clusters_distinctive_word():
    texts = ["boil the rice", "rice in a pot", "git merge", "git rebase branch", "hello there"]
    clusters = ctfidf_labels(texts, np.array([0, 0, 1, 1, -1]), top=1)
    assert [(c.id, c.size, c.label) for c in clusters] == [(0, 2, "rice"), (1, 2, "git"), (-1, 1, "unclustered")]


def test_map_of_shipped_set_flags_the_left_out_topic():
    """The figure of issue 10: everyday.jsonl leaves out pets; its reference has 20 pet prompts."""
    m = map_prompts("everyday.jsonl", reference="everyday_reference.jsonl", n_regions=3)
    topics = m.reference.metadata["topic"]
    unc = set(m.to_dict()["uncovered"])
    pets = [i for i, t in enumerate(topics) if t == "pets"]
    others = [i for i, t in enumerate(topics) if t != "pets"]
    assert sum(i in unc for i in pets) / len(pets) >= 0.8
    assert sum(i in unc for i in others) / len(others) <= 0.2
    doc = m.to_dict(points=True)
    assert doc["n"] == 168 and doc["embed"]["dim"] == 384 and len(doc["empty_regions"]) == 3
    assert sum(c["size"] for c in doc["clusters"]) == 168
    assert {"id", "text", "x", "y", "cluster", "topic"} <= set(doc["points"][0])
    assert len(doc["reference_points"]) == 104


def test_map_writes_parquet_that_reads_back_with_its_embeddings(tmp_path):
    m = map_prompts("everyday.jsonl", embed="words", n_regions=2)
    paths = m.write(tmp_path / "out")
    table = pq.read_table(paths["map"])
    assert table.num_rows == 168 and table.schema.field("embedding").type.list_size == 4096
    summary = json.loads((tmp_path / "out" / "map.json").read_text())
    assert summary["n"] == 168 and summary["files"]["map"] == paths["map"]
    again = read_prompts(paths["map"])
    assert again.embed_space["spec"] == "words" and np.allclose(again.embeddings, m.embeddings, atol=1e-6)
    assert again.metadata["topic"][0] == "cooking"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left


def test_reference_in_another_embedding_space_is_refused(tmp_path):
    ref_map = map_prompts("everyday_reference.jsonl", embed="words", n_regions=1).write(tmp_path / "ref")["map"]
    with pytest.raises(MechscopeError, match="holds embeddings in space 'words' \\(4096-d\\), this map uses "
                                             "'model:random:llama-tiny@1' \\(64-d\\)"):
        map_prompts("everyday.jsonl", reference=ref_map, embed="model:random:llama-tiny@1")


def test_model_embedding_is_the_mean_pooled_residual_stream():
    from mechscope.data.embed import get_embedder

    e = get_embedder("model:random:llama-tiny@1")
    a = e.embed(["How do I boil an egg?", "How do I boil an egg?", "Why is the sky blue?"])
    assert a.shape == (3, 64) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert float(a[0] @ a[1]) == pytest.approx(1.0, abs=1e-5) and float(a[0] @ a[2]) < 0.99
    with pytest.raises(MechscopeError, match="layer 5 is out of range"):
        get_embedder("model:random:llama-tiny@5")


def test_score_runs_the_model_on_every_prompt_and_summarises_per_cluster(tmp_path):
    from mechscope.models import load
    from mechscope.tasks import load_task, save_task

    model = load("random:llama-tiny")
    texts = [f"Tell me about item {i} and its colour" for i in range(12)]
    m = map_prompts(PromptSet.from_texts(texts), embed="words", n_regions=1, score="lexicon", lexicon=["zz*"],
                    model=model)
    doc = m.to_dict(points=True)
    assert doc["score"]["scorer"] == "lexicon" and len(m.behaviour.answers) == 12
    assert doc["score"]["mean"] == pytest.approx(np.mean([p["score"] for p in doc["points"]]))
    assert all("answer" in p for p in doc["points"])
    path = save_task(load_task("ioi", n=12), tmp_path / "ioi.jsonl")
    m = map_prompts(path, embed="words", n_regions=1, score="task", model=model)
    assert m.behaviour.scores.shape == (12,) and m.behaviour.answers == []


class ScriptedGenerator(Generator):
    """Returns given lines in turn: checks the filters of `augment` without sampling a model."""

    def __init__(self, model, lines):
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "lines", list(lines))

    def sample(self, prompts, seed, **kwargs):  # noqa: ARG002
        out, rest = self.lines[:len(prompts)], self.lines[len(prompts):]
        object.__setattr__(self, "lines", rest)
        return out + [""] * (len(prompts) - len(out))


def test_augment_rejects_duplicates_and_near_copies_and_records_provenance(tmp_path):
    from mechscope.models import load

    s = read_prompts("everyday.jsonl")
    i, j = 0, 24  # an egg question and a bread question (the lines are scripted, the aim is region 0)
    lines = [s.texts[i].upper(),                       # an exact duplicate (case aside) of row i
             s.texts[j] + " Thanks",                   # a near-copy of row j in the words space
             "x",                                      # too short: empty
             "How long should I boil an egg while the dough is rising for bread?",
             "How long should I boil an egg while the dough is rising for bread?"]  # a duplicate of the last
    gen = ScriptedGenerator(load("random:llama-tiny"), lines)
    a = augment(s, "llm", region=0, n=3, generator=gen, embed="words", max_candidates=5)
    statuses = [c["status"] for c in a.candidates]
    assert statuses[:3] == ["duplicate", "near_copy", "empty"] and statuses[4] == "duplicate"
    assert a.rejected["duplicate"] == 2 and a.rejected["near_copy"] == 1 and a.rejected["empty"] == 1
    assert a.generated == 5 and a.kept + sum(a.rejected.values()) == 5
    blend = a.candidates[3]
    assert {"text", "method", "source_ids", "seed", "target", "generator", "distance"} <= set(blend)
    assert set(blend["source_ids"]) <= set(a.target["center_neighbors"])
    assert blend["generator"]["spec"] == "random:llama-tiny" and blend["method"] == "llm"
    # kept exactly when it lands inside the empty ball
    assert (blend["status"] == "kept") == (blend["distance"] < a.target["radius"])
    out = a.write(tmp_path / "new.jsonl")
    assert len(out.read_text().splitlines()) == a.kept
    with pytest.raises(MechscopeError, match="must be a .jsonl file"):
        a.write(tmp_path / "new.csv")


def test_augment_llm_reference_keeps_only_candidates_that_cover_an_uncovered_row():
    from mechscope.models import load

    ref = read_prompts("everyday_reference.jsonl")
    pets = [t for t, topic in zip(ref.texts, ref.metadata["topic"]) if topic == "pets"]
    lines = ["How often should I feed my new puppy each day?",  # near-copy of a reference row? maybe
             "How do I reverse a list in Python please?",        # covers nothing new: programming is covered
             "What food should I give my old dog and my kitten?"]
    gen = ScriptedGenerator(load("random:llama-tiny"), lines)
    a = augment("everyday.jsonl", "llm", reference="everyday_reference.jsonl", n=3, generator=gen,
                max_candidates=3, batch_size=3)
    by_text = {c["text"]: c for c in a.candidates}
    assert by_text[lines[1]]["status"] in ("too_far", "near_copy")
    for row in a.rows:
        assert row["covers"] and row["distance"] <= row["threshold"] and row["source"] == "reference"
        assert all(ref.metadata["topic"][r] == "pets" or r in a.target["rows"] for r in row["covers"])
        assert all(ref.texts[k] in pets or k in a.target["rows"] for k in row["source_ids"])
    assert a.kept >= 1


def test_augment_bad_targets_get_one_line():
    for kwargs, expected in [
        ({"method": "llm"}, "exactly one target"),
        ({"method": "interpolate"}, "needs --between"),
        ({"method": "interpolate", "between": (0, 999)}, "row 999 is out of range"),
        ({"method": "interpolate", "between": (0, 1), "t": 1.5}, "strictly between 0 and 1"),
        ({"method": "concept"}, "needs --concept"),
        ({"method": "paraphrase"}, "unknown augmentation method"),
    ]:
        with pytest.raises(MechscopeError, match=expected):
            augment("everyday.jsonl", generator="random:llama-tiny", embed="words", **kwargs)


# -- the figures of docs/data.md: the real generator (SmolLM2-135M) and MiniLM, minutes each ------------

def _pets_uncovered(prompts, ref, threshold=None):
    from mechscope.data import embed_prompts

    emb, _ = embed_prompts(prompts)
    ref_emb, _ = embed_prompts(ref)
    unc = set(coverage(emb, ref_emb, threshold=threshold).uncovered)
    pets = [i for i, t in enumerate(ref.metadata["topic"]) if t == "pets"]
    return sum(i in unc for i in pets) / len(pets)


@pytest.mark.slow
def test_llm_reference_adds_30_prompts_that_cover_the_left_out_topic():
    s, ref = read_prompts("everyday.jsonl"), read_prompts("everyday_reference.jsonl")
    a = augment(s, "llm", reference=ref, n=30, seed=0)
    assert a.kept == 30 and a.to_dict()["near_copy_rate"] < 0.10
    before = _pets_uncovered(s, ref)
    after = _pets_uncovered(PromptSet.from_texts(s.texts + [r["text"] for r in a.rows]), ref)
    assert before >= 0.8 and before - after >= 0.30


@pytest.mark.slow
def test_interpolation_lands_nearer_the_point_than_the_endpoints_over_20_pairs():
    import mechscope

    g = mechscope.load("smollm2-135m")
    s = read_prompts("everyday.jsonl")
    rng = np.random.default_rng(0)
    kept, endpoint = [], []
    for k in range(20):
        i, j = (int(v) for v in rng.choice(len(s), 2, replace=False))
        a = augment(s, "interpolate", between=(i, j), n=3, seed=k, generator=g, max_candidates=64)
        endpoint.append(min(a.target["endpoint_distance"]))
        kept.append(np.mean([r["distance"] for r in a.rows]) if a.rows else endpoint[-1])  # none kept: no gain
    assert np.mean(kept) < np.mean(endpoint)


@pytest.mark.slow
def test_concept_rewrites_at_least_double_the_lexicon_rate():
    from mechscope.steer import load_concept
    from mechscope.steer.scoring import lexicon_scores

    s = read_prompts("everyday.jsonl")
    seeds = list(range(0, 168, 8))[:20]
    a = augment(s, "concept", concept="wedding", seeds=seeds, n=10, seed=0, max_candidates=64)
    lexicon = load_concept("wedding").lexicon
    seed_rate = np.mean(lexicon_scores([s.texts[i] for i in seeds], lexicon))
    kept_rate = np.mean(lexicon_scores([r["text"] for r in a.rows], lexicon))
    assert a.kept >= 1 and kept_rate >= max(2 * seed_rate, 0.5)
