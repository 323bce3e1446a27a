/**
 * One stage's training step as one TensorFlow graph, run through the C API once per iteration: resource variables
 * that live in the session between steps; placeholders for the batch (and DenseVNet's warp positions); the network's
 * forward pass (graph-ops.ts), NiftyNet's loss, thaw's own reverse-mode gradients of the trained variables only,
 * TensorFlow's optimiser kernels (ResourceApplyAdam / ResourceApplyMomentum / ResourceApplyGradientDescent, the
 * kernels NiftyNet's TF1 optimisers run), the batch-norm moving averages, and Adam's power updates after every
 * apply (as TF1's AdamOptimizer._finish). Feeding a batch and fetching the loss is one TF_SessionRun.
 */
import type { Batch } from '../../../data';
import type { TrainingSettings } from '../../../pipeline/plan';
import { BETA1_POWER, BETA2_POWER } from '../../optimizers/slot-names';
import type { StageGraph } from '../../stage-setup';
import { affineSamplerFor, cropLabels } from '../training-step';
import { GRADIENTS } from './gradients';
import { GraphBuilder, out, type Sym } from './graph';
import { graphSegmentationLoss } from './graph-losses';
import { GraphLayerOps, type StepFeed } from './graph-ops';
import { profileFromRunMetadata, type StepProfile } from './profile';
import { bufferBytes, configProto, newTensor, readFloat32, type Ptr, type SessionConfig, type TfC } from './tf-c';

export interface GraphStepOptions extends SessionConfig {
  /** [batch, ...spatial, channels] of every batch. */
  batchShape: number[];
  seed: number;
  settings: TrainingSettings;
}

export interface GraphStats {
  /** Ops in the graph (forward, backward, updates). */
  ops: number;
  /** Ops recorded for differentiation and gradient ops emitted. */
  taped: number;
  devices: string[];
}

export class GraphStep {
  private readonly g: GraphBuilder;
  private readonly handles = new Map<string, Sym>();
  private readonly reads = new Map<string, Sym>();
  private readonly taped: number;
  private readonly x: Sym;
  private readonly labels: Sym;
  private readonly loss: Sym;
  private readonly train: Ptr;
  private readonly feeds: StepFeed[];
  private readonly outSize: number[];
  private session: Ptr | null = null;
  readonly stats: GraphStats;

  constructor(private readonly c: TfC, private readonly stage: Pick<StageGraph, 'net' | 'params' | 'variables' | 'trained' | 'frozenLayers'>,
    private readonly opts: GraphStepOptions) {
    const g = (this.g = new GraphBuilder(c, GRADIENTS));
    try {
      ({ x: this.x, labels: this.labels, loss: this.loss, train: this.train, feeds: this.feeds, outSize: this.outSize, taped: this.taped } =
        this.build(g));
    } catch (err) {
      g.dispose();
      throw err;
    }
    this.stats = { ops: 0, taped: this.taped, devices: [] };
  }

  private build(g: GraphBuilder) {
    const { stage, opts } = this;
    const { net, params, variables, trained } = stage;
    const trainedNames = new Set(trained.map((v) => v.name));
    for (const v of variables) {
      this.handles.set(v.name, g.op1('VarHandleOp', [], {
        dtype: { type: 'float32' }, shape: { shape: v.shape }, shared_name: { str: v.name }, container: { str: '' },
      }, { name: v.name }));
    }
    const vars = {
      read: (name: string): Sym => {
        const cached = this.reads.get(name);
        if (cached) return cached;
        const handle = this.handles.get(name);
        if (!handle) throw new Error(`variable ${name} was not created`);
        const r = g.inScope(name, () => g.op1('ReadVariableOp', [handle], { dtype: { type: 'float32' } }, { trainable: trainedNames.has(name) }));
        this.reads.set(name, r);
        return r;
      },
    };
    const { batchShape, settings } = opts;
    const outSize = net.outputSize(params, batchShape.slice(1, -1));
    const x = g.placeholder('images', 'float32', batchShape);
    const labels = g.placeholder('labels', 'int32', [batchShape[0], ...outSize]);
    const ops = new GraphLayerOps(g, params.dims, vars, {
      frozenLayers: stage.frozenLayers, frozenBatchNorm: settings.frozen_batch_norm, augment: true,
    });
    const logits = net.forward(ops, x, params);
    const loss = graphSegmentationLoss(g, settings.loss_type, logits, labels);
    const taped = g.tape.length;

    const targets = trained.map((v) => vars.read(v.name));
    const grads = g.gradients(loss, targets);
    const updates: Ptr[] = g.untaped(() => {
      const applied = g.inScope('ApplyGradients', () => this.applyGradients(loss, trained.map((v) => v.name), targets, grads, settings));
      const bn = g.inScope('BatchNormUpdates', () => [...ops.bnUpdates].map(([name, value]) => this.assign(name, value)));
      return [...applied, ...bn];
    });
    const train = g.opNoOutputs('NoOp', [], {}, { control: updates, name: 'train' });
    return { x, labels, loss, train, feeds: ops.stepFeeds, outSize, taped };
  }

