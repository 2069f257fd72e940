"""Circuit size chosen from the curve, and MIB's integration rule for CPR and CMD."""

import pytest

import mechscope as ms
from mechscope import discover as D
from mechscope.discover.faithfulness import AUTO_TARGET, MIB_FRACTIONS, curve_areas, mib_areas


def test_areas_follow_mibs_trapezoids_from_one_permille():
    curve = [{"fraction": f, "faithfulness": y} for f, y in
             zip(MIB_FRACTIONS, (0.0, 0.2, 0.4, 0.5, 0.6, 0.9, 1.3, 1.1, 1.0, 0.7, 1.0))]
    # MIB's evaluate_area_under_curve written out: percentages 0.001 .. 1, linear x, trapezoids
    xs, ys = list(MIB_FRACTIONS[1:]), [p["faithfulness"] for p in curve[1:]]
    cpr = sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(xs) - 1))
    cmd = sum((xs[i + 1] - xs[i]) * (abs(1 - ys[i]) + abs(1 - ys[i + 1])) / 2 for i in range(len(xs) - 1))
    a = curve_areas(curve)
    assert a["cpr"] == pytest.approx(cpr, abs=1e-12) and a["cmd"] == pytest.approx(cmd, abs=1e-12)
    flat = [{**p, "faithfulness": 1.0} for p in curve]
    assert mib_areas(curve, flat) == {"cpr": a["cpr"], "cmd": 0.0}


def test_discover_without_a_size_takes_the_smallest_faithful_point():
    model = ms.load("random:gpt2-tiny")
    graph = ms.Graph.from_model(model)
    task = ms.load_task("ioi", n=8)
    circuit = D.find_circuit(graph, task, method="eap")
    size = circuit.params["size"]
    reached = [p for p in circuit.evaluation.curve if p["edges"] > 0 and p["faithfulness"] >= AUTO_TARGET]
    if reached:
        assert size["edges"] == min(p["edges"] for p in reached) and size["rule"].startswith("smallest")
    else:
        assert size["faithfulness"] == max(p["faithfulness"] for p in circuit.evaluation.curve if p["edges"] > 0)
    # the circuit is the one at that point of the curve
    point = next(p for p in circuit.evaluation.curve if p["edges"] == size["edges"])
    assert circuit.evaluation.faithfulness == pytest.approx(point["faithfulness"], abs=1e-6)
    assert len(circuit.edges) == point["edges_after_pruning"]


def test_bos_option_runs_every_prompt_after_bos_and_is_kept_for_reevaluation():
    import torch

    from mechscope.tasks import metric_values

    model = ms.load("random:llama-tiny")
    graph = ms.Graph.from_model(model)
    task = ms.load_task("ioi", n=6)
    circuit = D.find_circuit(graph, task, method="eap", edges=15, curve=False, bos=True)
    assert circuit.params["bos"] is True
    again = D.evaluate_circuit(graph, circuit, task)
    assert again["faithfulness"] == pytest.approx(circuit.evaluation.faithfulness, abs=1e-6)
    # the clean metric is that of a plain forward on "<bos> prompt"
    enc = task.split("test").encode(model.tokenizer)
    bos = model.tokenizer.bos_token_id
    rows = []
    for i in range(len(enc)):
        p = int(enc.positions[i]) + 1
        ids = torch.cat([torch.tensor([[bos]]), enc.clean_ids[i : i + 1, :p]], 1)
        with torch.no_grad():
            rows.append(model.hf(ids).logits[0, -1])
    direct = metric_values(torch.stack(rows), enc).mean()
    assert again["clean"] == pytest.approx(float(direct), abs=1e-4)
