"""decode-pillow.py: Pillow's fastest path to 256 on the short side, the
peer of mli-decode in bench/decode.

    python3 decode-pillow.py SHORT_SIDE PROCESSES ROUNDS FILE...

Reads every FILE into memory, then per image: open, draft() (libjpeg's
DCT scaling, the scale chosen by Pillow), convert to RGB, resize with
BILINEAR (antialiased, as mli-decode's filter) to the exact size, EXIF
orientation not applied. PROCESSES > 1 splits the files over a
multiprocessing pool. Prints "images seconds images/s cpu-seconds" (the
last the CPU time of the processes that decoded, over the decodes).
"""
import io
import sys
import time
from multiprocessing import Pool

from PIL import Image


def work(args):
    blobs, side, rounds = args
    c0 = time.process_time()
    for _ in range(rounds):
        for b in blobs:
            im = Image.open(io.BytesIO(b))
            w, h = im.size
            s = side / min(w, h)
            size = (max(1, round(w * s)), max(1, round(h * s)))
            im.draft("RGB", size)
            im = im.convert("RGB").resize(size, Image.BILINEAR)
    return len(blobs) * rounds, time.process_time() - c0


def main():
    side, procs, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    blobs = [open(f, "rb").read() for f in sys.argv[4:]]
    parts = [(blobs[i::procs], side, rounds) for i in range(procs)]
    if procs == 1:
        t0 = time.perf_counter()
        n, cpu = work(parts[0])
    else:
        with Pool(procs) as pool:
            pool.map(work, [(p[0][:1], side, 1) for p in parts])  # warm the workers
            t0 = time.perf_counter()
            done = pool.map(work, parts)
            n, cpu = sum(d[0] for d in done), sum(d[1] for d in done)
    t = time.perf_counter() - t0
    print(f"{n} {t:.4f} {n / t:.1f} {cpu:.4f}")


if __name__ == "__main__":
    main()
