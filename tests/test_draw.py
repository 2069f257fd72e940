"""Circuit drawing: both files written, one SVG element per edge, widths follow |score|, bad input, truncation."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("matplotlib")

from mechscope.discover.draw import NEGATIVE, POSITIVE, draw_circuit  # noqa: E402
from mechscope.errors import MechscopeError  # noqa: E402

# A hand-written circuit on a 3-layer, 4-head model with 2 kv groups: embed, q/k/v, kv, MLP and logits edges.
EDGES = {
    "embed->a0.h1.q": -0.3,
    "embed->a0.h2.v": 0.2,
    "a0.h1->m0": 0.1,
    "m0->a1.kv1.k": 0.5,
    "a0.h2->a2.h3.k": -0.7,
    "m1->logits": 0.05,
    "a2.h3->logits": 1.2,
}


def _edge_paths(svg_path) -> dict[int, dict[str, str]]:
    """Edge index -> the style of its line (the first <path> inside the element with id edge-<i>)."""
    root = ET.parse(svg_path).getroot()
    out = {}
    for el in root.iter():
        m = re.fullmatch(r"edge-(\d+)", el.get("id", ""))
        if m:
            line = next(p for p in el.iter() if p.tag.endswith("path"))
            style = dict(kv.split(":", 1) for kv in line.get("style", "").replace(" ", "").split(";") if ":" in kv)
            out[int(m[1])] = style
    return out


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    # A missing parent folder is created; a .png suffix on the path is replaced by both suffixes.
    path = tmp_path_factory.mktemp("draw") / "nested" / "circuit.png"
    return draw_circuit(EDGES, n_layers=3, n_heads=4, path=path, title="test circuit", n_kv_heads=2)


def test_both_files_written_atomically(drawn):
    svg, png = drawn
    assert (svg.name, png.name) == ("circuit.svg", "circuit.png")
    assert svg.stat().st_size > 0 and png.stat().st_size > 0
    assert sorted(p.name for p in svg.parent.iterdir()) == ["circuit.png", "circuit.svg"]  # no temp files left


def test_svg_has_one_line_per_edge(drawn):
    styles = _edge_paths(drawn[0])
    assert sorted(styles) == list(range(len(EDGES)))
    assert "test circuit" in drawn[0].read_text()


def test_width_and_colour_follow_score(drawn):
    # Edges are numbered by |score|, largest first: edge-0 is a2.h3->logits (1.2), the last m1->logits (0.05).
    styles = _edge_paths(drawn[0])
    ranked = sorted(EDGES.values(), key=lambda s: -abs(s))
    widths = [float(styles[i].get("stroke-width", "1")) for i in range(len(ranked))]  # SVG omits the default 1
    assert widths[0] > widths[-1]
    assert all(a >= b for a, b in zip(widths, widths[1:]))
    assert widths[0] == pytest.approx(4.0)  # the largest |score| gets the full width
    for i, score in enumerate(ranked):
        assert styles[i]["stroke"].lower() == (POSITIVE if score >= 0 else NEGATIVE)


def test_png_is_not_blank(drawn):
    from matplotlib.image import imread

    img = imread(drawn[1])
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert (img[..., :3] < 0.9).any(axis=-1).sum() > 500  # plenty of drawn (non-white) pixels


@pytest.mark.parametrize("name", [
    "embed->a0.h1",  # a head needs .q/.k/.v
    "a0.h1.q->m1",  # a receiver is not a source
    "embed-a0.h1.q",  # no arrow
    "embed->m0->logits",  # two arrows
    "x0->logits",  # unknown node
    "a0.kv1.k",  # no source
    "a9.h0->logits",  # layer out of range
    "embed->a0.h7.q",  # head out of range
    "embed->a1.kv2.k",  # kv group out of range (n_kv_heads=2)
    "a1.h0->a1.h2.q",  # same layer: runs upstream
    "m1->m1",  # an MLP does not read itself
    "m1->a1.h0.v",  # the MLP is after the heads of its layer
])
def test_bad_edge_raises(tmp_path, name):
    with pytest.raises(MechscopeError) as err:
        draw_circuit({"embed->logits": 1.0, name: 0.5}, 3, 4, tmp_path / "bad", n_kv_heads=2)
    msg = str(err.value)
    assert name in msg and "\n" not in msg
    assert not list(tmp_path.iterdir())  # nothing written on bad input


def test_max_edges_truncates(tmp_path):
    edges = {f"a0.h{h}->a1.h{h}.{k}": (h + 1) * (1 if k == "q" else -0.5) for h in range(4) for k in "qkv"}
    svg, _ = draw_circuit(edges, 2, 4, tmp_path / "trunc.svg", max_edges=5)
    assert len(_edge_paths(svg)) == 5
    assert "top 5 of 12 edges" in svg.read_text()
