"""Colorizing video: films in, colour films out with their audio, without flicker.

- `files`: what a video file is (suffixes, output container and codec, `VideoError`), without PyAV;
- `io`: reading and writing with PyAV (`VideoReader`, `VideoWriter`): timing, audio, metadata kept;
- `temporal`: optical flow (OpenCV DIS), colour propagated along it, scene cuts;
- `pipeline`: streaming colorize (`colorize_video`, behind `Colorizer.colorize_video`);
- `evaluate`: scoring on colour videos (per-frame ΔE00, CDC, flow-warped |Δab|);
- `synthetic`: test clips made from still photos (pans, zooms, cuts, noise, a tone).

PyAV and OpenCV come with the `video` extra (`pip install 'colorizekit[video]'`); only `files` and
the modules' imports work without them, so colorizekit itself runs without the extra.
"""
