"""Training data: scanning, the design's split, transforms, sampling, and clear errors for bad folders."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import cli
from colorizekit.train.data import (
    PhotoDataset,
    ShardSampler,
    center_crop,
    random_crop,
    random_crop_box,
    scan_images,
    split_paths,
    squash,
)
from tests.conftest import synthetic_rgb


def make_photo_dir(folder: Path, n: int = 14, size: int = 40, *, gray: bool = True, corrupt: bool = True) -> Path:
    """`n` synthetic colour photos (PNG, size x size), plus one grayscale JPEG and one corrupt file."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(synthetic_rgb(size, size, seed=i)).save(folder / f"photo{i:02d}.png")
    if gray:
        g = synthetic_rgb(size, size, seed=1000).mean(axis=2).astype(np.uint8)
        Image.fromarray(g).convert("RGB").save(folder / "gray.jpg", quality=85)
    if corrupt:
        (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not really a JPEG")
    return folder


@pytest.fixture
def photo_dir(tmp_path) -> Path:
    folder = make_photo_dir(tmp_path / "photos", n=12)
    (folder / "nested" / "deeper").mkdir(parents=True)
    Image.fromarray(synthetic_rgb(30, 50, seed=77)).save(folder / "nested" / "deeper" / "wide.jpg")
    (folder / "notes.txt").write_text("not an image suffix: ignored")
    return folder


def test_scan_skips_and_counts_grayscale_and_unreadable(photo_dir):
    scan = scan_images(photo_dir, progress=False)
    names = [p.relative_to(photo_dir).as_posix() for p in scan.paths]
    assert len(names) == 13 and "nested/deeper/wide.jpg" in names
    assert names == sorted(names)
    assert [p.name for p in scan.grayscale] == ["gray.jpg"]
    assert len(scan.unreadable) == 1 and "corrupt.jpg" in scan.unreadable[0] and "\n" not in scan.unreadable[0]


def test_split_is_the_designs_seeded_shuffle_and_80_20():
    paths = [f"img{i:03d}.jpg" for i in range(100)]
    train, val = split_paths(list(reversed(paths)), 0.2, 44)
    assert len(train) == 80 and len(val) == 20
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(paths)
    expected = sorted(paths)
    random.seed(44)  # the notebook's recipe
    random.shuffle(expected)
    assert train + val == expected
    assert split_paths(paths, 0.2, 44) == (train, val)  # same on every call, whatever the input order
    assert split_paths(paths, 0.2, 45) != (train, val)


def test_split_refuses_empty_sides():
    with pytest.raises(ValueError, match="cannot be split"):
        split_paths(["only.jpg"], 0.2, 44)
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_paths(["a", "b"], 1.0, 44)


def test_transform_sizes_and_crop_boxes():
    img = Image.fromarray(synthetic_rgb(48, 64, seed=5))
    assert squash(img, 16).size == (16, 16)
    assert center_crop(img, 24).size == (24, 24)
    for seed in range(200):
        rng = random.Random(seed)
        left, top, right, bottom = random_crop_box(64, 48, rng)
        w, h = right - left, bottom - top
        assert 0 <= left < right <= 64 and 0 <= top < bottom <= 48
        assert 0.25 * 64 * 48 * 0.9 <= w * h <= 64 * 48
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1
        assert random_crop(img, 16, random.Random(seed)).size == (16, 16)


def test_center_crop_takes_the_middle():
    arr = np.zeros((20, 60, 3), np.uint8)
    arr[:, 20:40] = 255  # white middle square, black sides
    out = np.asarray(center_crop(Image.fromarray(arr), 10))
    assert out[:, 1:-1].min() >= 250 and out.min() > 128  # the filter blends only the outermost columns


def test_dataset_returns_uint8_tensors_with_reproducible_crops(photo_dir):
    paths = scan_images(photo_dir, progress=False).paths
    train = PhotoDataset(paths, 16, train=True, resize="crop", seed=44)
    val = PhotoDataset(paths, 16, train=False, resize="crop")
    x = train[(3, 0)]
    assert x.dtype == torch.uint8 and x.shape == (3, 16, 16)
    assert torch.equal(x, train[(3, 0)])  # the crop depends on (seed, epoch, index) only
    assert any(not torch.equal(x, train[(e, 0)]) for e in range(4, 8))  # and changes between epochs
    assert val[0].shape == (3, 16, 16) and torch.equal(val[0], val[(9, 0)])
    assert PhotoDataset(paths, 8, train=True, resize="squash")[(1, 2)].shape == (3, 8, 8)
    with pytest.raises(ValueError, match="resize"):
        PhotoDataset(paths, 8, train=True, resize="stretch")


def test_sampler_shards_give_the_single_process_batches():
    n, batch = 23, 6  # 3 whole global batches; 5 photos left out this epoch
    single = ShardSampler(n, global_batch=batch, seed=1)
    ranks = [ShardSampler(n, global_batch=batch, rank=r, world_size=2, seed=1) for r in range(2)]
    for s in [single, *ranks]:
        s.set_epoch(4)
    assert single.steps_per_epoch == 3 and len(single) == 18 and all(len(r) == 9 for r in ranks)
    one = [i for _, i in single]
    per_rank = [[i for _, i in r] for r in ranks]
    for step in range(3):
        both = per_rank[0][step * 3:(step + 1) * 3] + per_rank[1][step * 3:(step + 1) * 3]
        assert sorted(both) == sorted(one[step * 6:(step + 1) * 6])
    single.set_epoch(4, start_step=2)  # resuming mid-epoch skips the steps already done
    assert [i for _, i in single] == one[12:] and len(single) == 6
    single.set_epoch(5)
    assert [i for _, i in single] != one


def test_validation_shards_cover_every_photo_once():
    shards = [ShardSampler(7, global_batch=4, rank=r, world_size=2, shuffle=False, drop_last=False) for r in range(2)]
    seen = [i for s in shards for _, i in s]
    assert sorted(seen) == list(range(7)) and [len(s) for s in shards] == [4, 3]


def test_bad_data_dirs_give_one_line_errors(tmp_path, photo_dir):
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        scan_images(tmp_path / "missing", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        scan_images(tmp_path / "empty", progress=False)
    useless = make_photo_dir(tmp_path / "useless", n=0)
    with pytest.raises(ValueError, match=r"no usable colour photos among 2 image files \(1 grayscale, 1 unreadable\)"):
        scan_images(useless, progress=False)
    with pytest.raises(ValueError, match="not a folder"):
        scan_images(photo_dir / "photo00.png", progress=False)


@pytest.mark.parametrize("folder", ["missing", "empty", "useless"])
def test_cli_train_bad_data_dir(tmp_path, capsys, folder):
    (tmp_path / "empty").mkdir()
    make_photo_dir(tmp_path / "useless", n=0)
    status = cli.main(["train", str(tmp_path / folder), "--model", "jkspnet-lab", "--out", str(tmp_path / "run"),
                       "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("colorizekit train: error:") and "\n" not in err and folder in err


def test_cli_train_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for flag in ("--epochs", "--batch-size", "--image-size", "--lr", "--weight-decay", "--patience", "--val-fraction",
                 "--seed", "--resize", "--workers", "--device", "--precision", "--compile", "--resume", "--sync-bn",
                 "--restart-from-best"):
        assert flag in out


def test_cli_train_checks_image_size_against_the_model(tmp_path, capsys, photo_dir):
    status = cli.main(["train", str(photo_dir), "--model", "unet-rgb", "--out", str(tmp_path / "run"),
                       "--image-size", "40"])
    err = capsys.readouterr().err
    assert status == 2 and "not a multiple of 16" in err and "unet-rgb" in err and "use e.g. 32 or 48" in err


@pytest.mark.parametrize("flag, value, message", [
    ("--rebalance", "lots", "expected a number in (0, 1] or 'none'"),
    ("--model-config", "width", "expected KEY=VALUE"),
    ("--init-from", "missing.safetensors", "missing.safetensors: no such weights file"),
])
def test_cli_train_bad_new_options_give_one_line_errors(tmp_path, capsys, photo_dir, flag, value, message):
    args = ["train", str(photo_dir), "--model", "lite-unet-bins", "--out", str(tmp_path / "run"), flag,
            str(tmp_path / value) if flag == "--init-from" else value, "--image-size", "32", "--no-progress"]
    try:
        status = cli.main(args)
    except SystemExit as exc:  # argparse refuses the value itself
        status = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and message in err[-1]
