/**
 * The team's shared folder (../shared beside the clone, as CI lays it out; THAW_SHARED_DIR overrides):
 * real TensorFlow checkpoints under fixtures/tf-checkpoints/.
 */
import path from 'node:path';
import { REPO_ROOT } from './python';

export const SHARED_DIR = process.env.THAW_SHARED_DIR ?? path.join(REPO_ROOT, '..', 'shared');
export const TF_FIXTURES_DIR = path.join(SHARED_DIR, 'fixtures', 'tf-checkpoints');