  private assign(name: string, value: Sym, control: Ptr[] = []): Ptr {
    const g = this.g;
    return g.opNoOutputs('AssignVariableOp', [this.handles.get(name)!, value], { dtype: { type: 'float32' } }, { control });
  }

  private applyGradients(loss: Sym, names: string[], targets: Sym[], grads: Map<number, Sym>, s: TrainingSettings): Ptr[] {
    const g = this.g;
    const applies: Ptr[] = [];
    const lr = g.scalar(s.lr);
    const b1p = s.optimizer === 'adam' ? this.readVar(BETA1_POWER) : null;
    const b2p = s.optimizer === 'adam' ? this.readVar(BETA2_POWER) : null;
    names.forEach((name, i) => {
      const grad = grads.get(targets[i].id);
      if (!grad) return; // the loss does not depend on it: no update, as TF1's optimisers skip None gradients
      g.inScope(`ApplyGradients/${name}`, () => applies.push(this.applyOne(name, grad, loss, { lr, b1p, b2p }, s)));
    });
    if (s.optimizer === 'adam') {
      applies.push(this.assign(BETA1_POWER, g.mul(b1p!, g.scalar(s.beta1)), applies.slice()));
      applies.push(this.assign(BETA2_POWER, g.mul(b2p!, g.scalar(s.beta2)), applies.slice(0, -1)));
    }
    return applies;
  }

  /** The optimiser kernel updating variable `name` (and its slots) by `grad`, after the loss. */
  private applyOne(name: string, grad: Sym, loss: Sym, { lr, b1p, b2p }: { lr: Sym; b1p: Sym | null; b2p: Sym | null }, s: TrainingSettings): Ptr {
    const g = this.g;
    const h = (n: string) => {
      const handle = this.handles.get(n);
      if (!handle) throw new Error(`optimiser state ${n} is missing from the stage's variables`);
      return handle;
    };
    const F = { T: { type: 'float32' as const }, use_locking: { bool: false } };
    // After the loss: every read of the step has happened before any variable changes.
    const control = [loss.op];
    switch (s.optimizer) {
      case 'adam':
        return g.opNoOutputs('ResourceApplyAdam', [h(name), h(`${name}/Adam`), h(`${name}/Adam_1`), b1p!, b2p!, lr,
          g.scalar(s.beta1), g.scalar(s.beta2), g.scalar(s.epsilon), grad], { ...F, use_nesterov: { bool: false } }, { control });
      case 'momentum':
        return g.opNoOutputs('ResourceApplyMomentum', [h(name), h(`${name}/Momentum`), lr, grad, g.scalar(s.momentum)],
          { ...F, use_nesterov: { bool: false } }, { control });
      case 'sgd':
        return g.opNoOutputs('ResourceApplyGradientDescent', [h(name), lr, grad], F, { control });
    }
  }

  private readVar(name: string): Sym {
    const cached = this.reads.get(name);
    if (cached) return cached;
    const g = this.g;
    const r = g.inScope(name, () => g.op1('ReadVariableOp', [this.handles.get(name)!], { dtype: { type: 'float32' } }));
    this.reads.set(name, r);
    return r;
  }

  /** Opens the session and assigns every variable its starting value. */
  start(values: Map<string, Float32Array>): void {
    const c = this.c;
    const g = this.g;
    const inits: { ph: Sym; value: Float32Array; shape: number[] }[] = [];
    const assigns: Ptr[] = g.untaped(() => g.inScope('init', () => this.stage.variables.map((v) => {
      const ph = g.placeholder(`init/${v.name}`, 'float32', v.shape);
      const value = values.get(v.name);
      if (!value) throw new Error(`no starting value for ${v.name}`);
      inits.push({ ph, value, shape: v.shape });
      return this.assign(v.name, ph);
    })));
    for (const v of this.stage.variables) this.readVar(v.name);
    this.stats.ops = g.opCount();
    const options = c.TF_NewSessionOptions();
    try {
      const proto = configProto(this.opts);
      c.TF_SetConfig(options, proto, proto.length, g.status.ptr);
      g.status.check('session config');
      if (this.opts.xla) c.TF_SetTfXlaCpuGlobalJit(1);
      this.session = c.TF_NewSession(g.graph, options, g.status.ptr);
      g.status.check('new session');
    } finally {
      c.TF_DeleteSessionOptions(options);
    }
    this.stats.devices = this.listDevices();
    const tensors = inits.map((i) => newTensor(c, 'float32', i.shape, i.value));
    try {
      this.run(inits.map((i) => i.ph), tensors, [], assigns);
    } finally {
      for (const t of tensors) c.TF_DeleteTensor(t);
    }
  }

  private listDevices(): string[] {
    const c = this.c;
    const list = c.TF_SessionListDevices(this.session, this.g.status.ptr);
    this.g.status.check('list devices');
    const types: string[] = [];
    for (let i = 0; i < c.TF_DeviceListCount(list); i++) types.push(c.TF_DeviceListType(list, i, this.g.status.ptr));
    c.TF_DeleteDeviceList(list);
    return types;
  }

