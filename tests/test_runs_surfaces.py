"""Surfaces over the run layer: `steer fit` is a steering run (recorded with its spec and hash), sentence files
are part of the run's hash, and describe and data methods are registry records the commands run through."""

import json
import sys

from mechscope.__main__ import main
from mechscope.runs import RunSpec, methods
from mechscope.store import Store


def mechscope(capsys, *args) -> tuple[int, str, str]:
    argv = sys.argv
    sys.argv = ["mechscope", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_steer_fit_is_a_recorded_run_equal_to_the_steering_api(capsys, tmp_path):
    import torch

    from mechscope.models import load
    from mechscope.steer import SteeringFile
    from mechscope.steer.concepts import read_sentences
    from mechscope.steer.vectors import DiffMean

    source, target = tmp_path / "src.txt", tmp_path / "tgt.txt"
    source.write_text("\n".join(read_sentences("neutral.txt")[:6]) + "\n")
    target.write_text("\n".join(read_sentences("wedding.txt")[:6]) + "\n")
    path = tmp_path / "mine.safetensors"
    code, out, err = mechscope(capsys, "steer", "fit", "--model", "random:llama-tiny", "--method", "diffmean",
                               "--source", str(source), "--target", str(target), "--layers", "1", "--out",
                               str(path), "--name", "mine-run", "--json")
    assert code == 0, err
    doc = json.loads(out)
    entry = Store().get("steering", "mine-run")
    assert doc["record"] == {"kind": "steering", "name": "mine-run", "id": entry.id}
    run = entry.params["run"]
    assert run["kind"] == "steer" and run["method"] == "diffmean" and run["params"]["source"] == str(source)
    spec = RunSpec.from_dict(run)
    assert entry.params["run_hash"] == spec.hash()
    # the sentence files' bytes are part of the hash: an edited file is another run
    source.write_text(source.read_text() + "One more sentence.\n")
    assert spec.hash() != entry.params["run_hash"]
    # the file the command wrote is the steering API's own fit on the same sentences
    direct = DiffMean(layers="1").fit(load("random:llama-tiny"), read_sentences(str(source))[:6],
                                      read_sentences(str(target)))
    sf = SteeringFile.load(path)
    assert sf.manifest["data"]["n_source"] == 6 and sf.manifest["fit_seconds"] >= 0
    for site, state in direct.state_.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                assert torch.allclose(sf.method.state_[site][key], value, atol=1e-6)


def test_steer_fit_without_sentences_names_the_flag(capsys, tmp_path):
    code, out, err = mechscope(capsys, "steer", "fit", "--model", "random:llama-tiny", "--method", "diffmean",
                               "--target", "wedding.txt", "--out", str(tmp_path / "x.safetensors"))
    assert code == 2 and out == "" and "--source is missing" in err and not (tmp_path / "x.safetensors").exists()


def test_describe_unit_is_a_description_run_equal_to_the_describe_api(cli):
    from mechscope.describe.unit import describe_unit
    from mechscope.models import load

    code, out, err = cli("describe", "unit", "--model", "random:llama-tiny", "--unit", "mlp.1:7", "--top-k", "4",
                         "--json")
    assert code == 0, err
    direct = describe_unit(load("random:llama-tiny"), "mlp.1:7", top_k=4)
    assert json.loads(out) == json.loads(json.dumps({"description": direct.description, **direct.evidence}))


def test_describe_and_data_errors_name_their_flags(cli, error_line, tmp_path):
    code, out, err = cli("describe", "run", "--heldout", "1.5", "--bench", str(tmp_path))
    assert code == 2 and out == "" and error_line(err).startswith("error: --heldout must be less than 1")
    code, out, err = cli("describe", "run", "--domains", "numeric,chess", "--bench", str(tmp_path))
    assert code == 2 and "--domains" in error_line(err) and "chess" in err
    code, out, err = cli("data", "augment", "everyday.jsonl", "--method", "llm", "--region", "0", "--between", "0,3",
                         "--out", str(tmp_path / "x.jsonl"))
    assert code == 2 and out == "" and not (tmp_path / "x.jsonl").exists()
    assert "--between is not an option of augment method llm (it is for interpolate)" in error_line(err)


def test_methods_lists_the_registry(cli):
    import mechscope.steer

    code, out, err = cli("methods", "steer", "--json")
    assert code == 0, err
    listed = [m["name"] for m in json.loads(out)]
    assert listed == list(mechscope.steer.METHODS) == [m.name for m in methods("steer")]
    code, out, err = cli("methods", "--json")
    assert code == 0 and {m["kind"] for m in json.loads(out)} >= {"discover", "steer", "describe", "map", "augment"}
