"""Evaluation: `evaluate` and `compare` colorizers on colour photos (`protocols`), the metrics
(`metrics`, `uiqm`, `video_metrics`), what reports say and show (`report`, `tables`, `figures`),
video evaluation (`video`) and the demo of the built-in photos (`demo`).
"""

from colorizekit.evaluate.protocols import compare, evaluate
from colorizekit.evaluate.results import Comparison, EvaluationResult

__all__ = ["Comparison", "EvaluationResult", "compare", "evaluate"]
