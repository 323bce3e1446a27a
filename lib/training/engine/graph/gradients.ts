/**
 * Reverse-mode rules for every TensorFlow op the graph engine emits for thaw's layer vocabulary, written as
 * TensorFlow's own gradient functions (or tfjs's, where they differ in op order) compute them: convolutions through
 * their backprop kernels (Conv3DBackpropInputV2 / Conv3DBackpropFilterV2, which TensorFlow's C++ gradient registry
 * lacks), pooling and resize through MaxPool3DGrad, AvgPool3DGrad, ResizeBilinearGrad, activations through their
 * fused *Grad kernels, shape ops through their inverses, broadcasting through sums. Shapes are static, so the rules
 * use them directly. An op without a rule here cannot be trained through (see UndifferentiableOpError).
 */
import type { Attr, GradFn, GraphBuilder, Sym, TapeNode } from './graph';

const T = (s: Sym): Record<string, Attr> => ({ T: { type: s.dtype } });

/** The attributes a convolution's backprop kernels share with it. */
function convAttrs(node: TapeNode): Record<string, Attr> {
  const keep = ['T', 'strides', 'padding', 'data_format', 'dilations'];
  return Object.fromEntries(Object.entries(node.attrs).filter(([k]) => keep.includes(k)));
}

function poolAttrs(node: TapeNode): Record<string, Attr> {
  const keep = ['T', 'ksize', 'strides', 'padding', 'data_format'];
  return Object.fromEntries(Object.entries(node.attrs).filter(([k]) => keep.includes(k)));
}

const need = (node: TapeNode, i: number) => node.inputs[i].requiresGrad;

/** Conv2D / Conv3D(x, w): dx by the input backprop, dw by the filter backprop. */
function convGrad(inputOp: string, filterOp: string): GradFn {
  return (g, node, [dy]) => {
    const [x, w] = node.inputs;
    const attrs = convAttrs(node);
    const extra: Record<string, Attr> = inputOp === 'Conv3DBackpropInputV2' ? { Tshape: { type: 'int32' } } : {};
    return [
      need(node, 0) ? g.op1(inputOp, [g.ints(x.shape), w, dy!], { ...attrs, ...extra }) : null,
      need(node, 1) ? g.op1(filterOp, [x, g.ints(w.shape), dy!], attrs) : null,
    ];
  };
}

/** Transposed convolution (Conv*BackpropInput as a forward op: sizes, w, x): dx by the convolution, dw by its filter backprop. */
function deconvGrad(convOp: string, filterOp: string): GradFn {
  return (g, node, [dy]) => {
    const [, w, x] = node.inputs;
    const attrs = convAttrs(node);
    return [
      null,
      need(node, 1) ? g.op1(filterOp, [dy!, g.ints(w.shape), x], attrs) : null,
      need(node, 2) ? g.op1(convOp, [dy!, w], attrs) : null,
    ];
  };
}

function reduceGrad(mean: boolean): GradFn {
  return (g, node, [dy]) => {
    const x = node.inputs[0];
    const axes = node.meta.axes as number[];
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const spread = g.broadcastTo(g.reshape(dy!, kept), x.shape);
    if (!mean) return [spread, null];
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    return [g.div(spread, g.scalar(n)), null];
  };
}

