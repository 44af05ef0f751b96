"""Thresholds: value bounds always, change bounds only against a baseline, small slices not gated, clear errors."""

from __future__ import annotations

import pytest

import sluiceway as sw
from sluiceway.evaluation import EvalConfig, Fairness, Threshold
from sluiceway.evaluation.config import make_config
from sluiceway.evaluation.thresholds import check_thresholds


def _slice(name: str, spec: list[str], count: float, gated: bool, **metrics: float | None) -> dict:
    return {"name": name, "spec": spec, "count": count, "gated": gated, "metrics": metrics}


def _evaluation(candidate: list[dict], baseline: list[dict] | None = None, fairness: list | None = None) -> dict:
    return {
        "candidate": {"slices": candidate},
        "baseline": None if baseline is None else {"slices": baseline},
        "fairness": fairness or [],
    }


CANDIDATE = [
    _slice("Overall", [], 1000, True, accuracy=0.85, log_loss=0.40),
    _slice("island=Biscoe", ["island"], 600, True, accuracy=0.80, log_loss=0.50),
    _slice("island=Dream", ["island"], 12, False, accuracy=0.20, log_loss=2.0),  # tiny: reported, not gated
]
BASELINE = [
    _slice("Overall", [], 1000, True, accuracy=0.90, log_loss=0.30),
    _slice("island=Biscoe", ["island"], 600, True, accuracy=0.81, log_loss=0.45),
    _slice("island=Dream", ["island"], 12, False, accuracy=0.90, log_loss=0.2),
]


def _failed(checks: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((c["metric"], c["slice"], c["bound"]) for c in checks if not c["passed"])


def test_value_bounds_always_and_change_bounds_only_with_a_baseline() -> None:
    config = EvalConfig(thresholds={"accuracy": Threshold(lower=0.82, max_drop=0.01),
                                    "log_loss": Threshold(upper=0.45, max_rise=0.05)})
    alone = check_thresholds(_evaluation(CANDIDATE), config)
    assert [(c["metric"], c["bound"]) for c in alone] == [("accuracy", "lower"), ("log_loss", "upper")]
    assert _failed(alone) == []
    against = check_thresholds(_evaluation(CANDIDATE, BASELINE), config)
    assert _failed(against) == [("accuracy", "Overall", "max_drop"), ("log_loss", "Overall", "max_rise")]
    messages = [c["message"] for c in against if not c["passed"]]
    assert "accuracy on Overall fell from 0.9 (baseline) to 0.85, a drop of 0.05 > max_drop 0.01" in messages
    assert "log_loss on Overall rose from 0.3 (baseline) to 0.4, a rise of 0.1 > max_rise 0.05" in messages


def test_per_slice_bounds_gate_only_slices_with_enough_rows() -> None:
    config = EvalConfig(thresholds={"accuracy": Threshold(lower=0.82, per_slice=True)})
    checks = check_thresholds(_evaluation(CANDIDATE), config)
    assert {c["slice"] for c in checks} == {"Overall", "island=Biscoe"}  # island=Dream has 12 rows
    assert _failed(checks) == [("accuracy", "island=Biscoe", "lower")]


def test_an_overall_metric_that_could_not_be_computed_fails_its_bound() -> None:
    candidate = [_slice("Overall", [], 50, True, auc=None)]
    checks = check_thresholds(_evaluation(candidate), EvalConfig(thresholds={"auc": Threshold(lower=0.7)}))
    assert _failed(checks) == [("auc", "Overall", "lower")]
    assert "could not be computed" in checks[0]["message"]


def test_fairness_gaps_are_gated_like_metrics() -> None:
    config = EvalConfig(fairness=Fairness(sensitive=["sex"]),
                        thresholds={"demographic_parity_difference": Threshold(upper=0.1, max_rise=0.02)})
    fairness = [{"feature": "sex", "gated_gaps": {"demographic_parity_difference": 0.15},
                 "baseline": {"demographic_parity_difference": 0.05}}]
    checks = check_thresholds(_evaluation(CANDIDATE, BASELINE, fairness), config)
    assert _failed(checks) == [("demographic_parity_difference", "groups of sex", "max_rise"),
                               ("demographic_parity_difference", "groups of sex", "upper")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"thresholds": {"accuracy": Threshold(max_drop=0.1)}, "metrics": ["acc"]}, r"unknown metric\(s\) \['acc'\]"),
        ({"thresholds": {"accuracy": {"max_rise": 0.1}}}, "higher-is-better: a rise is an improvement"),
        ({"thresholds": {"rmsee": {"upper": 1.0}}}, "'rmsee', which is not a metric"),
        ({"thresholds": {"demographic_parity_difference": {"upper": 0.1}}}, "there is no fairness="),
        ({"slices": ["island", ("island", "island")]}, "names a feature twice"),
        ({"min_slice_size": 0}, "min_slice_size: Input should be greater than or equal to 1"),
        ({"bucket_boundaries": {"age": [50, 30]}}, "must be a non-empty increasing list"),
        ({"fairness": {"sensitive": ["sex"], "metrics": ["parity"]}}, r"unknown fairness metric\(s\) \['parity'\]"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_configurations_raise_config_errors_that_say_what_to_do(fields: dict, message: str) -> None:
    with pytest.raises(sw.ConfigError, match=message):
        make_config(fields)


def test_threshold_bounds_are_checked() -> None:
    with pytest.raises(sw.ConfigError, match="lower=0.9 is above upper=0.1"):
        Threshold(lower=0.9, upper=0.1)
    with pytest.raises(sw.ConfigError, match="max_drop: Input should be greater than or equal to 0"):
        Threshold(max_drop=-0.1)
    with pytest.raises(sw.ConfigError, match="must be an EvalConfig or a dict"):
        make_config(["accuracy"])  # type: ignore[arg-type]
