"""``model.summary()``: Keras' table of layers (type, output shape, parameter count, and for a
graph what each layer is connected to), the totals with their size in bytes, and how fit,
evaluate and predict run (compiled, or op by op and why)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

from .. import _C

__all__ = ["print_summary"]


def readable_size(n_bytes: float) -> str:
    """``420.00 B``, ``99.41 KB``, ``1.55 MB``: Keras' units (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} GB"  # not reached


def _shape(shape: Any) -> str:
    return "?" if shape is None else str(tuple(shape))


def _graph_rows(model: Any) -> tuple[List[List[str]], bool]:
    """One row per layer; whether the graph is more than a chain (then 'Connected to' shows)."""
    nodes = [n for n in model._nodes]
    chain = len(model.inputs) == 1 and len(model.outputs) == 1 and all(
        len(n.inputs) == 1 and n.inputs[0]._node is prev
        for prev, n in zip(nodes, nodes[1:]))
    rows = []
    for layer in model.layers:
        calls = [n for n in nodes if n.layer is layer]
        connected = [f"{t._node.layer.name}[{model._node_index(t._node)}][{t._index}]"
                     for n in calls for t in n.inputs]
        out = calls[0].outputs if calls else []
        shape = _shape(out[0].shape) if len(out) == 1 else ", ".join(_shape(t.shape) for t in out)
        rows.append([f"{layer.name} ({type(layer).__name__})", shape,
                     f"{layer.count_params():,}", ", ".join(connected) or "-"])
    return rows, not chain


def _wrap(text: str, width: int) -> List[str]:
    """Lines of at most ``width`` characters, broken at a space where possible."""
    lines: List[str] = []
    while len(text) > width:
        cut = text.rfind(" ", 0, width + 1)
        cut = width if cut <= 0 else cut
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return lines + [text]


def print_summary(model: Any, line_length: Optional[int] = None,
                  print_fn: Callable[[str], Any] = print) -> None:
    """Prints ``model.summary()``.

    Args:
        model: the model.
        line_length: the table's width. Defaults to None (fits the content, up to 98).
        print_fn: called with each line. Defaults to ``print``.
    """
    from_graph = hasattr(model, "_nodes") and model.built
    if from_graph:
        rows, connected = _graph_rows(model)
    else:  # a subclassed model (or an unbuilt Sequential): each layer as it was built
        connected = False
        rows = [[f"{layer.name} ({type(layer).__name__})",
                 _shape(layer.compute_output_shape(layer._build_shapes)) if layer.built else "?",
                 f"{layer.count_params():,}" if layer.built else "0 (unbuilt)", ""]
                for layer in model.layers]
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    rows = [r[:len(header)] for r in rows]
    # Keras' layout: 65 columns split at 45 % and 85 %, or 98 split at 33, 55 and 67 % for a
    # graph with its 'Connected to' column; long cells wrap within their column.
    total = line_length or (98 if connected else 65)
    positions = [0.33, 0.55, 0.67, 1.0] if connected else [0.45, 0.85, 1.0]
    stops = [int(total * p) for p in positions]
    widths = [b - a for a, b in zip([0] + stops[:-1], stops)]

    def emit(cells: Sequence[str]) -> None:
        columns = [_wrap(c, max(4, w - 1)) for c, w in zip(cells, widths)]
        for k in range(max(len(c) for c in columns)):
            print_fn("".join((c[k] if k < len(c) else "").ljust(w)
                             for c, w in zip(columns, widths)).rstrip())

    width = sum(widths)
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * width)
    emit(header)
    print_fn("=" * width)
    for i, row in enumerate(rows):
        emit(row)
        print_fn("=" * width if i == len(rows) - 1 else "_" * width)
    trainable = sum(v.size for v in model.trainable_weights)
    frozen = sum(v.size for v in model.non_trainable_weights)
    print_fn(f"Total params: {trainable + frozen:,} ({readable_size(4 * (trainable + frozen))})")
    print_fn(f"Trainable params: {trainable:,} ({readable_size(4 * trainable)})")
    print_fn(f"Non-trainable params: {frozen:,} ({readable_size(4 * frozen)})")
    policies = sorted({layer.dtype_policy.name for layer in model._all_layers()[1:]})
    if policies != ["float32"]:  # Keras prints no policy line; fastnn adds one when it matters
        print_fn(f"Dtype policy: {', '.join(policies)} (bfloat16 GEMMs: "
                 f"{_C.bf16_gemm_kernel()})")
    print_fn("_" * width)
    if model.built:
        for kind, how in model.execution_plan().items():
            for k, line in enumerate(_wrap(f"{kind}: {how}", width)):
                print_fn(line if k == 0 else "    " + line)
    else:
        print_fn("not built yet: give the first layer an input_shape, or call fit or predict")
