"""Degradations that make clean renders (and real crops) look like camera captures, and
perspective compositing of plates onto scenes with exact boxes."""
import io

import cv2
import numpy as np
from PIL import Image


def _u8(a):
    return np.clip(a, 0, 255).astype(np.uint8)


def degrade(arr, rng, strength=1.0):
    """Photometric degradations of an RGB uint8 array: exposure/night, shadow, dirt, blur,
    resolution loss, noise and JPEG. Geometry is left alone so boxes stay valid."""
    a = arr.astype(np.float32)
    h, w = a.shape[:2]
    # Exposure, contrast and colour cast.
    if rng.random() < 0.8 * strength:
        a = (a - 128) * rng.uniform(0.55, 1.3) + 128 + rng.uniform(-50, 40)
        a *= rng.uniform(0.85, 1.15, size=3)
    if rng.random() < 0.15 * strength:  # night: dark, noisy, bluish or sodium-lit
        a = a * rng.uniform(0.2, 0.5) + rng.uniform(-10, 5)
        a *= np.array(_night_tint(rng), dtype=np.float32)
    if rng.random() < 0.25 * strength:  # a shadow or glare gradient across the picture
        g = np.linspace(rng.uniform(-1, 1), rng.uniform(-1, 1), w if rng.random() < 0.5 else h, dtype=np.float32)
        g = g[None, :, None] if g.shape[0] == w else g[:, None, None]
        a = a * (1 + 0.45 * g)
    if rng.random() < 0.2 * strength:  # dirt: soft dark blotches
        for _ in range(int(rng.integers(1, 6))):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            r = rng.uniform(0.03, 0.15) * w
            yy, xx = np.ogrid[:h, :w]
            m = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)).astype(np.float32)
            a = a * (1 - 0.5 * m[..., None]) + 60 * 0.5 * m[..., None]
    if rng.random() < 0.3 * strength:  # loss of resolution (distant plates)
        f = rng.uniform(0.3, 0.8)
        small = cv2.resize(_u8(a), (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        a = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if rng.random() < 0.5 * strength:
        if rng.random() < 0.3:  # motion blur
            k = int(rng.integers(3, 8))
            ker = np.zeros((k, k), np.float32)
            ker[k // 2, :] = 1.0 / k
            if rng.random() < 0.5:
                ker = ker.T
            a = cv2.filter2D(a, -1, ker)
        else:
            s = rng.uniform(0.3, 1.4)
            a = cv2.GaussianBlur(a, (0, 0), s)
    if rng.random() < 0.6 * strength:
        a = a + rng.normal(0, rng.uniform(2, 12), a.shape).astype(np.float32)
    out = _u8(a)
    if rng.random() < 0.5 * strength:
        q = int(rng.integers(20, 90))
        ok, enc = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out


def _night_tint(rng):
    return [(0.8, 0.9, 1.25), (1.25, 1.0, 0.6), (1.0, 1.0, 1.0)][int(rng.integers(3))]


def _occlude(arr, rng):
    """Partial occlusion at the plate's top or bottom edge (a tow bar, a frame, a bolt) that keeps
    the characters readable, so the label stays true."""
    h, w = arr.shape[:2]
    out = arr.copy()
    if rng.random() < 0.5:
        y0 = 0 if rng.random() < 0.5 else int(h * rng.uniform(0.85, 0.95))
        y1 = y0 + int(h * rng.uniform(0.06, 0.14))
        x0 = int(rng.uniform(0, 0.6) * w)
        x1 = min(w, x0 + int(w * rng.uniform(0.2, 0.6)))
        out[y0:y1, x0:x1] = rng.integers(0, 255, size=3)
    else:  # plate frame: a dark border of random thickness
        t = max(1, int(h * rng.uniform(0.03, 0.08)))
        c = rng.integers(0, 80, size=3)
        out[:t], out[-t:], out[:, :t], out[:, -t:] = c, c, c, c
    return out


def random_quad(w, h, rng, skew=0.08, rot_deg=6.0):
    """Corners (tl, tr, br, bl) of a w x h rectangle after random rotation and perspective."""
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    pts += rng.uniform(-skew, skew, size=(4, 2)).astype(np.float32) * np.array([w, h], np.float32) * 0.5
    a = np.deg2rad(rng.uniform(-rot_deg, rot_deg))
    c = pts.mean(0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    return (pts - c) @ rot.T + c


def warp_onto(scene, plate, quad, rng=None, feather=True):
    """Paste plate (PIL or RGB array) onto scene (RGB array, modified copy returned) so that its
    corners land on quad (tl, tr, br, bl in scene pixels). Returns (scene, [x1, y1, x2, y2]) where
    the box is the tight bounding box of the pasted plate, clipped to the scene."""
    p = np.asarray(plate)
    ph, pw = p.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    m = cv2.getPerspectiveTransform(src, np.asarray(quad, np.float32))
    H, W = scene.shape[:2]
    warped = cv2.warpPerspective(p, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (W, H), flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    out = scene.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha
    q = np.asarray(quad, np.float32)
    x1, y1 = np.clip(q[:, 0].min(), 0, W), np.clip(q[:, 1].min(), 0, H)
    x2, y2 = np.clip(q[:, 0].max(), 0, W), np.clip(q[:, 1].max(), 0, H)
    return _u8(out), [float(x1), float(y1), float(x2), float(y2)]


def _background(w, h, rng, scenes=None):
    if scenes is not None and len(scenes) and rng.random() < 0.7:
        s = scenes[int(rng.integers(len(scenes)))]
        sh, sw = s.shape[:2]
        cw, ch = min(sw, int(w * rng.uniform(1, 3))), min(sh, int(h * rng.uniform(1, 3)))
        x, y = int(rng.integers(0, sw - cw + 1)), int(rng.integers(0, sh - ch + 1))
        bg = cv2.resize(s[y:y + ch, x:x + cw], (w, h))
        if bg.ndim == 2:
            bg = np.repeat(bg[..., None], 3, 2)
        return bg.astype(np.uint8)
    c = rng.integers(0, 255, size=3)
    return _u8(np.ones((h, w, 3), np.float32) * c + rng.normal(0, 20, (h, w, 3)))


def augment_crop(img, rng, scenes=None, strength=1.0, occlude_p=0.15):
    """A plate image as a detector would hand it to the OCR: slightly rotated/skewed, loosely
    cropped (margins from -3 % to +15 %), with photometric degradations. Returns an RGB array."""
    p = np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else img)
    if rng.random() < occlude_p * strength:
        p = _occlude(p, rng)
    ph, pw = p.shape[:2]
    pad = 0.35
    W, H = int(pw * (1 + 2 * pad)), int(ph * (1 + 2 * pad))
    bg = _background(W, H, rng, scenes)
    quad = random_quad(pw, ph, rng, skew=0.1 * strength, rot_deg=5 * strength) + np.array([pw * pad, ph * pad], np.float32)
    comp, (x1, y1, x2, y2) = warp_onto(bg, p, quad, rng)
    bw, bh = x2 - x1, y2 - y1
    mx = rng.uniform(-0.03, 0.12, size=2) * bw
    my = rng.uniform(-0.05, 0.2, size=2) * bh
    cx1, cy1 = int(max(0, x1 - mx[0])), int(max(0, y1 - my[0]))
    cx2, cy2 = int(min(W, x2 + mx[1])), int(min(H, y2 + my[1]))
    crop = comp[cy1:cy2, cx1:cx2]
    return degrade(crop, rng, strength)
