"""Ship a run's weights inside the package: src/colorizekit/weights/<model>.safetensors, with a model card.

The card is the run's own (data, recipe, config, epochs, validation loss) plus what shipping adds:
the training history summed over every session of the run (wall hours, the CPU it ran on, the stages
of sizes and schedules), the evaluation results given as JSON files written by
`benchmarks/settings_sweep.py --json` or `colorizekit evaluate` (summary.json), and the defaults
chosen by measurement: working size, saturation and, for bins models, vividness.

    python tools/ship_weights.py ~/colorizekit-runs/lite/model.safetensors --run ~/colorizekit-runs/lite \\
        --default-vividness 0.5 --default-saturation 1.2 --evaluation sweep.json --note "64 px, cosine over 30 min"

`--card-only` re-measures shipped weights without re-shipping them: it rewrites the card of the file
named (in place, e.g. src/colorizekit/weights/lite-unet-bins.safetensors) and nothing else. The card's
training history stays; the defaults, `--evaluation` and `--note` given replace theirs. Only the
safetensors header changes: the tensor bytes are copied as they are, and checked to be identical.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

from colorizekit.hardware import cpu_name
from colorizekit.imageio.atomic import atomic_path
from colorizekit.weights import WEIGHTS_DIR, export_weights, load_description, load_weights


def history_hours(run: Path) -> tuple[float, int]:
    """(hours in completed epochs, epochs) from a run's history.csv."""
    with open(run / "history.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return sum(float(r["seconds"]) for r in rows) / 3600.0, len(rows)


def _split_safetensors(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """A safetensors file's bytes -> (its header, the tensor bytes after it)."""
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def rewrite_card(path: Path, card: dict[str, Any]) -> str:
    """Replace the model card in the safetensors header of `path` (atomically), the tensors' entries and
    bytes untouched; returns the tensor bytes' SHA-256, checked equal before and after."""
    raw = path.read_bytes()
    header, data = _split_safetensors(raw)
    header["__metadata__"]["card"] = json.dumps(card, sort_keys=True)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the header is padded to 8 bytes, as safetensors writes it
    with atomic_path(path) as tmp:
        tmp.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    new_header, new_data = _split_safetensors(path.read_bytes())
    before, after = hashlib.sha256(data).hexdigest(), hashlib.sha256(new_data).hexdigest()
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if after != before or {k: v for k, v in new_header.items() if k != "__metadata__"} != tensors:
        raise RuntimeError(f"{path}: the tensors changed while rewriting the card")
    return after


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
    p.add_argument("--card-only", action="store_true",
                   help="rewrite the card of WEIGHTS in place (shipped weights), tensors untouched")
    args = p.parse_args(argv)

    if args.card_only:
        card = dict(load_description(args.weights).metadata.get("card", {}))
        shipped = dict(card.get("shipped", {}))
        if args.evaluation:
            shipped["evaluation"] = [json.loads(Path(e).read_text(encoding="utf-8")) for e in args.evaluation]
        if args.note:
            shipped["recipe"] = args.note
        card["shipped"] = shipped
        for key, value in (("default_vividness", args.default_vividness), ("default_size", args.default_size),
                           ("default_saturation", args.default_saturation)):
            if value is not None:
                card[key] = value
        digest = rewrite_card(args.weights, card)
        print(f"rewrote the card of {args.weights}; tensor bytes unchanged (SHA-256 {digest})")
        return 0

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
