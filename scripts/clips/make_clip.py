#!/usr/bin/env python3
"""Render an H.264 MP4 of vehicles with known plates driving up to a barrier, plus ground truth.

Each vehicle appears far away, approaches the stop line (growing), waits there, then drives
through and leaves the frame at the bottom. Plates come from the synthetic plate renderer in
scripts/synth, so their texts are known exactly. Frames are piped as raw RGB into GStreamer
(x264enc, mp4mux). The ground-truth JSON lists every vehicle (text, style, times) and the plate
box in every frame.

    make_clip.py --out clip.mp4 --truth clip.json [--width 1280 --height 720 --fps 25]
                 [--plates "ABC1234:br-old,7ABC123:us"] [--count 4] [--seed 1] [--wait-s 2]
                 [--bitrate 1500]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from synth import random_text, render_plate  # noqa: E402

STYLES = ["us", "eu", "br-old", "br-mercosul"]


def background(width, height, rng):
    """A gate lane seen from a pole: asphalt, kerbs, lane marks, a wall and sky. Procedural, so
    the clip carries no third-party imagery."""
    img = Image.new("RGB", (width, height), (96, 98, 100))
    d = ImageDraw.Draw(img)
    horizon = int(height * 0.28)
    d.rectangle([0, 0, width, horizon], fill=(150, 170, 195))
    # Building across the back.
    d.rectangle([0, int(horizon * 0.35), width, horizon], fill=(120, 112, 104))
    for x in range(0, width, max(40, width // 24)):
        d.rectangle([x + 8, int(horizon * 0.5), x + 8 + width // 60, int(horizon * 0.8)], fill=(70, 80, 95))
    # Road as a trapezoid narrowing to the horizon.
    cx = width // 2
    d.polygon([(cx - width * 0.12, horizon), (cx + width * 0.12, horizon), (width * 0.95, height), (width * 0.05, height)],
              fill=(72, 72, 74))
    # Kerb lines and dashed centre marks.
    d.line([(cx - width * 0.12, horizon), (width * 0.05, height)], fill=(200, 200, 190), width=max(2, width // 300))
    d.line([(cx + width * 0.12, horizon), (width * 0.95, height)], fill=(200, 200, 190), width=max(2, width // 300))
    stop_y = int(height * 0.86)
    d.line([(width * 0.1, stop_y), (width * 0.9, stop_y)], fill=(230, 230, 230), width=max(3, height // 90))
    # Barrier post on the right.
    d.rectangle([int(width * 0.88), int(height * 0.45), int(width * 0.91), stop_y], fill=(200, 60, 40))
    arr = np.asarray(img).astype(np.float32)
    arr += rng.normal(0, 4.0, arr.shape).astype(np.float32)  # asphalt texture
    return np.clip(arr, 0, 255).astype(np.uint8)


def car_sprite(plate_img, rng, car_w=900):
    """A car seen from the front with the plate on its bumper. Returns (RGBA image, plate box in
    sprite pixels)."""
    car_h = int(car_w * 0.62)
    body = tuple(int(c) for c in rng.choice([(30, 60, 140), (150, 20, 20), (220, 220, 220), (40, 40, 40),
                                              (90, 120, 90), (200, 170, 60), (120, 120, 130)]))
    img = Image.new("RGBA", (car_w, car_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    # Roof and windscreen.
    d.rounded_rectangle([car_w * 0.16, 0, car_w * 0.84, car_h * 0.45], radius=car_w // 18, fill=body)
    d.polygon([(car_w * 0.22, car_h * 0.06), (car_w * 0.78, car_h * 0.06), (car_w * 0.86, car_h * 0.42),
               (car_w * 0.14, car_h * 0.42)], fill=(60, 80, 100))
    # Body, lights, grille, bumper, wheels.
    d.rounded_rectangle([0, car_h * 0.38, car_w, car_h * 0.92], radius=car_w // 20, fill=body)
    d.ellipse([car_w * 0.04, car_h * 0.46, car_w * 0.22, car_h * 0.60], fill=(250, 250, 225))
    d.ellipse([car_w * 0.78, car_h * 0.46, car_w * 0.96, car_h * 0.60], fill=(250, 250, 225))
    d.rectangle([car_w * 0.30, car_h * 0.48, car_w * 0.70, car_h * 0.58], fill=(25, 25, 25))
    d.rectangle([car_w * 0.02, car_h * 0.72, car_w * 0.98, car_h * 0.90], fill=(45, 45, 48))
    d.rectangle([car_w * 0.06, car_h * 0.90, car_w * 0.20, car_h], fill=(15, 15, 15))
    d.rectangle([car_w * 0.80, car_h * 0.90, car_w * 0.94, car_h], fill=(15, 15, 15))
    # Plate: real plates are ~ 2:1 (US) to 4.7:1 (EU); keep the renderer's aspect.
    pw = int(car_w * (0.36 if plate_img.width / plate_img.height > 3.0 else 0.26))
    ph = int(pw * plate_img.height / plate_img.width)
    plate = plate_img.convert("RGBA").resize((pw, ph), Image.LANCZOS)
    px = (car_w - pw) // 2
    py = int(car_h * 0.66) - ph // 2
    img.alpha_composite(plate, (px, py))
    return img, (px, py, px + pw, py + ph)


def plan_vehicles(args, rng):
    plates = []
    if args.plates:
        for item in args.plates.split(","):
            text, _, style = item.partition(":")
            plates.append((text.strip().upper(), style.strip() or "eu"))
    else:
        for i in range(args.count):
            style = STYLES[i % len(STYLES)]
            plates.append((random_text(style, rng), style))
    return plates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--plates", default="")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--wait-s", type=float, default=2.0, help="time each car waits at the barrier")
    ap.add_argument("--long-wait", type=int, default=-1, help="index of one vehicle that waits 8 s")
    ap.add_argument("--gap-s", type=float, default=1.5, help="empty lane between vehicles")
    ap.add_argument("--bitrate", type=int, default=1500, help="x264 kbit/s")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    W, H, fps = args.width, args.height, args.fps
    bg = background(W, H, rng)
    vehicles = []
    t = args.gap_s
    approach_s, leave_s = 3.0, 1.2
    for i, (text, style) in enumerate(plan_vehicles(args, rng)):
        plate_img, rendered_text = render_plate(style, text, rng=rng)
        sprite, pbox = car_sprite(plate_img, rng)
        wait = 8.0 if i == args.long_wait else args.wait_s
        vehicles.append({
            "text": rendered_text, "style": style, "sprite": sprite, "pbox": pbox,
            "enter_s": t, "stop_s": t + approach_s, "leave_s": t + approach_s + wait,
            "exit_s": t + approach_s + wait + leave_s,
        })
        t += approach_s + wait + leave_s + args.gap_s
    n_frames = int(round(t * fps))

    # Car width in the frame: far (entering), at the stop line, and leaving.
    far_w, stop_w = 0.16 * W, 0.50 * W
    horizon, stop_y = 0.30 * H, 0.98 * H
    cmd = ["gst-launch-1.0", "-q", "-e", "fdsrc", "fd=0", "blocksize=%d" % (W * H * 3), "!",
           "rawvideoparse", "format=rgb", "width=%d" % W, "height=%d" % H, "framerate=%d/1" % fps, "!",
           "videoconvert", "!", "video/x-raw,format=I420", "!",
           "x264enc", "bitrate=%d" % args.bitrate, "speed-preset=faster", "key-int-max=%d" % (2 * fps), "!",
           "video/x-h264,profile=high", "!", "h264parse", "!", "mp4mux", "!", "filesink", "location=%s" % args.out]
    enc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    boxes = []
    for f in range(n_frames):
        ts = f / fps
        frame = Image.fromarray(bg.copy())
        frame_boxes = []
        for v in vehicles:
            if not (v["enter_s"] <= ts < v["exit_s"]):
                continue
            if ts < v["stop_s"]:  # approaching: grows and moves down, eased
                a = (ts - v["enter_s"]) / (v["stop_s"] - v["enter_s"])
                a = 1 - (1 - a) ** 2
                cw = far_w + (stop_w - far_w) * a
                bottom = horizon + 0.18 * H + (stop_y - horizon - 0.18 * H) * a
            elif ts < v["leave_s"]:  # waiting at the barrier, engine shake
                cw = stop_w
                bottom = stop_y + np.sin(ts * 40) * 0.6
            else:  # driving through: grows a little and leaves at the bottom
                a = (ts - v["leave_s"]) / (v["exit_s"] - v["leave_s"])
                cw = stop_w * (1 + 0.25 * a)
                bottom = stop_y + a * 0.9 * H
            sprite = v["sprite"]
            scale = cw / sprite.width
            sw, sh = max(1, int(round(sprite.width * scale))), max(1, int(round(sprite.height * scale)))
            car = sprite.resize((sw, sh), Image.LANCZOS if scale < 1 else Image.BILINEAR)
            x0 = int(round(W / 2 - sw / 2))
            y0 = int(round(bottom - sh))
            frame.paste(car, (x0, y0), car)
            px1, py1, px2, py2 = (c * scale for c in v["pbox"])
            bx = [x0 + px1, y0 + py1, x0 + px2, y0 + py2]
            # Keep only plates that are fully inside the picture.
            if bx[0] >= 0 and bx[1] >= 0 and bx[2] <= W and bx[3] <= H:
                frame_boxes.append([round(b, 1) for b in bx] + [v["text"]])
        arr = np.asarray(frame, dtype=np.float32)
        arr += rng.normal(0, 2.0, arr.shape).astype(np.float32)  # sensor noise
        enc.stdin.write(np.clip(arr, 0, 255).astype(np.uint8).tobytes())
        boxes.append(frame_boxes)
    enc.stdin.close()
    if enc.wait() != 0:
        sys.exit("make_clip: gst-launch-1.0 failed writing %s" % args.out)

    truth = {
        "width": W, "height": H, "fps": fps, "frames": n_frames,
        "vehicles": [{k: v[k] for k in ("text", "style", "enter_s", "stop_s", "leave_s", "exit_s")} for v in vehicles],
        "boxes": boxes,
    }
    with open(args.truth, "w") as fh:
        json.dump(truth, fh)
    print("wrote %s (%d frames, %d vehicles) and %s" % (args.out, n_frames, len(vehicles), args.truth))


if __name__ == "__main__":
    main()
