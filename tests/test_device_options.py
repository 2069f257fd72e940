"""`--device` and `--dtype` on every command that loads a model: one definition (cli/options.py), one-line errors
for bad values, and a bfloat16 run that really runs in bfloat16 (steer fit, steer generate, compare)."""

from __future__ import annotations

import json

import pytest
import torch

MODEL_COMMANDS = [
    ("graph",), ("verify",), ("task", "show"), ("discover",), ("evaluate",), ("sweep",), ("test-circuit",),
    ("compare",), ("describe", "unit"), ("describe", "units"), ("describe", "serve"),
    ("steer", "fit"), ("steer", "generate"), ("steer", "eval"), ("steer", "pair"),
    ("data", "map"), ("data", "augment"), ("demo",),
]
# parameters that name a model a command loads: a spec (--model, a BASE argument, sweep's --models), the
# generator of `data augment`, or an embedding space that can be a model's (`--embed model:<spec>@<layer>`)
MODEL_PARAMS = {"model", "base", "models", "generator", "embed"}


def _leaf_commands():
    import typer

    from mechscope.__main__ import app

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs is None:
            yield path, cmd
            return
        for name, sub in subs.items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def test_every_model_loading_command_has_the_shared_device_and_dtype_options():
    from mechscope.cli.options import DEVICE_HELP, DTYPE_HELP, check_device, check_dtype

    commands = dict(_leaf_commands())
    for path in MODEL_COMMANDS:
        params = {p.name: p for p in commands[path].params}
        assert "device" in params and "dtype" in params, path
        assert params["device"].opts == ["--device"] and params["dtype"].opts == ["--dtype"], path
        assert params["device"].help == DEVICE_HELP and params["dtype"].help == DTYPE_HELP, path
        assert params["device"].default is None and params["dtype"].default is None, path
    # and the rule that picks them: a command with a parameter naming a model (MODEL_PARAMS) loads one.
    # Not these: export-mib's --model-name is only a name; version make edits float32 weights (--device only).
    assert {p.name for p in commands[("version", "make")].params} >= {"device"}
    exempt = {("store", "export-mib"), ("version", "make")}
    loading = {path for path, cmd in commands.items() if {p.name for p in cmd.params} & MODEL_PARAMS}
    assert ("sweep",) in loading and ("data", "augment") in loading  # the rule sees every kind of model parameter
    for path in sorted(loading - exempt):
        assert path in MODEL_COMMANDS, f"{' '.join(path)} takes a model but is not checked for --device/--dtype"
    assert set(MODEL_COMMANDS) <= set(commands)  # no stale entry
    assert check_dtype("float16") == "float16" and check_device("auto") == "auto"


@pytest.mark.parametrize("args, words", [
    (["steer", "fit", "--dtype", "foo", "-m", "random:llama-tiny", "-o", "x.safetensors"],
     "invalid value for '--dtype': dtype 'foo' is not one of float32, bfloat16, float16"),
    (["compare", "--device", "cuda:7", "random:llama-tiny", "v1"], "invalid value for '--device': device 'cuda:7'"),
    (["test-circuit", "--device", "tpu", "c.json"], "invalid value for '--device': device 'tpu' is not understood; "
                                                    "use cpu, cuda, cuda:N, auto or map:auto"),
    (["graph", "--device", "map:nofile.json"], "invalid value for '--device': device map 'nofile.json' is neither "
                                               "auto, balanced nor a JSON file"),
    (["describe", "unit", "--dtype", "int8", "--unit", "mlp.0:1"], "invalid value for '--dtype': dtype 'int8'"),
    (["evaluate", "--dtype", "half", "c.json"], "invalid value for '--dtype'"),
    (["steer", "generate", "--device", "gpu0", "f.safetensors"], "invalid value for '--device'"),
    (["discover", "--dtype", "bf16"], "invalid value for '--dtype': dtype 'bf16'"),
    (["data", "map", "prompts.txt", "--device", "tpu"], "invalid value for '--device': device 'tpu'"),
    (["data", "map", "prompts.txt", "--dtype", "fp16", "--embed", "model:random:llama-tiny@1"],
     "invalid value for '--dtype': dtype 'fp16'"),
    (["data", "augment", "prompts.txt", "--method", "llm", "--out", "new.jsonl", "--dtype", "int4"],
     "invalid value for '--dtype': dtype 'int4'"),
])
def test_a_bad_device_or_dtype_is_one_line_naming_the_flag(cli, error_line, tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*args)
    line = error_line(err)
    assert code == 2 and out == "" and words in line, line
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.parametrize("flag, value, words", [
    ("--dtype", "float64", "invalid value for '--dtype': dtype 'float64' is not one of float32, bfloat16, float16; "
                           "e.g. --dtype bfloat16"),
    ("--device", "tpu", "invalid value for '--device': device 'tpu' is not understood; use cpu, cuda, cuda:N, auto "
                        "or map:auto (a model larger than one GPU)"),
])
def test_demo_refuses_a_bad_device_or_dtype_before_it_loads_anything(cli, error_line, tmp_path, monkeypatch, flag,
                                                                      value, words):
    import time

    import mechscope.runs.demo
    import mechscope.runs.models

    started = []
    monkeypatch.setattr(mechscope.runs.demo, "compute_demo", lambda *a, **k: started.append("demo") or {})
    monkeypatch.setattr(mechscope.runs.models, "cached_model", lambda *a, **k: started.append("load"))
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    code, out, err = cli("demo", flag, value)
    seconds = time.perf_counter() - t0
    line = error_line(err)
    assert code == 2 and out == "" and line == f"error: {words}; `mechscope demo --help` shows the usage", line
    assert started == [] and list(tmp_path.iterdir()) == []  # no step ran, no mechscope-demo/ folder
    assert seconds < 10, seconds  # parsing only (the earlier demo without the check ran for minutes)


