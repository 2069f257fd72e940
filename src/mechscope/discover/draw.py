"""Draw a circuit with matplotlib (no graphviz), embedding at the top, layers going down, logits at the bottom.

Graphviz needs a system library and pygraphviz, which users fight to install; matplotlib is pure
wheels and with its Agg backend needs no display. We build a `matplotlib.figure.Figure` directly and
never touch pyplot, so drawing from a thread or a server does not leak global figures.

Layout: one band per layer, drawn from the top down. In a band, the row of attention heads sits at
the layer's line, the MLP half a row below it (it reads the heads' output) and to the right of the
heads, and grouped-query key/value receivers (``a2.kv1.k``) a little above it. Only nodes that appear
in the circuit are drawn, but each sits at its head index, so the same head is in the same place in
every picture of one model.

Grouped-query attention: the heads of a kv group share one key and one value input, so an edge to
``a{L}.kv{g}.k|v`` is drawn to a node of its own, ``a{L}.kv{g}`` (head colour, dashed border), centred
over the group's heads; it stands for that shared input, not for any one head. Pass ``n_kv_heads`` to
place it exactly; without it the group count is taken as the largest kv index seen, plus one.

Edges: width ∝ |score| (relative to the largest), blue for positive and red for negative, slightly
transparent. Query, key and value inputs are told apart by line style (solid, dashed, dotted) and by
where the arrow lands on the head's box (left, middle, right). Each edge artist has gid ``edge-<i>``,
which the SVG carries as ``id``, so tools and tests can find the edges.

>>> import tempfile
>>> from pathlib import Path
>>> out = Path(tempfile.mkdtemp()) / "circuit"
>>> edges = {"embed->a0.h1.q": -0.3, "a0.h1->m1": 0.1, "m1->a2.kv0.k": 0.5, "a2.h3->logits": 1.2}
>>> paths = draw_circuit(edges, n_layers=3, n_heads=4, path=out, title="toy", n_kv_heads=2)
>>> [p.name for p in paths], all(p.stat().st_size > 0 for p in paths)
(['circuit.svg', 'circuit.png'], True)
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from mechscope.errors import MechscopeError
from mechscope.atomic import write_bytes

_SRC = re.compile(r"embed|a(\d+)\.h(\d+)|m(\d+)")
_DEST = re.compile(r"a(\d+)\.h(\d+)\.([qkv])|a(\d+)\.kv(\d+)\.([kv])|m(\d+)|logits")
_FORM = ("expected 'SRC->DEST' with SRC one of embed, a{layer}.h{head}, m{layer} and DEST one of "
         "a{layer}.h{head}.q|k|v, a{layer}.kv{group}.k|v, m{layer}, logits")

POSITIVE, NEGATIVE = "#1f5fbf", "#d62728"
COLOURS = {"head": "#ffd48a", "kv": "#ffd48a", "mlp": "#a8dba0", "embed": "#d9d9d9", "logits": "#d9d9d9"}
STYLES = {"q": "-", "k": "--", "v": ":", "": "-"}  # receiver kind -> line style; "" is an MLP or the logits
LAND = {"q": -0.2, "k": 0.0, "v": 0.2, "": 0.0}  # where on a head's box the arrow lands, in head slots
KV_LAND = {"k": -0.12, "v": 0.12}  # a kv group's k and v edges share endpoints: land them apart
HALF = 0.12  # half a node box's height, in layer units: edges start and end at box edges, not centres


@dataclass(frozen=True)
class _Edge:
    name: str
    score: float
    src: tuple  # ("embed",) | ("head", layer, head) | ("mlp", layer)
    dest: tuple  # ("head", layer, head) | ("kv", layer, group) | ("mlp", layer) | ("logits",)
    kind: str  # "q" | "k" | "v" | "" (MLP input or logits)


def _parse(name: str, score: float, n_layers: int, n_heads: int, n_kv: int | None) -> _Edge:
    src_s, sep, dest_s = name.partition("->")
    s, d = _SRC.fullmatch(src_s), _DEST.fullmatch(dest_s)
    if not sep or s is None or d is None:
        raise MechscopeError(f"edge {name!r} does not parse; {_FORM}")
    if s[1] is not None:
        src: tuple = ("head", int(s[1]), int(s[2]))
    else:
        src = ("mlp", int(s[3])) if s[3] is not None else ("embed",)
    kind = ""
    if d[1] is not None:
        dest: tuple = ("head", int(d[1]), int(d[2]))
        kind = d[3]
    elif d[4] is not None:
        dest, kind = ("kv", int(d[4]), int(d[5])), d[6]
    else:
        dest = ("mlp", int(d[7])) if d[7] is not None else ("logits",)
    for node in (src, dest):
        if len(node) > 1 and node[1] >= n_layers:
            raise MechscopeError(f"edge {name!r}: layer {node[1]} is out of range for {n_layers} layers")
        limit, what = (n_heads, "head") if node[0] == "head" else (n_kv or n_heads, "kv group")
        if node[0] in ("head", "kv") and node[2] >= limit:
            raise MechscopeError(f"edge {name!r}: {what} {node[2]} is out of range for {limit} {what}s per layer")
    if not math.isfinite(score):
        raise MechscopeError(f"edge {name!r}: score {score} is not a finite number")
    # A receiver must read from upstream: order sources and receivers along the residual stream.
    s_at = {"embed": -1.0, "head": 0.0, "mlp": 0.5}[src[0]] + (src[1] if len(src) > 1 else 0)
    d_at = n_layers if dest[0] == "logits" else dest[1] + (0.25 if dest[0] == "mlp" else -0.25)
    if s_at >= d_at:
        raise MechscopeError(f"edge {name!r} runs upstream: a receiver must be downstream of its source node")
    return _Edge(name, float(score), src, dest, kind)


def _label(node: tuple) -> str:
    return {"embed": "embed", "logits": "logits", "mlp": "m{1}", "head": "a{1}.h{2}", "kv": "a{1}.kv{2}"}[
        node[0]].format(*node)


def draw_circuit(
    edges: dict[str, float],
    n_layers: int,
    n_heads: int,
    path: str | Path,
    *,
    title: str = "",
    max_edges: int = 400,
    n_kv_heads: int | None = None,
) -> list[Path]:
    """Draw circuit edges, layers top to bottom, and write `path` with .svg and .png suffixes (both).

    `edges` maps an edge name (``"a0.h1->a3.h5.q"``) to its score. At most `max_edges` edges are
    drawn, the largest by |score|; the title says so when some are left out. A trailing .svg or
    .png on `path` is replaced, any other suffix kept. Returns ``[svg_path, png_path]``. Raises
    `MechscopeError` on an edge name that does not parse, is out of range or runs upstream.
    """
    if n_layers < 1 or n_heads < 1 or max_edges < 1:
        raise MechscopeError(f"n_layers, n_heads and max_edges must be >= 1; got {n_layers}, {n_heads}, {max_edges}")
    if n_kv_heads is not None and (n_kv_heads < 1 or n_heads % n_kv_heads):
        raise MechscopeError(f"n_kv_heads must divide n_heads={n_heads}; got {n_kv_heads}")
    # Parse everything before truncating, so a bad name is reported even when it would not be drawn.
    parsed = [_parse(k, v, n_layers, n_heads, n_kv_heads) for k, v in edges.items()]
    # Stable sort: ties keep the caller's order, so the same input gives the same picture.
    shown = sorted(parsed, key=lambda e: -abs(e.score))[:max_edges]
    if len(shown) < len(parsed):
        title = f"{title}  (top {len(shown)} of {len(parsed)} edges by |score|)".strip()

    n_kv = n_kv_heads or max([e.dest[2] + 1 for e in parsed if e.dest[0] == "kv"], default=1)
    group = max(n_heads // n_kv, 1)

    def place(node: tuple) -> tuple[float, float]:  # (x in head slots, y in layers; y grows downward)
        kind = node[0]
        if kind in ("embed", "logits"):
            return (n_heads - 1) / 2, (-1.0 if kind == "embed" else float(n_layers))
        if kind == "head":
            return float(node[2]), float(node[1])
        if kind == "kv":
            return node[2] * group + (group - 1) / 2, node[1] - 0.3
        return float(n_heads), node[1] + 0.4  # MLP: right of the heads, after them in the stream

    from matplotlib.figure import Figure  # imported here: drawing is optional, the rest of mechscope is not
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Patch

    width = min(60.0, max(6.0, 0.8 * (n_heads + 1) + 3.0))
    height = min(80.0, max(4.0, 0.9 * (n_layers + 2) + 0.8))
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    top = max((abs(e.score) for e in shown), default=0.0) or 1.0
    for i, e in enumerate(shown):
        (x0, y0), (x1, y1) = place(e.src), place(e.dest)
        x1 += LAND[e.kind] if e.dest[0] == "head" else KV_LAND.get(e.kind, 0.0)
        arrow = FancyArrowPatch(
            (x0, y0 + HALF), (x1, y1 - HALF), arrowstyle="-|>", mutation_scale=7,
            # A slight arc keeps edges between vertically aligned nodes from running through the boxes in between.
            connectionstyle="arc3,rad=0.12", linewidth=0.4 + 3.6 * abs(e.score) / top,
            linestyle=STYLES[e.kind], color=POSITIVE if e.score >= 0 else NEGATIVE, alpha=0.6, zorder=2,
        )
        arrow.set_gid(f"edge-{i}")
        ax.add_patch(arrow)

    nodes = {n for e in shown for n in (e.src, e.dest)} | {("embed",), ("logits",)}
    for node in sorted(nodes, key=str):
        x, y = place(node)
        text = ax.text(x, y, _label(node), ha="center", va="center", fontsize=7, zorder=3,
                       bbox={"boxstyle": "round,pad=0.3", "fc": COLOURS[node[0]], "ec": "#555555",
                             "lw": 0.6, "ls": "--" if node[0] == "kv" else "-"})
        text.set_gid(f"node-{_label(node)}")

    ax.set_xlim(-0.8, n_heads + 0.8)
    ax.set_ylim(n_layers + 0.6, -1.6)  # inverted: embedding at the top, logits at the bottom
    ax.set_yticks(range(n_layers), [f"layer {i}" for i in range(n_layers)], fontsize=7)
    ax.set_xticks([])
    ax.tick_params(axis="y", length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    for layer in range(n_layers):  # faint bands make rows easy to follow across a wide model
        ax.axhspan(layer - 0.45, layer + 0.55, color="#f3f3f3" if layer % 2 else "#fafafa", zorder=0)
    handles = [
        Line2D([], [], color=POSITIVE, lw=2, label="positive score"),
        Line2D([], [], color=NEGATIVE, lw=2, label="negative score"),
        Line2D([], [], color="#444444", ls="-", label="→ query / MLP / logits"),
        Line2D([], [], color="#444444", ls="--", label="→ key"),
        Line2D([], [], color="#444444", ls=":", label="→ value"),
        Patch(fc=COLOURS["head"], ec="#555555", label="attention head"),
        Patch(fc=COLOURS["kv"], ec="#555555", ls="--", label="shared k/v of a kv group"),
        Patch(fc=COLOURS["mlp"], ec="#555555", label="MLP"),
        Patch(fc=COLOURS["embed"], ec="#555555", label="embed / logits"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_title(title or f"circuit: {len(shown)} edges", fontsize=9)

    base = Path(path)
    if base.suffix.lower() in (".svg", ".png"):
        base = base.with_suffix("")
    outs = [base.with_name(base.name + ".svg"), base.with_name(base.name + ".png")]
    import matplotlib

    # No date and a fixed hash salt: the same circuit gives byte-identical SVGs, which diff cleanly.
    with matplotlib.rc_context({"svg.hashsalt": "mechscope", "svg.fonttype": "none"}):
        for out, fmt in zip(outs, ("svg", "png")):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
            write_bytes(out, buf.getvalue())
    return outs
