#!/usr/bin/env python3
"""Write the model fixtures used by the Rust tests, keeping only inputs the shipped models get
right:

  tests/fixtures/plates/<style>_<TEXT>.png    rendered plates (up to 2 per style) read exactly
  tests/fixtures/plates/scene_<TEXT>.jpg      1280x720 scenes, one plate each, detected and read
  tests/fixtures/plates/truth.json            {file: [[x1, y1, x2, y2, "TEXT"]]} for the scenes
  tests/fixtures/models/reference.json        Python/LiteRT outputs of both shipped models on one
                                              fixed input each (top-3 detector cells, OCR argmax)

    make_fixtures.py [--models models/] [--out tests/fixtures] [--seed 11]
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelkit as mk  # noqa: E402
from eval_models import Reader, load_rgb  # noqa: E402
from make_scenes import make_scene  # noqa: E402
from synth import STYLES, random_text, render_plate  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(mk.REPO, "models"))
    ap.add_argument("--out", default=os.path.join(mk.REPO, "tests", "fixtures"))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--scenes", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    det = mk.Detector(os.path.join(args.models, "plate-detector.tflite"))
    reader = Reader(os.path.join(args.models, "plate-ocr.tflite"))
    plates_dir = os.path.join(args.out, "plates")
    os.makedirs(plates_dir, exist_ok=True)
    os.makedirs(os.path.join(args.out, "models"), exist_ok=True)

    kept_plates, tried = [], 0
    for style in STYLES:
        n = 0
        for _ in range(12):
            img, text = render_plate(style, random_text(style, rng), rng)
            img = img.resize((200, int(200 * img.height / img.width)), Image.LANCZOS)
            tried += 1
            if reader(np.asarray(img))[0] == text:
                name = "%s_%s.png" % (style, text)
                img.save(os.path.join(plates_dir, name))
                kept_plates.append(name)
                n += 1
            if n == 2:
                break

    truth, tried_scenes = {}, 0
    while len(truth) < args.scenes and tried_scenes < 60:
        style = STYLES[tried_scenes % len(STYLES)]
        tried_scenes += 1
        arr, box = make_scene(style, random_text(style, rng), rng)
        arr = np.asarray(arr)
        name = "scene_%s.jpg" % box[4]
        path = os.path.join(plates_dir, name)
        Image.fromarray(arr).save(path, quality=92)
        rgb = load_rgb(path)  # score the JPEG as stored
        ok = False
        for d in det(rgb):
            if mk.iou_matrix([d[:4]], [box[:4]])[0, 0] >= 0.5:
                bx = [int(round(v)) for v in d[:4]]
                ok = reader(rgb[bx[1]:bx[3], bx[0]:bx[2]])[0] == box[4]
                break
        if ok:
            truth[name] = [box]
        else:
            os.remove(path)
    with open(os.path.join(plates_dir, "truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1)

    ref = {"note": "Outputs of the shipped models run by ai_edge_litert (scripts/make_fixtures.py). Detector "
                   "input: the scene letterboxed top-left into the model input (OpenCV INTER_AREA resize, fill "
                   "114), pixel/255 then int8-quantised; OCR input: the PNG converted to luma (PIL 'L') and "
                   "resized bilinear (PIL) to the model input, pixel/255. A different resize can move scores by "
                   "a few hundredths; cells, text and argmax should agree."}
    if truth:
        scene = sorted(truth)[0]
        boxes, scores, s = det.raw(load_rgb(os.path.join(plates_dir, scene)))
        top = np.argsort(-scores)[:3]
        ref["detector"] = {
            "input": "plates/" + scene, "model": "plate-detector.tflite", "letterbox_scale": s,
            "truth_box_pixels": truth[scene][0][:4],
            "top3": [{"cell": int(k), "score": round(float(scores[k]), 4),
                      "box": [round(float(v), 4) for v in boxes[k]]} for k in top]}
    if kept_plates:
        plate = kept_plates[0]
        text, conf, argmax = reader(load_rgb(os.path.join(plates_dir, plate)))
        ref["ocr"] = {"input": "plates/" + plate, "model": "plate-ocr.tflite", "text": text,
                      "char_confidence": [round(c, 4) for c in conf], "argmax": argmax}
    mk.write_json(os.path.join(args.out, "models", "reference.json"), ref)
    print("plates kept %d of %d tried: %s" % (len(kept_plates), tried, ", ".join(kept_plates)))
    print("scenes kept %d of %d tried: %s" % (len(truth), tried_scenes, ", ".join(sorted(truth))))


if __name__ == "__main__":
    main()
