"""Rewrites of an exported ONNX graph that make it faster with the same function.

After export, `fuse_softmax_expectations` rewrites each softmax over channels that feeds an expectation
over them (jkspnet-lab's softmax and 1x1 conv to ab, a bins head's mean ab and chroma) into exp(x - max), one
1x1 conv giving the numerator and the sum at once, and a division: the same function, without
onnxruntime's Softmax on a non-last axis, which transposes the (N, Q, H, W) tensor there and back: on
one core of the 2-core EPYC, 3.2 s of jkspnet-lab's 7.4 s per 1024 x 768 photo, 0.04 of lite-unet-bins'
0.24 s; the rewritten parts take 0.1 s and 0.01 s.

Then `winograd_convs` rewrites the 3x3 and 2x2 'same' convs with at least 64 channels in and out as
Winograd's F(4x4, 3x3), which does a quarter of the multiplications of a 3x3 conv (for 2x2 kernels,
placed in a 3x3 one, 56 %). Both PyTorch (oneDNN) and onnxruntime (MLAS) run direct fp32 convs at about
the CPU's peak (some 34 GFLOP/s per core on the 2-core EPYC, as a large matrix product), so fewer
multiplications are what makes the export faster: per 1024 x 768 photo on one core, jkspnet-lab 4.1 s
-> 3.0 s, unet-rgb 3.9 -> 2.6 s, lite-unet-bins 0.175 -> 0.13 s. The colours move by some 1e-5 Lab
units (lite-unet-bins' shipped weights, kodak24). `write_onnx(..., winograd=False)` keeps direct convs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WINOGRAD_MIN_CHANNELS = 64  # convs with fewer input or output channels stay direct convs (no faster below)
# Winograd's F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016; points 0,
# +-1, +-2, infinity): output tile = AT [(G g GT) * (BT d B)] A for a 3x3 kernel g and a 6x6 input tile d
_WINOGRAD_BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                         [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
_WINOGRAD_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                        [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
_WINOGRAD_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                        np.float64)


def fuse_softmax_expectations(proto: Any) -> int:
    """Rewrite in place every Softmax over axis 1 whose only use is an expectation over that axis, a
    1x1 bias-free Conv (O, Q, 1, 1) or an Einsum "nqhw,qc->nchw" with constant weights, as
    e = exp(x - max over channels), [num; den] = Conv(e, [W; ones]), num / den. Returns how many.

    The maximum is taken by splitting the Q channels and one variadic Max (onnxruntime's ReduceMax over
    a middle axis is some 7 times slower); it keeps exp from overflowing as Softmax itself does."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    if next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0) < 13:
        return 0  # before opset 13, Softmax(axis=1) is over all of C, H and W together
    constants = _constants(graph)
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    nodes, dropped, fused = [], set(), 0
    for node in graph.node:
        if id(node) in dropped:
            continue
        use = users.get(node.output[0], []) if node.op_type == "Softmax" else []
        weights = _expectation_weights(use[0], constants) if len(use) == 1 and _attribute(node, "axis") == 1 \
            and node.output[0] not in outputs else None
        if weights is None:
            nodes.append(node)
            continue
        dropped.add(id(use[0]))
        fused += 1
        out_ch, q = weights.shape
        p = f"/fused_softmax_{fused}"
        parts = [f"{p}/channel_{i}" for i in range(q)]
        both = np.concatenate([weights, np.ones((1, q), np.float32)])[:, :, None, None]
        graph.initializer.extend([numpy_helper.from_array(np.ones(q, np.int64), f"{p}/ones"),
                                  numpy_helper.from_array(both, f"{p}/weights_and_sum"),
                                  numpy_helper.from_array(np.array([out_ch, 1], np.int64), f"{p}/num_den_split")])
        x = node.input[0]
        nodes += [helper.make_node("Split", [x, f"{p}/ones"], parts, f"{p}/Split", axis=1),
                  helper.make_node("Max", parts, [f"{p}/max"], f"{p}/Max"),
                  helper.make_node("Sub", [x, f"{p}/max"], [f"{p}/shifted"], f"{p}/Sub"),
                  helper.make_node("Exp", [f"{p}/shifted"], [f"{p}/exp"], f"{p}/Exp"),
                  helper.make_node("Conv", [f"{p}/exp", f"{p}/weights_and_sum"], [f"{p}/num_den"], f"{p}/Conv"),
                  helper.make_node("Split", [f"{p}/num_den", f"{p}/num_den_split"], [f"{p}/num", f"{p}/den"],
                                   f"{p}/Split_num_den", axis=1),
                  helper.make_node("Div", [f"{p}/num", f"{p}/den"], [use[0].output[0]], f"{p}/Div")]
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    return fused