def test_demo_device_and_dtype_reach_the_model_and_the_discovery_run(cli, tmp_path, monkeypatch):
    import sys

    import mechscope.runs.demo
    from mechscope.runs.demo import compute_demo
    from mechscope.runs.models import forget_models

    # the CLI hands both flags to the demo's computation
    seen = {}
    monkeypatch.setattr(mechscope.runs.demo, "compute_demo",
                        lambda spec, out_dir, report, **kw: seen.update(spec=spec, **kw) or {"fingerprint": "x"})
    code, out, err = cli("demo", "--model", "random:llama-tiny", "--device", "cpu", "--dtype", "bfloat16", "--json")
    assert code == 0, err
    assert seen == {"spec": "random:llama-tiny", "device": "cpu", "dtype": "bfloat16"}
    monkeypatch.undo()

    # and the computation loads the model in them and records the discovery run with them (stopped there: the
    # steps after it take minutes)
    class Stop(Exception):
        pass

    runs = []

    def stop_at_discovery(spec, **kw):
        runs.append(spec)
        raise Stop

    monkeypatch.setattr(sys.modules["mechscope.runs.execute"], "execute", stop_at_discovery)  # the module, not
    # the function of that name that mechscope.runs exports
    steps, models = [], []
    real = sys.modules["mechscope.runs.models"].cached_model
    monkeypatch.setattr(sys.modules["mechscope.runs.models"], "cached_model",
                        lambda *a, **k: models.append(real(*a, **k)) or models[-1])
    forget_models()
    with pytest.raises(Stop):
        compute_demo("random:llama-tiny", tmp_path / "demo", lambda done, total, msg: steps.append(done),
                     device="cpu", dtype="bfloat16")
    forget_models()
    assert steps == [0, 1, 2, 3, 4]
    assert models[0].dtype == torch.bfloat16 and models[0].device == torch.device("cpu")
    assert runs[0].device == "cpu" and runs[0].dtype == "bfloat16" and runs[0].model == "random:llama-tiny"
    assert not (tmp_path / "demo").exists()


def test_cuda_7_on_this_machine_names_the_gpus_there_are(cli, error_line):
    code, _, err = cli("graph", "random:gpt2-tiny", "--device", "cuda:7")
    line = error_line(err)
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n > 7:
        pytest.skip("this machine has 8 GPUs")
    assert code == 2
    assert ("sees no CUDA GPU; use --device cpu" if n == 0 else f"torch sees {n} GPU(s), numbered from 0") in line


