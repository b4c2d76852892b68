"""Reading and writing video with PyAV: frames in as RGB arrays, colour frames out, audio copied.

`VideoReader` opens any file FFmpeg reads, describes its video stream (`VideoInfo`) and decodes it
frame by frame; a file that breaks off is read as far as it goes and `stopped` says where.
`VideoWriter` encodes RGB frames with each input frame's own timestamp (so the frame rate, frame
count, duration and any variable timing are kept), copies every audio stream's packets unchanged,
interleaved with the video as they go, and carries the container's and streams' metadata, the
chapters and the display rotation. Colour goes in as BT.709 (limited range, tagged so), which
decoders read back as they were written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from colorizekit.imageio.errors import one_line
from colorizekit.infer.video.files import H264_ENCODER, VP9_ENCODER, VideoError, VideoErrorKind, container_signature

AUDIO_LEAD_S = 0.5  # audio packets are muxed up to this far ahead of the last video frame written
_SKIPPED_TAGS = ("encoder", "duration", "handler_name", "vendor_id", "number_of_frames", "number_of_bytes",
                 "_statistics_")  # tags that describe the old encoding, not the content (case-insensitive prefixes)
_BT709 = 1  # FFmpeg's AVCOL_SPC/PRI/TRC_BT709
_LIMITED_RANGE = 1  # FFmpeg's AVCOL_RANGE_MPEG
_END_TOLERANCE_FRAMES = 2  # a decode that ends this many frames short of the announced count is complete
_INDEX_TIMED_FORMATS = ("avi",)  # containers without presentation timestamps: frames are timed by their index


@dataclass(frozen=True)
class VideoInfo:
    """A video file's video stream, as its container announces it."""

    path: Path
    width: int  # coded frame size
    height: int
    fps: Fraction  # average frame rate
    time_base: Fraction  # unit of the stream's timestamps
    frames: int | None  # frame count the container announces (None when it does not)
    duration: float | None  # seconds, the video stream's (else the container's); None when unknown
    codec: str  # the video codec's FFmpeg name
    audio_streams: int  # audio streams (all copied to the output)
    rotation: float  # degrees a player turns the frames by (display matrix), 0 if none

    @property
    def expected_frames(self) -> int | None:
        """Frames the whole stream should hold: the announced count, else duration x fps."""
        if self.frames:
            return self.frames
        return round(self.duration * self.fps) if self.duration else None


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    index: int  # 0, 1, ... in presentation order
    pts: int | None  # timestamp in the stream's time base (None when the file has none)
    time: float  # seconds
    rgb: np.ndarray  # (H, W, 3) uint8


def _open_input(path: Path):
    import av

    try:
        return av.open(os.fspath(path), "r")
    except FileNotFoundError:
        raise VideoError(f"{path}: no such file", VideoErrorKind.NOT_A_VIDEO) from None
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or one_line(exc)  # FFmpeg's words without the path again
        announced = container_signature(path)
        if announced is not None:  # e.g. an MP4 cut off before its index (the moov box) was written
            raise VideoError(f"{path}: damaged or truncated {announced} file, FFmpeg cannot open it ({reason})",
                             VideoErrorKind.DAMAGED) from None
        raise VideoError(f"{path}: not a video FFmpeg can read ({reason})", VideoErrorKind.NOT_A_VIDEO) from None


