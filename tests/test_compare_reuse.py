"""A comparison builds each model's clean and corrupted runs once per task, with the numbers of fresh runs."""

import torch

import mechscope as ms
from mechscope.compare import Baseline, CircuitSettings, Settings, compare_version
from mechscope.discover import evaluate_circuit
from mechscope.discover import runner as runner_module


def test_compare_builds_each_models_runner_once_and_its_figures_equal_fresh_ones(monkeypatch):
    built = []
    init = runner_module.PatchedRunner.__init__

    def counting(self, *args, **kwargs):
        built.append(args[0].model.spec)
        init(self, *args, **kwargs)

    monkeypatch.setattr(runner_module.PatchedRunner, "__init__", counting)
    task = ms.load_task("ioi", n=12)
    settings = Settings(latency=False, circuits=CircuitSettings(method="eap", edges=10))
    base_model = ms.load("random:gpt2-tiny")
    base = Baseline(base_model, [task], settings)
    assert len(built) == 1  # the circuit's finding and its evaluation share one runner on the test split
    version = ms.load("random:gpt2-tiny")
    with torch.no_grad():
        for p in version.hf.parameters():
            p.mul_(0.9)
    row = compare_version(base, version, name="scaled")[0]
    assert len(built) == 2  # the version's own circuit and the base's circuit on it: one runner
    fresh = evaluate_circuit(ms.Graph(version), base.circuits["ioi"], task)
    assert row["circuit_faithfulness_of_base"] == fresh["faithfulness"]
    assert row["circuit_gap"] == fresh["clean"] - fresh["corrupt"]
    again = evaluate_circuit(ms.Graph(base_model), base.circuits["ioi"], task)
    assert base.gaps["ioi"] == again["clean"] - again["corrupt"]
