"""One metric registry: results, the metric computation, the CSV, the tables and the CLI help all follow it."""

import dataclasses

import pytest

from colorizekit.evaluate import metrics
from colorizekit.evaluate.registry import FULL_REFERENCE, METRIC_NAMES, METRICS, NO_REFERENCE, get_metric
from colorizekit.evaluate.results import CSV_COLUMNS, MetricValues
from colorizekit.evaluate.tables import label_list, metric_table


def test_every_place_lists_the_registered_metrics_in_order():
    assert [f.name for f in dataclasses.fields(MetricValues)] == list(METRIC_NAMES)
    assert [f.name for f in dataclasses.fields(metrics.MetricBatch)] == list(METRIC_NAMES)
    assert CSV_COLUMNS[-len(METRIC_NAMES):] == METRIC_NAMES
    assert sorted(FULL_REFERENCE + NO_REFERENCE) == sorted(METRIC_NAMES) and metrics.METRIC_NAMES is METRIC_NAMES
    table = metric_table({"model": dict.fromkeys(METRIC_NAMES, 1.0)})
    assert all(m.label in table for m in METRICS)


def test_unknown_metric_names_the_known_ones():
    assert get_metric("ssim").decimals == 4
    with pytest.raises(ValueError, match="unknown metric 'lpips'; metrics: psnr, ssim"):
        get_metric("lpips")


def test_the_evaluate_help_names_every_metric(capsys):
    from colorizekit.cli import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert label_list(METRIC_NAMES) in help_text
