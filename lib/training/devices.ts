/**
 * GPU pinning for a worker that runs several trainings at once (`thaw worker --gpus N`, `thawPlugin({ devices })`):
 * each training's child process gets one free device through CUDA_VISIBLE_DEVICES, and gives it back when it exits.
 * Without devices (the default) children inherit the worker's environment unchanged.
 */

export class DeviceSlots {
  private readonly free: string[];

  constructor(readonly devices: string[]) {
    this.free = [...devices];
  }

  /** The lowest free device, or null when every device is busy. */
  acquire(): string | null {
    if (this.free.length === 0) return null;
    this.free.sort((a, b) => this.devices.indexOf(a) - this.devices.indexOf(b));
    return this.free.shift()!;
  }

  release(device: string): void {
    if (this.devices.includes(device) && !this.free.includes(device)) this.free.push(device);
  }
}

/**
 * The device ids for `--gpus n`: the first n of the worker's own CUDA_VISIBLE_DEVICES when it lists devices (a
 * scheduler may have given the host's process a subset), else 0..n-1.
 */
export function deviceIds(n: number, env: NodeJS.ProcessEnv = process.env): string[] {
  const visible = (env.CUDA_VISIBLE_DEVICES ?? '').split(',').map((d) => d.trim()).filter(Boolean);
  if (visible.length >= n) return visible.slice(0, n);
  return Array.from({ length: n }, (_, i) => String(i));
}

export interface DeviceLease {
  /** Environment for the training child (empty when no devices are configured). */
  env: Record<string, string>;
  release(): void;
}

const NO_DEVICE: DeviceLease = { env: {}, release: () => undefined };

/**
 * The devices a worker's trainings share, one each: created from the worker's (or the plugin's) options and passed
 * down, so that two workers in one process pin independently.
 */
export class DevicePool {
  private readonly slots: DeviceSlots | null;

  constructor(devices: readonly string[] | null | undefined) {
    this.slots = devices && devices.length > 0 ? new DeviceSlots([...devices]) : null;
  }

  /** A device for one training (held until release()); fails when more trainings run than there are devices. */
  lease(): DeviceLease {
    const pool = this.slots;
    if (!pool) return NO_DEVICE;
    const device = pool.acquire();
    if (device === null) {
      throw new Error(`every GPU (${pool.devices.join(', ')}) is busy: the worker runs more trainings at once than --gpus allows`);
    }
    let released = false;
    return {
      env: { CUDA_VISIBLE_DEVICES: device },
      release: () => {
        if (!released) pool.release(device);
        released = true;
      },
    };
  }
}
