"""The video fixtures (tests/video_clips.py); every test here needs PyAV and OpenCV."""

import pytest

pytest.importorskip("av", reason="PyAV is not installed (pip install 'colorizekit[video]')")
pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'colorizekit[video]')")

from tests.video_clips import clip, colorized, colorizer, photos  # noqa: E402, F401  (fixtures)
