"""Training: `train(TrainConfig(data_dir, model, out_dir))` runs the loop in `loop`; the config (`config`),
the data (`data`, `photocache`), the step (`step`, `losses`), the schedule, stopping and time budget
(`schedule`, `stopping`), checkpoints and run files (`checkpoint`, `runfiles`) and torchrun
(`distributed`) each have their own module.
"""

from colorizekit.train.config import RESUMABLE_CHANGES, DataFailure, TrainConfig, TrainingDiverged, TrainResult
from colorizekit.train.loop import train

__all__ = ["RESUMABLE_CHANGES", "DataFailure", "TrainConfig", "TrainResult", "TrainingDiverged", "train"]
