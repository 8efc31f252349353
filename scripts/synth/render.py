"""Clean plate renders in four styles. Geometry and colours are approximations of real plates,
drawn from scratch with Debian-packaged fonts."""
import os
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFont

STYLES = ("us", "eu", "br-old", "br-mercosul")
LETTERS = string.ascii_uppercase
DIGITS = string.digits

_FONT_DIRS = (
    "/usr/share/fonts/opentype/urw-base35",
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/freefont",
)
# Bold sans faces; the "narrow" set stands in for DIN/FE-like condensed plate lettering.
_WIDE = ["NimbusSans-Bold.otf", "DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "FreeSansBold.ttf",
         "DejaVuSansMono-Bold.ttf", "LiberationMono-Bold.ttf", "URWGothic-Demi.otf"]
_NARROW = ["NimbusSansNarrow-Bold.otf", "DejaVuSansCondensed-Bold.ttf", "NimbusSansNarrow-Regular.otf",
           "NimbusSans-Bold.otf", "LiberationSans-Bold.ttf"]
_SMALL = ["DejaVuSans-Bold.ttf", "NimbusSans-Regular.otf", "LiberationSans-Regular.ttf", "FreeSans.ttf",
          "NimbusRoman-Bold.otf", "DejaVuSerif-Bold.ttf"]

_font_cache = {}


def _find_font(name):
    for d in _FONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def _font(names, rng, size):
    avail = [p for p in (_find_font(n) for n in names) if p]
    if not avail:
        raise FileNotFoundError("no plate font found in %s (install the Debian font packages)" % (_FONT_DIRS,))
    path = avail[int(rng.integers(len(avail)))]
    key = (path, size)
    if key not in _font_cache:
        _font_cache[key] = ImageFont.truetype(path, size)
    return _font_cache[key]


US_STATES = ["ALABAMA", "ALASKA", "ARIZONA", "CALIFORNIA", "COLORADO", "FLORIDA", "GEORGIA", "ILLINOIS",
             "INDIANA", "KANSAS", "MAINE", "MARYLAND", "MICHIGAN", "MONTANA", "NEVADA", "NEW YORK",
             "OHIO", "OREGON", "TEXAS", "UTAH", "VERMONT", "VIRGINIA", "WASHINGTON", "WISCONSIN"]
US_SLOGANS = ["", "", "SUNSHINE STATE", "LAND OF LINCOLN", "THE GREAT LAKES STATE", "LIVE FREE",
              "EMPIRE STATE", "www.dmv.gov", "SPORTSMAN'S PARADISE", "GRAND CANYON STATE"]
EU_CODES = ["D", "F", "NL", "PL", "RO", "I", "B", "E", "A", "CZ", "SK", "P", "LT", "FIN", "IRL", "SLO"]
BR_CITIES = ["SP - SAO PAULO", "RJ - RIO DE JANEIRO", "MG - BELO HORIZONTE", "PR - CURITIBA",
             "RS - PORTO ALEGRE", "SC - JOINVILLE", "BA - SALVADOR", "GO - GOIANIA", "SP - CAMPINAS"]


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _chars(rng, pool, n):
    return "".join(_pick(rng, pool) for _ in range(n))


def random_text(style, rng):
    """A random plate text (A-Z, 0-9 only) following the style's common formats."""
    L, D = LETTERS, DIGITS
    if style == "us":
        fmt = _pick(rng, ["LLLDDDD", "DLLLDDD", "LLLDDD", "DDDLLL", "LLDDDDD", "DLLDDD", "LLLLDDD",
                          "DDDDLL", "LLDLDDD", "LLL", "VANITY"])
        if fmt == "LLL":
            fmt = "LLLDDDD"
        if fmt == "VANITY":
            n = int(rng.integers(4, 8))
            return "".join(_pick(rng, L) if rng.random() < 0.8 else _pick(rng, D) for _ in range(n))
    elif style == "eu":
        fmt = _pick(rng, ["LLDDDLL", "LLDDLLL", "LLLDDDD", "LDDDDD", "LLDDDDD", "LLDDLL", "DDLLLD",
                          "LLLDDLL", "LDDLLL", "LLDDDD", "LLLDDDL"])
    elif style == "br-old":
        fmt = "LLLDDDD"
    elif style == "br-mercosul":
        fmt = "LLLDLDD"
    else:
        raise ValueError("unknown plate style %r (expected one of %s)" % (style, ", ".join(STYLES)))
    return "".join(_pick(rng, L) if c == "L" else _pick(rng, D) for c in fmt)


def _display(style, text, rng):
    """Visual form of the text: separators at letter/digit changes (not part of the label)."""
    if style == "br-old":
        return text[:3] + _pick(rng, ["-", "-", " ", "·"]) + text[3:] if len(text) == 7 else text
    if style == "br-mercosul":
        return text
    if rng.random() < (0.35 if style == "us" else 0.75):
        sep = _pick(rng, [" ", " ", "-"]) if style == "eu" else _pick(rng, [" ", "-", "·"])
        out = text[0]
        for a, b in zip(text, text[1:]):
            if a.isdigit() != b.isdigit() and " " not in out and "-" not in out[-1:]:
                out += sep
            out += b
        return out
    return text


