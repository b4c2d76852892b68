"""Colorizing video end to end with the shipped model: timing and audio kept, cuts found, less
flicker with temporal consistency at no real cost in accuracy, interrupted runs leave nothing."""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from colorizekit import color
from colorizekit.evaluate import metrics
from colorizekit.evaluate.video_metrics import warped_ab_difference
from colorizekit.infer.video.files import VideoError, VideoErrorKind
from colorizekit.infer.video.io import VideoReader
from colorizekit.infer.video.synthetic import write_clip
from colorizekit.infer.video.temporal import FlowEstimator, flow_reliability, to_uint8_gray
from tests.video_clips import FPS, SHOT_FRAMES


def _lab(rgb_uint8: np.ndarray) -> torch.Tensor:
    return color.rgb_to_lab(torch.from_numpy(rgb_uint8).permute(2, 0, 1).double() / 255)


def _decoded(path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [f.rgb for f in r]


def _audio(path) -> tuple[list[bytes], np.ndarray]:
    with av.open(str(path)) as c:
        packets = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    with av.open(str(path)) as c:
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    return packets, samples


def test_output_keeps_size_rate_count_duration_and_audio(clip, colorized):
    source, frames = clip
    result, path = colorized["flow"]
    assert (result.frames, result.fps, result.width, result.height) == (len(frames), FPS, 160, 96)
    with av.open(str(path)) as out, av.open(str(source)) as inp:
        vo, vi = out.streams.video[0], inp.streams.video[0]
        assert vo.codec_context.name == "h264" and vo.average_rate == vi.average_rate
        assert out.duration == pytest.approx(inp.duration, abs=av.time_base // FPS)
        assert out.metadata.get("title") == "two shots"
    packets_in, samples_in = _audio(source)
    packets_out, samples_out = _audio(path)
    assert packets_out == packets_in  # the AAC stream, copied unchanged
    t = np.arange(len(samples_out)) / 16_000
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    middle = slice(2048, len(t) - 2048)  # AAC's priming and end
    assert np.corrcoef(samples_out[middle], sine[middle])[0, 1] > 0.99
    np.testing.assert_array_equal(samples_out, samples_in)


def test_luminance_is_the_input_s(clip, colorized):
    _, frames = clip
    out = _decoded(colorized["flow"][1])
    assert len(out) == len(frames)
    diff = np.mean([(_lab(o)[0] - _lab(f)[0]).abs().mean().item() for o, f in zip(out, frames)])
    assert diff < 2.0  # H.264 at crf 18 twice (the clip and the output), and gamut clipping


def test_cut_detected(colorized):
    assert colorized["flow"][0].cuts == (0, SHOT_FRAMES)
    assert colorized["none"][0].cuts == (0, SHOT_FRAMES)


def test_written_files_flicker_less_at_no_real_cost(clip, colorized):
    """On the written files against the colour originals: temporal consistency lowers the flow-warped
    |Δab| and costs at most 0.2 ΔE00 per frame. (The halving is measured on the pipeline's output in
    test_evaluate.py: 8-bit rounding and H.264's 4:2:0 chroma add frame-to-frame noise of their own,
    about 0.4 Lab units here, to both methods.)"""
    _, frames = clip
    flow = FlowEstimator("medium")
    grays = [to_uint8_gray(f.astype(np.float32).mean(axis=2) / 255) for f in frames]
    scores = {}
    for method in ("none", "flow"):
        out = _decoded(colorized[method][1])
        warped, ciede = [], []
        for t, (rgb, original) in enumerate(zip(out, frames)):
            ciede.append(metrics.ciede2000(torch.from_numpy(rgb).permute(2, 0, 1)[None] / 255.0,
                                           torch.from_numpy(original).permute(2, 0, 1)[None] / 255.0).item())
            if t == 0 or t == SHOT_FRAMES:
                continue
            backward, forward = flow(grays[t], grays[t - 1]), flow(grays[t - 1], grays[t])
            mask = flow_reliability(backward, forward, grays[t], grays[t - 1]) >= 0.5
            warped.append(warped_ab_difference(_lab(out[t - 1])[1:], _lab(rgb)[1:], torch.from_numpy(backward),
                                               torch.from_numpy(mask)))
        scores[method] = (np.mean(warped), np.mean(ciede))
    (warp_none, de_none), (warp_flow, de_flow) = scores["none"], scores["flow"]
    assert warp_flow <= 0.9 * warp_none, scores
    assert de_flow <= de_none + 0.2, scores


def test_ctrl_c_leaves_no_file(tmp_path, clip, colorizer, monkeypatch):
    calls = {"n": 0}
    real = colorizer.predict_chroma

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(colorizer, "predict_chroma", interrupted)
    target = tmp_path / "out" / "film.mp4"
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning):
        colorizer.colorize_video(clip[0], target, progress=False)
    assert list(target.parent.iterdir()) == []


def test_ctrl_c_to_the_cli_leaves_no_file(tmp_path, clip):
    """A real SIGINT, as a terminal sends it, while the output is being written: exit 130, and
    neither the output nor its temporary file is left."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "colorizekit", "colorize", str(clip[0]), "-o", str(out),
                             "--device", "cpu"], cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(".film.*.tmp.mp4")):  # the writer has opened its temporary file
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.5)  # frames are going through (the whole clip takes several seconds)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.rstrip().endswith("interrupted") and "Traceback" not in stderr
    assert list(out.iterdir()) == []


def test_progress_bar_counts_frames_and_the_time_left(tmp_path, clip, colorizer, capsys, monkeypatch):
    import tqdm

    # tqdm redraws at most every 0.1 s, so on a fast machine it may draw nothing between "0/8" and
    # clearing the bar; drawing every update makes what is drawn independent of the machine's speed
    monkeypatch.setattr(tqdm, "tqdm", functools.partial(tqdm.tqdm, mininterval=0, miniters=1))
    gray = [np.repeat(f.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2) for f in clip[1][:8]]
    short = tmp_path / "short.mp4"
    write_clip(short, gray, fps=FPS)
    colorizer.colorize_video(short, tmp_path / "out.mp4", temporal="none")  # progress=True, the default
    err = capsys.readouterr().err
    # tqdm's "done/total [elapsed<left, rate]", in frames, up to the last frame
    for done in range(1, 9):
        assert re.search(rf"short\.mp4: +\d+%\|.*\| {done}/8 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(frame/s|s/frame)\]",
                         err), err


def test_truncated_video_is_colorized_as_far_as_it_goes(tmp_path, clip, colorized, colorizer):
    data = colorized["none"][1].read_bytes()  # an MP4 with its index at the front (+faststart)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[:int(len(data) * 0.6)])
    result = colorizer.colorize_video(broken, tmp_path / "out.mp4", progress=False)
    assert 0 < result.frames < len(clip[1])
    assert result.stopped == (f"{broken}: the stream ended early after frame {result.frames} of {len(clip[1])} "
                              f"({result.frames / FPS:.2f} s)")
    assert len(_decoded(result.output)) == result.frames


def test_bad_inputs_say_what_is_wrong(tmp_path, colorizer):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(VideoError, match="fake.mp4: not a video FFmpeg can read") as e:
        colorizer.colorize_video(fake, tmp_path / "o.mp4", progress=False)
    assert e.value.kind == VideoErrorKind.NOT_A_VIDEO
    with pytest.raises(ValueError, match="would overwrite its input"):
        colorizer.colorize_video(fake, fake, progress=False)
    with pytest.raises(ValueError, match="crf must be an integer from 0 to 51 for libx264, got 60"):
        colorizer.colorize_video(fake, tmp_path / "o.mp4", crf=60, progress=False)
    assert not (tmp_path / "o.mp4").exists()
