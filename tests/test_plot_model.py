"""plot_model / model_to_dot: the dot source names the layers with their shapes and edges,
nested models expand into clusters, missing pydot or Graphviz raise ImportError saying what
to install, and a PNG is written when Graphviz is present."""
import builtins
import shutil

import numpy as np
import pytest

import cnn
from cnn import layers as L
from cnn.utils import model_visualization

pydot = pytest.importorskip("pydot")


def two_branch_model():
    a, b = L.Input((3,), name="in_a"), L.Input((5,), name="in_b")
    shared = L.Dense(4, activation="relu", name="shared_dense")
    x = L.concatenate([shared(L.Dense(3, name="proj_a")(a)), L.Dense(4, name="proj_b")(b)],
                      name="joined")
    out = L.Dense(2, name="head")(x)
    return cnn.models.Model([a, b], out, name="two_branch")


def walk(graph):
    """The graph and its clusters, recursively."""
    yield graph
    for sub in graph.get_subgraphs():
        yield from walk(sub)


def edges(dot):
    """(source layer name, destination layer name) of every edge, clusters included."""
    names = {}
    for g in walk(dot):
        for node in g.get_nodes():
            label = node.get("label") or ""
            if "<b>" in label:
                names[node.get_name()] = label.split("<b>")[1].split("</b>")[0]
    return {(names.get(e.get_source()), names.get(e.get_destination()))
            for g in walk(dot) for e in g.get_edges()}


def test_dot_source_has_names_shapes_and_edges():
    model = two_branch_model()
    dot = cnn.utils.model_to_dot(model, show_shapes=True, show_dtype=True,
                                 show_layer_activations=True, show_trainable=True)
    src = dot.to_string()
    for name in ("in_a", "in_b", "proj_a", "proj_b", "shared_dense", "joined", "head"):
        assert f"<b>{name}</b>" in src
    assert "(Concatenate)" in src and "(InputLayer)" in src
    assert "Input shape: [(None, 4), (None, 4)]" in src      # joined
    assert "Output shape: (None, 8)" in src and "Output shape: (None, 2)" in src
    assert "Activation: relu" in src and "Trainable: True" in src and "float32" in src
    assert "rankdir=TB" in src and "dpi=200" in src
    assert edges(dot) == {("in_a", "proj_a"), ("proj_a", "shared_dense"),
                          ("shared_dense", "joined"), ("in_b", "proj_b"),
                          ("proj_b", "joined"), ("joined", "head")}
    plain = cnn.utils.model_to_dot(model, show_layer_names=False, rankdir="LR").to_string()
    assert "shared_dense" not in plain and "<td>Dense</td>" in plain
    assert "rankdir=LR" in plain


def test_sequential_and_expand_nested():
    inner = cnn.models.Sequential([L.Input((4,)), L.Dense(3, name="inner_a"),
                                   L.Dense(2, name="inner_b")], name="inner")
    x = L.Input((4,), name="outer_in")
    y = L.Dense(1, name="outer_head")(inner(x))
    model = cnn.models.Model(x, y)
    flat = cnn.utils.model_to_dot(model)
    assert edges(flat) == {("outer_in", "inner"), ("inner", "outer_head")}
    nested = cnn.utils.model_to_dot(model, expand_nested=True, show_shapes=True)
    src = nested.to_string()
    assert "cluster_" in src and "<b>inner_a</b>" in src
    assert edges(nested) == {("outer_in", "inner_a"), ("inner_a", "inner_b"),
                             ("inner_b", "outer_head")}
    seq = cnn.utils.model_to_dot(inner)  # a Sequential: no InputLayer box, as in Keras
    assert "(InputLayer)" not in seq.to_string()
    assert edges(seq) == {("inner_a", "inner_b")}


def test_keras2_import_path():
    from cnn.utils import vis_utils
    assert vis_utils.plot_model is cnn.utils.plot_model
    assert vis_utils.model_to_dot is cnn.utils.model_to_dot


def test_unbuilt_model_and_bad_arguments():
    with pytest.raises(ValueError, match="not been built"):
        cnn.utils.model_to_dot(cnn.models.Sequential([L.Dense(2)]))
    with pytest.raises(ValueError, match="rankdir"):
        cnn.utils.model_to_dot(two_branch_model(), rankdir="XY")
    with pytest.raises(ValueError, match="Unrecognized"):
        cnn.utils.model_to_dot(two_branch_model(), show_colors=True)


def test_missing_pydot_or_graphviz_says_what_to_install(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_pydot(name, *args, **kwargs):
        if name == "pydot":
            raise ImportError("No module named 'pydot'")
        return real_import(name, *args, **kwargs)

    model = two_branch_model()
    with monkeypatch.context() as m:
        m.setattr(builtins, "__import__", no_pydot)
        with pytest.raises(ImportError, match=r"pip install pydot.*apt-get install graphviz"):
            cnn.utils.plot_model(model, to_file=str(tmp_path / "m.png"))
        with pytest.raises(ImportError, match=r"pip install pydot"):
            cnn.utils.model_to_dot(model)
    with monkeypatch.context() as m:
        m.setattr(model_visualization.shutil, "which", lambda name: None)
        with pytest.raises(ImportError, match=r"apt-get install graphviz"):
            cnn.utils.plot_model(model, to_file=str(tmp_path / "m.png"))
        assert cnn.utils.model_to_dot(model) is not None  # the dot source needs no Graphviz
    assert not (tmp_path / "m.png").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_png_and_svg_are_written(tmp_path):
    model = two_branch_model()
    png = tmp_path / "model.png"
    cnn.utils.plot_model(model, to_file=str(png), show_shapes=True, expand_nested=True,
                         dpi=72)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    svg = tmp_path / "model.svg"
    cnn.utils.plot_model(model, to_file=svg, rankdir="LR")
    assert b"shared_dense" in svg.read_bytes()
    assert np.isfinite(model.predict([np.ones((1, 3)), np.ones((1, 5))], verbose=0)).all()
