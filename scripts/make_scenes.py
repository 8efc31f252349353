#!/usr/bin/env python3
"""Write synthetic full-frame scenes (a car at the gate with one rendered plate) plus truth.json
({file: [[x1, y1, x2, y2, "TEXT"]]}) for end-to-end checks of detector + OCR.

    make_scenes.py --out DIR [--count 40] [--seed 7] [--width 1280 --height 720]

Plate widths follow a gate camera: 70 to 260 px in a 1280x720 frame. The background and car are
the clip generator's (scripts/clips/make_clip.py), so no third-party imagery is involved.
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "clips"))
from synth import STYLES, degrade, random_text, render_plate  # noqa: E402
from make_clip import background, car_sprite  # noqa: E402


def make_scene(style, text, rng, width=1280, height=720):
    """One scene; returns (RGB uint8 array, [x1, y1, x2, y2, text])."""
    bg = Image.fromarray(background(width, height, rng))
    plate, label = render_plate(style, text, rng)
    sprite, pbox = car_sprite(plate, rng)
    plate_w = rng.uniform(70, 260) * width / 1280
    scale = plate_w / (pbox[2] - pbox[0])
    sw, sh = int(round(sprite.width * scale)), int(round(sprite.height * scale))
    car = sprite.resize((sw, sh), Image.LANCZOS)
    x0 = int(rng.uniform(0.05, 0.95) * (width - sw)) if sw < width else (width - sw) // 2
    y0 = int(height * rng.uniform(0.35, 0.95)) - sh
    y0 = min(max(y0, int(height * 0.2)), height - sh)
    bg.paste(car, (x0, y0), car)
    box = [x0 + pbox[0] * scale, y0 + pbox[1] * scale, x0 + pbox[2] * scale, y0 + pbox[3] * scale]
    arr = degrade(np.asarray(bg), rng, 0.5)
    return arr, [round(float(v), 1) for v in box] + [label]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    truth = {}
    for i in range(args.count):
        style = STYLES[i % len(STYLES)]
        arr, box = make_scene(style, random_text(style, rng), rng, args.width, args.height)
        name = "scene_%s.jpg" % box[4]
        Image.fromarray(arr).save(os.path.join(args.out, name), quality=90)
        truth[name] = [box]
    with open(os.path.join(args.out, "truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1)
    print("wrote %d scenes and truth.json to %s" % (args.count, args.out))


if __name__ == "__main__":
    main()
