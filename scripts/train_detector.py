#!/usr/bin/env python3
"""Train the plate detector: a small anchor-free grid detector (stride 8, 640x384 input), boxes
and scores decoded inside the model; export float32 and int8 TFLite (builtin ops, batch 1) with
the sidecar models/plate-detector.json.

    python3 scripts/train_detector.py --out models/ --steps 2500 --seed 1

Input 640x384: a 16:9 frame letterboxes to 640x360 (top-left). A 60x30 px plate in a 1920x1080
frame becomes 20x10 px, two to three stride-8 cells wide, which a stride-16 grid would barely
resolve; 640 px keeps it above the size where characters vanish while the int8 model stays
within the latency budget. Training runs on 256x256 crops (the network is fully convolutional),
so one step costs a sixth of a full frame.

Data: detector-real/train (MIT) at random scales, composites (rendered plates and real plate
crops from the ocr-us/ocr-br train splits and plates-eu-unlabelled, pasted with perspective onto
scenes-negative backgrounds and onto detector-real/train frames, exact boxes), and plate-free
scenes-negative images as negatives. detector-real/val is only read after training.
"""
import argparse
import glob
import multiprocessing as mp
import os
import sys
import time

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelkit as mk  # noqa: E402
import synth  # noqa: E402

IN_W, IN_H = 640, 384
STRIDE = 8
MAX_DIST = 160.0  # px of model input: the largest box edge distance from a cell centre
CROP = 256
NOMINAL = 0.5  # 1280-wide frames are seen at half size by the model
DET = os.path.join(mk.DATASETS, "detector-real")
NEG = os.path.join(mk.DATASETS, "scenes-negative", "images")
EU = os.path.join(mk.DATASETS, "plates-eu-unlabelled", "images")


def load_real(split):
    out = []
    for p in sorted(glob.glob(os.path.join(DET, "images", split, "*.jpg"))):
        rgb = np.asarray(Image.open(p).convert("RGB"))
        lab = os.path.join(DET, "labels", split, os.path.splitext(os.path.basename(p))[0] + ".txt")
        out.append((p, rgb, np.array(mk.yolo_boxes(lab, rgb.shape[1], rgb.shape[0]), np.float32).reshape(-1, 4)))
    return out


def _plate_source(rng, crops):
    r = rng.random()
    if r < 0.5 or not crops:
        style = synth.STYLES[int(rng.integers(len(synth.STYLES)))]
        img, _ = synth.render_plate(style, None, rng)
        return np.asarray(img)
    return np.asarray(Image.open(crops[int(rng.integers(len(crops)))]).convert("RGB"))


def _composite(args):
    seed, bg_path, real_bg, crops = args
    rng = np.random.default_rng(seed)
    bg = np.asarray(Image.open(bg_path).convert("RGB"))
    if real_bg is not None:  # a detector-real frame: keep its labelled boxes
        boxes = [list(b) for b in real_bg]
        f = 960 / bg.shape[1]
        bg = cv2.resize(bg, (960, int(bg.shape[0] * f)), interpolation=cv2.INTER_AREA)
        boxes = [[v * f for v in b] for b in boxes]
    else:
        boxes = []
        target_w = int(rng.uniform(640, 960))
        f = target_w / bg.shape[1]
        bg = cv2.resize(bg, (target_w, int(bg.shape[0] * f)))
    H, W = bg.shape[:2]
    model_scale = IN_W / W  # how this image will be seen at nominal scale
    n = int(rng.integers(1, 4))
    for _ in range(n):
        plate = _plate_source(rng, crops)
        wm = float(np.exp(rng.uniform(np.log(14), np.log(170))))  # plate width in model pixels
        pw = wm / model_scale
        ph = pw * plate.shape[0] / plate.shape[1] * rng.uniform(0.85, 1.15)
        if pw >= W * 0.9 or ph >= H * 0.9:
            continue
        plate = synth.degrade(plate, rng, 0.6)
        small = cv2.resize(plate, (max(4, int(pw * 2)), max(4, int(ph * 2))), interpolation=cv2.INTER_AREA)
        quad = synth.augment.random_quad(pw, ph, rng, skew=0.15, rot_deg=8)
        x0, y0 = rng.uniform(0, W - pw), rng.uniform(0, H - ph)
        quad = quad + np.array([x0, y0], np.float32)
        if quad[:, 0].min() < 0 or quad[:, 1].min() < 0 or quad[:, 0].max() > W or quad[:, 1].max() > H:
            continue
        cand = [float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max())]
        if boxes and mk.iou_matrix([cand], boxes).max() > 0.0:
            continue
        bg, box = synth.warp_onto(bg, small, quad)
        boxes.append(box)
    bg = synth.degrade(bg, rng, 0.4)
    if real_bg is None and rng.random() < 0.5:
        bg = np.repeat(cv2.cvtColor(bg, cv2.COLOR_RGB2GRAY)[..., None], 3, 2)
    return bg, np.array(boxes, np.float32).reshape(-1, 4)


