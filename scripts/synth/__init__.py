"""Synthetic licence-plate renderer and augmentations for training and test fixtures.

Public API (used by scripts/clips/make_clip.py and the training scripts):

    render_plate(style, text, rng) -> (PIL.Image RGB, text)   # text: the plate's characters, A-Z 0-9
    random_text(style, rng) -> str
    augment_crop(img, rng) -> PIL.Image                       # OCR-style degradations of a plate image
    warp_onto(scene, plate, quad, rng) -> (scene, box)        # paste with perspective, exact box

Styles: "us", "eu", "br-old", "br-mercosul". Fonts come from Debian font packages only
(fonts-dejavu-*, fonts-liberation2, fonts-freefont-ttf, fonts-urw-base35), so renders carry
no third-party artwork.
"""
from .render import STYLES, random_text, render_plate  # noqa: F401
from .augment import augment_crop, degrade, warp_onto  # noqa: F401
