/** Messages between run-stage.ts (parent) and stage-child.ts over the child's IPC channel. */
import type { UserErrorDetails } from '../errors';
import type { StageProgress, StageResult, StageRunRequest } from './types';

export type ParentMessage = { type: 'run'; request: StageRunRequest } | { type: 'stop' };

export type ChildMessage =
  | { type: 'log'; line: string }
  | { type: 'progress'; progress: StageProgress }
  | { type: 'result'; result: StageResult }
  | { type: 'error'; userError: { type: string; message: string; details: UserErrorDetails } }
  | { type: 'error'; message: string; stack?: string };
