#!/usr/bin/env python3
"""Writes the .pth inputs of the `pth` fuzz target (no PyTorch needed: the pickles are
written opcode by opcode, as torch.save writes them).

    python3 tools/make_pth_fixtures.py            # from the repository root

fuzz/seeds/pth/      valid files: a hand-written two-tensor state dict (ZIP, stored, as
                     torch.save writes it) and files PyTorch itself wrote, copied unchanged
                     from the test data of burn's `pytorch-reader` 0.22.1 crate (MIT OR
                     Apache-2.0, like augtrain), when that crate is in the cargo registry.
fuzz/regressions/pth/ hostile files, each refused by augtrain-weights' pre-check:
  pickle-of-99-million-one-byte-opcodes.pth   101 KB whose data.pkl unpacks to 99 MB of
                                              EMPTY_LIST: burn-store's reader allocated
                                              11.8 GB and aborted (exit 134)
  deflated-storage-unpacks-1000-to-1.pth      a 16 MiB storage deflated to 16 KB
  storage-claims-more-than-its-entry.pth      numel 10**9 on a 48-byte entry
  tensor-view-far-larger-than-its-storage.pth a 100000x100000 stride-0 view of 4 bytes
"""

import glob
import io
import os
import shutil
import struct
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def int_op(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    b = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


def tuple_op(items):
    return b"(" + b"".join(items) + b"t"


def state_dict_pickle(tensors):
    """tensors: list of (name, storage key, numel, shape, stride)."""
    p = b"\x80\x02" + b"ccollections\nOrderedDict\n" + b")R("
    for name, key, numel, shape, stride in tensors:
        pid = tuple_op(
            [unicode("storage"), b"ctorch\nFloatStorage\n", unicode(key), unicode("cpu"), int_op(numel)]
        )
        args = tuple_op(
            [
                pid + b"Q",
                int_op(0),
                tuple_op([int_op(d) for d in shape]),
                tuple_op([int_op(s) for s in stride]),
                b"\x89",
                b"ccollections\nOrderedDict\n)R",
            ]
        )
        p += unicode(name) + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R"
    return p + b"u."


def write_zip(path, entries, deflated=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            method = zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED
            z.writestr(zipfile.ZipInfo("archive/" + name), data, compress_type=method)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def common(pickle):
    return [("data.pkl", pickle), ("byteorder", b"little"), ("version", b"3\n")]


def main():
    seeds = os.path.join(ROOT, "fuzz", "seeds", "pth")
    bad = os.path.join(ROOT, "fuzz", "regressions", "pth")
    weights = struct.pack("<12f", *[0.1 * i for i in range(12)])
    bias = struct.pack("<3f", 0.5, -0.5, 0.0)
    good = state_dict_pickle(
        [("fc.weight", "0", 12, (3, 4), (4, 1)), ("fc.bias", "1", 3, (3,), (1,))]
    )
    write_zip(
        os.path.join(seeds, "two-tensor-state-dict.pth"),
        common(good) + [("data/0", weights), ("data/1", bias)],
    )
    reader_data = glob.glob(
        os.path.expanduser("~/.cargo/registry/src/*/pytorch-reader-0.22.1/src/tests/test_data")
    )
    if reader_data:
        for name in [
            "state_dict.pt",
            "float16.pt",
            "bfloat16.pt",
            "protocol4.pt",
            "buffers.pt",
            "non_contiguous.pt",
            "scalar.pt",
            "simple_legacy.pt",
            "legacy_with_offsets.pt",
            "legacy_shared_storage.pt",
        ]:
            shutil.copy(os.path.join(reader_data[0], name), os.path.join(seeds, "pytorch-" + name))

    bomb = b"\x80\x02" + b"]" * 99_000_000 + b"."
    write_zip(
        os.path.join(bad, "pickle-of-99-million-one-byte-opcodes.pth"),
        common(bomb),
        deflated={"data.pkl"},
    )
    one = state_dict_pickle([("fc.weight", "0", 4 << 20, (4 << 20,), (1,))])
    write_zip(
        os.path.join(bad, "deflated-storage-unpacks-1000-to-1.pth"),
        common(one) + [("data/0", bytes(16 << 20))],
        deflated={"data/0"},
    )
    claim = state_dict_pickle([("fc.weight", "0", 10**9, (10**9,), (1,))])
    write_zip(
        os.path.join(bad, "storage-claims-more-than-its-entry.pth"),
        common(claim) + [("data/0", weights)],
    )
    view = state_dict_pickle([("fc.weight", "0", 1, (100000, 100000), (0, 0))])
    write_zip(
        os.path.join(bad, "tensor-view-far-larger-than-its-storage.pth"),
        common(view) + [("data/0", weights[:4])],
    )


if __name__ == "__main__":
    main()
