"""The files of a training run: the loss curve."""

from PIL import Image

from colorizekit.train.runfiles import plot_loss_curve


def test_loss_curve_marks_the_best_epoch(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e + (0.3 if e == 3 else 0.0)} for e in (1, 2, 3)]
    plot_loss_curve(history, tmp_path / "curve.png", best_epoch=2, title="unet-rgb", ylabel="loss (mse)")
    picture = Image.open(tmp_path / "curve.png")
    assert picture.format == "PNG" and picture.size == (700, 450)
