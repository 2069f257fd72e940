"""`mechscope steer fit --method lineas|lowrank --param`, `eval --axes/--reduce`, `steer pair`: files, JSON, errors."""

import json


def test_lineas_fit_reports_selection_and_eval_scores_three_axes(cli, tmp_path):
    path = tmp_path / "ocean.safetensors"
    code, out, err = cli("steer", "fit", "--model", "random:llama-tiny", "--method", "lineas", "--concept",
                               "ocean", "-p", "steps=3", "-p", "n_samples=4", "--out", str(path), "--json",
                               "--no-record")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"]["steps"] == 3 and doc["fit_report"]["steps"] == 3
    assert doc["fit_report"]["of_units"] == 2 * 64 and doc["data"]["n_source"] == 4
    prompts = tmp_path / "p.txt"
    prompts.write_text("I think that\nYesterday I\nThe best thing about\n")
    code, out, err = cli("steer", "eval", str(path), "--prompts", str(prompts), "--strengths", "0,1",
                               "--max-new-tokens", "4", "--axes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    for row in [doc["unsteered"], *doc["sweep"], doc["prompting"]]:
        ax = row["axes"]
        assert 0 <= ax["concept"] <= 1 and 0 <= ax["instruction"] <= 1 and 0 <= ax["fluency"] <= 1
        assert ax["harmonic"] <= max(ax["concept"], ax["instruction"], ax["fluency"]) + 1e-9
        assert "texts" not in row
    assert doc["judges"]["concept_accuracy"] > 0.8  # MiniLM tells sea sentences from neutral ones


def test_reduce_uses_invite_prompts_and_pair_reports_both_rates(cli, tmp_path, error_line):
    away = tmp_path / "away.safetensors"
    code, _, err = cli("steer", "fit", "--model", "random:llama-tiny", "--method", "diffmean", "--source",
                             "wedding.txt", "--target", "neutral.txt", "--layers", "1", "--out", str(away),
                             "--no-record")
    assert code == 0, err
    # --reduce needs invite prompts: the file names no concept, so it must be told
    code, _, err = cli("steer", "eval", str(away), "--reduce", "--strengths", "0,1", "--max-new-tokens", "2")
    assert code == 2 and "--reduce needs prompts that invite" in error_line(err)
    code, out, err = cli("steer", "eval", str(away), "--reduce", "--prompts", "invite_wedding.txt",
                               "--lexicon", "wedding.txt", "--strengths", "0,1", "--max-new-tokens", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["evaluation"] == "reduce" and doc["n_prompts"] == 20 and "prompting" not in doc
    up = tmp_path / "up.safetensors"
    code, _, err = cli("steer", "fit", "--model", "random:llama-tiny", "--method", "diffmean", "--concept",
                             "ocean", "--layers", "0", "--out", str(up), "--no-record")
    assert code == 0, err
    code, out, err = cli("steer", "pair", str(up), str(away), "--each", "1,2", "--strengths", "1",
                               "--max-new-tokens", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [r["applied"] for r in doc["rows"]] == ["none", "first", "second", "both"]
    assert doc["rows"][0]["delta_ppl"] == 0 and all(len(r["rates"]) == 2 for r in doc["rows"])
    code, _, err = cli("steer", "fit", "--model", "random:llama-tiny", "--method", "lineas", "--concept",
                             "ocean", "-p", "stepz=3", "--out", str(tmp_path / "x.safetensors"))
    assert code == 2 and "stepz" in error_line(err) and "steps" in error_line(err)
