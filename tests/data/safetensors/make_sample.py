#!/usr/bin/env python3
"""Writes sample.safetensors byte for byte as the Python `safetensors` package (its Rust core)
does, using only the standard library, so lory.cpp's reader and writer are checked against an
independent implementation of the format:

  u64 little-endian header length N | N bytes of compact JSON padded with spaces to a multiple
  of 8 | the tensors' raw little-endian bytes, back to back.

The package orders tensors by dtype, descending (its enum order BF16 < I32 < F32 < F64, which is
by alignment), then by name (bytewise), and lays their data out in that order. The header holds
"__metadata__" first (when given), then each tensor as {"dtype", "shape", "data_offsets"} with
the keys in that order; serde_json writes it with no spaces and non-ASCII unescaped.

Run from anywhere: python3 tests/data/safetensors/make_sample.py
"""
import json
import os
import struct

# dtype -> (struct code, element size, sort rank: smaller is written first)
DTYPES = {"F64": ("d", 8, 0), "F32": ("f", 4, 1), "I32": ("i", 4, 2), "BF16": (None, 2, 3)}

# The values are exact in their dtype, so any writer produces the same bytes.
TENSORS = {
    "weight": ("F32", [2, 3], [0.5, -1.25, 2.0, 3.75, -0.0625, 100.0]),
    "bias": ("F32", [3], [1.0, -2.0, 0.25]),
    "scale": ("F32", [], [6.5]),
    "empty": ("F32", [0, 3], []),
    "ids": ("I32", [4], [0, -1, 7, 2147483647]),
    "pi": ("F64", [2], [3.141592653589793, -2.5e-300]),
    "half": ("BF16", [2], [1.0, -3.5]),
}
METADATA = {"producer": "tests/data/safetensors/make_sample.py"}


def encode(dtype, values):
    code, _, _ = DTYPES[dtype]
    if dtype == "BF16":  # the upper half of the float32 (exact for these values)
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<" + code * len(values), *values)


def serialize(tensors, metadata):
    names = sorted(tensors, key=lambda n: (DTYPES[tensors[n][0]][2], n.encode("utf-8")))
    header, data, offset = {}, b"", 0
    if metadata:
        header["__metadata__"] = metadata
    for name in names:
        dtype, shape, values = tensors[name]
        raw = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample.safetensors")
    blob = serialize(TENSORS, METADATA)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, out)
    print(f"wrote {out} ({len(blob)} bytes)")
