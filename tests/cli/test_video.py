"""`colorizekit colorize` on photos and videos mixed: bad videos get one line each, the rest go on."""

from __future__ import annotations

import builtins
import shutil

import pytest

pytest.importorskip("av", reason="PyAV is not installed (pip install 'colorizekit[video]')")
pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'colorizekit[video]')")

import av  # noqa: E402

from colorizekit.cli import main  # noqa: E402
from colorizekit.evaluate.demo import demo_images  # noqa: E402
from colorizekit.infer.files import colorize_files, plan_outputs  # noqa: E402
from colorizekit.infer.video.files import VideoError, require_video_extra  # noqa: E402
from colorizekit.infer.video.synthetic import AUDIO_RATE, tone, write_clip  # noqa: E402
from tests.video_clips import FPS, SHOT_FRAMES, clip_frames  # noqa: E402


def _audio_only(path) -> None:
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        samples = tone(0.5)
        for start in range(0, len(samples), 1024):
            f = av.AudioFrame.from_ndarray(samples[None, start:start + 1024].copy(), format="fltp", layout="mono")
            f.sample_rate, f.pts = AUDIO_RATE, start
            out.mux(s.encode(f))
        out.mux(s.encode())


def _unknown_codec(path, frames) -> None:
    """An AVI whose video stream claims a codec FFmpeg does not know (its FourCC changed to ZQX9)."""
    write_clip(path, frames, fps=FPS)
    path.write_bytes(path.read_bytes().replace(b"H264", b"ZQX9"))


def test_mixed_run_reports_each_bad_video_on_one_line(tmp_path, photos, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    frames = clip_frames(photos)[SHOT_FRAMES - 4:SHOT_FRAMES + 4]
    shutil.copy(demo_images()[2], inputs / "photo.jpg")
    write_clip(inputs / "good.MP4", frames, fps=FPS, audio=tone(len(frames) / FPS))
    (inputs / "fake.mp4").write_text("hello")
    _audio_only(inputs / "sound.mp4")
    write_clip(inputs / "cut.mkv", clip_frames(photos)[:20], fps=FPS)
    data = (inputs / "cut.mkv").read_bytes()
    (inputs / "cut.mkv").write_bytes(data[:len(data) // 2])
    _unknown_codec(inputs / "odd.avi", frames)
    out = tmp_path / "out"
    assert main(["colorize", str(inputs), "-o", str(out), "--device", "cpu", "--crf", "23"]) == 1
    err = capsys.readouterr()
    failed = sorted(line for line in err.err.splitlines() if line.startswith("failed: "))
    assert len(failed) == 4, err.err
    assert failed[0].startswith(f"failed: {inputs / 'cut.mkv'}: the stream ended early after frame ")
    assert " of 20 (" in failed[0] and failed[0].endswith(f" s); the frames before it are in {out / 'cut.mkv'}")
    assert failed[1].startswith(f"failed: {inputs / 'fake.mp4'}: not a video FFmpeg can read (")
    assert failed[2] == f"failed: {inputs / 'odd.avi'}: unsupported video codec (unknown): FFmpeg has no decoder for it"
    assert failed[3] == f"failed: {inputs / 'sound.mp4'}: no video stream (it has 1 audio)"
    assert "3 done, 0 skipped, 4 failed" in err.out  # photo, good, and the cut one as far as it goes
    assert sorted(p.name for p in out.iterdir()) == ["cut.mkv", "good.MP4", "photo.jpg"]
    with av.open(str(out / "good.MP4")) as c:
        assert c.streams.video[0].frames == len(frames) and len(c.streams.audio) == 1


def test_a_crf_only_vp9_takes_fails_the_h264_videos_alone(tmp_path, photos, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    frames = clip_frames(photos)[:6]
    write_clip(inputs / "a.mp4", frames, fps=FPS)
    write_clip(inputs / "b.webm", frames, fps=FPS)
    out = tmp_path / "out"
    assert main(["colorize", str(inputs), "-o", str(out), "--device", "cpu", "--crf", "55"]) == 1
    err = capsys.readouterr()
    failed = [line for line in err.err.splitlines() if line.startswith("failed: ")]
    assert failed == [f"failed: {out / 'a.mp4'}: crf must be an integer from 0 to 51 for libx264, got 55"]
    assert "1 done, 0 skipped, 1 failed" in err.out
    assert sorted(p.name for p in out.iterdir()) == ["b.webm"]


def test_video_suffixes_and_output_containers(tmp_path):
    for name in ("a.mp4", "b.WEBM", "c.mpg", "d.mov", "e.jpg"):
        (tmp_path / name).write_bytes(b"x")
    jobs, problems = plan_outputs([tmp_path], tmp_path / "out")
    assert problems == []
    assert sorted(j.output.name for j in jobs) == ["a.mp4", "b.WEBM", "c.mkv", "d.mov", "e.jpg"]


def test_missing_extra_is_one_line_and_photos_go_on(tmp_path, monkeypatch, colorizer):
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    with pytest.raises(VideoError, match=r"film.mp4: colorizing video needs av \(PyAV\): pip install "
                                         r"'colorizekit\[video\]'"):
        require_video_extra("film.mp4")
    (tmp_path / "film.mp4").write_bytes(b"x")
    shutil.copy(demo_images()[0], tmp_path / "photo.jpg")
    errors = []
    report = colorize_files(colorizer, [tmp_path / "film.mp4", tmp_path / "photo.jpg"], tmp_path / "out",
                            on_error=lambda source, reason: errors.append(reason))
    assert [p.name for p in report.done] == ["photo.jpg"]
    assert errors == [f"{tmp_path / 'film.mp4'}: colorizing video needs av (PyAV): pip install 'colorizekit[video]'"]


def test_crf_out_of_range_is_refused(capsys):
    assert main(["colorize", "x.mp4", "--crf", "99", "--device", "cpu"]) == 2
    assert capsys.readouterr().err == ("colorizekit colorize: error: --crf must be from 0 to 51 (H.264) or 63 "
                                       "(VP9, WebM outputs), got 99\n")
