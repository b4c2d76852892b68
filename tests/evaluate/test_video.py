"""Video evaluation: per-video figures, the temporal method against frame by frame, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("av", reason="PyAV is not installed (pip install 'colorizekit[video]')")
pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'colorizekit[video]')")

from colorizekit.cli import main  # noqa: E402
from colorizekit.evaluate.video import evaluate_videos, score_video, write_video_report  # noqa: E402
from colorizekit.infer.video.synthetic import Shot, render, tone, write_clip  # noqa: E402
from tests.video_clips import SHOT_FRAMES, clip_frames  # noqa: E402


def test_temporal_consistency_halves_flicker_at_no_real_cost(clip, colorizer):
    """On the pipeline's output (as `colorizekit evaluate` scores it): the flow-warped |Δab| with
    temporal consistency is at most half of frame by frame's, the per-frame ΔE00 at most 0.2 worse."""
    score = score_video(colorizer, clip[0])
    none, flow, original = score.rows["none"], score.rows["flow"], score.rows["original"]
    assert flow.warped_ab <= 0.5 * none.warped_ab, score.rows
    assert flow.ciede2000 <= none.ciede2000 + 0.2, score.rows
    assert flow.cdc < none.cdc
    assert original.ciede2000 is None and original.warped_ab > 0  # the originals' own change along the flow
    assert score.cuts == (0, SHOT_FRAMES) and score.frames == len(clip[1])


def test_kodak_clip_halves_flicker_at_no_real_cost(shared_data, tmp_path, colorizer):
    """The same on a clip from ../shared/data's kodak24 photos: a slow pan across the motocross photo,
    a cut, a slow zoom into the parrots, a little noise, a tone (Matroska, PCM audio)."""
    kodak = shared_data / "eval" / "kodak24"
    first, second = (np.asarray(Image.open(kodak / f"kodim{n}.png").convert("RGB")) for n in ("05", "23"))
    shots = [Shot(first, 12, (0.42, 0.5, 0.6), (0.58, 0.5, 0.6)), Shot(second, 12, (0.5, 0.5, 0.7), (0.5, 0.5, 0.55))]
    path = tmp_path / "kodak.mkv"
    write_clip(path, render(shots, 192, 128, noise=2.0, seed=2), fps=12, audio=tone(2.0))
    score = score_video(colorizer, path)
    none, flow = score.rows["none"], score.rows["flow"]
    assert score.cuts == (0, 12) and score.frames == 24
    assert flow.warped_ab <= 0.5 * none.warped_ab, score.rows
    assert flow.ciede2000 <= none.ciede2000 + 0.2, score.rows


def _folder(tmp_path, photos, gray_too=True):
    """A folder with a short colour film (8 frames, a cut at 4) and, if `gray_too`, a grayscale one."""
    folder = tmp_path / "videos"
    folder.mkdir()
    frames = clip_frames(photos)
    write_clip(folder / "film.mp4", frames[SHOT_FRAMES - 4:SHOT_FRAMES + 4], fps=12)
    if gray_too:
        gray = [f.mean(axis=2, keepdims=True).repeat(3, axis=2).astype("uint8") for f in frames[:4]]
        write_clip(folder / "gray.mkv", gray, fps=12)
    return folder


def test_evaluate_a_folder_writes_a_report(tmp_path, colorizer, photos):
    folder = _folder(tmp_path, photos)
    result = evaluate_videos(folder, colorizer, progress=False)
    assert [v.name for v in result.videos] == ["film.mp4"]
    assert result.failed == ((str(folder / "gray.mkv"),
                              f"{folder / 'gray.mkv'}: a grayscale video: there is no colour to compare with"),)
    out = write_video_report(result, tmp_path / "report")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == ["none", "flow", "original"]
    assert summary["means"]["flow"]["warped_ab"] == pytest.approx(result.videos[0].rows["flow"].warped_ab)
    assert summary["temporal"]["method"] == "flow"
    csv_lines = (out / "per_video.csv").read_text().splitlines()
    assert csv_lines[0].startswith("video,width,height,frames,fps,cuts,row,ciede2000")
    assert len(csv_lines) == 4 and csv_lines[1].startswith("film.mp4,160,96,8,12,0 4,none,")
    assert "| film.mp4 | flow | 8 |" in (out / "summary.md").read_text()


def test_cli_evaluate_routes_videos(tmp_path, photos, capsys):
    folder = _folder(tmp_path, photos, gray_too=False)
    assert main(["evaluate", str(folder), "-o", str(tmp_path / "report"), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "| film.mp4 | flow |" in printed and "1 video(s) evaluated" in printed
    assert (tmp_path / "report" / "summary.json").exists()