def winograd_convs(proto: Any, min_channels: int = WINOGRAD_MIN_CHANNELS) -> int:
    """Rewrite in place each Conv of one group, stride and dilation 1, a 3x3 or 2x2 kernel with 'same'
    padding (the output as large as the input), constant weights and at least `min_channels` input and
    output channels, as Winograd's F(4x4, 3x3) (a 2x2 kernel inside a 3x3 one). Returns how many.

    Per conv, for x (N, C, H, W): the 6x6 input tiles (stride 4) are transformed by one Conv over
    x viewed as (N C, 1, H, W); 36 matrix products (O, C) x (C, tiles) do the work (one MatMul); a 1x1
    Conv and a DepthToSpace turn them back into 4x4 output tiles, cropped to (H, W), plus the bias.
    That is 36 multiplications per 16 outputs per channel pair instead of 144 (4x fewer for 3x3, 1.8x
    for 2x2), at a fp32 rounding error some 10 times a direct conv's (relative error about 1e-5)."""
    graph = proto.graph
    constants = _constants(graph)
    shared: set[str] = set()
    nodes, count = [], 0
    for node in graph.node:
        weights = _winograd_weights(node, constants, min_channels)
        if weights is None:
            nodes.append(node)
            continue
        count += 1
        bias = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        nodes += _winograd_nodes(graph, node, weights, bias, f"/winograd_{count}", shared)
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    return count


def _winograd_weights(node: Any, constants: dict[str, Any], min_channels: int) -> np.ndarray | None:
    """The (O, C, 3, 3) weights, a 2x2 kernel placed inside a 3x3 one, of a Conv that `winograd_convs`
    rewrites; else None."""
    from onnx import numpy_helper

    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in constants or \
            (len(node.input) > 2 and node.input[2] and node.input[2] not in constants):
        return None
    w = numpy_helper.to_array(constants[node.input[1]])
    if w.ndim != 4 or not set(w.shape[2:]) <= {2, 3} or min(w.shape[:2]) < min_channels or \
            _attribute(node, "group", 1) != 1 or set(_attribute(node, "strides", [1])) != {1} or \
            set(_attribute(node, "dilations", [1])) != {1}:
        return None
    auto_pad = _attribute(node, "auto_pad", b"NOTSET")
    kernel = w.shape[2:]
    if auto_pad in (b"SAME_UPPER", b"SAME_LOWER"):  # the odd padding at the end (upper) or at the start
        begin = [(k - 1) // 2 if auto_pad == b"SAME_UPPER" else k // 2 for k in kernel]
        end = [k - 1 - b for k, b in zip(kernel, begin)]
    elif auto_pad == b"NOTSET":
        pads = list(_attribute(node, "pads", [0, 0, 0, 0]))
        begin, end = pads[:2], pads[2:]
    else:
        return None
    if any(b + e != k - 1 or b > 1 for k, b, e in zip(kernel, begin, end)):
        return None  # not 'same', or a 2x2 kernel padded 2 before
    embedded = np.zeros((*w.shape[:2], 3, 3), np.float64)
    embedded[:, :, 1 - begin[0]:1 - begin[0] + kernel[0], 1 - begin[1]:1 - begin[1] + kernel[1]] = w
    return embedded


def _winograd_nodes(graph: Any, node: Any, weights: np.ndarray, bias: Any, p: str, shared: set[str]) -> list[Any]:
    """The nodes computing `node`'s output by Winograd F(4x4, 3x3) (see `winograd_convs`), named after
    `p`; their initializers are added to `graph` (those named in `shared` once for all convs)."""
    from onnx import helper, numpy_helper

    def constant(name: str, value: np.ndarray) -> str:
        if name not in shared:
            shared.add(name)
            graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    def ints(*values: int) -> str:
        return constant(f"/winograd/{'_'.join(map(str, values))}", np.array(values, np.int64))

    nodes: list[Any] = []

    def add(op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [f"{p}/{name}"], f"{p}/{name}", **attributes))
        return f"{p}/{name}"

    out_ch, in_ch = weights.shape[:2]
    u = np.einsum("ai,ocij,bj->aboc", _WINOGRAD_G, weights, _WINOGRAD_G).reshape(36, out_ch, in_ch)
    graph.initializer.append(numpy_helper.from_array(u.astype(np.float32), f"{p}/weights"))
    to_tiles = constant("/winograd/input_transform", np.einsum(
        "ai,bj->abij", _WINOGRAD_BT, _WINOGRAD_BT).reshape(36, 1, 6, 6).astype(np.float32))
    from_tiles = constant("/winograd/output_transform", np.einsum(
        "ra,cb->rcab", _WINOGRAD_AT, _WINOGRAD_AT).reshape(16, 36, 1, 1).astype(np.float32))
    x = node.input[0]
    size = add("Slice", [add("Shape", [x], "x_shape"), ints(2), ints(4)], "size")  # [H, W]
    x = add("Reshape", [x, add("Concat", [ints(-1, 1), size], "planes_shape", axis=0)], "planes")  # (N C, 1, H, W)
    v = add("Conv", [x, to_tiles], "tiles", kernel_shape=[6, 6], strides=[4, 4], pads=[1, 1, 4, 4])
    grid = add("Slice", [add("Shape", [v], "tiles_shape"), ints(2), ints(4)], "grid")  # [h, w] tiles
    count = add("Mul", [add("Slice", [grid, ints(0), ints(1)], "rows"),
                        add("Slice", [grid, ints(1), ints(2)], "columns")], "count")
    v = add("Reshape", [v, add("Concat", [ints(-1, in_ch, 36), count], "by_image_shape", axis=0)], "by_image")
    v = add("Transpose", [v], "by_point", perm=[0, 2, 1, 3])  # (N, 36, C, tiles)
    m = add("Transpose", [add("MatMul", [f"{p}/weights", v], "products")], "products_by_channel",
            perm=[0, 2, 1, 3])  # (N, O, 36, tiles)
    m = add("Reshape", [m, add("Concat", [ints(-1, 36), grid], "products_shape", axis=0)], "products_planes")
    y = add("DepthToSpace", [add("Conv", [m, from_tiles], "outputs", kernel_shape=[1, 1])], "planes_out",
            blocksize=4, mode="DCR")  # (N O, 1, 4 h, 4 w)
    full = add("Mul", [grid, ints(4, 4)], "full")
    y = add("Reshape", [y, add("Concat", [ints(-1, out_ch), full], "out_shape", axis=0)], "uncropped")
    y = add("Slice", [y, ints(0, 0), size, ints(2, 3)], "cropped")  # (N, O, H, W)
    if bias is None:
        nodes.append(helper.make_node("Identity", [y], [node.output[0]], f"{p}/output"))
    else:
        b = numpy_helper.to_array(bias).astype(np.float32).reshape(1, out_ch, 1, 1)
        graph.initializer.append(numpy_helper.from_array(b, f"{p}/bias"))
        nodes.append(helper.make_node("Add", [y, f"{p}/bias"], [node.output[0]], f"{p}/output"))
    return nodes


