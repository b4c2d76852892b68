"""The video fixtures (tests/video_clips.py), for the video tests here."""

from tests.video_clips import clip, colorized, colorizer, photos  # noqa: F401  (fixtures)
