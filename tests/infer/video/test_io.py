"""Reading and writing video with PyAV: timing, size, audio, metadata and rotation are kept."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from colorizekit.infer.video.files import output_suffix_and_encoder
from colorizekit.infer.video.io import VideoReader, VideoWriter
from colorizekit.infer.video.synthetic import AUDIO_RATE, tone, write_clip
from tests.video_clips import FPS, SECONDS, clip_frames


def _audio_packets(path) -> list[tuple[bytes, int | None]]:
    with av.open(str(path)) as c:
        return [(bytes(p), p.pts) for p in c.demux(c.streams.audio[0]) if p.size]


def _video_stats(path) -> tuple[int, Fraction, tuple[int, int], float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f for f in c.decode(s)]
        return len(frames), s.average_rate, (frames[0].width, frames[0].height), c.duration / av.time_base


def _copy(source, target, invert=True):
    _, encoder = output_suffix_and_encoder(target)
    with VideoReader(source) as reader, VideoWriter(target, reader.info, encoder, 18) as writer:
        for frame in reader:
            writer.write(255 - frame.rgb if invert else frame.rgb, frame)
    return reader


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".avi", ".webm"])
def test_writer_keeps_timing_size_audio_and_metadata(tmp_path, photos, suffix):
    frames = clip_frames(photos)
    source, target = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    write_clip(source, frames, fps=FPS, audio=tone(SECONDS), metadata={"title": "two shots"})
    reader = _copy(source, target)
    assert reader.stopped is None and reader.frames_read == len(frames)
    n_in, fps_in, size_in, duration_in = _video_stats(source)
    n_out, fps_out, size_out, duration_out = _video_stats(target)
    assert (n_out, fps_out, size_out) == (n_in, fps_in, size_in) == (len(frames), FPS, (160, 96))
    assert duration_out == pytest.approx(duration_in, abs=0.5 / FPS)
    assert _audio_packets(target) == _audio_packets(source)  # copied unchanged, timestamps included
    with av.open(str(target)) as c:
        assert c.metadata.get("title") == "two shots"
    with VideoReader(target) as r:  # the pixels written are what comes back (BT.709 both ways)
        diff = [np.abs(f.rgb.astype(int) - (255 - frames[f.index].astype(int))).mean() for f in r]
    assert np.mean(diff) < 4


def test_audio_tone_survives(tmp_path, photos):
    source, target = tmp_path / "in.mkv", tmp_path / "out.mkv"  # PCM audio: decoded samples compare exactly
    sine = tone(SECONDS)
    write_clip(source, clip_frames(photos), fps=FPS, audio=sine)
    _copy(source, target)
    with av.open(str(target)) as c:
        stream = c.streams.audio[0]
        samples = np.concatenate([f.to_ndarray().ravel() for f in c.decode(stream)])
    assert stream.rate == AUDIO_RATE
    np.testing.assert_allclose(samples[:len(sine)] / 32767, sine[:len(samples)], atol=1e-4)


def test_odd_size_kept(tmp_path, photos):
    frames = [np.concatenate([f, f[:, -1:]], axis=1)[:95] for f in clip_frames(photos)[:6]]  # 161 x 95
    source, target = tmp_path / "odd.mp4", tmp_path / "out.mp4"
    write_clip(source, frames, fps=FPS)
    _copy(source, target)
    assert _video_stats(target)[2] == (161, 95)


def test_variable_frame_timing_kept(tmp_path, photos):
    source, target = tmp_path / "vfr.mkv", tmp_path / "out.mkv"
    stamps = [0, 100, 150, 300, 320, 500, 900]  # milliseconds
    with av.open(str(source), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for rgb, ms in zip(clip_frames(photos), stamps):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = ms, Fraction(1, 1000)
            out.mux(s.encode(f))
        out.mux(s.encode())
    _copy(source, target)
    with VideoReader(target) as r:
        assert [round(f.time * 1000) for f in r] == stamps


def test_rotation_kept(tmp_path, photos):
    source, target = tmp_path / "phone.mp4", tmp_path / "out.mp4"
    with av.open(str(source), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.set_display_rotation(90)
        for rgb in clip_frames(photos)[:4]:
            out.mux(s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(s.encode())
    with VideoReader(source) as r:
        first = next(iter(r))
        rotation = r.info.rotation
    assert rotation != 0 and first.rgb.shape == (96, 160, 3)
    _copy(source, target)
    with VideoReader(target) as r:
        next(iter(r))
        assert r.info.rotation == rotation
