/**
 * Whether a process of ours with this pid is still there (signal 0 reaches it). A pid another user's process has
 * reused answers EPERM, which counts as gone: the process we recorded has ended.
 */
export function processExists(pid: number | undefined): pid is number {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
