/** Messages between run-stage.ts (parent) and stage-child.ts over the child's IPC channel. */
import type { UserErrorDetails } from '../errors';
import type { ThawSettings } from '../settings';
import type { StageProgress, StageResult, StageRunRequest } from './types';

/** `settings`: the parent's, read once at its edge; absent, the child reads its own environment. */
export type ParentMessage = { type: 'run'; request: StageRunRequest; settings?: ThawSettings } | { type: 'stop' };

export type ChildMessage =
  | { type: 'log'; line: string }
  | { type: 'progress'; progress: StageProgress }
  | { type: 'result'; result: StageResult }
  | { type: 'error'; userError: { type: string; message: string; details: UserErrorDetails } }
  | { type: 'error'; message: string; stack?: string };