  /** TF_SessionRun: feeds, fetches (returned, caller deletes), target ops; with a trace, RunMetadata into `metadata`. */
  private run(feeds: Sym[], values: Ptr[], fetches: Sym[], targets: Ptr[], trace?: { options: Ptr; metadata: Ptr }): Ptr[] {
    const c = this.c;
    if (!this.session) throw new Error('the graph session is not started');
    const outputs: Ptr[] = fetches.map(() => null);
    c.TF_SessionRun(this.session, trace?.options ?? null, feeds.map(out), values, feeds.length, fetches.map(out), outputs, fetches.length,
      targets, targets.length, trace?.metadata ?? null, this.g.status.ptr);
    this.g.status.check('training step');
    return outputs;
  }

  /**
   * One step traced (RunOptions FULL_TRACE): time per op type as TensorFlow ran it. It trains like step() does
   * (for the bench, not for a run whose results matter: tracing adds overhead to every op).
   */
  profile(batch: Batch, iteration: number): { loss: number; profile: StepProfile } {
    const c = this.c;
    const options = c.TF_CreateRunOptions(1);
    const metadata = c.TF_NewBuffer();
    try {
      const loss = this.step(batch, iteration, { options, metadata });
      return { loss, profile: profileFromRunMetadata(bufferBytes(c, metadata)) };
    } finally {
      c.TF_DeleteBuffer(options);
      c.TF_DeleteBuffer(metadata);
    }
  }

  /** The feeds of one iteration: the batch (labels cropped to the output), the warp positions of (seed, iteration). */
  private stepFeeds(batch: Batch, iteration: number): { feeds: Sym[]; values: Ptr[] } {
    const c = this.c;
    const labels = cropLabels(batch.labels, batch.shape.slice(0, -1), this.outSize);
    const feeds: Sym[] = [this.x, this.labels];
    const values: Ptr[] = [newTensor(c, 'float32', batch.shape, batch.images), newTensor(c, 'int32', this.labels.shape, labels)];
    if (this.feeds.length) {
      const sampler = affineSamplerFor(this.opts.seed, iteration);
      for (const f of this.feeds) {
        feeds.push(f.sym);
        values.push(newTensor(c, f.sym.dtype, f.sym.shape, f.value(sampler)));
      }
    }
    return { feeds, values };
  }

  /** One iteration on `batch` (the batch of `iteration`); returns the loss. */
  step(batch: Batch, iteration: number, trace?: { options: Ptr; metadata: Ptr }): number {
    const c = this.c;
    const { feeds, values } = this.stepFeeds(batch, iteration);
    try {
      const [lossTensor] = this.run(feeds, values, [this.loss], [this.train], trace);
      const loss = readFloat32(c, lossTensor)[0];
      c.TF_DeleteTensor(lossTensor);
      return loss;
    } finally {
      for (const t of values) c.TF_DeleteTensor(t);
    }
  }

  /**
   * step() with TF_SessionRun on a worker thread (koffi's async call): the caller's event loop runs meanwhile (stop
   * requests, the next batch). One step at a time.
   */
  stepAsync(batch: Batch, iteration: number): Promise<number> {
    const c = this.c;
    if (!this.session) throw new Error('the graph session is not started');
    const { feeds, values } = this.stepFeeds(batch, iteration);
    const outputs = c.koffi.alloc('void*', 1);
    const release = () => {
      for (const t of values) c.TF_DeleteTensor(t);
      c.koffi.free(outputs);
    };
    return new Promise<number>((resolve, reject) => {
      c.TF_SessionRunRaw.async(this.session, null, feeds.map(out), values, feeds.length, [out(this.loss)], outputs, 1,
        [this.train], 1, null, this.g.status.ptr, (err: Error | null) => {
          try {
            if (err) throw err;
            this.g.status.check('training step');
            const [lossTensor] = c.koffi.decode(outputs, 'TF_Tensor*', 1) as Ptr[];
            const loss = readFloat32(c, lossTensor)[0];
            c.TF_DeleteTensor(lossTensor);
            resolve(loss);
          } catch (e) {
            reject(e as Error);
          } finally {
            release();
          }
        });
    });
  }

  /** The graph's ops (name, type) as built: forward, gradients (under `gradients/<layer>`), updates. */
  ops(): readonly { name: string; type: string }[] {
    return this.g.ops();
  }

  /** Every variable's current value (for a checkpoint). */
  values(): Map<string, Float32Array> {
    const c = this.c;
    const names = this.stage.variables.map((v) => v.name);
    const outputs = this.run([], [], names.map((n) => this.reads.get(n)!), []);
    const result = new Map<string, Float32Array>();
    names.forEach((n, i) => {
      result.set(n, readFloat32(c, outputs[i]));
      c.TF_DeleteTensor(outputs[i]);
    });
    return result;
  }

  dispose(): void {
    const c = this.c;
    if (this.session) {
      c.TF_CloseSession(this.session, this.g.status.ptr);
      c.TF_DeleteSession(this.session, this.g.status.ptr);
      this.session = null;
    }
    this.g.dispose();
  }
}
