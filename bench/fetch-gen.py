#!/usr/bin/python3
"""fetch-gen.py: N real JPEGs for bench/fetch, cut from the release's
sample photographs.

    fetch-gen.py OUTDIR N PHOTO...

Each file is a random crop of one of the photographs, resized to a long
side of 1000 to 2600 pixels and saved at quality 80 to 95, kept only when
it weighs 50 to 500 KB: a spread of sizes like the downloads' (median
around 130 KB). The seed is fixed, so the set is the same on every run.
Needs Pillow (Debian's python3-pil, hence /usr/bin/python3)."""
import io
import os
import random
import sys

from PIL import Image


def main():
    out, n, photos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20261125)
    # Halve the camera original once: crops of it are what matters.
    bases = []
    for p in photos:
        im = Image.open(p).convert("RGB")
        while max(im.size) > 2400:
            im = im.resize((im.size[0] // 2, im.size[1] // 2), Image.BILINEAR)
        bases.append(im)
    sizes = []
    i = 0
    while i < n:
        im = rng.choice(bases)
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.5, 1.0)), int(h * rng.uniform(0.5, 1.0))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = im.crop((x, y, x + cw, y + ch))
        side = int(1000 * 2.6 ** rng.random())
        scale = side / max(cw, ch)
        if scale < 1:
            crop = crop.resize((max(1, int(cw * scale)), max(1, int(ch * scale))), Image.BILINEAR)
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=rng.randint(80, 95))
        data = buf.getvalue()
        if not 50_000 <= len(data) <= 500_000:
            continue
        with open(os.path.join(out, "%05d.jpg" % i), "wb") as f:
            f.write(data)
        sizes.append(len(data))
        i += 1
    sizes.sort()
    print("%d files, median %d bytes, min %d, max %d, total %d" %
          (n, sizes[n // 2], sizes[0], sizes[-1], sum(sizes)))


main()
