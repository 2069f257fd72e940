"""Runs that apply steering files (`mechscope.runs.steered`): a generation run, a file's strength sweep and a pair of
files give the numbers of the steering API's own calls, in this process and in a local process pool; their hashes
cover the files' bytes; their errors name parameters, which the CLI spells as flags."""

import json
import shutil

import pytest
import torch

from mechscope.runs import RunSpec, execute
from mechscope.runs.execute import compute
from mechscope.runs.registry import ParameterError, default_method, get_method
from mechscope.store import Store

TINY = "random:llama-tiny"
PROMPTS = ["I think that", "Yesterday I", "The best thing about"]
NEUTRAL = ["The train leaves the station at nine every morning.", "She put the books back on the shelf.",
           "Water boils at a lower temperature on a mountain.", "He fixed the bicycle before lunch."]


def _spec(kind: str, seed: int = 0, model=None, **params) -> RunSpec:
    return RunSpec(kind, default_method(kind), model, params=params, seed=seed)


def _timeless(doc):
    """`doc` without its wall-clock fields (the only ones two equal computations may differ in)."""
    if isinstance(doc, dict):
        return {k: _timeless(v) for k, v in doc.items() if not k.endswith("seconds")}
    if isinstance(doc, list):
        return [_timeless(v) for v in doc]
    return doc


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three steering files fitted on random:llama-tiny: toward weddings, toward the sea, and away from weddings."""
    from mechscope.models import load
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.vectors import DiffMean

    folder = tmp_path_factory.mktemp("steered")
    model = load(TINY)
    w, o = load_concept("wedding"), load_concept("ocean")
    paths = {}
    for name, concept, layer, (source, target) in (
            ("wedding", w, "1", (w.source[:6], w.target[:6])), ("ocean", o, "0", (o.source[:6], o.target[:6])),
            ("away", w, "1", (w.target[:6], w.source[:6]))):
        sf = SteeringFile.from_method(DiffMean(layers=layer).fit(model, source, target), concept=concept.name,
                                      lexicon=concept.lexicon, instruction=concept.instruction,
                                      scorer=concept.scorer)
        paths[name] = str(folder / f"{name}.safetensors")
        sf.save(paths[name])
    plain = DiffMean(layers="1").fit(model, w.source[:4], w.target[:4])  # no concept: nothing to judge the axes by
    paths["plain"] = str(folder / "plain.safetensors")
    SteeringFile.from_method(plain).save(paths["plain"])
    prompts = folder / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    paths["prompts"] = str(prompts)
    neutral = folder / "neutral.txt"  # a few held-out sentences: the damage measures, cheaply
    neutral.write_text("\n".join(NEUTRAL) + "\n")
    paths["neutral"] = str(neutral)
    return paths


def test_a_generation_run_is_the_generate_call_on_the_files_model(files):
    from mechscope.models import load
    from mechscope.steer import SteeringFile, generate

    doc = compute(_spec("generate", seed=3, steering=files["wedding"], prompts=files["prompts"], strength=4.0,
                        max_new_tokens=5, compare=True))
    model, sf = load(TINY), SteeringFile.load(files["wedding"])
    steered = generate(model, PROMPTS, steering=sf, strength=4.0, max_new_tokens=5, seed=3)
    plain = generate(model, PROMPTS, max_new_tokens=5, seed=3)
    assert [it["prompt"] for it in doc["items"]] == PROMPTS
    assert [it["steered"] for it in doc["items"]] == steered and [it["unsteered"] for it in doc["items"]] == plain
    assert steered != plain  # the file really steered the run's generations
    assert (doc["model"], doc["strength"], doc["seed"], doc["method"]) == (TINY, 4.0, 3, "diffmean")
    # the file's own strength by default, and no unsteered texts unless asked
    default = compute(_spec("generate", seed=3, steering=files["wedding"], prompts=PROMPTS, max_new_tokens=5))
    assert default["strength"] == sf.default_strength
    assert [it["steered"] for it in default["items"]] == generate(model, PROMPTS, steering=sf,
                                                                  strength=sf.default_strength, max_new_tokens=5,
                                                                  seed=3)
    assert all("unsteered" not in it for it in default["items"])


def test_the_web_generation_job_is_a_generation_run(files):
    from mechscope.models import load
    from mechscope.steer import SteeringFile, generate
    from mechscope.store import record_steering
    from mechscope.ui import worker

    record_steering(Store(), files["wedding"], name="gen-job-wedding")
    reports = []
    result = worker.generate_job({"steering": "gen-job-wedding", "prompts": ["I think that", " ", "Yesterday I"],
                                  "strength": "2", "max_new_tokens": "4", "temperature": "0", "seed": "1"},
                                 lambda *r: reports.append(r))
    model, sf = load(TINY), SteeringFile.load(files["wedding"])
    kw = {"max_new_tokens": 4, "seed": 1, "temperature": 0.0}
    ps = ["I think that", "Yesterday I"]
    assert result["items"] == [{"prompt": q, "steered": s, "unsteered": u} for q, s, u in
                               zip(ps, generate(model, ps, steering=sf, strength=2.0, **kw), generate(model, ps, **kw))]
    assert (result["steering"], result["strength"], result["max_new_tokens"]) == ("gen-job-wedding", 2.0, 4)
    spec = _spec("generate", seed=1, steering=str(Store().path(Store().get("steering", "gen-job-wedding")) /
                                                  "steering.safetensors"), prompts=ps, strength=2.0,
                 max_new_tokens=4, temperature=0.0, compare=True)
    assert result["run_hash"] == spec.hash()
    assert reports[-1][0] == reports[-1][1] == 3  # loading, steered, unsteered


def test_a_sweep_run_is_the_evaluation_calls_and_records_its_summary_with_provenance(files, tmp_path):
    from mechscope.models import load
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept
    from mechscope.steer.compose import evaluate_reduce
    from mechscope.steer.evaluate import evaluate_prompting

    path = str(tmp_path / "wedding.safetensors")
    shutil.copy(files["wedding"], path)
    store = Store(tmp_path / "store")
    spec = _spec("steer-eval", steering=path, prompts=files["prompts"], neutral=files["neutral"],
                 strengths=[0, 2, 4], max_new_tokens=3, max_ppl_rise=10, record=True)
    digest = spec.hash()
    result = execute(spec, store=store)
    doc = result.value
    model, sf, c = load(TINY), SteeringFile.load(files["wedding"]), load_concept("wedding")
    neutral = NEUTRAL
    kw = dict(scorer=c.scorer or "lexicon", lexicon=c.lexicon, max_new_tokens=3, seed=0)
    direct = evaluate_steering(model, sf, PROMPTS, neutral, strengths=[0, 2, 4], max_ppl_rise=10, **kw)
    direct["prompting"] = evaluate_prompting(model, c.instruction, PROMPTS, neutral, **kw)
    direct["prompting_steering"] = evaluate_prompting(model, c.instruction, PROMPTS, neutral, steering=sf,
                                                      strength=direct["chosen_strength"], **kw)
    assert _timeless(doc) == _timeless({**direct, "file": path})
    assert doc["chosen_strength"] == 4 and doc["sweep"][1]["kl"] > 0
    # recorded: the summary and the chosen strength in the file, the file in the store with the run's provenance
    entry = store.get("steering", "wedding")
    assert result.hash == digest and entry.params["run_hash"] == digest and entry.params["run"]["kind"] == "steer-eval"
    manifest = SteeringFile.load(path).manifest
    assert manifest["default_strength"] == 4 and manifest["evaluation"]["chosen_strength"] == 4
    assert [r["ppl"] for r in manifest["evaluation"]["sweep"]] == [r["ppl"] for r in direct["sweep"]]
    # the one form of the summary (runs.steering.write_summary), the baselines included, as a steering run writes it
    assert set(manifest["evaluation"]) == set(doc) - {"unsteered", "chosen"}
    assert manifest["evaluation"]["prompting_steering"]["kl"] == pytest.approx(direct["prompting_steering"]["kl"])
    assert json.loads((store.path(entry) / "evaluation.json").read_text())["base_ppl"] == direct["base_ppl"]
    assert SteeringFile.load(files["wedding"]).manifest["evaluation"] is None  # only the named file was written

    away = compute(_spec("steer-eval", steering=files["away"], reduce=True, neutral=files["neutral"],
                         strengths=[0, 1], max_new_tokens=2))
    direct = evaluate_reduce(model, SteeringFile.load(files["away"]), c.invite, NEUTRAL, c.lexicon,
                             strengths=[0, 1], max_new_tokens=2)
    assert _timeless(away) == _timeless({**direct, "file": files["away"]}) and "prompting" not in away


def test_a_pair_run_is_the_pair_evaluation(files):
    from mechscope.models import load
    from mechscope.steer import SteeringFile
    from mechscope.steer.compose import Composition, evaluate_pair

    doc = compute(_spec("steer-pair", first=files["ocean"], second=files["away"], each=[1, 2], strengths=[1],
                        prompts=files["prompts"], neutral=files["neutral"], max_new_tokens=3))
    parts = [SteeringFile.load(files["ocean"]), SteeringFile.load(files["away"])]
    direct = evaluate_pair(load(TINY), Composition(parts, [1.0, 2.0]), PROMPTS, NEUTRAL,
                           [p.manifest["lexicon"] for p in parts], [1.0], max_new_tokens=3)
    assert _timeless(doc) == _timeless({**direct, "files": [files["ocean"], files["away"]], "model": TINY,
                                        "names": ["ocean", "wedding"]})
    assert [r["applied"] for r in doc["rows"]] == ["none", "first", "second", "both"] and doc["rows"][3]["kl"] > 0


@pytest.mark.slow  # a process pool starts and loads the model: ~35 s on 2 busy cores
def test_the_three_kinds_give_the_same_numbers_in_a_process_pool(files):
    from mechscope.runs.executors import InProcess, LocalPool

    specs = [_spec("generate", seed=2, steering=files["wedding"], prompts=PROMPTS, max_new_tokens=3, compare=True),
             _spec("steer-eval", steering=files["wedding"], prompts=files["prompts"], neutral=files["neutral"],
                   strengths=[0, 2], max_new_tokens=2),
             _spec("steer-pair", first=files["ocean"], second=files["wedding"], strengths=[1],
                   prompts=files["prompts"], neutral=files["neutral"], max_new_tokens=2)]
    here = {i: (outcome, error) for i, outcome, error in InProcess().compute(specs)}
    pool = LocalPool(workers=1)
    pool.threads = torch.get_num_threads()  # the same torch threads as here, so the same reductions
    try:
        there = {i: (outcome, error) for i, outcome, error in pool.compute(specs)}
    finally:
        pool.close()
    for i in range(len(specs)):
        assert here[i][1] is None and there[i][1] is None, (here[i][1], there[i][1])
        _assert_close(_timeless(here[i][0]), _timeless(there[i][0]))


def _assert_close(a, b, where="doc"):
    """The same document: the same texts and keys, numbers within 1e-6."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, abs=1e-6), where
    else:
        assert a == b, where