def _diffmean_file(cli, path, *extra):
    code, out, err = cli("steer", "fit", "--model", "random:llama-tiny", "--method", "diffmean", "--concept",
                         "wedding", "--layers", "1", "--out", str(path), "--no-record", "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_steer_fit_and_generate_in_bfloat16(cli, tmp_path):
    from safetensors.torch import load_file

    from mechscope.models import load
    from mechscope.steer import SteeringFile

    f32 = _diffmean_file(cli, tmp_path / "f32.safetensors")
    bf16 = _diffmean_file(cli, tmp_path / "bf16.safetensors", "--dtype", "bfloat16")
    model16 = load("random:llama-tiny", dtype="bfloat16")
    assert model16.dtype == torch.bfloat16
    assert bf16["model"]["fingerprint"] == model16.fingerprint != f32["model"]["fingerprint"]
    assert bf16["model"]["dtype"] == "bfloat16" and f32["model"]["dtype"] == "float32"
    a, b = (load_file(str(tmp_path / n)) for n in ("f32.safetensors", "bf16.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        # the same direction from bfloat16 activations: within bfloat16's rounding (8 bits of mantissa, 2^-8
        # relative per value, a few values summed), and not bit-equal (it really ran in bfloat16)
        rel = ((a[k] - b[k]).norm() / a[k].norm()).item()
        assert 0 < rel < 2e-2, (k, rel)

    prompts = tmp_path / "p.txt"
    prompts.write_text("I think that\n")
    # without --dtype the file's own dtype is used, so its fingerprint check passes
    code, out, err = cli("steer", "generate", str(tmp_path / "bf16.safetensors"), "--prompts", str(prompts),
                         "--max-new-tokens", "3", "--temperature", "0", "--json")
    assert code == 0, err
    # the float32 file on the bfloat16 model is another model: refused unless --other-model
    code, _, err = cli("steer", "generate", str(tmp_path / "f32.safetensors"), "--prompts", str(prompts),
                       "--max-new-tokens", "3", "--dtype", "bfloat16")
    assert code == 2 and "refit it on this model" in err
    assert SteeringFile.load(tmp_path / "bf16.safetensors").method.model_dtype_ == "bfloat16"


def test_steering_activations_of_a_bfloat16_model_are_bfloat16():
    from mechscope.models import load
    from mechscope.steer.activations import encode, run_to_last_site
    from mechscope.steer.sites import resolve_sites

    seen = {}
    for dtype in ("float32", "bfloat16"):
        m = load("random:llama-tiny", dtype=dtype)
        run_to_last_site(m, resolve_sites(m, "block", "1"), encode(m, ["a wedding cake"]).model_inputs(),
                         lambda site, h, d=dtype: seen.__setitem__(d, h.detach()))
    assert seen["bfloat16"].dtype == torch.bfloat16 and seen["float32"].dtype == torch.float32
    rel = ((seen["bfloat16"].float() - seen["float32"]).norm() / seen["float32"].norm()).item()
    assert 0 < rel < 2e-2, rel


def test_compare_in_bfloat16_against_float32(cli):
    from mechscope.models import load

    docs = {}
    for dtype in ("float32", "bfloat16"):
        code, out, err = cli("compare", "random:llama-tiny", "random:llama-tiny:1", "--n", "6", "--circuits", "none",
                             "--no-latency", "--no-record", "--json", "--dtype", dtype)
        assert code == 0, err
        docs[dtype] = json.loads(out)
    for dtype, doc in docs.items():  # each side ran on the model in that dtype
        assert doc["base"]["fingerprint"] == load("random:llama-tiny", dtype=dtype).fingerprint
        assert doc["versions"][0]["fingerprint"] == load("random:llama-tiny:1", dtype=dtype).fingerprint
    a, b = docs["float32"], docs["bfloat16"]
    # logit differences of about 0.1-0.5 from logits of about 1: bfloat16 rounds each logit by up to 2^-8 of it
    assert abs(a["base"]["tasks"]["ioi"]["task_metric"] - b["base"]["tasks"]["ioi"]["task_metric"]) < 0.03
    va, vb = a["versions"][0], b["versions"][0]
    assert abs(va["task_metric"] - vb["task_metric"]) < 0.03 and abs(va["kl"] - vb["kl"]) < 0.01
    assert va["task_metric"] != vb["task_metric"]


def test_a_version_loads_in_bfloat16_from_its_float32_weights(tmp_path):
    from mechscope.compare import make_version
    from mechscope.models import load
    from mechscope.store import Store, load_model, save_version

    store = Store(tmp_path / "store")
    base = load("random:llama-tiny")
    save_version(store, make_version(base, "tiny-q8", "quantize", {"type": "q8_0"}))
    v32 = load_model(store, "tiny-q8")
    v16 = load_model(store, "tiny-q8", dtype="bfloat16")
    assert v32.dtype == torch.float32 and v16.dtype == torch.bfloat16 and v16.spec == "version:tiny-q8"
    assert v16.fingerprint != v32.fingerprint
    w32 = dict(v32.hf.named_parameters())
    for name, p in v16.hf.named_parameters():
        assert torch.equal(p, w32[name].to(torch.bfloat16)), name


def test_data_map_on_cpu_in_float32_is_the_default_and_bfloat16_reaches_the_model(cli, tmp_path, monkeypatch):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(f"{w} number {i} is on the {p}" for i, (w, p) in enumerate(
        (w, p) for w in ("The cat", "A dog", "My car", "Her book") for p in ("table", "road", "hill", "boat"))))

    def mapped(name, *flags):
        monkeypatch.setenv("MECHSCOPE_CACHE", str(tmp_path / f"cache-{name}"))  # no embedding reused across runs
        code, out, err = cli("data", "map", str(prompts), "--embed", "model:random:llama-tiny@1", "--regions", "2",
                             "--out", str(tmp_path / name), "--json", *flags)
        assert code == 0, err
        doc = json.loads(out)
        return {k: v for k, v in doc.items() if k not in ("files", "seconds")}

    default = mapped("default")
    assert mapped("explicit", "--device", "cpu", "--dtype", "float32") == default
    half = mapped("half", "--device", "cpu", "--dtype", "bfloat16")
    assert half["n"] == default["n"] == 16
    assert half["embed"]["fingerprint"] != default["embed"]["fingerprint"]  # the bfloat16 model's own weights