def _text_layer(disp, font, colour, spacing):
    """Render a text line tightly cropped to its ink, as an RGBA image."""
    widths = []
    glyphs = []
    for ch in disp:
        if ch == " ":
            widths.append(int(font.size * 0.35))
            glyphs.append(None)
            continue
        bbox = font.getbbox(ch)
        widths.append(bbox[2] - bbox[0])
        glyphs.append(bbox)
    total = sum(widths) + spacing * (len(disp) - 1)
    asc, desc = font.getmetrics()
    layer = Image.new("L", (max(1, total + 4), asc + desc + 4), 0)
    d = ImageDraw.Draw(layer)
    x = 2
    for ch, w, bb in zip(disp, widths, glyphs):
        if bb is not None:
            d.text((x - bb[0], 2), ch, font=font, fill=255)
        x += w + spacing
    box = layer.getbbox() or (0, 0, 1, 1)
    mask = layer.crop(box)
    rgba = Image.new("RGBA", mask.size, colour + (0,))
    rgba.putalpha(mask)
    return rgba


def _place_text(img, disp, fonts, colour, box, rng, spacing_frac=0.06):
    """Draw the text stretched into box (x1, y1, x2, y2), keeping the height and at most the width."""
    x1, y1, x2, y2 = box
    font = _font(fonts, rng, 96)
    layer = _text_layer(disp, font, colour, int(96 * spacing_frac * rng.uniform(0.5, 1.6)))
    th = y2 - y1
    tw = int(layer.width * th / layer.height * rng.uniform(0.85, 1.15))
    tw = min(tw, x2 - x1)
    layer = layer.resize((max(1, tw), max(1, th)), Image.LANCZOS)
    ox = x1 + (x2 - x1 - tw) // 2
    img.alpha_composite(layer, (ox, y1))


def _jitter(c, rng, amount=12):
    return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)


def _bolts(d, W, H, rng, y_frac):
    if rng.random() < 0.6:
        r = max(2, H // 30)
        for xf in (0.22, 0.78):
            cx, cy = int(W * xf), int(H * y_frac)
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(90, 90, 90))


