#!/usr/bin/env python3
# bench/augment-pillow.py: the peer of bench/augment, the same training
# recipe in Pillow, the way torchvision's PIL transforms do it
# (RandomResizedCrop with BILINEAR, a mirror, rotate(BILINEAR), brightness,
# ImageEnhance.Color for saturation, hue through an HSV image,
# ImageEnhance.Contrast), on images already decoded and scaled to 256 on
# the short side in memory (not timed).
#
#   augment-pillow.py ROUNDS FILE...   prints "pillow N images S seconds"
import math
import random
import sys
import time

from PIL import Image, ImageEnhance

rounds = int(sys.argv[1])
images = []
for f in sys.argv[2:]:
    im = Image.open(f).convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    images.append(im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR))


def augment(im, rng):
    w, h = im.size
    box = (0, 0, w, h)
    for _ in range(100):
        target = w * h * rng.uniform(0.7, 1.0)
        ar = rng.uniform(0.75, 1.33)
        cw, ch = round(math.sqrt(target * ar)), round(math.sqrt(target / ar))
        if 1 <= cw <= w and 1 <= ch <= h:
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            box = (x, y, x + cw, y + ch)
            break
    out = im.resize((224, 224), Image.BILINEAR, box=box)
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 1 / 3:
        out = out.rotate(rng.uniform(-45, 45), resample=Image.BILINEAR)
    u = rng.random()
    if u < 2 / 3:
        b, s = rng.uniform(-32, 32), rng.uniform(0.5, 1.5)
        hd, c = rng.uniform(-0.2, 0.2), rng.uniform(0.5, 1.5)

        def bright(i):
            return i.point(lambda v: v + b)

        def sat(i):
            return ImageEnhance.Color(i).enhance(s)

        def hue(i):
            hh, ss, vv = i.convert("HSV").split()
            shift = int(hd * 255)
            hh = hh.point(lambda v: (v + shift) % 256)
            return Image.merge("HSV", (hh, ss, vv)).convert("RGB")

        def con(i):
            return ImageEnhance.Contrast(i).enhance(c)

        ops = (bright, sat, hue, con) if u < 1 / 3 else (sat, bright, con, hue)
        for op in ops:
            out = op(out)
    return out.tobytes()


rng = random.Random(1)
t0 = time.perf_counter()
n = 0
for _ in range(rounds):
    for im in images:
        augment(im, rng)
        n += 1
print("pillow", n, "images", time.perf_counter() - t0, "seconds")