def _constants(graph: Any) -> dict[str, Any]:
    """Name -> TensorProto of the graph's constant values: initializers, Constant nodes, and Identity of either."""
    constants = {t.name: t for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            constants[n.output[0]] = n.attribute[0].t
        elif n.op_type == "Identity" and n.input[0] in constants:
            constants[n.output[0]] = constants[n.input[0]]
    return constants


def _attribute(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _expectation_weights(node: Any, constants: dict[str, Any]) -> np.ndarray | None:
    """The (O, Q) float32 weights when `node` maps a (N, Q, H, W) distribution to its expectation (N, O, H, W)
    with constant weights (a 1x1 Conv without bias, stride, padding or groups; an Einsum "nqhw,qc->nchw"), else None."""
    from onnx import numpy_helper

    if len(node.input) != 2 or node.input[1] not in constants:
        return None
    w = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
    if node.op_type == "Conv" and w.ndim == 4 and w.shape[2:] == (1, 1) and _attribute(node, "group", 1) == 1 \
            and not any(_attribute(node, "pads", [])) and set(_attribute(node, "strides", [1])) == {1} \
            and _attribute(node, "auto_pad", b"NOTSET") in (b"NOTSET", b"VALID"):
        return w[:, :, 0, 0]
    equation = _attribute(node, "equation", b"").replace(b" ", b"")
    if node.op_type == "Einsum" and equation == b"nqhw,qc->nchw" and w.ndim == 2:
        return np.ascontiguousarray(w.T)
    return None


def _drop_unused(graph: Any) -> None:
    """Remove the initializers and Constant nodes that no node or graph output uses any more."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output} | \
        {i.name for i in graph.input}
    keep = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(keep)
    unused = [t for t in graph.initializer if t.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)