def _render_us(text, rng):
    W, H = 360, 180
    base = _pick(rng, [(250, 250, 250), (245, 240, 225), (235, 240, 250), (250, 245, 210), (240, 250, 240)])
    img = Image.new("RGBA", (W, H), _jitter(base, rng) + (255,))
    d = ImageDraw.Draw(img)
    # State-like graphics: a gradient sky, a band or a hill silhouette.
    kind = rng.integers(4)
    accent = _pick(rng, [(20, 50, 140), (150, 20, 30), (10, 100, 60), (200, 120, 20), (90, 40, 120)])
    if kind == 1:
        for y in range(H):
            a = y / H
            c = tuple(int(base[i] * a + (accent[i] * 0.4 + 255 * 0.6) * (1 - a)) for i in range(3))
            d.line([(0, y), (W, y)], fill=c)
    elif kind == 2:
        d.rectangle([0, 0, W, int(H * 0.2)], fill=accent)
        d.rectangle([0, int(H * 0.86), W, H], fill=accent)
    elif kind == 3:
        pts = [(0, H)] + [(x, int(H * (0.62 + 0.15 * np.sin(x / W * 6.28 * rng.uniform(0.5, 1.5) + 1))))
                          for x in range(0, W + 20, 20)] + [(W, H)]
        d.polygon(pts, fill=_jitter((accent[0] // 2 + 120, accent[1] // 2 + 120, accent[2] // 2 + 120), rng))
    text_col = _pick(rng, [(15, 30, 110), (10, 10, 10), (120, 10, 20), (10, 70, 30), (25, 25, 90)])
    state_col = (255, 255, 255) if kind == 2 else _pick(rng, [accent, (150, 20, 30), (15, 30, 110)])
    state = _pick(rng, US_STATES)
    _place_text(img, state, _SMALL, state_col, (int(W * 0.2), int(H * 0.04), int(W * 0.8), int(H * 0.17)), rng)
    slogan = _pick(rng, US_SLOGANS)
    if slogan:
        _place_text(img, slogan, _SMALL, state_col, (int(W * 0.22), int(H * 0.88), int(W * 0.78), int(H * 0.97)), rng)
    # The plate number: ~ 45-55 % of the plate height.
    th = rng.uniform(0.44, 0.56)
    top = int(H * (0.56 - th / 2))
    _place_text(img, _display("us", text, rng), _WIDE + _NARROW, text_col,
                (int(W * 0.05), top, int(W * 0.95), top + int(H * th)), rng)
    if rng.random() < 0.5:  # a small sticker or emblem at the side
        x = int(W * (0.03 if rng.random() < 0.5 else 0.89))
        d.rectangle([x, int(H * 0.04), x + int(W * 0.08), int(H * 0.17)], fill=_jitter((200, 60, 60), rng, 60))
    d.rounded_rectangle([1, 1, W - 2, H - 2], radius=14, outline=_jitter((60, 60, 60), rng, 40), width=3)
    _bolts(d, W, H, rng, 0.1)
    return img


def _render_eu(text, rng):
    W, H = 520, 112
    base = (250, 250, 250) if rng.random() < 0.8 else (245, 200, 20)
    img = Image.new("RGBA", (W, H), _jitter(base, rng, 6) + (255,))
    d = ImageDraw.Draw(img)
    band = int(W * 0.085)
    d.rectangle([0, 0, band, H], fill=_jitter((0, 51, 153), rng, 10))
    cx, cy, r = band / 2, H * 0.32, band * 0.3
    for k in range(12):  # ring of stars, drawn as dots
        a = k / 12 * 2 * np.pi
        x, y = cx + r * np.cos(a), cy + r * np.sin(a)
        d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(255, 204, 0))
    code = _pick(rng, EU_CODES)
    _place_text(img, code, _WIDE, (255, 255, 255), (3, int(H * 0.6), band - 3, int(H * 0.88)), rng)
    th = rng.uniform(0.66, 0.76)
    top = int(H * (0.5 - th / 2))
    _place_text(img, _display("eu", text, rng), _NARROW, (15, 15, 15),
                (band + int(W * 0.03), top, W - int(W * 0.03), top + int(H * th)), rng, spacing_frac=0.08)
    d.rounded_rectangle([1, 1, W - 2, H - 2], radius=8, outline=(20, 20, 20), width=3)
    return img


def _render_br_old(text, rng):
    W, H = 400, 130
    red = rng.random() < 0.2  # commercial plates: red with white letters
    base = (180, 30, 30) if red else (190, 192, 195)
    fg = (245, 245, 245) if red else (20, 20, 20)
    img = Image.new("RGBA", (W, H), _jitter(base, rng, 15) + (255,))
    d = ImageDraw.Draw(img)
    _place_text(img, _pick(rng, BR_CITIES), _SMALL, fg, (int(W * 0.2), int(H * 0.06), int(W * 0.8), int(H * 0.2)), rng)
    th = rng.uniform(0.58, 0.66)
    top = int(H * 0.27)
    _place_text(img, _display("br-old", text, rng), _NARROW, fg,
                (int(W * 0.04), top, int(W * 0.96), min(H - 4, top + int(H * th))), rng)
    d.rectangle([2, 2, W - 3, H - 3], outline=fg, width=3)
    _bolts(d, W, H, rng, 0.13)
    return img


def _render_br_mercosul(text, rng):
    W, H = 400, 130
    img = Image.new("RGBA", (W, H), _jitter((248, 248, 248), rng, 6) + (255,))
    d = ImageDraw.Draw(img)
    band_h = int(H * 0.23)
    d.rectangle([0, 0, W, band_h], fill=_jitter((0, 51, 160), rng, 10))
    _place_text(img, "BRASIL", _WIDE, (255, 255, 255), (int(W * 0.38), int(band_h * 0.2), int(W * 0.62), int(band_h * 0.85)), rng)
    # Flag (green with a yellow diamond) on the right, a round emblem on the left.
    fx = int(W * 0.87)
    d.rectangle([fx, int(band_h * 0.2), fx + int(W * 0.08), int(band_h * 0.85)], fill=(0, 150, 60))
    mx, my = fx + int(W * 0.04), int(band_h * 0.52)
    d.polygon([(mx - 12, my), (mx, my - 6), (mx + 12, my), (mx, my + 6)], fill=(250, 210, 0))
    d.ellipse([int(W * 0.04), int(band_h * 0.15), int(W * 0.04) + band_h * 0.7, band_h * 0.85], outline=(255, 255, 255), width=2)
    fg = _pick(rng, [(15, 15, 15)] * 6 + [(180, 20, 20), (20, 90, 40), (20, 40, 150)])
    top = band_h + int(H * 0.08)
    _place_text(img, text, _NARROW, fg, (int(W * 0.05), top, int(W * 0.95), top + int(H * rng.uniform(0.56, 0.62))), rng)
    d.rectangle([1, 1, W - 2, H - 2], outline=(20, 20, 20), width=3)
    return img


_RENDERERS = {"us": _render_us, "eu": _render_eu, "br-old": _render_br_old, "br-mercosul": _render_br_mercosul}


def render_plate(style, text=None, rng=None):
    """Render a clean, tight plate image in the given style.

    Returns (PIL.Image RGB, label) where label is the text as the OCR should read it (A-Z 0-9,
    separators removed). text=None draws a random text for the style."""
    if style not in _RENDERERS:
        raise ValueError("unknown plate style %r (expected one of %s)" % (style, ", ".join(STYLES)))
    rng = rng if rng is not None else np.random.default_rng()
    if text is None:
        text = random_text(style, rng)
    label = "".join(c for c in str(text).upper() if c.isalnum())
    if not label:
        raise ValueError("plate text %r has no A-Z/0-9 characters" % (text,))
    img = _RENDERERS[style](label, rng)
    return img.convert("RGB"), label
