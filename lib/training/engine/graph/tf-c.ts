/**
 * TensorFlow's C API (c_api.h, c_api_experimental.h) through koffi, from the libtensorflow that `thaw setup` puts in
 * thaw's venv: the tensorflow wheel's libtensorflow_cc.so.2 (which exports the TF_* symbols) and its
 * libtensorflow_framework.so.2. THAW_TF_PACKAGE_DIR names another wheel's tensorflow/ folder (a CUDA wheel on a GPU
 * host). When the process already has a libtensorflow_cc.so.2 mapped (tfjs-node loaded first), that one is used, so
 * one process never holds two TensorFlow runtimes.
 *
 * Only what the graph engine needs is bound: building a graph op by op, sessions with a ConfigProto, tensors.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../../util/package-root';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => any;
/** An opaque C pointer as koffi hands it out. */
export type Ptr = unknown;

export const DT = { float32: 1, int32: 3, bool: 10, int64: 9, resource: 20 } as const;
export type DType = keyof typeof DT;

export interface TfOutput {
  oper: Ptr;
  index: number;
}

export interface TfC {
  /** Where libtensorflow was loaded from. */
  libraryPath: string;
  version: string;
  koffi: any;
  TF_NewStatus: Fn;
  TF_DeleteStatus: Fn;
  TF_GetCode: Fn;
  TF_Message: Fn;
  TF_NewGraph: Fn;
  TF_DeleteGraph: Fn;
  TF_NewOperation: Fn;
  TF_AddInput: Fn;
  TF_AddInputList: Fn;
  TF_AddControlInput: Fn;
  TF_SetAttrType: Fn;
  TF_SetAttrInt: Fn;
  TF_SetAttrIntList: Fn;
  TF_SetAttrFloat: Fn;
  TF_SetAttrBool: Fn;
  TF_SetAttrString: Fn;
  TF_SetAttrShape: Fn;
  TF_SetAttrTensor: Fn;
  TF_FinishOperation: Fn;
  TF_OperationNumOutputs: Fn;
  TF_OperationName: Fn;
  TF_GraphGetTensorNumDims: Fn;
  TF_GraphGetTensorShape: Fn;
  TF_OperationOutputType: Fn;
  TF_NewSessionOptions: Fn;
  TF_DeleteSessionOptions: Fn;
  TF_SetConfig: Fn;
  TF_NewSession: Fn;
  TF_CloseSession: Fn;
  TF_DeleteSession: Fn;
  TF_SessionRun: Fn;
  /** TF_SessionRun with the outputs as a raw pointer (native memory from koffi.alloc), for `.async` calls. */
  TF_SessionRunRaw: Fn & { async: Fn };
  TF_SessionListDevices: Fn;
  TF_DeviceListCount: Fn;
  TF_DeviceListType: Fn;
  TF_DeleteDeviceList: Fn;
  TF_AllocateTensor: Fn;
  TF_TensorData: Fn;
  TF_TensorByteSize: Fn;
  TF_DeleteTensor: Fn;
  TF_NewBufferFromString: Fn;
  TF_DeleteBuffer: Fn;
  TF_NewBuffer: Fn;
  TF_CreateRunOptions: Fn;
  TF_SetTfXlaCpuGlobalJit: Fn;
  TF_SetXlaAutoJitMode: Fn;
}

/** The tensorflow/ folder `packageDir` (settings: THAW_TF_PACKAGE_DIR) or else the wheel's in thaw's venv, or null. */
export function findTensorFlowPackage(packageDir?: string): { dir: string | null; searched: string[] } {
  const searched: string[] = [];
  if (packageDir) {
    searched.push(packageDir);
    return { dir: existsSync(path.join(packageDir, 'libtensorflow_cc.so.2')) ? packageDir : null, searched };
  }
  const lib = path.join(PACKAGE_ROOT, '.venv', 'lib');
  let pythons: string[] = [];
  try {
    pythons = readdirSync(lib).filter((d) => d.startsWith('python3')).sort();
  } catch {
    // no venv
  }
  for (const py of pythons) {
    const dir = path.join(lib, py, 'site-packages', 'tensorflow');
    searched.push(dir);
    if (existsSync(path.join(dir, 'libtensorflow_cc.so.2'))) return { dir, searched };
  }
  if (searched.length === 0) searched.push(path.join(lib, 'python3.*', 'site-packages', 'tensorflow'));
  return { dir: null, searched };
}