def test_hashes_cover_defaults_and_the_files_bytes(files, tmp_path):
    path = tmp_path / "w.safetensors"
    shutil.copy(files["wedding"], path)
    spec = _spec("generate", steering=str(path))
    assert spec.hash() == _spec("generate", steering=str(path), max_new_tokens=30, temperature=0.8).hash()
    assert spec.hash() != _spec("generate", seed=1, steering=str(path)).hash()
    before = spec.hash()
    path.write_bytes(path.read_bytes() + b" ")
    assert spec.hash() != before  # another file is another run
    pair = _spec("steer-pair", first=files["ocean"], second=files["wedding"], prompts=files["prompts"])
    before = pair.hash()
    prompts = tmp_path / "p.txt"
    prompts.write_text("Hello\n")
    assert _spec("steer-pair", first=files["ocean"], second=files["wedding"], prompts=str(prompts)).hash() != before


@pytest.mark.parametrize("kind, params, param, words", [
    ("steer-pair", {"first": "a", "second": "b", "each": [1, 2, 3]}, "each", "one strength per file"),
    ("steer-eval", {"steering": "a", "max_ppl_rise": -0.5}, "max_ppl_rise", "fraction >= 0"),
    ("generate", {"steering": "a", "positions": "sideways"}, "positions", "'all', 'prompt' or 'generated'"),
    ("generate", {"prompts": "p.txt"}, "steering", "is missing"),
])
def test_errors_name_the_parameter(kind, params, param, words):
    with pytest.raises(ParameterError, match=words) as caught:
        get_method(kind, default_method(kind)).validate(params)
    assert caught.value.param == param


def test_the_cli_spells_the_parameters_as_flags(cli, error_line, files):
    code, out, err = cli("steer", "pair", files["ocean"], files["away"], "--each", "1,2,3")
    assert code == 2 and out == "" and error_line(err).startswith("error: --each is one strength per file")
    code, out, err = cli("steer", "generate", files["wedding"], "--positions", "sideways")
    assert code == 2 and out == "" and "--positions must be 'all', 'prompt' or 'generated'" in error_line(err)
    code, out, err = cli("steer", "eval", files["plain"], "--axes", "--concept-sentences", files["prompts"],
                         "--strengths", "0", "--max-new-tokens", "1")
    assert code == 2 and out == "" and error_line(err).startswith("error: --axes needs sentences about the concept")
