"""Ship a run's weights inside the package: src/colorizekit/weights/<model>.safetensors, with a model card.

The card is the run's own (data, recipe, config, epochs, validation loss) plus what shipping adds:
the training history summed over every session of the run (wall hours, the CPU it ran on, the stages
of sizes and schedules), the evaluation results given as JSON files written by
`benchmarks/settings_sweep.py --json` or `colorizekit evaluate` (summary.json), and the defaults
chosen by measurement: working size, saturation and, for bins models, vividness.

    python tools/ship_weights.py ~/colorizekit-runs/lite/model.safetensors --run ~/colorizekit-runs/lite \\
        --default-vividness 0.5 --default-saturation 1.2 --evaluation sweep.json --note "64 px, cosine over 30 min"
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from colorizekit.hardware import cpu_name
from colorizekit.weights import WEIGHTS_DIR, export_weights, load_weights


def history_hours(run: Path) -> tuple[float, int]:
    """(hours in completed epochs, epochs) from a run's history.csv."""
    with open(run / "history.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return sum(float(r["seconds"]) for r in rows) / 3600.0, len(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="model.safetensors exported by colorizekit train")
    p.add_argument("--run", type=Path, action="append", default=[], help="run folder(s) the weights come from")
    p.add_argument("--default-vividness", type=float, help="bins models: the vividness chosen by measurement")
    p.add_argument("--default-size", type=int, help="the working size chosen by measurement")
    p.add_argument("--default-saturation", type=float, help="the saturation chosen by measurement")
    p.add_argument("--evaluation", type=Path, action="append", default=[], help="evaluation JSON files")
    p.add_argument("--cpu-hours", type=float, help="total CPU wall hours (default: summed from the runs' histories)")
    p.add_argument("--note", action="append", default=[], help="a line on the recipe (repeatable)")
    args = p.parse_args(argv)

    loaded = load_weights(args.weights)
    card = dict(loaded.metadata.get("card", {}))
    hours, epochs = 0.0, 0
    for run in args.run:
        h, e = history_hours(run)
        hours, epochs = hours + h, epochs + e
    card["shipped"] = {
        "trained_on": f"{cpu_name()}, 2 cores, no GPU",
        "wall_hours_in_completed_epochs": round(args.cpu_hours if args.cpu_hours is not None else hours, 3),
        "completed_epochs_all_runs": epochs,
        "runs": [str(r) for r in args.run],
        "recipe": args.note,
        "evaluation": [json.loads(Path(e).read_text(encoding="utf-8")) for e in args.evaluation],
    }
    if args.default_vividness is not None:
        card["default_vividness"] = args.default_vividness
    if args.default_size is not None:
        card["default_size"] = args.default_size
    if args.default_saturation is not None:
        card["default_saturation"] = args.default_saturation
    out = WEIGHTS_DIR / f"{loaded.model_name}.safetensors"
    export_weights(out, loaded.model_name, loaded.state_dict, card=card, model_config=loaded.model_config)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
