"""`colorizekit info`: the models, their costs and their shipped weights."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list models, or print one model's layer table, parameters and mult-adds",
                       description="Without --model: list every model with its parameters and the mult-adds it "
                                   "performs on one photo, beside the design's jkspnet-lab. With --model: print "
                                   "that model's layer table (as the design documents' summaries), parameter "
                                   "count and mult-adds for a batch at a given size.")
    p.add_argument("--model", help="registry name (omit to list the available models)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size for --model's count (default: 32)")
    p.add_argument("--image-size", type=int, default=128, help="square input size for the counts (default: 128)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from colorizekit.models.complexity import format_model_list, format_summary, model_costs, summarize_model

    if args.batch_size < 1 or args.image_size < 1:
        raise ValueError(f"--batch-size and --image-size must be positive, got {args.batch_size} and {args.image_size}")
    if args.model is None:
        print(format_model_list(model_costs(args.image_size), args.image_size))
        print("\n".join(_shipped_weights_lines() + _pretrained_lines()))
        return 0
    shape = (args.batch_size, 1, args.image_size, args.image_size)
    print(format_summary(summarize_model(args.model, shape)))
    return 0


def _shipped_weights_lines() -> list[str]:
    """For `info`: each model's shipped weights and the defaults measured for them, or why it has none."""
    from colorizekit.models import list_models
    from colorizekit.models.complexity import name_width
    from colorizekit.weights import DEFAULT_MODEL, card_defaults, default_weights_path, load_description

    lines = ["shipped weights (the defaults they were measured best at):"]
    w = name_width(list_models())
    for name in list_models():
        path = default_weights_path(name)
        if path is None:
            lines.append(f"  {name:<{w}}none yet: pass --weights FILE (a model.safetensors from `colorizekit train`)")
            continue
        weights = load_description(path)  # the card only: the tensors are not needed here
        defaults = card_defaults(weights)
        vividness = defaults.vividness
        settings = [f"size {defaults.size}", *([] if vividness is None else [f"vividness {vividness:g}"]),
                    f"saturation {defaults.saturation:g}"]
        hours = weights.metadata.get("card", {}).get("shipped", {}).get("wall_hours_in_completed_epochs")
        trained = "" if hours is None else f"; {hours:.1f} hours of training"
        default = " (the default model: used when none is named)" if name == DEFAULT_MODEL else ""
        lines.append(f"  {name:<{w}}{path.stat().st_size / 2**20:.1f} MiB, {', '.join(settings)}{trained}{default}")
    return lines


def _pretrained_lines() -> list[str]:
    """For `info`: the pretrained encoders that training starts from, and whether they are installed."""
    from colorizekit.models import get_model_info, list_models
    from colorizekit.models.complexity import name_width
    from colorizekit.models.pretrained import EXTRA_HINT, PretrainedError, check_pretrained_available

    named = [(n, get_model_info(n).pretrained_cfg) for n in list_models() if get_model_info(n).pretrained_cfg]
    lines = ["pretrained encoders (`colorizekit train` starts from them; --no-pretrained: from random weights):"]
    w = name_width(list_models())
    for name, cfg in named:
        try:
            where = f"installed ({check_pretrained_available(cfg)})"
        except PretrainedError:
            where = f"not installed: {EXTRA_HINT}"
        lines.append(f"  {name:<{w}}{cfg.name}, package {cfg.package}, {where}")
    return lines if named else []

