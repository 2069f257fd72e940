"""Weight matrices in their compressed storage formats.

A version stores only the tensors it changes, each as an `EncodedWeight`: the raw
parts of its storage format (what a runtime for that format keeps on disk and
in memory) plus how to decode them to float32. Formats:

- ``dense``: float32 values.
- ``gguf``: GGUF blocks (e.g. Q8_0, Q4_0), bytes exactly as the `gguf` package
  writes them; decoded by ``gguf.quants.dequantize``.
- ``affine``: integer codes with a scale and zero point per group of one row
  (torchao's int8 and int4 weight-only layouts); int4 codes are packed two per byte.
- ``sparse``: a bitmask of kept entries (one bit each) and their float32 values.
- ``lowrank``: two factors, ``left [out, r] @ right [r, in]``.

Matrices are ``[out_features, in_features]``; `transposed` marks a GPT-2
``Conv1D`` weight, stored ``[in, out]`` in the model.

>>> w = torch.tensor([[0.0, 1.5], [2.0, 0.0]])
>>> enc = sparse(w)
>>> enc.nbytes, bool(torch.equal(enc.decode(), w))
(9, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import torch

from mechscope.errors import MechscopeError

FORMATS = ("dense", "gguf", "affine", "sparse", "lowrank")


@dataclass(frozen=True, eq=False)
class EncodedWeight:
    """One weight matrix in one storage format: its parts and the facts needed to decode them."""

    format: str
    shape: tuple[int, ...]  # as the model holds the parameter
    parts: dict[str, torch.Tensor]
    meta: dict = field(default_factory=dict)
    transposed: bool = False  # the parts describe the transpose of the parameter ([out, in] of a Conv1D)

    @property
    def nbytes(self) -> int:
        """Bytes of the parts: the size of this matrix in its format."""
        return int(sum(p.numel() * p.element_size() for p in self.parts.values()))

    def decode(self) -> torch.Tensor:
        """The float32 parameter, shaped as the model holds it."""
        matrix = _DECODERS[self.format](self)
        return (matrix.t() if self.transposed else matrix).contiguous().view(self.shape)

    def header(self) -> dict:
        """JSON-able description, stored beside the parts."""
        return {"format": self.format, "shape": list(self.shape), "meta": self.meta, "transposed": self.transposed,
                "parts": sorted(self.parts)}

    @classmethod
    def from_header(cls, header: dict, parts: dict[str, torch.Tensor]) -> "EncodedWeight":
        if header["format"] not in FORMATS:
            raise MechscopeError(f"unknown weight format {header['format']!r}; this store was written by a newer "
                                 f"mechscope (known formats: {', '.join(FORMATS)})")
        return cls(header["format"], tuple(header["shape"]), parts, header.get("meta", {}),
                   bool(header.get("transposed", False)))

    def __repr__(self) -> str:
        return f"EncodedWeight({self.format}, shape={self.shape}, meta={json.dumps(self.meta)}, bytes={self.nbytes})"


def dense(matrix: torch.Tensor, shape: tuple[int, ...] | None = None, transposed: bool = False) -> EncodedWeight:
    """A float32 matrix as it is.

    >>> dense(torch.ones(2, 3)).nbytes
    24
    """
    return EncodedWeight("dense", tuple(shape or matrix.shape), {"values": matrix.detach().float().cpu().contiguous()},
                   transposed=transposed)


# --- GGUF ----------------------------------------------------------------------------------------

def gguf_type(name: str):
    """The `gguf.GGMLQuantizationType` called `name` (case-insensitive), if the `gguf` package can write it.

    >>> gguf_type("q4_0").name
    'Q4_0'
    """
    import gguf

    writable = writable_gguf_types()
    if name.lower() not in writable:
        raise MechscopeError(f"GGUF type {name!r} cannot be written by the gguf package; use one of "
                             f"{', '.join(writable)}")
    return gguf.GGMLQuantizationType[name.upper()]


def writable_gguf_types() -> list[str]:
    """GGUF block types the `gguf` package can quantize to (it can read more than it writes).

    >>> {"q8_0", "q4_0"} <= set(writable_gguf_types())
    True
    """
    import gguf
    from gguf import quants

    return [t.name.lower() for t in gguf.GGMLQuantizationType
            if t.name.startswith("Q") and "quantize_blocks" in vars(getattr(quants, t.name, object))]


def gguf_blocks(matrix: torch.Tensor, qtype_name: str, shape: tuple[int, ...] | None = None,
                transposed: bool = False) -> EncodedWeight:
    """Quantize ``[out, in]`` row by row into GGUF blocks with ``gguf.quants.quantize``.

    >>> enc = gguf_blocks(torch.randn(2, 64), "q8_0")
    >>> enc.nbytes  # 2 rows x 2 blocks x 34 bytes
    136
    """
    from gguf import GGML_QUANT_SIZES, quants

    qtype = gguf_type(qtype_name)
    block, _ = GGML_QUANT_SIZES[qtype]
    if matrix.dim() != 2 or matrix.shape[1] % block:
        raise MechscopeError(f"GGUF {qtype.name} quantizes rows in blocks of {block}; a matrix of shape "
                             f"{tuple(matrix.shape)} does not fit; leave it out with --modules")
    data = quants.quantize(matrix.detach().float().cpu().numpy(), qtype)
    return EncodedWeight("gguf", tuple(shape or matrix.shape), {"blocks": torch.from_numpy(np.ascontiguousarray(data))},
                   {"qtype": qtype.name, "rows": matrix.shape[0], "cols": matrix.shape[1]}, transposed)


def _decode_gguf(enc: EncodedWeight) -> torch.Tensor:
    from gguf import quants

    qtype = gguf_type(enc.meta["qtype"])
    out = quants.dequantize(enc.parts["blocks"].numpy(), qtype)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).view(enc.meta["rows"], enc.meta["cols"])


# --- affine integer codes (torchao layouts) -----------------------------------------------------

def affine(qdata: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | None, bits: int,
           shape: tuple[int, ...] | None = None, transposed: bool = False) -> EncodedWeight:
    """Integer codes ``q [out, in]`` with ``scale, zero_point [out, groups]``: ``w = (q - zero_point) * scale``.

    4-bit codes are stored packed, two per byte.

    >>> q = torch.tensor([[-8, 7, 1, 0]], dtype=torch.int8)
    >>> enc = affine(q, torch.tensor([[0.5, 1.0]]), None, bits=4)
    >>> enc.decode().tolist(), enc.parts["codes"].numel()
    ([[-4.0, 3.5, 1.0, 0.0]], 2)
    """
    out_f, in_f = qdata.shape
    groups = scale.shape[1]
    if in_f % groups:
        raise MechscopeError(f"affine codes of width {in_f} do not split into {groups} equal groups")
    parts = {"scale": scale.detach().float().cpu().contiguous()}
    if zero_point is not None and bool((zero_point != 0).any()):
        parts["zero_point"] = zero_point.detach().to(torch.int8).cpu().contiguous()
    q = qdata.detach().to(torch.int8).cpu()
    if bits == 4:
        if int(q.min()) < -8 or int(q.max()) > 7 or q.numel() % 2:
            raise MechscopeError("int4 codes must lie in [-8, 7] and come in pairs")
        u = (q.to(torch.int16) + 8).to(torch.uint8).view(-1)
        q = (u[0::2] | (u[1::2] << 4)).contiguous()
    elif bits != 8:
        raise MechscopeError(f"affine codes of {bits} bits are not supported; use 8 or 4")
    parts["codes"] = q
    return EncodedWeight("affine", tuple(shape or (out_f, in_f)), parts,
                   {"bits": bits, "rows": out_f, "cols": in_f, "group_size": in_f // groups}, transposed)


def _decode_affine(enc: EncodedWeight) -> torch.Tensor:
    rows, cols, group = enc.meta["rows"], enc.meta["cols"], enc.meta["group_size"]
    codes = enc.parts["codes"]
    if enc.meta["bits"] == 4:
        u = torch.stack([codes & 0xF, codes >> 4], 1).view(-1)
        q = u.to(torch.int16) - 8
    else:
        q = codes.to(torch.int16)
    q = q.view(rows, cols // group, group).float()
    zp = enc.parts.get("zero_point")
    if zp is not None:
        q = q - zp.float().unsqueeze(-1)
    return (q * enc.parts["scale"].unsqueeze(-1)).view(rows, cols)


# --- sparse ---------------------------------------------------------------------------------------

def sparse(matrix: torch.Tensor, shape: tuple[int, ...] | None = None, transposed: bool = False) -> EncodedWeight:
    """Keep the nonzero entries and a bitmask of where they are (1 bit per entry).

    >>> sparse(torch.zeros(4, 8)).nbytes  # 32 bits of mask, no values
    4
    """
    m = matrix.detach().float().cpu().contiguous()
    keep = (m != 0).view(-1)
    bits = np.packbits(keep.numpy())
    return EncodedWeight("sparse", tuple(shape or m.shape), {"mask": torch.from_numpy(bits), "values": m.view(-1)[keep]},
                   {"rows": m.shape[0], "cols": m.shape[1]}, transposed)


def _decode_sparse(enc: EncodedWeight) -> torch.Tensor:
    rows, cols = enc.meta["rows"], enc.meta["cols"]
    keep = torch.from_numpy(np.unpackbits(enc.parts["mask"].numpy(), count=rows * cols).astype(bool))
    out = torch.zeros(rows * cols)
    out[keep] = enc.parts["values"]
    return out.view(rows, cols)


# --- low rank -------------------------------------------------------------------------------------

def lowrank(left: torch.Tensor, right: torch.Tensor, shape: tuple[int, ...] | None = None,
            transposed: bool = False) -> EncodedWeight:
    """Two factors ``left [out, r]`` and ``right [r, in]``; the matrix is their product.

    >>> lowrank(torch.ones(3, 1), torch.ones(1, 2)).decode().shape
    torch.Size([3, 2])
    """
    return EncodedWeight("lowrank", tuple(shape or (left.shape[0], right.shape[1])),
                   {"left": left.detach().float().cpu().contiguous(),
                    "right": right.detach().float().cpu().contiguous()},
                   {"rank": int(left.shape[1])}, transposed)


_DECODERS = {
    "dense": lambda e: e.parts["values"].float().view(e.shape if not e.transposed else e.shape[::-1]),
    "gguf": _decode_gguf,
    "affine": _decode_affine,
    "sparse": _decode_sparse,
    "lowrank": lambda e: e.parts["left"] @ e.parts["right"],
}
