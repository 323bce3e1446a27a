/**
 * A TensorFlow graph built op by op through the C API, with static shapes (every placeholder is fully shaped, so
 * TensorFlow's shape inference gives every tensor's shape at construction) and a tape for reverse-mode
 * differentiation: every op that consumes a tensor that depends on a trained variable is recorded, and
 * `gradients()` walks the tape backwards emitting each op's gradient ops (gradients.ts) into the same graph. Ops on
 * no path from a trained variable get no gradient ops; neither do frozen variables.
 */
import { DT, Status, newTensor, type DType, type Ptr, type TfC, type TfOutput } from './tf-c';

export interface Sym {
  readonly id: number;
  readonly op: Ptr;
  readonly index: number;
  readonly shape: number[];
  readonly dtype: DType;
  /** Depends on a trained variable (gradients flow back through it). */
  readonly requiresGrad: boolean;
}

export type Attr =
  | { type: DType }
  | { int: number }
  | { ints: number[] }
  | { float: number }
  | { bool: boolean }
  | { str: string }
  | { shape: number[] }
  | { tensor: { dtype: DType; shape: number[]; data: ArrayLike<number> } };

export interface TapeNode {
  type: string;
  /** Inputs, list inputs flattened in order. */
  inputs: Sym[];
  attrs: Record<string, Attr>;
  outputs: Sym[];
  /** The layer scope the op was emitted in (for messages and op names). */
  scope: string;
  /** Static facts a gradient needs that live in constant inputs (axes, perm, begin, paddings, …). */
  meta: Record<string, unknown>;
}

export interface OpOptions {
  control?: Ptr[];
  /** The outputs are trained-variable values: gradient targets. */
  trainable?: boolean;
  /** The op's name exactly (default: scope/type, made unique). */
  name?: string;
  meta?: Record<string, unknown>;
}

/** Gradient of one op: one entry per (flattened) input, null where none flows or none is needed. */
export type GradFn = (g: GraphBuilder, node: TapeNode, dys: (Sym | null)[]) => (Sym | null)[];

/** An op of the network that thaw's graph engine cannot differentiate, with the layer it is in. */
export class UndifferentiableOpError extends Error {
  constructor(readonly opType: string, readonly layer: string) {
    super(`the graph engine has no gradient for TensorFlow op ${opType} (layer ${layer || '(top level)'})`);
  }
}

/** Ops whose outputs never carry a gradient (integer or boolean results, shapes, constants). */
export const NON_DIFFERENTIABLE = new Set([
  'Const', 'Placeholder', 'VarHandleOp', 'OneHot', 'GreaterEqual', 'Greater', 'Less', 'Equal', 'IsInf', 'IsNan',
  'Shape', 'NoOp', 'AssignVariableOp', 'ResourceApplyAdam', 'ResourceApplyMomentum', 'ResourceApplyGradientDescent',
  'Sign', 'ZerosLike', 'OnesLike', 'StopGradient', 'ReadVariableOp',
]);

export class GraphBuilder {
  readonly graph: Ptr;
  readonly status: Status;
  /** The layer scope new ops are named under. */
  scope = '';
  readonly tape: TapeNode[] = [];
  /** Off while emitting gradients and updates: those ops are not differentiated again. */
  private recording = true;
  private nextId = 0;
  /** Every op added, by name: what the graph holds, for stats and for tests that check what was (not) emitted. */
  private readonly emitted: { name: string; type: string }[] = [];
  private readonly names = new Map<string, number>();
  private readonly constants = new Map<string, Sym>();

  constructor(readonly c: TfC, private readonly rules: Record<string, GradFn>) {
    this.graph = c.TF_NewGraph();
    this.status = new Status(c);
  }

  /** Runs `fn` without recording its ops for differentiation (gradients, state updates). */
  untaped<T>(fn: () => T): T {
    const saved = this.recording;
    this.recording = false;
    try {
      return fn();
    } finally {
      this.recording = saved;
    }
  }

