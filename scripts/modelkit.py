"""Helpers shared by the training, evaluation and check scripts: dataset splits, TFLite export,
LiteRT inference and sidecar files. Kept free of TensorFlow imports at module level so the eval
and check scripts only need ai_edge_litert + numpy + Pillow."""
import csv
import datetime
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = os.environ.get("BOOMGATE_DATASETS", os.path.join(os.path.dirname(REPO), "shared", "datasets"))
if not os.path.isdir(DATASETS):
    DATASETS = "/work/shared/datasets"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SPLIT_SEED = 2026  # fixed: the validation split must not move when the training seed changes
VAL_FRACTION = 0.15


# --------------------------------------------------------------------------------------------
# OCR splits (grouped by plate text so no plate is in both train and validation)

def ocr_labels(name):
    """[(path, text)] for ocr-us or ocr-br."""
    root = os.path.join(DATASETS, name)
    out = []
    with open(os.path.join(root, "labels.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            out.append((os.path.join(root, "images", row["file"]), row["text"].strip().upper()))
    return out


def make_ocr_split(name, splits_dir):
    """Hold out 15 % of the distinct texts (per kind: real / synthetic for ocr-br) with a fixed
    seed; write models/splits/<name>-{train,val}.csv (file,text; file relative to the dataset)."""
    items = ocr_labels(name)
    kinds = {}
    for path, text in items:
        kind = "synthetic" if os.path.basename(path).startswith("pl_") else "real"
        kinds.setdefault(kind, {}).setdefault(text, []).append(path)
    rng = np.random.default_rng(SPLIT_SEED)
    train, val = [], []
    for kind in sorted(kinds):
        texts = sorted(kinds[kind])
        order = rng.permutation(len(texts))
        n_val = int(round(len(texts) * VAL_FRACTION))
        val_texts = {texts[i] for i in order[:n_val]}
        for t in texts:
            for p in kinds[kind][t]:
                (val if t in val_texts else train).append((p, t))
    os.makedirs(splits_dir, exist_ok=True)
    for part, rows in (("train", train), ("val", val)):
        with open(os.path.join(splits_dir, "%s-%s.csv" % (name, part)), "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "text"])
            for p, t in sorted(rows):
                w.writerow([os.path.relpath(p, os.path.join(DATASETS, name)), t])
    return train, val


def read_split(csv_path, root=None):
    """[(absolute image path, text)] from a file,text CSV; paths resolve against root, else the
    CSV's dataset (models/splits/ocr-us-val.csv -> datasets/ocr-us), else the CSV's folder."""
    rows = []
    base = os.path.basename(csv_path)
    if root is None:
        for name in ("ocr-us", "ocr-br"):
            if base.startswith(name):
                root = os.path.join(DATASETS, name)
        if root is None:
            root = os.path.dirname(os.path.abspath(csv_path))
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            p = row["file"]
            rows.append((p if os.path.isabs(p) else os.path.join(root, p), row["text"].strip().upper()))
    return rows


def normalise_text(text, us=False):
    """ocr-us ground truth writes the letter O as the digit 0; score those as equal."""
    t = "".join(c for c in text.upper() if c.isalnum())
    return t.replace("O", "0") if us else t


# --------------------------------------------------------------------------------------------
# CTC decoding

def ctc_greedy(probs, blank=0, alphabet=ALPHABET):
    """probs [T, C] -> (text, per-char confidence, per-step argmax)."""
    am = np.argmax(probs, axis=-1)
    text, conf = [], []
    prev = -1
    for t, k in enumerate(am):
        if k != prev and k != blank:
            text.append(alphabet[k - 1])
            conf.append(float(probs[t, k]))
        elif k == prev and k != blank and conf:
            conf[-1] = max(conf[-1], float(probs[t, k]))
        prev = k
    return "".join(text), conf, am.tolist()


# --------------------------------------------------------------------------------------------
# LiteRT runner (the same runtime the daemon loads)

class TFLiteModel:
    """One .tflite file run with ai_edge_litert; handles int8/uint8 (de)quantisation."""

    def __init__(self, path, threads=1):
        from ai_edge_litert.interpreter import Interpreter
        if not os.path.exists(path):
            raise FileNotFoundError("model file %s does not exist" % path)
        self.path = path
        self.interp = Interpreter(model_path=path, num_threads=threads)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.outs = self.interp.get_output_details()

    @property
    def input_shape(self):
        return tuple(int(v) for v in self.inp["shape"])

    def run(self, real_input):
        """real_input: float array in model units (already normalised). Returns float outputs."""
        x = np.asarray(real_input, np.float32)
        if self.inp["dtype"] in (np.int8, np.uint8):
            s, z = self.inp["quantization"]
            info = np.iinfo(self.inp["dtype"])
            x = np.clip(np.round(x / s) + z, info.min, info.max).astype(self.inp["dtype"])
        self.interp.set_tensor(self.inp["index"], x.reshape(self.inp["shape"]))
        self.interp.invoke()
        res = []
        for o in self.outs:
            v = self.interp.get_tensor(o["index"])
            if o["dtype"] in (np.int8, np.uint8):
                s, z = o["quantization"]
                v = (v.astype(np.float32) - z) * s
            res.append(v)
        return res

    def raw_outputs(self):
        return [self.interp.get_tensor(o["index"]) for o in self.outs]


def tensor_info(path):
    """Input/output details of a .tflite file for the sidecar."""
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=path)
    it.allocate_tensors()

    def q(d):
        s, z = d["quantization"]
        return {"scale": float(s), "zero_point": int(z)} if s else None

    dt = {np.int8: "int8", np.uint8: "uint8", np.float32: "float32"}
    ins = [{"shape": [int(v) for v in d["shape"]], "dtype": dt[d["dtype"]], "quantization": q(d)}
           for d in it.get_input_details()]
    outs = [{"index": i, "shape": [int(v) for v in d["shape"]], "dtype": dt[d["dtype"]], "quantization": q(d),
             "tensor_name": d["name"]} for i, d in enumerate(it.get_output_details())]
    return ins, outs


def write_json(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# TFLite export

def export_tflite(call, input_shape, representative, out_float, out_int8):
    """Convert a tf.function `call` (batch-1 static input) to float32 and full-integer int8
    TFLite files (builtin ops only). representative: iterable of float32 input arrays."""
    import tensorflow as tf
    conc = call.get_concrete_function(tf.TensorSpec(input_shape, tf.float32))
    conv = tf.lite.TFLiteConverter.from_concrete_functions([conc])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with open(out_float, "wb") as fh:
        fh.write(conv.convert())
    conv = tf.lite.TFLiteConverter.from_concrete_functions([conc])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = list(representative)

    def rep():
        for s in samples:
            yield [np.asarray(s, np.float32).reshape(input_shape)]

    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with open(out_int8, "wb") as fh:
        fh.write(conv.convert())


# --------------------------------------------------------------------------------------------
# Detector pre/post-processing (mirrors what the daemon does with the sidecar)

LETTERBOX_COLOUR = (114, 114, 114)


def letterbox(rgb, width, height):
    """Scale the frame to fit width x height, place it at the top-left, fill the rest with the
    letterbox colour. Returns (uint8 HxWx3, scale)."""
    import cv2
    fh, fw = rgb.shape[:2]
    s = min(width / fw, height / fh)
    nw, nh = max(1, int(round(fw * s))), max(1, int(round(fh * s)))
    out = np.empty((height, width, 3), np.uint8)
    out[:] = LETTERBOX_COLOUR
    out[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return out, s


def iou_matrix(a, b):
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    ab = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(aa[:, None] + ab[None, :] - inter, 1e-9)


def nms(boxes, scores, iou_thr, max_det):
    order = np.argsort(-scores)
    keep = []
    while order.size and len(keep) < max_det:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        ious = iou_matrix(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_thr]
    return np.array(keep, np.int64)


class Detector:
    """Runs plate-detector.tflite on a full RGB frame; returns [(x1, y1, x2, y2, score)] in frame
    pixels after threshold, letterbox undo and NMS (the daemon's decoding)."""

    def __init__(self, model_path, sidecar_path=None, threads=1):
        sidecar_path = sidecar_path or os.path.splitext(model_path)[0] + ".json"
        with open(sidecar_path) as fh:
            self.side = json.load(fh)
        self.model = TFLiteModel(model_path, threads)
        self.w, self.h = self.side["input"]["width"], self.side["input"]["height"]
        names = {o["name"]: o["index"] for o in self.side["outputs"]}
        self.i_boxes, self.i_scores = names["boxes"], names["scores"]

    def raw(self, rgb):
        inp, s = letterbox(rgb, self.w, self.h)
        norm = self.side["input"]["normalisation"]
        outs = self.model.run(inp.astype(np.float32)[None] * norm["scale"] + norm["offset"])
        return outs[self.i_boxes].reshape(-1, 4), outs[self.i_scores].reshape(-1), s

    def __call__(self, rgb, threshold=None):
        boxes, scores, s = self.raw(rgb)
        thr = self.side["score_threshold"] if threshold is None else threshold
        m = scores >= thr
        boxes, scores = boxes[m], scores[m]
        boxes = boxes * np.array([self.w, self.h, self.w, self.h], np.float32) / s
        fh, fw = rgb.shape[:2]
        boxes = np.clip(boxes, 0, [fw, fh, fw, fh])
        keep = nms(boxes, scores, self.side["nms_iou"], self.side["max_detections"])
        return [tuple(float(v) for v in boxes[i]) + (float(scores[i]),) for i in keep]


def yolo_boxes(label_path, fw, fh):
    out = []
    if os.path.exists(label_path):
        with open(label_path) as fh_:
            for line in fh_:
                p = line.split()
                if len(p) >= 5:
                    cx, cy, w, h = (float(v) for v in p[1:5])
                    out.append([(cx - w / 2) * fw, (cy - h / 2) * fh, (cx + w / 2) * fw, (cy + h / 2) * fh])
    return out
