"""model.summary(): Keras 3's table (Layer (type) / Output Shape / Param # [/ Connected to])
with the same column widths, followed by parameter counts and their float32 sizes."""
import math
import sys

_BYTES_PER_PARAM = 4  # float32


def readable_size(num_bytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def _count(variables):
    return int(sum(math.prod(v.shape) for v in variables))


def _fmt_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _column_widths(line_length, positions, columns):
    """Widths of the cells (padding included), as rich lays out Keras's table: each column
    asks for its share of line_length plus padding, then the excess is taken back from
    all columns evenly. (Keras's rich console also crops lines wider than the terminal;
    here an explicit line_length is honoured in full.)"""
    wanted, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        wanted.append(width + 2)
        current += width
    excess = sum(wanted) - (line_length - (columns + 1))
    if excess <= 0:
        return wanted
    out, remaining, ratio_left = [], excess, len(wanted)
    for w in wanted:
        cut = min(w, round(remaining / ratio_left))
        out.append(w - cut)
        remaining -= cut
        ratio_left -= 1
    return out


def _wrap(text, width):
    """Word-wraps `text` into lines of at most `width` characters; a word longer than a
    line is cut with an ellipsis (as rich renders Keras's table)."""
    lines, line = [], ""
    for word in text.split(" "):
        if len(word) > width:
            word = word[:width - 1] + "…"
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


def _row(cells, widths, aligns, bar):
    wrapped = [_wrap(c, w - 2) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, w, align in zip(wrapped, widths, aligns):
            text = lines[i] if i < len(lines) else ""
            text = text.rjust(w - 2) if align == "right" else text.ljust(w - 2)
            parts.append(f" {text} ")
        out.append(bar + bar.join(parts) + bar)
    return out


def _layer_output_shape(layer, nodes_in_model):
    nodes = [n for n in layer._inbound_nodes if id(n) in nodes_in_model] or \
        layer._inbound_nodes
    if not nodes:
        return "?"
    outputs = nodes[-1].output_tensors
    if len(outputs) == 1:
        return _fmt_shape(outputs[0].shape)
    return "[" + ", ".join(_fmt_shape(t.shape) for t in outputs) + "]"


def _connections(layer, nodes_in_model):
    parts = []
    for node in layer._inbound_nodes:
        if id(node) not in nodes_in_model:
            continue
        for kt in node.input_tensors:
            parts.append(f"{kt.node.layer.name}[{kt.node.index}][{kt.index}]")
    return ", ".join(parts) or "-"


def _is_sequential_like(model):
    """Keras drops the "Connected to" column when the graph is a plain chain."""
    graph = model._graph
    if graph is None or type(model).__name__ == "Sequential":
        return True
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return False
    seen = set()
    for node in graph.nodes:
        if len(node.input_tensors) != 1 or id(node.layer) in seen:
            return False
        seen.add(id(node.layer))
    consumed = [id(t) for n in graph.nodes for t in n.input_tensors]
    return len(consumed) == len(set(consumed))


def summary_text(model, line_length=None, positions=None):
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        default_length, header = 88, ["Layer (type)", "Output Shape", "Param #"]
        positions = positions or [0.45, 0.80, 1.0]
        aligns = ["left", "left", "right"]
    else:
        default_length = 108
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        aligns = ["left", "left", "right", "left"]
    import shutil  # here, not at import time: it is only needed to print

    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    if positions[-1] > 1:  # absolute positions
        positions = [p / line_length for p in positions]
    widths = _column_widths(line_length, positions, len(header))

    nodes_in_model = {id(n) for n in model._graph.nodes} if model._graph is not None else set()
    layers = model.layers  # Sequential: its stack; functional: InputLayers too

    lines = [f'Model: "{model.name}"']
    seg = lambda ch: [ch * w for w in widths]
    lines.append("┏" + "┳".join(seg("━")) + "┓")
    lines += _row(header, widths, aligns, "┃")
    lines.append("┡" + "╇".join(seg("━")) + "┩")
    for i, layer in enumerate(layers):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = [f"{layer.name} ({type(layer).__name__})",
                 _layer_output_shape(layer, nodes_in_model), params]
        if not sequential_like:
            cells.append(_connections(layer, nodes_in_model))
        lines += _row(cells, widths, aligns, "│")
        if i < len(layers) - 1:
            lines.append("├" + "┼".join(seg("─")) + "┤")
    lines.append("└" + "┴".join(seg("─")) + "┘")

    trainable = _count(model.trainable_weights)
    frozen = _count(model.non_trainable_weights)
    opt = model.optimizer
    opt_count = opt.slot_count(trainable) if opt is not None and opt.built else 0
    total = trainable + frozen + opt_count
    size = lambda n: readable_size(n * _BYTES_PER_PARAM)
    lines.append(f" Total params: {total:,} ({size(total)})")
    lines.append(f" Trainable params: {trainable:,} ({size(trainable)})")
    lines.append(f" Non-trainable params: {frozen:,} ({size(frozen)})")
    if opt is not None and opt.built:
        lines.append(f" Optimizer params: {opt_count:,} ({size(opt_count)})")
    return "\n".join(lines) + "\n"


def print_summary(model, line_length=None, positions=None, print_fn=None):
    text = summary_text(model, line_length, positions)
    if print_fn is not None:
        print_fn(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
