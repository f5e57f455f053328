#!/usr/bin/env python3
"""fetch-urllib.py: the original release's downloader design, for
bench/fetch: one thread per URL through urllib's urlretrieve, at most 20
alive, started by a main thread that polls the thread count without
sleeping (as data/download_urls_multithreading.py of the release does).

    fetch-urllib.py LIST OUTDIR"""
import os
import sys
import threading
import urllib.request


def fetch(url, path):
    try:
        urllib.request.urlretrieve(url, path)
    except Exception:
        pass


def main():
    lst, out = sys.argv[1], sys.argv[2]
    with open(lst) as f:
        urls = [line.split("\t", 1)[0].strip() for line in f if line.strip()]
    i = 0
    while i < len(urls):
        if threading.active_count() < 21:
            path = os.path.join(out, "%d.jpg" % i)
            threading.Thread(target=fetch, args=(urls[i], path)).start()
            i += 1
    for t in threading.enumerate():
        if t is not threading.current_thread():
            t.join()


main()
