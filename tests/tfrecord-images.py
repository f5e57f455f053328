"""tfrecord-images.py: writes the JPEG of every tf.Example in the given TFRecord
files (the original release's shards) to DIR and prints "NAME WIDTH HEIGHT"
per image, WIDTH and HEIGHT being the features the original tfrecord.py
stored. Standard library only: the TFRecord framing (length, CRC, data,
CRC) and just enough protobuf to walk Example/Features/Feature.

    python3 tfrecord-images.py DIR FILE...
"""
import struct, sys, os
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i); f, t = k >> 3, k & 7
        if t == 2:
            n, i = varint(b, i); yield f, b[i:i + n]; i += n
        elif t == 0:
            v, i = varint(b, i); yield f, v
        elif t == 5: yield f, b[i:i + 4]; i += 4
        elif t == 1: yield f, b[i:i + 8]; i += 8
        else: raise ValueError(t)
def example(b):
    out = {}
    for f, feats in fields(b):
        for f2, entry in fields(feats):
            d = dict(fields(entry)); key = d[1].decode(); feat = d[2]
            for kind, lst in fields(feat):
                vals = [v for _, v in fields(lst)]
                if kind == 3 and vals and isinstance(vals[0], bytes):  # packed int64
                    vals = [varint(vals[0], 0)[0]]
                out[key] = (kind, vals)
    return out
for path in sys.argv[2:]:
    data = open(path, 'rb').read(); i = 0; n = 0
    while i < len(data):
        (length,) = struct.unpack_from('<Q', data, i); rec = data[i + 12:i + 12 + length]; i += 16 + length
        ex = example(rec)
        name = '%s-%d.jpg' % (os.path.basename(path).split('.')[0], n); n += 1
        open(os.path.join(sys.argv[1], name), 'wb').write(ex['image'][1][0])
        print(name, ex['width'][1][0], ex['height'][1][0])