def build_composites(n, seed, real_train, workers, splits_dir):
    crops = [p for p, _ in mk.read_split(os.path.join(splits_dir, "ocr-us-train.csv"))]
    crops += [p for p, _ in mk.read_split(os.path.join(splits_dir, "ocr-br-train.csv"))]
    crops += sorted(glob.glob(os.path.join(EU, "*.jpg")))
    negs = sorted(glob.glob(os.path.join(NEG, "*.jpg")))
    rng = np.random.default_rng(seed + 17)
    jobs = []
    for i in range(n):
        if rng.random() < 0.3:
            p, _, b = real_train[int(rng.integers(len(real_train)))]
            jobs.append((seed * 1000003 + i, p, b.tolist(), crops))
        else:
            jobs.append((seed * 1000003 + i, negs[int(rng.integers(len(negs)))], None, crops))
    with mp.Pool(workers) as pool:
        return pool.map(_composite, jobs, chunksize=8)


def sample_crop(img, boxes, rng, base_scale):
    """Random crop (CROP x CROP) at a jittered scale; returns image, boxes in crop pixels."""
    s = base_scale * float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))
    span = CROP / s
    H, W = img.shape[:2]
    if len(boxes) and rng.random() < 0.75:
        b = boxes[int(rng.integers(len(boxes)))]
        cx, cy = (b[0] + b[2]) / 2 + rng.uniform(-0.4, 0.4) * span, (b[1] + b[3]) / 2 + rng.uniform(-0.4, 0.4) * span
        x0, y0 = cx - span / 2, cy - span / 2
    else:
        x0, y0 = rng.uniform(-0.1 * span, max(0, W - 0.9 * span)), rng.uniform(-0.1 * span, max(0, H - 0.9 * span))
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
    out = cv2.warpAffine(img, m, (CROP, CROP), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=mk.LETTERBOX_COLOUR)
    # Pixels outside the source are letterbox grey only to the right/bottom in real use; fine here.
    bb = (boxes - np.array([x0, y0, x0, y0], np.float32)) * s if len(boxes) else np.zeros((0, 4), np.float32)
    keep, ign = [], []
    for b in bb:
        area = (b[2] - b[0]) * (b[3] - b[1])
        c = np.clip(b, 0, CROP)
        vis = (c[2] - c[0]) * (c[3] - c[1]) / max(area, 1e-6)
        (keep if vis >= 0.7 else ign).append(c if vis >= 0.7 else b)
    return out, np.array(keep, np.float32).reshape(-1, 4), np.array(ign, np.float32).reshape(-1, 4)


def photometric(img, rng):
    a = img.astype(np.float32)
    if rng.random() < 0.25:
        g = a @ np.array([0.299, 0.587, 0.114], np.float32)
        a = np.repeat(g[..., None], 3, 2)
    a = (a - 128) * rng.uniform(0.6, 1.4) + 128 + rng.uniform(-40, 40)
    a *= rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    if rng.random() < 0.3:
        a += rng.normal(0, rng.uniform(2, 10), a.shape).astype(np.float32)
    return np.clip(a, 0, 255)