class VideoReader:
    """Decode a video file's first video stream frame by frame: `for frame in reader: ...`.

    Raises VideoError when the file is no container FFmpeg reads, has no video stream, or has one
    in a codec FFmpeg cannot decode. When decoding fails part way, or the stream ends well before
    the frame count its container announces, iteration stops and `stopped` is one line saying where;
    it is None after a complete read. The first frame is decoded on opening: it carries the rotation.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.container = _open_input(self.path)
        try:
            self.info = self._describe()
        except BaseException:
            self.container.close()
            raise
        self.stopped: str | None = None
        self.frames_read = 0
        self._decoded = self.container.decode(self.container.streams.video[0])
        self._first = self._next_decoded()  # read ahead: the first frame carries the display rotation
        if self._first is not None:
            self.info = _with_rotation(self.info, self._first)

    def _describe(self) -> VideoInfo:
        import av

        c = self.container
        if not c.streams.video:
            kinds = ", ".join(f"{len(getattr(c.streams, k))} {k}" for k in ("audio", "subtitles", "data")
                              if getattr(c.streams, k))
            raise VideoError(f"{self.path}: no video stream (it has {kinds or 'no streams'})",
                             VideoErrorKind.NO_VIDEO_STREAM)
        stream = c.streams.video[0]
        try:
            ctx = stream.codec_context
            name = ctx.name if ctx is not None else None
        except (av.FFmpegError, ValueError):
            name = None
        if not name:
            tag = getattr(ctx, "codec_tag", "") if name else ""
            raise VideoError(f"{self.path}: unsupported video codec {tag or name or '(unknown)'}: FFmpeg has no "
                             "decoder for it", VideoErrorKind.UNSUPPORTED)
        stream.thread_type = "AUTO"
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps:
            raise VideoError(f"{self.path}: the video stream has no frame rate", VideoErrorKind.DAMAGED)
        duration = float(stream.duration * stream.time_base) if stream.duration else (
            c.duration / av.time_base if c.duration else None)
        return VideoInfo(path=self.path, width=ctx.width, height=ctx.height, fps=Fraction(fps),
                         time_base=Fraction(stream.time_base), frames=stream.frames or None, duration=duration,
                         codec=name, audio_streams=len(c.streams.audio), rotation=0.0)

    def _next_decoded(self):
        """The next decoded av.VideoFrame, or None at the end or where decoding fails (`stopped` says so)."""
        import av

        try:
            return next(self._decoded)
        except StopIteration:
            return None
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.stopped = self._where(f"decoding failed ({one_line(exc)})")
            return None

    def __iter__(self) -> Iterator[Frame]:
        by_index = self.container.format.name in _INDEX_TIMED_FORMATS
        frame, self._first = self._first, None
        while frame is not None:
            rgb = frame.to_ndarray(format="rgb24")
            if by_index or frame.pts is None:
                time = self.frames_read / float(self.info.fps)
                pts = round(self.frames_read / (self.info.fps * self.info.time_base)) if by_index else None
            else:
                pts, time = frame.pts, float(frame.time)
            yield Frame(self.frames_read, pts, time, rgb)
            self.frames_read += 1
            frame = self._next_decoded()
        expected = self.info.expected_frames
        if self.stopped is None and expected is not None and self.frames_read < expected - _END_TOLERANCE_FRAMES:
            self.stopped = self._where("the stream ended early")

    def _where(self, what: str) -> str:
        seconds = self.frames_read / float(self.info.fps)
        total = self.info.expected_frames
        of = f" of {total}" if total else ""
        return f"{self.path}: {what} after frame {self.frames_read}{of} ({seconds:.2f} s)"

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _with_rotation(info: VideoInfo, frame) -> VideoInfo:
    """`info` with the display rotation the first decoded frame carries."""
    from dataclasses import replace

    rotation = getattr(frame, "rotation", 0) or 0
    return replace(info, rotation=float(rotation)) if rotation else info



def _copy_tags(source, target) -> None:
    """Copy metadata tags from one container or stream to another, less those of the old encoding."""
    for key, value in source.metadata.items():
        if not key.lower().startswith(_SKIPPED_TAGS):
            target.metadata[key] = value


def _container_options(path: Path) -> dict[str, str]:
    """Muxer options: MP4 and MOV get their index at the front, so players start before the end arrives."""
    return {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".m4v", ".mov", ".3gp") else {}


class VideoWriter:
    """Encode colour frames into `path` with the timing of `info`'s video and the audio of its file.

    `path`'s suffix picks the container; `encoder` is `files.H264_ENCODER` or `files.VP9_ENCODER`, at
    constant rate factor `crf`. `write(rgb, frame)` encodes one (H, W, 3) uint8 frame with the
    timestamp of the input `Frame` it was made from; `close()` flushes the encoder and the rest of
    the audio. Use it as a context manager; an exception inside it closes the files without flushing.
    """

    def __init__(self, path: str | os.PathLike, info: VideoInfo, encoder: str, crf: int) -> None:
        import av

        self.path, self.info = Path(path), info
        self.source = _open_input(info.path)  # read a second time, for its audio packets and tags
        try:
            self.out = av.open(os.fspath(path), "w", options=_container_options(self.path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.source.close()
            raise VideoError(f"{path}: cannot write a video here ({one_line(exc)})", VideoErrorKind.UNWRITABLE) from None
        try:
            _copy_tags(self.source, self.out)
            self.video = self._video_stream(encoder, crf)
            self.audio = self._audio_streams()
            self._copy_chapters()
        except BaseException:
            self._close_files()
            raise
        self._packets = self.source.demux(*self.audio) if self.audio else iter(())
        self._pending = None  # the next audio packet, read but not yet muxed
        self._last_pts: int | None = None
        self.audio_note: str | None = None  # one line when the source's audio could not all be copied

    def _video_stream(self, encoder: str, crf: int):
        info = self.info
        stream = self.out.add_stream(encoder, rate=info.fps)
        stream.width, stream.height = info.width, info.height
        odd = info.width % 2 or info.height % 2  # x264's 4:2:0 needs even sizes; odd ones keep every pixel in 4:4:4
        stream.pix_fmt = "yuv444p" if odd and encoder == H264_ENCODER else "yuv420p"
        options = {"crf": str(crf)}
        if encoder == VP9_ENCODER:
            options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        stream.options = options
        ctx = stream.codec_context
        ctx.time_base = info.time_base
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
        ctx.color_range = _LIMITED_RANGE
        _copy_tags(self.source.streams.video[0], stream)
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        return stream

    def _audio_streams(self) -> dict:
        """Output streams for the source's audio streams, keyed by the source stream (packets are copied)."""
        copies = {}
        for source_stream in self.source.streams.audio:
            copy = self.out.add_stream_from_template(source_stream)
            _copy_tags(source_stream, copy)
            copies[source_stream] = copy
        return copies

    def _copy_chapters(self) -> None:
        chapters = self.source.chapters()
        if chapters:
            self.out.set_chapters(chapters)

    def write(self, rgb: np.ndarray, frame: Frame) -> None:
        """Encode one (H, W, 3) uint8 RGB frame at the input frame's timestamp, and the audio up to it."""
        import av

        pts = frame.pts
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            ticks = round(1 / (self.info.fps * self.info.time_base)) or 1  # one frame, in time-base units
            pts = (self._last_pts + ticks) if self._last_pts is not None else 0
        self._last_pts = pts
        out = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        out = out.reformat(format=self.video.pix_fmt, dst_colorspace="ITU709")
        out.pts, out.time_base = pts, self.info.time_base
        self._mux(self.video.encode(out))
        self._copy_audio(until=frame.time + AUDIO_LEAD_S)

    def _mux(self, packets) -> None:
        import av

        try:
            self.out.mux(packets)
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: cannot write ({one_line(exc)})", VideoErrorKind.UNWRITABLE) from None

    def _copy_audio(self, until: float | None) -> None:
        """Mux the source's audio packets that start before `until` seconds (all when None)."""
        import av

        while True:
            if self._pending is None:
                try:
                    self._pending = next(self._packets)
                except StopIteration:
                    return
                except (av.FFmpegError, OSError) as exc:
                    self.audio_note = f"{self.info.path}: audio copied only up to the damage ({one_line(exc)})"
                    self._packets = iter(())
                    return
                if self._pending.dts is None:  # the demuxer's empty end-of-stream packets
                    self._pending = None
                    continue
            packet = self._pending
            start = packet.pts if packet.pts is not None else packet.dts
            if until is not None and float(start * packet.time_base) > until:
                return
            packet.stream = self.audio[packet.stream]
            self._mux(packet)
            self._pending = None

    def close(self) -> None:
        """Flush the encoder and the remaining audio, and close the files."""
        try:
            self._mux(self.video.encode())
            self._copy_audio(until=None)
        finally:
            self._close_files()

    def _close_files(self) -> None:
        try:
            self.out.close()
        finally:
            self.source.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self._close_files()
