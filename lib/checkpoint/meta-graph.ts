/**
 * A `.meta` (MetaGraphDef) for a checkpoint written by thaw: a TF1 graph with one VariableV2 per variable (with
 * zero initialiser, Assign and read snapshot), the standard V2 save/restore subgraph (SaveV2, RestoreV2, Assign,
 * save/restore_all) that `tf.compat.v1.train.import_meta_graph(...)` turns into a working Saver, and the `variables`
 * and `trainable_variables` collections.
 */
import { dtypeBytes, dtypeEnum, type DType, type VariableInfo } from './dtypes';
import { MetaGraphDef, shapeMessage, VariableDef } from './protos';

const DT_STRING = 7;
const DT_INT32 = 3;
/** GraphDef producer version: a TF 2.x graph (the ops used here have not changed in years). */
const GRAPH_PRODUCER = 1286;

interface Node {
  name: string;
  op: string;
  input?: string[];
  attr: Record<string, unknown>;
}

const typeAttr = (dtype: number) => ({ type: dtype });
const strAttr = (s: string) => ({ s: Buffer.from(s) });
const boolAttr = (b: boolean) => ({ b });

/** A string Const: a scalar for one value unless `vector`, else a vector. */
function stringConst(name: string, values: string[], vector: boolean): Node {
  const tensor = {
    dtype: DT_STRING,
    tensorShape: shapeMessage(vector ? [values.length] : []),
    stringVal: values.map((v) => Buffer.from(v)),
  };
  return { name, op: 'Const', attr: { dtype: typeAttr(DT_STRING), value: { tensor } } };
}

function zeroScalarConst(name: string, dtype: DType): Node {
  const t = dtypeEnum(dtype);
  const tensor = dtype === 'string'
    ? { dtype: t, tensorShape: shapeMessage([]), stringVal: [Buffer.alloc(0)] }
    : { dtype: t, tensorShape: shapeMessage([]), tensorContent: Buffer.alloc(dtypeBytes(dtype)) };
  return { name, op: 'Const', attr: { dtype: typeAttr(t), value: { tensor } } };
}

function int32VectorConst(name: string, values: number[]): Node {
  const content = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => content.writeInt32LE(v, 4 * i));
  return {
    name, op: 'Const',
    attr: { dtype: typeAttr(DT_INT32), value: { tensor: { dtype: DT_INT32, tensorShape: shapeMessage([values.length]), tensorContent: content } } },
  };
}

/** Names that are optimiser state or counters rather than weights (for `trainable_variables`). */
export function looksTrainable(v: VariableInfo): boolean {
  if (!['float16', 'bfloat16', 'float32', 'float64'].includes(v.dtype)) return false;
  return !/(^|\/)(global_step|beta[12]_power)$|\/(Adam|Adam_1|Momentum)$/.test(v.name);
}

/** TensorFlow's rule for op names; a variable whose name breaks it cannot be a graph node. */
const OP_NAME = /^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$/;

/**
 * The MetaGraphDef bytes. Variables whose names are not valid op names (e.g. TF2's `_CHECKPOINTABLE_OBJECT_GRAPH`)
 * are left out of the graph: they stay in the checkpoint, the graph just does not restore them.
 */
export function buildMetaGraph(all: VariableInfo[], trainable: (v: VariableInfo) => boolean = looksTrainable): Uint8Array {
  const variables = all.filter((v) => OP_NAME.test(v.name));
  const nodes: Node[] = [];
  const variableDefs: Uint8Array[] = [];
  const trainableDefs: Uint8Array[] = [];
  for (const v of variables) {
    const t = dtypeEnum(v.dtype);
    const zeros = `${v.name}/Initializer/zeros`;
    nodes.push(
      {
        name: v.name, op: 'VariableV2',
        attr: { dtype: typeAttr(t), shape: { shape: shapeMessage(v.shape) }, container: strAttr(''), shared_name: strAttr('') },
      },
      int32VectorConst(`${zeros}/shape_as_tensor`, v.shape),
      zeroScalarConst(`${zeros}/Const`, v.dtype),
      { name: zeros, op: 'Fill', input: [`${zeros}/shape_as_tensor`, `${zeros}/Const`], attr: { T: typeAttr(t), index_type: typeAttr(DT_INT32) } },
      {
        name: `${v.name}/Assign`, op: 'Assign', input: [v.name, zeros],
        attr: { T: typeAttr(t), use_locking: boolAttr(true), validate_shape: boolAttr(true) },
      },
      { name: `${v.name}/read`, op: 'Identity', input: [v.name], attr: { T: typeAttr(t) } },
    );
    const def = VariableDef.encode(VariableDef.fromObject({
      variableName: `${v.name}:0`, initializerName: `${v.name}/Assign`, snapshotName: `${v.name}/read:0`,
      initialValueName: `${zeros}:0`, trainable: trainable(v),
    })).finish();
    variableDefs.push(def);
    if (trainable(v)) trainableDefs.push(def);
  }
  const names = variables.map((v) => v.name);
  const dtypes = { list: { type: variables.map((v) => dtypeEnum(v.dtype)) } };
  nodes.push(
    stringConst('save/Const', ['model'], false),
    stringConst('save/SaveV2/tensor_names', names, true),
    stringConst('save/SaveV2/shape_and_slices', names.map(() => ''), true),
    {
      name: 'save/SaveV2', op: 'SaveV2',
      input: ['save/Const', 'save/SaveV2/tensor_names', 'save/SaveV2/shape_and_slices', ...names], attr: { dtypes },
    },
    { name: 'save/control_dependency', op: 'Identity', input: ['save/Const', '^save/SaveV2'], attr: { T: typeAttr(DT_STRING) } },
    stringConst('save/RestoreV2/tensor_names', names, true),
    stringConst('save/RestoreV2/shape_and_slices', names.map(() => ''), true),
    {
      name: 'save/RestoreV2', op: 'RestoreV2',
      input: ['save/Const', 'save/RestoreV2/tensor_names', 'save/RestoreV2/shape_and_slices'], attr: { dtypes },
    },
  );
  const assigns = variables.map((v, i) => {
    const name = i === 0 ? 'save/Assign' : `save/Assign_${i}`;
    nodes.push({
      name, op: 'Assign', input: [v.name, `save/RestoreV2:${i}`],
      attr: { T: typeAttr(dtypeEnum(v.dtype)), use_locking: boolAttr(true), validate_shape: boolAttr(true) },
    });
    return `^${name}`;
  });
  nodes.push({ name: 'save/restore_all', op: 'NoOp', input: assigns, attr: {} });

  const meta = MetaGraphDef.fromObject({
    metaInfoDef: { metaGraphVersion: 'thaw', tags: [] },
    graphDef: { node: nodes, versions: { producer: GRAPH_PRODUCER } },
    saverDef: {
      filenameTensorName: 'save/Const:0', saveTensorName: 'save/control_dependency:0', restoreOpName: 'save/restore_all',
      maxToKeep: 5, keepCheckpointEveryNHours: 10000, version: 2,
    },
    collectionDef: {
      variables: { bytesList: { value: variableDefs } },
      ...(trainableDefs.length > 0 ? { trainable_variables: { bytesList: { value: trainableDefs } } } : {}),
    },
  });
  return MetaGraphDef.encode(meta).finish();
}