def targets(boxes, ignores, gh, gw):
    """Per-cell objectness target (1 pos, 0 neg, -1 ignore) and box target (x1 y1 x2 y2, px).
    Positive cells: centre in the central 60 % of the box, plus the cell holding its centre;
    the rest of the box is ignored. Smaller boxes win shared cells."""
    obj = np.zeros((gh, gw), np.float32)
    tgt = np.zeros((gh, gw, 4), np.float32)
    cy = (np.arange(gh, dtype=np.float32) + 0.5) * STRIDE
    cx = (np.arange(gw, dtype=np.float32) + 0.5) * STRIDE
    for b in ignores:
        inside = ((cx[None] >= b[0]) & (cx[None] <= b[2]) & (cy[:, None] >= b[1]) & (cy[:, None] <= b[3]))
        obj[inside & (obj == 0)] = -1
    order = np.argsort(-((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))) if len(boxes) else []
    for i in order:
        b = boxes[i]
        bw, bh = b[2] - b[0], b[3] - b[1]
        mx, my = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        inside = ((cx[None] >= b[0]) & (cx[None] <= b[2]) & (cy[:, None] >= b[1]) & (cy[:, None] <= b[3]))
        obj[inside] = np.where(obj[inside] == 1, 1, -1)
        core = ((np.abs(cx[None] - mx) <= 0.3 * bw) & (np.abs(cy[:, None] - my) <= 0.3 * bh))
        ci, cj = min(gh - 1, int(my // STRIDE)), min(gw - 1, int(mx // STRIDE))
        core[ci, cj] = True
        obj[core] = 1
        tgt[core] = b
    return obj, tgt


def build_backbone(tf):
    L = tf.keras.layers

    def cbr(x, f, k=3, s=1):
        x = L.Conv2D(f, k, strides=s, padding="same", use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        return L.ReLU(6.0)(x)

    def dws(x, f, s=1):
        x = L.DepthwiseConv2D(3, strides=s, padding="same", use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        x = L.ReLU(6.0)(x)
        return cbr(x, f, k=1)

    inp = L.Input((None, None, 3))
    x = cbr(inp, 16, s=2)        # /2
    x = dws(x, 32, s=2)          # /4
    x = dws(x, 32)
    x = dws(x, 64, s=2)          # /8
    x = dws(x, 64)
    p8 = dws(x, 64)
    x = dws(p8, 128, s=2)        # /16
    x = dws(x, 128)
    p16 = dws(x, 128)
    x = dws(p16, 160, s=2)       # /32: context (is this text on a car or on a sign?)
    x = dws(x, 160)
    x = cbr(x, 128, k=1)
    x = L.UpSampling2D(2, interpolation="nearest")(x)
    x = L.Add()([x, p16])
    x = cbr(x, 64, k=1)
    x = L.UpSampling2D(2, interpolation="nearest")(x)
    x = L.Add()([x, p8])
    x = dws(x, 64)
    x = dws(x, 64)
    x = dws(x, 64)
    out = L.Conv2D(5, 1, bias_initializer=tf.keras.initializers.Constant([-4.6, 0, 0, 0, 0]))(x)
    return tf.keras.Model(inp, out)


def decode_px(tf, raw):
    """raw [B, gh, gw, 5] -> scores [B, gh, gw], boxes [B, gh, gw, 4] in input pixels."""
    gh, gw = tf.shape(raw)[1], tf.shape(raw)[2]
    cy = (tf.cast(tf.range(gh), tf.float32) + 0.5) * STRIDE
    cx = (tf.cast(tf.range(gw), tf.float32) + 0.5) * STRIDE
    cxg = tf.broadcast_to(cx[None, :], [gh, gw])
    cyg = tf.broadcast_to(cy[:, None], [gh, gw])
    centre = tf.stack([cxg, cyg, cxg, cyg], -1)[None]
    d = tf.sigmoid(raw[..., 1:5]) * MAX_DIST
    boxes = centre + d * tf.constant([-1.0, -1.0, 1.0, 1.0])
    return raw[..., 0], boxes


def export_graph(tf, backbone):
    """Inference function with constant grids: (1, 384, 640, 3) -> boxes [1, N, 4] normalised,
    scores [1, N]."""
    gh, gw = IN_H // STRIDE, IN_W // STRIDE
    cy = (np.arange(gh, dtype=np.float32) + 0.5) * STRIDE
    cx = (np.arange(gw, dtype=np.float32) + 0.5) * STRIDE
    cxg, cyg = np.meshgrid(cx, cy)
    norm = np.array([IN_W, IN_H, IN_W, IN_H], np.float32)
    centre = (np.stack([cxg, cyg, cxg, cyg], -1) / norm)[None].astype(np.float32)
    mult = (np.array([-1, -1, 1, 1], np.float32) * MAX_DIST / norm).astype(np.float32)

    @tf.function
    def infer(x):
        raw = backbone(x, training=False)
        scores = tf.reshape(tf.sigmoid(raw[..., 0]), [1, gh * gw])
        boxes = tf.clip_by_value(centre + tf.sigmoid(raw[..., 1:5]) * mult, 0.0, 1.0)
        return {"boxes": tf.reshape(boxes, [1, gh * gw, 4]), "scores": scores}
    return infer


def giou_loss(tf, p, t):
    ix1, iy1 = tf.maximum(p[:, 0], t[:, 0]), tf.maximum(p[:, 1], t[:, 1])
    ix2, iy2 = tf.minimum(p[:, 2], t[:, 2]), tf.minimum(p[:, 3], t[:, 3])
    inter = tf.nn.relu(ix2 - ix1) * tf.nn.relu(iy2 - iy1)
    ap = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    at = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    union = ap + at - inter + 1e-6
    iou = inter / union
    cx1, cy1 = tf.minimum(p[:, 0], t[:, 0]), tf.minimum(p[:, 1], t[:, 1])
    cx2, cy2 = tf.maximum(p[:, 2], t[:, 2]), tf.maximum(p[:, 3], t[:, 3])
    c = (cx2 - cx1) * (cy2 - cy1) + 1e-6
    return 1 - iou + (c - union) / c


def evaluate_val(model_path, frames, threshold=0.5):
    det = mk.Detector(model_path)
    tp = fp = n_gt = small_tp = small_n = 0
    for _, rgb, gt in frames:
        dets = det(rgb, threshold)
        pred = np.array([d[:4] for d in dets], np.float32).reshape(-1, 4)
        n_gt += len(gt)
        matched = set()
        if len(pred) and len(gt):
            iou = mk.iou_matrix(pred, gt)
            for i in np.argsort(-np.array([d[4] for d in dets])):
                j = int(np.argmax(iou[i]))
                if iou[i, j] >= 0.5 and j not in matched:
                    matched.add(j)
                    tp += 1
                else:
                    fp += 1
        else:
            fp += len(pred)
        for j, g in enumerate(gt):
            if (g[2] - g[0]) * 1920 / rgb.shape[1] <= 150:  # "small": <= 150 px wide in a 1080p frame
                small_n += 1
                small_tp += j in matched
    return {"frames": len(frames), "boxes": n_gt, "recall": tp / max(1, n_gt), "precision": tp / max(1, tp + fp),
            "fp_per_image": fp / max(1, len(frames)), "small_boxes": small_n,
            "small_recall": small_tp / max(1, small_n), "threshold": threshold}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(mk.REPO, "models"))
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--composites", type=int, default=700)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--early-export", type=int, default=0, help="also export a model at this step (0: off)")
    args = ap.parse_args()

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    splits = os.path.join(args.out, "splits")
    if not os.path.exists(os.path.join(splits, "ocr-us-train.csv")):
        mk.make_ocr_split("ocr-us", splits)
        mk.make_ocr_split("ocr-br", splits)
    t0 = time.time()
    real = load_real("train")
    comps = build_composites(args.composites, args.seed, real, args.workers, splits)
    negs = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(glob.glob(os.path.join(NEG, "*.jpg")))]
    print("data: %d real frames, %d composites, %d negatives in %.0f s" % (len(real), len(comps), len(negs), time.time() - t0), flush=True)

    backbone = build_backbone(tf)
    print("parameters: %d" % backbone.count_params(), flush=True)
    sched = tf.keras.optimizers.schedules.CosineDecay(args.lr, args.steps, alpha=0.02)
    opt = tf.keras.optimizers.Adam(sched)

    @tf.function(reduce_retracing=True)
    def train_step(xb, obj, tgt):
        with tf.GradientTape() as tape:
            raw = backbone(xb, training=True)
            logit, boxes = decode_px(tf, raw)
            pos = tf.cast(obj > 0.5, tf.float32)
            valid = tf.cast(obj > -0.5, tf.float32)
            npos = tf.maximum(tf.reduce_sum(pos), 1.0)
            p = tf.sigmoid(logit)
            bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=pos, logits=logit)
            # Plain BCE on positives (scores calibrate towards 1 quickly, the daemon thresholds
            # at 0.5), focal-style down-weighting of the many easy negatives.
            weight = pos + (1 - pos) * tf.square(p) * 4.0
            focal = tf.reduce_sum(weight * bce * valid) / npos
            m = obj > 0.5
            gl = giou_loss(tf, tf.boolean_mask(boxes, m), tf.boolean_mask(tgt, m))
            box = tf.reduce_sum(gl) / npos
            loss = focal + 2.0 * box
        grads = tape.gradient(loss, backbone.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 10.0)
        opt.apply_gradients(zip(grads, backbone.trainable_variables))
        return focal, box

    @tf.function(reduce_retracing=True)
    def bn_update(xb):
        backbone(xb, training=True)

    rng = np.random.default_rng(args.seed)
    g = CROP // STRIDE

    def make_batch():
        xs, objs, tgts = [], [], []
        for _ in range(args.batch):
            r = rng.random()
            if r < 0.45:
                _, img, bx = real[int(rng.integers(len(real)))]
                base = NOMINAL
            elif r < 0.88:
                img, bx = comps[int(rng.integers(len(comps)))]
                base = IN_W / img.shape[1]
            else:
                img, bx = negs[int(rng.integers(len(negs)))], np.zeros((0, 4), np.float32)
                base = IN_W / img.shape[1]
            crop, kb, ib = sample_crop(img, bx, rng, base)
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
                kb = np.stack([CROP - kb[:, 2], kb[:, 1], CROP - kb[:, 0], kb[:, 3]], 1) if len(kb) else kb
                ib = np.stack([CROP - ib[:, 2], ib[:, 1], CROP - ib[:, 0], ib[:, 3]], 1) if len(ib) else ib
            o, t = targets(kb, ib, g, g)
            xs.append(photometric(crop, rng) / 255.0)
            objs.append(o)
            tgts.append(t)
        return tf.constant(np.stack(xs), tf.float32), tf.constant(np.stack(objs)), tf.constant(np.stack(tgts))

    f32 = os.path.join(args.out, "plate-detector.float32.tflite")
    i8 = os.path.join(args.out, "plate-detector.int8.tflite")

    def export():
        # Moving BatchNorm statistics lag the weights during a short run; re-estimate them on
        # training batches (forward only) before export.
        for _ in range(30):
            bn_update(make_batch()[0])
        infer = export_graph(tf, backbone)
        rep = []
        for i in range(120):  # calibration: training frames and composites, letterboxed like the daemon
            src = real[i * 3 % len(real)][1] if i % 2 == 0 else comps[i % len(comps)][0]
            rep.append(mk.letterbox(src, IN_W, IN_H)[0].astype(np.float32)[None] / 255.0)
        mk.export_tflite(infer, (1, IN_H, IN_W, 3), rep, f32, i8)

    t0 = time.time()
    ema = None
    for step in range(1, args.steps + 1):
        f, b = train_step(*make_batch())
        cur = np.array([float(f), float(b)])
        ema = cur if ema is None else 0.98 * ema + 0.02 * cur
        if step % 50 == 0 or step == 1:
            print("step %d/%d obj %.3f giou %.3f (%.0f s)" % (step, args.steps, ema[0], ema[1], time.time() - t0), flush=True)
        if step == args.early_export:  # a usable model early, for integration work
            export()
            with open(i8, "rb") as src, open(os.path.join(args.out, "plate-detector.tflite"), "wb") as dst:
                dst.write(src.read())
            write_sidecar(args, os.path.join(args.out, "plate-detector.tflite"), "int8", {"note": "early export at step %d" % step},
                          time.time() - t0, 0, len(real), len(comps), len(negs), backbone.count_params())
            print("early export at step %d" % step, flush=True)
    train_s = time.time() - t0
    backbone.save_weights(os.path.join(mk.REPO, ".cache", "detector-seed%d-steps%d.weights.h5" % (args.seed, args.steps)))
    export()

    val = load_real("val")
    metrics = {}
    for name, path in (("float32", f32), ("int8", i8)):
        write_sidecar(args, path, name, {}, train_s, 0, len(real), len(comps), len(negs), backbone.count_params())
        metrics[name] = {"detector-real-val": evaluate_val(path, val)}
        print(name, metrics[name], flush=True)
    r = lambda m: m["detector-real-val"]["recall"]  # noqa: E731
    ship = "int8" if r(metrics["int8"]) >= r(metrics["float32"]) - 0.01 else "float32"
    shipped = os.path.join(args.out, "plate-detector.tflite")
    with open(i8 if ship == "int8" else f32, "rb") as src, open(shipped, "wb") as dst:
        dst.write(src.read())
    for name, path in (("float32", f32), ("int8", i8)):
        os.remove(os.path.splitext(path)[0] + ".json")
    write_sidecar(args, shipped, ship, metrics, train_s, 0, len(real), len(comps), len(negs), backbone.count_params())
    print("shipped %s (%s)" % (shipped, ship))