  /** Runs `fn` with ops named under `scope` (restored after). */
  inScope<T>(scope: string, fn: () => T): T {
    const saved = this.scope;
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = saved;
    }
  }

  private uniqueName(type: string): string {
    const base = `${this.scope ? `${this.scope}/` : ''}${type}`.replace(/[^A-Za-z0-9_.\-/>]/g, '_').replace(/^[^A-Za-z0-9.]/, 'x');
    const n = this.names.get(base) ?? 0;
    this.names.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  /** Adds one op; returns its outputs. `trainable` marks the outputs as trained-variable values (gradient targets). */
  op(type: string, inputs: (Sym | Sym[])[], attrs: Record<string, Attr> = {}, opts: OpOptions = {}): Sym[] {
    return this.add_(type, inputs, attrs, opts).outputs;
  }

  /** One-output op. */
  op1(type: string, inputs: (Sym | Sym[])[], attrs: Record<string, Attr> = {}, opts: OpOptions = {}): Sym {
    return this.add_(type, inputs, attrs, opts).outputs[0];
  }

  /** An op run for its effect (assignments, optimiser kernels, NoOp): its TF_Operation, for targets and control inputs. */
  opNoOutputs(type: string, inputs: (Sym | Sym[])[], attrs: Record<string, Attr> = {}, opts: OpOptions = {}): Ptr {
    return this.add_(type, inputs, attrs, opts).oper;
  }

  opCount(): number {
    return this.emitted.length;
  }

  /** The ops added so far (name and type), in order. */
  ops(): readonly { name: string; type: string }[] {
    return this.emitted;
  }

  private add_(type: string, inputs: (Sym | Sym[])[], attrs: Record<string, Attr>, opts: OpOptions): { oper: Ptr; outputs: Sym[] } {
    const c = this.c;
    const name = opts.name ?? this.uniqueName(type);
    const desc = c.TF_NewOperation(this.graph, type, name);
    const flat: Sym[] = [];
    for (const input of inputs) {
      if (Array.isArray(input)) {
        c.TF_AddInputList(desc, input.map(out), input.length);
        flat.push(...input);
      } else {
        c.TF_AddInput(desc, out(input));
        flat.push(input);
      }
    }
    for (const ctl of opts.control ?? []) c.TF_AddControlInput(desc, ctl);
    for (const [name, a] of Object.entries(attrs)) this.setAttr(desc, name, a);
    const oper = c.TF_FinishOperation(desc, this.status.ptr);
    this.status.check(`${type} in ${this.scope || 'the graph'}`);
    this.emitted.push({ name, type });
    const needs = this.recording && flat.some((s) => s.requiresGrad);
    const differentiable = !NON_DIFFERENTIABLE.has(type);
    if (needs && differentiable && !(type in this.rules)) throw new UndifferentiableOpError(type, this.scope);
    const outputs: Sym[] = [];
    const n = c.TF_OperationNumOutputs(oper);
    for (let i = 0; i < n; i++) {
      const o = { oper, index: i };
      const dtype = dtypeName(c.TF_OperationOutputType(o));
      const requiresGrad = opts.trainable === true || (needs && differentiable && dtype === 'float32');
      outputs.push({ id: this.nextId++, op: oper, index: i, shape: this.shapeOf(o), dtype, requiresGrad });
    }
    if (needs && differentiable) this.tape.push({ type, inputs: flat, attrs, outputs, scope: this.scope, meta: opts.meta ?? {} });
    return { oper, outputs };
  }

  private shapeOf(o: TfOutput): number[] {
    const c = this.c;
    const rank = c.TF_GraphGetTensorNumDims(this.graph, o, this.status.ptr);
    this.status.check('shape inference');
    if (rank < 0) return [];
    const dims = new Array<number>(rank).fill(0);
    c.TF_GraphGetTensorShape(this.graph, o, dims, rank, this.status.ptr);
    this.status.check('shape inference');
    return dims.map(Number);
  }

  private setAttr(desc: Ptr, name: string, a: Attr): void {
    const c = this.c;
    if ('type' in a) c.TF_SetAttrType(desc, name, DT[a.type]);
    else if ('int' in a) c.TF_SetAttrInt(desc, name, a.int);
    else if ('ints' in a) c.TF_SetAttrIntList(desc, name, a.ints, a.ints.length);
    else if ('float' in a) c.TF_SetAttrFloat(desc, name, a.float);
    else if ('bool' in a) c.TF_SetAttrBool(desc, name, a.bool ? 1 : 0);
    else if ('str' in a) {
      const bytes = Buffer.from(a.str, 'utf8');
      c.TF_SetAttrString(desc, name, bytes, bytes.length);
    } else if ('shape' in a) c.TF_SetAttrShape(desc, name, a.shape, a.shape.length);
    else {
      const t = newTensor(c, a.tensor.dtype, a.tensor.shape, a.tensor.data);
      c.TF_SetAttrTensor(desc, name, t, this.status.ptr);
      c.TF_DeleteTensor(t);
      this.status.check(`attr ${name}`);
    }
  }

  // -- constants and placeholders -------------------------------------------------------------------------------

  constant(dtype: DType, shape: number[], data: ArrayLike<number>): Sym {
    const small = data.length <= 16;
    const key = small ? `${dtype}|${shape.join(',')}|${Array.from(data).join(',')}` : '';
    const cached = small ? this.constants.get(key) : undefined;
    if (cached) return cached;
    const s = this.inScope('const', () => this.op1('Const', [], { dtype: { type: dtype }, value: { tensor: { dtype, shape, data } } }));
    if (small) this.constants.set(key, s);
    return s;
  }

  /** A float32 scalar: the JS number rounded to float32, as tf.scalar does. */
  scalar(v: number): Sym {
    return this.constant('float32', [], [v]);
  }

  ints(values: number[]): Sym {
    return this.constant('int32', [values.length], values);
  }

  placeholder(name: string, dtype: DType, shape: number[]): Sym {
    return this.inScope(name, () => this.op1('Placeholder', [], { dtype: { type: dtype }, shape: { shape } }));
  }

  // -- the ops gradients and layers share -------------------------------------------------------------------------

  add(a: Sym, b: Sym): Sym {
    return this.op1('AddV2', [a, b], { T: { type: 'float32' } });
  }
  sub(a: Sym, b: Sym): Sym {
    return this.op1('Sub', [a, b], { T: { type: 'float32' } });
  }
  mul(a: Sym, b: Sym): Sym {
    return this.op1('Mul', [a, b], { T: { type: 'float32' } });
  }
  div(a: Sym, b: Sym): Sym {
    return this.op1('RealDiv', [a, b], { T: { type: 'float32' } });
  }
  neg(a: Sym): Sym {
    return this.op1('Neg', [a], { T: { type: 'float32' } });
  }
  unary(type: string, a: Sym): Sym {
    return this.op1(type, [a], { T: { type: a.dtype } });
  }
  binary(type: string, a: Sym, b: Sym): Sym {
    return this.op1(type, [a, b], { T: { type: a.dtype } });
  }
  reshape(x: Sym, shape: number[]): Sym {
    if (sameShape(x.shape, shape)) return x;
    return this.op1('Reshape', [x, this.ints(shape)], { T: { type: x.dtype }, Tshape: { type: 'int32' } });
  }
  reduce(type: 'Sum' | 'Mean' | 'Max', x: Sym, axes: number[], keepDims = false): Sym {
    return this.op1(type, [x, this.ints(axes)], { T: { type: x.dtype }, Tidx: { type: 'int32' }, keep_dims: { bool: keepDims } },
      { meta: { axes: axes.map((a) => (a < 0 ? a + x.shape.length : a)) } });
  }
  /** Sum over every axis (a scalar). */
  sumAll(x: Sym): Sym {
    return this.reduce('Sum', x, x.shape.map((_, i) => i));
  }
  meanAll(x: Sym): Sym {
    return this.reduce('Mean', x, x.shape.map((_, i) => i));
  }
  broadcastTo(x: Sym, shape: number[]): Sym {
    if (sameShape(x.shape, shape)) return x;
    return this.op1('BroadcastTo', [x, this.ints(shape)], { T: { type: x.dtype }, Tidx: { type: 'int32' } });
  }
  slice(x: Sym, begin: number[], size: number[]): Sym {
    const sizes = size.map((s, i) => (s < 0 ? x.shape[i] - begin[i] : s));
    return this.op1('Slice', [x, this.ints(begin), this.ints(sizes)], { T: { type: x.dtype }, Index: { type: 'int32' } }, { meta: { begin, size: sizes } });
  }
  pad(x: Sym, paddings: [number, number][]): Sym {
    const p = this.constant('int32', [paddings.length, 2], paddings.flat());
    return this.op1('Pad', [x, p], { T: { type: x.dtype }, Tpaddings: { type: 'int32' } }, { meta: { paddings } });
  }
  transpose(x: Sym, perm: number[]): Sym {
    return this.op1('Transpose', [x, this.ints(perm)], { T: { type: x.dtype }, Tperm: { type: 'int32' } }, { meta: { perm } });
  }
  concat(xs: Sym[], axis: number): Sym {
    const a = axis < 0 ? axis + xs[0].shape.length : axis;
    return this.op1('ConcatV2', [xs, this.constant('int32', [], [a])], { T: { type: xs[0].dtype }, N: { int: xs.length }, Tidx: { type: 'int32' } },
      { meta: { axis: a } });
  }
  addN(xs: Sym[]): Sym {
    return xs.length === 1 ? xs[0] : this.op1('AddN', [xs], { T: { type: xs[0].dtype }, N: { int: xs.length } });
  }
  select(cond: Sym, a: Sym, b: Sym): Sym {
    return this.op1('SelectV2', [cond, a, b], { T: { type: a.dtype } });
  }
  zerosLike(x: Sym): Sym {
    return this.op1('ZerosLike', [x], { T: { type: x.dtype } });
  }
  cast(x: Sym, to: DType): Sym {
    return this.op1('Cast', [x], { SrcT: { type: x.dtype }, DstT: { type: to }, Truncate: { bool: false } });
  }

  /** A gradient `g` of a broadcast operand of shape `shape`: summed over the broadcast axes, reshaped back. */
  unbroadcast(g: Sym, shape: number[]): Sym {
    if (sameShape(g.shape, shape)) return g;
    const rank = g.shape.length;
    const padded = [...Array(rank - shape.length).fill(1), ...shape];
    const axes = g.shape.map((d, i) => (padded[i] === 1 && d !== 1) || i < rank - shape.length ? i : -1).filter((i) => i >= 0);
    const summed = axes.length ? this.reduce('Sum', g, axes, true) : g;
    return this.reshape(summed, shape);
  }

  // -- autodiff ---------------------------------------------------------------------------------------------------

  /**
   * d loss / d target for each target (trained-variable values), by reverse-mode over the tape. Contributions to a
   * tensor used several times are summed with AddN in a fixed order, so the graph (and its results) are the same
   * every time it is built.
   */
  gradients(loss: Sym, targets: Sym[]): Map<number, Sym> {
    return this.untaped(() => this.backprop(loss, targets));
  }

  private backprop(loss: Sym, targets: Sym[]): Map<number, Sym> {
    const grads = new Map<number, Sym[]>();
    const add = (s: Sym, g: Sym) => {
      const list = grads.get(s.id);
      if (list) list.push(g);
      else grads.set(s.id, [g]);
    };
    const total = (s: Sym): Sym | null => {
      const list = grads.get(s.id);
      if (!list) return null;
      const sum = list.length === 1 ? list[0] : this.addN(list);
      grads.set(s.id, [sum]);
      return sum;
    };
    add(loss, this.constant('float32', loss.shape, [1]));
    for (let k = this.tape.length - 1; k >= 0; k--) {
      const node = this.tape[k];
      const dys = node.outputs.map((o) => (o.requiresGrad ? total(o) : null));
      if (dys.every((d) => d === null)) continue;
      const fn = this.rules[node.type];
      if (!fn) throw new UndifferentiableOpError(node.type, node.scope);
      const dxs = this.inScope(`gradients/${node.scope}`, () => fn(this, node, dys));
      node.inputs.forEach((input, i) => {
        const dx = dxs[i];
        if (dx && input.requiresGrad) add(input, dx);
      });
    }
    const out = new Map<number, Sym>();
    for (const t of targets) {
      const g = total(t);
      if (g) out.set(t.id, g);
    }
    return out;
  }

  dispose(): void {
    this.status.dispose();
    this.c.TF_DeleteGraph(this.graph);
  }
}

export function out(s: Sym): TfOutput {
  return { oper: s.op, index: s.index };
}

export function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function dtypeName(code: number): DType {
  for (const [name, value] of Object.entries(DT)) if (value === code) return name as DType;
  return 'float32';
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
