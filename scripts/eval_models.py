#!/usr/bin/env python3
"""Score the shipped .tflite models with ai_edge_litert (the daemon's runtime).

    eval_models.py [--models models/] [--json out.json]               # the standard validation sets
    eval_models.py --det-images DIR --det-labels DIR                    # (a) detector, YOLO labels
    eval_models.py --ocr-csv FILE [--ocr-root DIR] [--us]               # (b) OCR on file,text crops
    eval_models.py --e2e DIR                                            # (c) DIR/truth.json scenes
    eval_models.py --bench                                              # latency, 1 and 2 threads

With no data flag it runs: detector on detector-real/val, OCR on models/splits/ocr-us-val.csv
(O and 0 scored as equal, as that set's labels write O as 0) and ocr-br-val.csv, end-to-end on
synthetic scenes from make_scenes.py (seed 7, written to a temporary folder), and the latency
benchmark. Prints a table, writes JSON.

Detector: a detection is a true positive if it has IoU >= 0.5 with an unmatched labelled box
(highest score first); FP/image counts the rest. "Small" boxes are <= 150 px wide when the frame
is scaled to 1920 px width. OCR: exact = whole plate equal; char accuracy = 1 - edit distance /
truth length (floored at 0), averaged over characters. End-to-end: detector on the full frame,
the OCR on the best-scoring detection overlapping the plate (IoU >= 0.5); a read counts if the
text is exactly right.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelkit as mk  # noqa: E402


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
            prev, d[j] = d[j], cur
    return d[len(b)]


class Reader:
    """plate-ocr.tflite + sidecar: RGB crop -> (text, char confidences, per-step argmax)."""

    def __init__(self, model_path, threads=1, sidecar_path=None):
        with open(sidecar_path or os.path.splitext(model_path)[0] + ".json") as fh:
            self.side = json.load(fh)
        self.model = mk.TFLiteModel(model_path, threads)
        self.w, self.h = self.side["input"]["width"], self.side["input"]["height"]
        self.channels = self.side["input"]["channels"]

    def prepare(self, rgb):
        img = Image.fromarray(rgb)
        img = img.convert("L" if self.channels == 1 else "RGB").resize((self.w, self.h), Image.BILINEAR)
        a = np.asarray(img, np.float32).reshape(1, self.h, self.w, self.channels)
        n = self.side["input"]["normalisation"]
        return a * n["scale"] + n["offset"]

    def __call__(self, rgb):
        probs = self.model.run(self.prepare(rgb))[0][0]
        if self.side.get("output_activation") == "none":
            e = np.exp(probs - probs.max(-1, keepdims=True))
            probs = e / e.sum(-1, keepdims=True)
        return mk.ctc_greedy(probs, self.side.get("blank_index", 0), self.side["alphabet"])


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def eval_detector(det, images_dir, labels_dir, threshold=None):
    tp = fp = n_gt = small_n = small_tp = frames = 0
    for name in sorted(os.listdir(images_dir)):
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        rgb = load_rgb(os.path.join(images_dir, name))
        gt = np.array(mk.yolo_boxes(os.path.join(labels_dir, os.path.splitext(name)[0] + ".txt"),
                                    rgb.shape[1], rgb.shape[0]), np.float32).reshape(-1, 4)
        dets = det(rgb, threshold)
        frames += 1
        n_gt += len(gt)
        matched = set()
        for d in sorted(dets, key=lambda d: -d[4]):
            if len(gt):
                iou = mk.iou_matrix([d[:4]], gt)[0]
                iou[list(matched)] = 0
                j = int(np.argmax(iou))
                if iou[j] >= 0.5:
                    matched.add(j)
                    tp += 1
                    continue
            fp += 1
        for j, g in enumerate(gt):
            if (g[2] - g[0]) * 1920 / rgb.shape[1] <= 150:
                small_n += 1
                small_tp += j in matched
    return {"images": frames, "boxes": n_gt, "recall": tp / max(1, n_gt), "precision": tp / max(1, tp + fp),
            "fp_per_image": fp / max(1, frames), "small_boxes": small_n, "small_recall": small_tp / max(1, small_n),
            "threshold": det.side["score_threshold"] if threshold is None else threshold}


def eval_ocr(reader, rows, us=False):
    exact = 0
    char_ok = char_total = 0
    by_kind = {}
    for path, text in rows:
        pred, _, _ = reader(load_rgb(path))
        a, b = mk.normalise_text(pred, us), mk.normalise_text(text, us)
        ok = a == b
        exact += ok
        char_total += len(b)
        char_ok += max(0, len(b) - edit_distance(a, b))
        kind = "synthetic" if os.path.basename(path).startswith("pl_") else "real"
        k = by_kind.setdefault(kind, [0, 0])
        k[0] += ok
        k[1] += 1
    res = {"crops": len(rows), "exact": exact / max(1, len(rows)), "char_accuracy": char_ok / max(1, char_total)}
    if len(by_kind) > 1:
        res["exact_by_kind"] = {k: {"crops": v[1], "exact": v[0] / v[1]} for k, v in sorted(by_kind.items())}
    return res


def eval_e2e(det, reader, folder):
    with open(os.path.join(folder, "truth.json")) as fh:
        truth = json.load(fh)
    reads = found = total = 0
    failures = []
    for name, plates in sorted(truth.items()):
        rgb = load_rgb(os.path.join(folder, name))
        dets = det(rgb)
        for x1, y1, x2, y2, text in plates:
            total += 1
            best = None
            for d in sorted(dets, key=lambda d: -d[4]):
                if mk.iou_matrix([d[:4]], [[x1, y1, x2, y2]])[0, 0] >= 0.5:
                    best = d
                    break
            if best is None:
                failures.append({"file": name, "text": text, "read": None})
                continue
            found += 1
            bx = [int(round(v)) for v in best[:4]]
            pred, _, _ = reader(rgb[bx[1]:bx[3], bx[0]:bx[2]])
            if pred == text:
                reads += 1
            else:
                failures.append({"file": name, "text": text, "read": pred})
    return {"plates": total, "detected": found / max(1, total), "read_rate": reads / max(1, total), "failures": failures}


def bench(path, make_input, runs=50):
    res = {}
    for threads in (1, 2):
        m = mk.TFLiteModel(path, threads)
        x = make_input(m)
        for _ in range(5):
            m.run(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            m.interp.invoke()
            times.append((time.perf_counter() - t) * 1000)
        res["threads_%d_ms_median" % threads] = round(statistics.median(times), 3)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(mk.REPO, "models"))
    ap.add_argument("--detector", help="detector .tflite (default MODELS/plate-detector.tflite)")
    ap.add_argument("--ocr", help="OCR .tflite (default MODELS/plate-ocr.tflite)")
    ap.add_argument("--det-images")
    ap.add_argument("--det-labels")
    ap.add_argument("--threshold", type=float, help="detector score threshold (default: the sidecar's)")
    ap.add_argument("--ocr-csv", action="append", default=[])
    ap.add_argument("--ocr-root")
    ap.add_argument("--us", action="store_true", help="score O and 0 as equal (ocr-us labels)")
    ap.add_argument("--e2e")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--json", help="write results here (default: print only)")
    args = ap.parse_args()

    det_path = args.detector or os.path.join(args.models, "plate-detector.tflite")
    ocr_path = args.ocr or os.path.join(args.models, "plate-ocr.tflite")
    custom = args.det_images or args.ocr_csv or args.e2e or args.bench
    results = {"detector_model": det_path, "ocr_model": ocr_path, "created": mk.now_utc()}
    det = reader = None
    if args.det_images or args.e2e or not custom:
        det = mk.Detector(det_path)
    if args.ocr_csv or args.e2e or not custom:
        reader = Reader(ocr_path)

    if args.det_images:
        labels = args.det_labels or args.det_images.replace("images", "labels")
        results["detector"] = {args.det_images: eval_detector(det, args.det_images, labels, args.threshold)}
    for csv_path in args.ocr_csv:
        rows = mk.read_split(csv_path, args.ocr_root)
        results.setdefault("ocr", {})[csv_path] = eval_ocr(reader, rows, args.us or "ocr-us" in os.path.basename(csv_path))
    if args.e2e:
        results["end_to_end"] = {args.e2e: eval_e2e(det, reader, args.e2e)}
    if not custom:
        d = os.path.join(mk.DATASETS, "detector-real")
        results["detector"] = {"detector-real/val": eval_detector(det, os.path.join(d, "images", "val"),
                                                                   os.path.join(d, "labels", "val"), args.threshold)}
        splits = os.path.join(args.models, "splits")
        results["ocr"] = {
            "ocr-us val": eval_ocr(reader, mk.read_split(os.path.join(splits, "ocr-us-val.csv")), us=True),
            "ocr-br val": eval_ocr(reader, mk.read_split(os.path.join(splits, "ocr-br-val.csv"))),
        }
        with tempfile.TemporaryDirectory() as tmp:
            import make_scenes
            rng = np.random.default_rng(7)
            truth = {}
            for i in range(60):
                style = make_scenes.STYLES[i % 4]
                arr, box = make_scenes.make_scene(style, make_scenes.random_text(style, rng), rng)
                Image.fromarray(arr).save(os.path.join(tmp, "s%03d.jpg" % i), quality=90)
                truth["s%03d.jpg" % i] = [box]
            with open(os.path.join(tmp, "truth.json"), "w") as fh:
                json.dump(truth, fh)
            results["end_to_end"] = {"synthetic scenes (make_scenes seed 7, 60)": eval_e2e(det, reader, tmp)}
    if args.bench or not custom:
        results["latency_ms"] = {
            "detector": bench(det_path, lambda m: np.zeros(m.input_shape, np.float32) + 0.5),
            "ocr": bench(ocr_path, lambda m: np.zeros(m.input_shape, np.float32) + 0.5),
        }

    print_table(results)
    if args.json:
        mk.write_json(args.json, results)


def print_table(r):
    print("%-44s %s" % ("set", "result"))
    for name, m in r.get("detector", {}).items():
        print("%-44s recall %.3f  precision %.3f  FP/img %.3f  small recall %.3f (%d)  [%d boxes, thr %.2f]" % (
            "detector " + name, m["recall"], m["precision"], m["fp_per_image"], m["small_recall"], m["small_boxes"],
            m["boxes"], m["threshold"]))
    for name, m in r.get("ocr", {}).items():
        extra = ""
        if "exact_by_kind" in m:
            extra = "  (" + ", ".join("%s %.3f" % (k, v["exact"]) for k, v in m["exact_by_kind"].items()) + ")"
        print("%-44s exact %.3f  char %.3f  [%d crops]%s" % ("ocr " + name, m["exact"], m["char_accuracy"], m["crops"], extra))
    for name, m in r.get("end_to_end", {}).items():
        print("%-44s read rate %.3f  detected %.3f  [%d plates]" % ("e2e " + name[:40], m["read_rate"], m["detected"], m["plates"]))
    for name, m in r.get("latency_ms", {}).items():
        print("%-44s 1 thread %.2f ms  2 threads %.2f ms" % ("latency " + name, m["threads_1_ms_median"], m["threads_2_ms_median"]))


if __name__ == "__main__":
    main()