def write_sidecar(args, model_path, ship, metrics, train_s, _unused, n_real, n_comp, n_neg, params):
    ins, outs = mk.tensor_info(model_path)
    inp = {"width": IN_W, "height": IN_H, "channels": 3, "dtype": ins[0]["dtype"],
           "normalisation": {"scale": 1.0 / 255.0, "offset": 0.0}}
    if ins[0]["quantization"]:
        inp["quantization"] = ins[0]["quantization"]
    outputs = []
    for o in outs:
        name = "boxes" if len(o["shape"]) == 3 and o["shape"][-1] == 4 else "scores"
        e = {"name": name, "index": o["index"], "shape": o["shape"], "dtype": o["dtype"]}
        if o["quantization"]:
            e["quantization"] = o["quantization"]
        outputs.append(e)
    side = {
        "name": "plate-detector", "kind": "detector", "version": "1.0.0",
        "model_file": os.path.basename(model_path), "format": "boomgate-grid",
        "input": inp, "letterbox": "top-left", "letterbox_colour": list(mk.LETTERBOX_COLOUR),
        "outputs": outputs, "score_threshold": 0.5, "nms_iou": 0.45, "max_detections": 20,
        "grid": {"stride": STRIDE, "cells": [IN_H // STRIDE, IN_W // STRIDE], "order": "row-major (y, then x)",
                 "boxes": "x1, y1, x2, y2 normalised to the model input width/height"},
        "training": {
            "script": "scripts/train_detector.py",
            "command": "python3 scripts/train_detector.py --out models/ --steps %d --composites %d --seed %d" % (
                args.steps, args.composites, args.seed),
            "steps": args.steps, "seed": args.seed, "batch": args.batch, "crop": CROP, "train_seconds": round(train_s),
            "real_frames": n_real, "composites": n_comp, "negatives": n_neg, "parameters": params,
            "data": "detector-real/train (MIT), scenes-negative (AGPL-3.0), plate crops from ocr-us/ocr-br "
                    "train splits and plates-eu-unlabelled (AGPL-3.0), rendered plates (scripts/synth)",
            "shipped_precision": ship},
        "metrics": metrics, "created": mk.now_utc(),
    }
    mk.write_json(os.path.splitext(model_path)[0] + ".json", side)


if __name__ == "__main__":
    main()