/** A libtensorflow_cc.so.2 this process has mapped already (tfjs-node's), to share instead of loading a second one. */
function mappedLibtensorflow(): string | null {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const m = /\s(\/\S*\/libtensorflow_cc\.so\.2)\s*$/m.exec(maps);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

let loaded: TfC | null = null;

const RTLD_NOW = 0x2;
const RTLD_NODELETE = 0x1000;

/**
 * dlopen(file, RTLD_NODELETE) once: koffi dlcloses what it loaded when the process exits, and libtensorflow cannot be
 * unloaded (its static destructors then crash the exit with SIGSEGV). Pinned, the library stays mapped to the end.
 */
function pinLibrary(koffi: any, file: string): void {
  const dlopen = koffi.load('libc.so.6').func('void* dlopen(const char*, int)') as Fn;
  if (!dlopen(file, RTLD_NOW | RTLD_NODELETE)) throw new Error(`could not load ${file}`);
}

/**
 * Loads libtensorflow (from `packageDir`, settings.training.tfPackageDir, or the venv's wheel) and binds the C API, once
 * per process. Throws with what was searched when absent.
 */
export function loadTfC(packageDir?: string): TfC {
  if (loaded) return loaded;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi');
  let libraryPath = mappedLibtensorflow();
  if (!libraryPath) {
    const { dir, searched } = findTensorFlowPackage(packageDir);
    if (!dir) throw new Error(`no libtensorflow_cc.so.2 in ${searched.join(', ')} (run \`npx thaw setup\`, or set THAW_TF_PACKAGE_DIR)`);
    // The framework library first: libtensorflow_cc.so.2 needs it and finds it by soname only through its own rpath.
    libraryPath = path.join(dir, 'libtensorflow_cc.so.2');
    for (const file of [path.join(dir, 'libtensorflow_framework.so.2'), libraryPath]) {
      pinLibrary(koffi, file);
      koffi.load(file);
    }
  }
  const lib = koffi.load(libraryPath);
  for (const name of ['TF_Status', 'TF_Graph', 'TF_Operation', 'TF_OperationDescription', 'TF_Tensor', 'TF_Session',
    'TF_SessionOptions', 'TF_DeviceList']) {
    koffi.opaque(name);
  }
  koffi.struct('TF_Buffer', { data: 'const void*', length: 'size_t', data_deallocator: 'void*' });
  koffi.struct('TF_Output', { oper: 'TF_Operation*', index: 'int' });
  const f = (decl: string): Fn => lib.func(decl);
  const c: TfC = {
    libraryPath,
    version: '',
    koffi,
    TF_NewStatus: f('TF_Status* TF_NewStatus()'),
    TF_DeleteStatus: f('void TF_DeleteStatus(TF_Status*)'),
    TF_GetCode: f('int TF_GetCode(const TF_Status*)'),
    TF_Message: f('const char* TF_Message(const TF_Status*)'),
    TF_NewGraph: f('TF_Graph* TF_NewGraph()'),
    TF_DeleteGraph: f('void TF_DeleteGraph(TF_Graph*)'),
    TF_NewOperation: f('TF_OperationDescription* TF_NewOperation(TF_Graph*, const char*, const char*)'),
    TF_AddInput: f('void TF_AddInput(TF_OperationDescription*, TF_Output)'),
    TF_AddInputList: f('void TF_AddInputList(TF_OperationDescription*, const TF_Output*, int)'),
    TF_AddControlInput: f('void TF_AddControlInput(TF_OperationDescription*, TF_Operation*)'),
    TF_SetAttrType: f('void TF_SetAttrType(TF_OperationDescription*, const char*, int)'),
    TF_SetAttrInt: f('void TF_SetAttrInt(TF_OperationDescription*, const char*, int64_t)'),
    TF_SetAttrIntList: f('void TF_SetAttrIntList(TF_OperationDescription*, const char*, const int64_t*, int)'),
    TF_SetAttrFloat: f('void TF_SetAttrFloat(TF_OperationDescription*, const char*, float)'),
    TF_SetAttrBool: f('void TF_SetAttrBool(TF_OperationDescription*, const char*, uint8_t)'),
    TF_SetAttrString: f('void TF_SetAttrString(TF_OperationDescription*, const char*, const void*, size_t)'),
    TF_SetAttrShape: f('void TF_SetAttrShape(TF_OperationDescription*, const char*, const int64_t*, int)'),
    TF_SetAttrTensor: f('void TF_SetAttrTensor(TF_OperationDescription*, const char*, TF_Tensor*, TF_Status*)'),
    TF_FinishOperation: f('TF_Operation* TF_FinishOperation(TF_OperationDescription*, TF_Status*)'),
    TF_OperationNumOutputs: f('int TF_OperationNumOutputs(TF_Operation*)'),
    TF_OperationName: f('const char* TF_OperationName(TF_Operation*)'),
    TF_GraphGetTensorNumDims: f('int TF_GraphGetTensorNumDims(TF_Graph*, TF_Output, TF_Status*)'),
    TF_GraphGetTensorShape: f('void TF_GraphGetTensorShape(TF_Graph*, TF_Output, _Out_ int64_t*, int, TF_Status*)'),
    TF_OperationOutputType: f('int TF_OperationOutputType(TF_Output)'),
    TF_NewSessionOptions: f('TF_SessionOptions* TF_NewSessionOptions()'),
    TF_DeleteSessionOptions: f('void TF_DeleteSessionOptions(TF_SessionOptions*)'),
    TF_SetConfig: f('void TF_SetConfig(TF_SessionOptions*, const void*, size_t, TF_Status*)'),
    TF_NewSession: f('TF_Session* TF_NewSession(TF_Graph*, const TF_SessionOptions*, TF_Status*)'),
    TF_CloseSession: f('void TF_CloseSession(TF_Session*, TF_Status*)'),
    TF_DeleteSession: f('void TF_DeleteSession(TF_Session*, TF_Status*)'),
    TF_SessionRun: f('void TF_SessionRun(TF_Session*, const TF_Buffer*, const TF_Output*, TF_Tensor**, int, ' +
      'const TF_Output*, _Out_ TF_Tensor**, int, TF_Operation**, int, TF_Buffer*, TF_Status*)'),
    TF_SessionRunRaw: f('void TF_SessionRun(TF_Session*, const TF_Buffer*, const TF_Output*, TF_Tensor**, int, ' +
      'const TF_Output*, void*, int, TF_Operation**, int, TF_Buffer*, TF_Status*)') as TfC['TF_SessionRunRaw'],
    TF_SessionListDevices: f('TF_DeviceList* TF_SessionListDevices(TF_Session*, TF_Status*)'),
    TF_DeviceListCount: f('int TF_DeviceListCount(const TF_DeviceList*)'),
    TF_DeviceListType: f('const char* TF_DeviceListType(const TF_DeviceList*, int, TF_Status*)'),
    TF_DeleteDeviceList: f('void TF_DeleteDeviceList(TF_DeviceList*)'),
    TF_AllocateTensor: f('TF_Tensor* TF_AllocateTensor(int, const int64_t*, int, size_t)'),
    TF_TensorData: f('void* TF_TensorData(const TF_Tensor*)'),
    TF_TensorByteSize: f('size_t TF_TensorByteSize(const TF_Tensor*)'),
    TF_DeleteTensor: f('void TF_DeleteTensor(TF_Tensor*)'),
    TF_NewBufferFromString: f('TF_Buffer* TF_NewBufferFromString(const void*, size_t)'),
    TF_DeleteBuffer: f('void TF_DeleteBuffer(TF_Buffer*)'),
    TF_NewBuffer: f('TF_Buffer* TF_NewBuffer()'),
    TF_CreateRunOptions: f('TF_Buffer* TF_CreateRunOptions(uint8_t)'),
    TF_SetTfXlaCpuGlobalJit: f('uint8_t TF_SetTfXlaCpuGlobalJit(uint8_t)'),
    TF_SetXlaAutoJitMode: f('void TF_SetXlaAutoJitMode(const char*)'),
  };
  c.version = (lib.func('const char* TF_Version()') as Fn)();
  loaded = c;
  return c;
}

/** A reusable TF_Status that throws the message of any non-OK call. */
export class Status {
  readonly ptr: Ptr;
  constructor(private readonly c: TfC) {
    this.ptr = c.TF_NewStatus();
  }

  check(what: string): void {
    if (this.c.TF_GetCode(this.ptr) !== 0) throw new Error(`${what}: ${this.c.TF_Message(this.ptr)}`);
  }

  dispose(): void {
    this.c.TF_DeleteStatus(this.ptr);
  }
}

const BYTES: Record<DType, number> = { float32: 4, int32: 4, bool: 1, int64: 8, resource: 0 };

/** A new TF_Tensor holding `data` (copied in). The caller deletes it (TF_DeleteTensor). */
export function newTensor(c: TfC, dtype: DType, shape: number[], data: ArrayLike<number> | ArrayBufferView): Ptr {
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = count * BYTES[dtype];
  const t = c.TF_AllocateTensor(DT[dtype], shape, shape.length, bytes);
  if (bytes > 0) {
    const view = c.koffi.view(c.TF_TensorData(t), bytes) as ArrayBuffer;
    if (dtype === 'float32') new Float32Array(view).set(data as ArrayLike<number>);
    else if (dtype === 'int32') new Int32Array(view).set(data as ArrayLike<number>);
    else if (dtype === 'bool') new Uint8Array(view).set(data as ArrayLike<number>);
    else new BigInt64Array(view).set(Array.from(data as ArrayLike<number>, (v) => BigInt(v)));
  }
  return t;
}

/** The bytes of a TF_Buffer, copied out. */
export function bufferBytes(c: TfC, buffer: Ptr): Uint8Array {
  const { data, length } = c.koffi.decode(buffer, 'TF_Buffer') as { data: unknown; length: number | bigint };
  const n = Number(length);
  return n === 0 ? new Uint8Array(0) : new Uint8Array((c.koffi.view(data, n) as ArrayBuffer).slice(0));
}

/** The float32 contents of a TF_Tensor, copied out. */
export function readFloat32(c: TfC, t: Ptr): Float32Array {
  const bytes = Number(c.TF_TensorByteSize(t));
  if (bytes === 0) return new Float32Array(0);
  return new Float32Array((c.koffi.view(c.TF_TensorData(t), bytes) as ArrayBuffer).slice(0));
}

// -- ConfigProto, hand-encoded (protobuf wire format): the few fields the engine sets -----------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

const field = (num: number, wire: number) => varint((num << 3) | wire);
const intField = (num: number, value: number) => [...field(num, 0), ...varint(value)];
const messageField = (num: number, body: number[]) => [...field(num, 2), ...varint(body.length), ...body];

export interface SessionConfig {
  /** 0: TensorFlow's default (one thread per core). */
  intraOpThreads: number;
  interOpThreads: number;
  /** XLA auto-clustering (global_jit_level ON_1). */
  xla: boolean;
}

/**
 * tensorflow.ConfigProto: intra_op_parallelism_threads (2), inter_op_parallelism_threads (5),
 * graph_options (10) → optimizer_options (3) → global_jit_level (5: ON_1 = 1, OFF = -1).
 */
export function configProto(s: SessionConfig): Uint8Array {
  const bytes: number[] = [];
  if (s.intraOpThreads > 0) bytes.push(...intField(2, s.intraOpThreads));
  if (s.interOpThreads > 0) bytes.push(...intField(5, s.interOpThreads));
  bytes.push(...messageField(10, messageField(3, intField(5, s.xla ? 1 : -1))));
  return Uint8Array.from(bytes);
}
