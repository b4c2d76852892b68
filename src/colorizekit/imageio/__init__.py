"""Reading the images people actually have, and writing results.

- `read`: files, bytes, PIL images and arrays -> `LoadedImage` (float32 in [0, 1], upright, alpha over
  white, 16-bit precision kept), or a PIL image (`open_image`, `open_rgb`);
- `write`: `save_image` / `encode_image`, RGB in 8 bit, or 16 bit for PNG and TIFF, EXIF and ICC carried;
- `find`: `find_images`, files, folders and globs -> image paths;
- `formats`: the formats, and the one policy for what format and bit depth an output gets;
- `metadata`, `pixels`, `errors`: what those share.

Every problem with an input raises `ImageError`, whose message is one line naming the file and whose
`kind` (an `ImageErrorKind`) says what sort of problem it is.
"""

from colorizekit.imageio.errors import ImageError, ImageErrorKind
from colorizekit.imageio.find import find_images
from colorizekit.imageio.formats import (
    IMAGE_SUFFIXES,
    OUTPUT_NAMES,
    format_of_suffix,
    output_bit_depth,
    output_format,
    output_suffix,
)
from colorizekit.imageio.pixels import to_uint8
from colorizekit.imageio.read import MAX_DECODE_PIXELS, LoadedImage, load_image, open_image, open_rgb
from colorizekit.imageio.write import encode_image, save_image

__all__ = [
    "IMAGE_SUFFIXES", "MAX_DECODE_PIXELS", "OUTPUT_NAMES", "ImageError", "ImageErrorKind", "LoadedImage",
    "encode_image", "find_images", "format_of_suffix", "load_image", "open_image", "open_rgb", "output_bit_depth",
    "output_format", "output_suffix", "save_image", "to_uint8",
]
