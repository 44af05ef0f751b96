"""The penguin example with the Evaluator, run twice with the real `sluiceway` command: a good model, then a
deliberately crippled one that is judged against the first as baseline, not blessed, and the run says why."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sluiceway as sw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "penguin" / "pipeline.py"


def test_the_crippled_penguin_model_is_not_blessed_against_the_first(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "PYTHONPATH": str(Path(sw.__file__).resolve().parents[1])}
    first = run_cli(["run", str(EXAMPLE), "--json"], env, cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    states = {cid: e["state"] for cid, e in json.loads(first.stdout)["executions"].items()}
    assert states["InfraValidator"] == states["Pusher"] == "COMPLETE"  # tried in the real server, then pushed
    serving = Path(cli_env["PENGUIN_SERVING_DIR"]) / "penguin"
    assert [p.name for p in serving.iterdir() if not p.name.startswith(".")] == ["1"]
    assert sw.load_model(serving / "1").manifest["flavor"] == "sklearn"  # a whole bundle, loadable by the server
    second = run_cli(["run", f"{EXAMPLE}:crippled_pipeline"], env, cwd=tmp_path, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    said = " ".join((second.stdout + second.stderr).split())  # Rich wraps long lines
    assert "is NOT blessed against the baseline" in said
    assert "accuracy on Overall is 0." in said and "below the lower bound 0.9" in said
    assert "SKIPPED InfraValidator" in said and "the condition Evaluator.blessing.blessed is false" in said
    assert "SKIPPED Pusher" in said and "upstream 'InfraValidator' was skipped" in said
    assert [p.name for p in serving.iterdir() if not p.name.startswith(".")] == ["1"]  # nothing new was pushed

    blessings = sorted((Path(cli_env["SLUICEWAY_ARTIFACT_ROOT"]) / "penguin" / "Evaluator" / "blessing").iterdir(),
                       key=lambda p: int(p.name))
    good, crippled = (json.loads((b / sw.ModelBlessing.FILENAME).read_text()) for b in blessings)
    assert good["blessed"] is True and good["baseline_uri"] is None
    assert crippled["blessed"] is False and crippled["baseline_uri"] == good["model_uri"]
    assert {(c["metric"], c["bound"]) for c in crippled["failed"]} == {
        ("accuracy", "lower"), ("accuracy", "max_drop"), ("log_loss", "upper"), ("log_loss", "max_rise")
    }
    evaluation = json.loads(_latest_evaluation(blessings[1]).read_text())
    names = [s["name"] for s in evaluation["candidate"]["slices"]]
    assert "island=Torgersen, sex=female" in names  # crosses are reported ...
    small = [s for s in evaluation["candidate"]["slices"] if s["count"] < 30]
    assert small and not any(s["gated"] for s in small)  # ... and the small ones are not gated
    assert evaluation["fairness"][0]["feature"] == "sex" and evaluation["feature_importance"]["features"]


def _latest_evaluation(blessing: Path) -> Path:
    folders = sorted((blessing.parents[1] / "evaluation").iterdir(), key=lambda p: int(p.name))
    return folders[-1] / sw.ModelEvaluation.FILENAME
