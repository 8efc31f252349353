#!/usr/bin/env python3
"""Check the shipped models with the LiteRT runtime (ai_edge_litert, the daemon's runtime):

1. each sidecar matches its .tflite (tensor count, shapes, dtypes, quantisation);
2. the shipped (int8) model agrees with the float32 reference within quantisation error on the
   fixture inputs (tests/fixtures/plates/*.png for the OCR, tests/fixtures/plates/scene_*.jpg
   for the detector);
3. the outputs on the fixed input recorded in tests/fixtures/models/reference.json are reproduced.

    check_models.py [--models models/] [--fixtures tests/fixtures]

Exit status 0 when all checks pass, 1 otherwise (each failure is printed, naming file and tensor).
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelkit as mk  # noqa: E402
from eval_models import Reader, load_rgb  # noqa: E402

PROB_TOL = 0.2      # int8 softmax / sigmoid outputs: 1/256 steps, accumulated through the network
BOX_IOU_MIN = 0.7   # int8 vs float boxes of the same detection


def check_sidecar(model_path, errors):
    side_path = os.path.splitext(model_path)[0] + ".json"
    with open(side_path) as fh:
        side = json.load(fh)
    ins, outs = mk.tensor_info(model_path)
    inp = side["input"]
    want_in = [1, inp["height"], inp["width"], inp["channels"]]
    if ins[0]["shape"] != want_in:
        errors.append("%s: input shape %s, sidecar %s says %s" % (model_path, ins[0]["shape"], side_path, want_in))
    if ins[0]["dtype"] != inp["dtype"]:
        errors.append("%s: input dtype %s, sidecar says %s" % (model_path, ins[0]["dtype"], inp["dtype"]))
    if len(outs) != len(side["outputs"]):
        errors.append("%s: %d outputs, sidecar lists %d" % (model_path, len(outs), len(side["outputs"])))
    for o in side["outputs"]:
        real = outs[o["index"]] if o["index"] < len(outs) else None
        if real is None or real["shape"] != o["shape"] or real["dtype"] != o["dtype"]:
            errors.append("%s: output %s (index %d) is %s, sidecar says %s %s" % (
                model_path, o["name"], o["index"], real and (real["shape"], real["dtype"]), o["shape"], o["dtype"]))
        elif real["quantization"] and o.get("quantization") and not np.isclose(
                real["quantization"]["scale"], o["quantization"]["scale"]):
            errors.append("%s: output %s quantization %s, sidecar says %s" % (
                model_path, o["name"], real["quantization"], o["quantization"]))
    return side


def check_ocr(models, fixtures, errors):
    shipped = os.path.join(models, "plate-ocr.tflite")
    ref = os.path.join(models, "plate-ocr.float32.tflite")
    check_sidecar(shipped, errors)
    a, b = Reader(shipped), Reader(ref, sidecar_path=os.path.splitext(shipped)[0] + ".json")
    n = 0
    for path in sorted(glob.glob(os.path.join(fixtures, "plates", "*.png"))):
        rgb = load_rgb(path)
        pa = a.model.run(a.prepare(rgb))[0][0]
        pb = b.model.run(b.prepare(rgb))[0][0]
        diff = float(np.abs(pa - pb).max())
        ta, tb = mk.ctc_greedy(pa)[0], mk.ctc_greedy(pb)[0]
        n += 1
        if ta != tb or diff > PROB_TOL:
            errors.append("%s vs %s on %s: int8 read %r, float read %r, max prob diff %.3f" % (
                shipped, ref, path, ta, tb, diff))
    return n


def check_detector(models, fixtures, errors):
    shipped = os.path.join(models, "plate-detector.tflite")
    ref = os.path.join(models, "plate-detector.float32.tflite")
    check_sidecar(shipped, errors)
    a = mk.Detector(shipped)
    b = mk.Detector(ref, os.path.splitext(shipped)[0] + ".json")
    n = 0
    for path in sorted(glob.glob(os.path.join(fixtures, "plates", "scene_*.jpg"))):
        rgb = load_rgb(path)
        da, db = a(rgb), b(rgb)
        n += 1
        if not da or not db:
            errors.append("%s vs %s on %s: int8 found %d plates, float %d" % (shipped, ref, path, len(da), len(db)))
            continue
        iou = mk.iou_matrix([da[0][:4]], [db[0][:4]])[0, 0]
        if iou < BOX_IOU_MIN or abs(da[0][4] - db[0][4]) > PROB_TOL:
            errors.append("%s vs %s on %s: top box IoU %.2f, scores %.3f vs %.3f" % (
                shipped, ref, path, iou, da[0][4], db[0][4]))
    return n


def check_reference(models, fixtures, errors):
    path = os.path.join(fixtures, "models", "reference.json")
    with open(path) as fh:
        ref = json.load(fh)
    rgb = load_rgb(os.path.join(fixtures, ref["detector"]["input"]))
    det = mk.Detector(os.path.join(models, "plate-detector.tflite"))
    boxes, scores, _ = det.raw(rgb)
    top = np.argsort(-scores)[:3]
    for k, exp in zip(top, ref["detector"]["top3"]):
        if k != exp["cell"] or abs(float(scores[k]) - exp["score"]) > 0.02 or \
                np.abs(boxes[k] - np.array(exp["box"])).max() > 0.01:
            errors.append("%s: on %s cell %d score %.4f box %s, reference.json expects cell %d score %.4f box %s" % (
                det.model.path, ref["detector"]["input"], k, scores[k], np.round(boxes[k], 4).tolist(),
                exp["cell"], exp["score"], exp["box"]))
    reader = Reader(os.path.join(models, "plate-ocr.tflite"))
    text, _, argmax = reader(load_rgb(os.path.join(fixtures, ref["ocr"]["input"])))
    if text != ref["ocr"]["text"] or argmax != ref["ocr"]["argmax"]:
        errors.append("%s: on %s read %r argmax %s, reference.json expects %r %s" % (
            reader.model.path, ref["ocr"]["input"], text, argmax, ref["ocr"]["text"], ref["ocr"]["argmax"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(mk.REPO, "models"))
    ap.add_argument("--fixtures", default=os.path.join(mk.REPO, "tests", "fixtures"))
    args = ap.parse_args()
    errors = []
    n_ocr = check_ocr(args.models, args.fixtures, errors)
    n_det = check_detector(args.models, args.fixtures, errors)
    if os.path.exists(os.path.join(args.fixtures, "models", "reference.json")):
        check_reference(args.models, args.fixtures, errors)
    for e in errors:
        print("FAIL " + e)
    print("check_models: %d OCR crops, %d scenes, reference.json: %s -> %s" % (
        n_ocr, n_det, "checked" if os.path.exists(os.path.join(args.fixtures, "models", "reference.json")) else "absent",
        "FAILED" if errors else "ok"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