export const GRADIENTS: Record<string, GradFn> = {
  Conv2D: convGrad('Conv2DBackpropInput', 'Conv2DBackpropFilter'),
  Conv3D: convGrad('Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'),
  Conv2DBackpropInput: deconvGrad('Conv2D', 'Conv2DBackpropFilter'),
  Conv3DBackpropInputV2: deconvGrad('Conv3D', 'Conv3DBackpropFilterV2'),

  MaxPool: (g, node, [dy]) => [g.op1('MaxPoolGrad', [node.inputs[0], node.outputs[0], dy!], poolAttrs(node))],
  MaxPool3D: (g, node, [dy]) => [g.op1('MaxPool3DGrad', [node.inputs[0], node.outputs[0], dy!], { ...poolAttrs(node), TInput: { type: 'float32' } })],
  AvgPool: (g, node, [dy]) => [g.op1('AvgPoolGrad', [g.ints(node.inputs[0].shape), dy!], poolAttrs(node))],
  AvgPool3D: (g, node, [dy]) => [g.op1('AvgPool3DGrad', [g.ints(node.inputs[0].shape), dy!], poolAttrs(node))],
  ResizeBilinear: (g, node, [dy]) => [
    g.op1('ResizeBilinearGrad', [dy!, node.inputs[0]], {
      T: { type: 'float32' }, align_corners: node.attrs.align_corners, half_pixel_centers: node.attrs.half_pixel_centers,
    }),
    null,
  ],

  Relu: (g, node, [dy]) => [g.op1('ReluGrad', [dy!, node.outputs[0]], T(dy!))],
  Relu6: (g, node, [dy]) => [g.op1('Relu6Grad', [dy!, node.inputs[0]], T(dy!))],
  Elu: (g, node, [dy]) => [g.op1('EluGrad', [dy!, node.outputs[0]], T(dy!))],
  Softplus: (g, node, [dy]) => [g.op1('SoftplusGrad', [dy!, node.inputs[0]], T(dy!))],
  Sigmoid: (g, node, [dy]) => [g.op1('SigmoidGrad', [node.outputs[0], dy!], T(dy!))],
  Tanh: (g, node, [dy]) => [g.op1('TanhGrad', [node.outputs[0], dy!], T(dy!))],
  Sqrt: (g, node, [dy]) => [g.op1('SqrtGrad', [node.outputs[0], dy!], T(dy!))],
  Rsqrt: (g, node, [dy]) => [g.op1('RsqrtGrad', [node.outputs[0], dy!], T(dy!))],
  Abs: (g, node, [dy]) => [g.mul(dy!, g.unary('Sign', node.inputs[0]))],
  Neg: (g, _node, [dy]) => [g.neg(dy!)],
  Square: (g, node, [dy]) => [g.mul(dy!, g.mul(node.inputs[0], g.scalar(2)))],
  Log: (g, node, [dy]) => [g.div(dy!, node.inputs[0])],
  Exp: (g, node, [dy]) => [g.mul(dy!, node.outputs[0])],
  Identity: (_g, _node, [dy]) => [dy],
  StopGradient: () => [null],
  Cast: (_g, node, [dy]) => [node.inputs[0].dtype === 'float32' ? dy : null],

  AddV2: (g, node, [dy]) => [
    need(node, 0) ? g.unbroadcast(dy!, node.inputs[0].shape) : null,
    need(node, 1) ? g.unbroadcast(dy!, node.inputs[1].shape) : null,
  ],
  Sub: (g, node, [dy]) => [
    need(node, 0) ? g.unbroadcast(dy!, node.inputs[0].shape) : null,
    need(node, 1) ? g.neg(g.unbroadcast(dy!, node.inputs[1].shape)) : null,
  ],
  Mul: (g, node, [dy]) => {
    const [a, b] = node.inputs;
    return [
      need(node, 0) ? g.unbroadcast(g.mul(dy!, b), a.shape) : null,
      need(node, 1) ? g.unbroadcast(g.mul(dy!, a), b.shape) : null,
    ];
  },
  RealDiv: (g, node, [dy]) => {
    const [a, b] = node.inputs;
    return [
      need(node, 0) ? g.unbroadcast(g.div(dy!, b), a.shape) : null,
      need(node, 1) ? g.neg(g.unbroadcast(g.div(g.mul(dy!, a), g.unary('Square', b)), b.shape)) : null,
    ];
  },
  Maximum: (g, node, [dy]) => {
    const [a, b] = node.inputs;
    const pick = (cond: Sym, shape: number[]) => g.unbroadcast(g.mul(dy!, g.cast(cond, 'float32')), shape);
    return [
      need(node, 0) ? pick(g.binary('GreaterEqual', a, b), a.shape) : null,
      need(node, 1) ? pick(g.binary('Less', a, b), b.shape) : null,
    ];
  },
  SelectV2: (g, node, [dy]) => {
    const [cond, a, b] = node.inputs;
    const zeros = g.zerosLike(dy!);
    return [
      null,
      need(node, 1) ? g.unbroadcast(g.select(cond, dy!, zeros), a.shape) : null,
      need(node, 2) ? g.unbroadcast(g.select(cond, zeros, dy!), b.shape) : null,
    ];
  },
  AddN: (_g, node, [dy]) => node.inputs.map(() => dy),

  Sum: reduceGrad(false),
  Mean: reduceGrad(true),
  Reshape: (g, node, [dy]) => [g.reshape(dy!, node.inputs[0].shape), null],
  BroadcastTo: (g, node, [dy]) => [g.unbroadcast(dy!, node.inputs[0].shape), null],
  Transpose: (g, node, [dy]) => {
    const perm = node.meta.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(dy!, inverse), null];
  },
  Slice: (g, node, [dy]) => {
    const x = node.inputs[0];
    const begin = node.meta.begin as number[];
    const sizes = node.meta.size as number[];
    return [g.pad(dy!, x.shape.map((d, i): [number, number] => [begin[i], d - begin[i] - sizes[i]])), null, null];
  },
  Pad: (g, node, [dy]) => {
    const paddings = node.meta.paddings as [number, number][];
    return [g.slice(dy!, paddings.map((p) => p[0]), node.inputs[0].shape), null];
  },
  ConcatV2: (g, node, [dy]) => {
    const axis = node.meta.axis as number;
    const parts = node.inputs.slice(0, -1);
    let offset = 0;
    const grads: (Sym | null)[] = parts.map((x) => {
      const begin = x.shape.map((_, i) => (i === axis ? offset : 0));
      offset += x.shape[axis];
      return x.requiresGrad ? g.slice(dy!, begin, x.shape) : null;
    });
    return [...grads, null];
  },
  Tile: (g, node, [dy]) => {
    const x = node.inputs[0];
    const multiples = node.meta.multiples as number[];
    const split = x.shape.flatMap((d, i) => [multiples[i], d]);
    const summed = g.reduce('Sum', g.reshape(dy!, split), x.shape.map((_, i) => 2 * i));
    return [g.reshape(summed, x.shape), null];
  },
  Pack: (g, node, [dy]) => {
    const n = node.inputs.length;
    return g.op('Unpack', [dy!], { T: { type: 'float32' }, num: { int: n }, axis: { int: 0 } });
  },
  SpaceToBatchND: (g, node, [dy]) => [
    g.op1('BatchToSpaceND', [dy!, node.inputs[1], node.inputs[2]], { T: { type: 'float32' }, Tblock_shape: { type: 'int32' }, Tcrops: { type: 'int32' } }),
    null, null,
  ],
  BatchToSpaceND: (g, node, [dy]) => [
    g.op1('SpaceToBatchND', [dy!, node.inputs[1], node.inputs[2]], { T: { type: 'float32' }, Tblock_shape: { type: 'int32' }, Tpaddings: { type: 'int32' } }),
    null, null,
  ],
  Softmax: (g, node, [dy]) => {
    // tfjs's softmax gradient: dy·y − sum(dy·y)·y
    const y = node.outputs[0];
    const dyTimesY = g.mul(dy!, y);
    const last = y.shape.length - 1;
    return [g.sub(dyTimesY, g.mul(g.reduce('Sum', dyTimesY, [last], true), y))];
  },
  LogSoftmax: (g, node, [dy]) => {
    const y = node.outputs[0];
    const last = y.shape.length - 1;
    return [g.sub(dy!, g.mul(g.reduce('Sum', dy!, [last], true), g.unary('Exp', y)))];
  },
  GatherV2: (g, node, [dy]) => {
    const [params, indices] = node.inputs;
    const segments = g.constant('int32', [], [params.shape[0]]);
    return [
      g.op1('UnsortedSegmentSum', [dy!, indices, segments], { T: { type: 'float32' }, Tindices: { type: 'int32' }, Tnumsegments: { type: 'int32' } }),
      null, null,
    ];
  },
};

/** GraphBuilder helpers whose gradients need static facts: tile with its multiples, stack along axis 0. */
export function tile(g: GraphBuilder, x: Sym, multiples: number[]): Sym {
  return g.op1('Tile', [x, g.ints(multiples)], { T: { type: x.dtype }, Tmultiples: { type: 'int32' } }, { meta: { multiples } });
}

export function stack(g: GraphBuilder, xs: Sym[]): Sym {
  return g.op1('Pack', [xs], { T: { type: xs[0].dtype }, N: { int: xs.length }, axis: { int: 0 } });
}
