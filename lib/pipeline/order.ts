/**
 * The order stages run in: parents before children, otherwise in file order (at each step, the first stage in the
 * file whose parent is placed). O(n log n) in the number of stages, with a heap of the stages that are ready, so a
 * pipeline at the stage limit orders in microseconds. Pure: also usable where Node's modules are not.
 */
import type { StageLink } from './folders';

export type StageOrder = { order: number[] } | { cycle: string[] };

/** `stages` in file order, with unique names and parents that exist (the loader checks both first). */
export function stageOrder(stages: readonly StageLink[]): StageOrder {
  const n = stages.length;
  const names: string[] = new Array<string>(n);
  const parents: Array<string | null> = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const s = stages[i];
    names[i] = s.name;
    parents[i] = s.after;
  }
  const children = new Map<string, number[]>();
  const ready = new MinHeap();
  for (let i = 0; i < n; i++) {
    const after = parents[i];
    if (after === null) ready.push(i);
    else {
      const list = children.get(after);
      if (list) list.push(i);
      else children.set(after, [i]);
    }
  }
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const child of children.get(names[i]) ?? []) ready.push(child);
  }
  if (order.length === n) return { order };
  const placed = new Uint8Array(n);
  for (const i of order) placed[i] = 1;
  return { cycle: findCycle(names, parents, placed.indexOf(0)) };
}

/** Follows `after` from an unplaceable stage until a name repeats; returns the names on the cycle. */
function findCycle(names: readonly string[], parents: ReadonlyArray<string | null>, from: number): string[] {
  const parentOf = new Map(names.map((name, i) => [name, parents[i]]));
  const walk: string[] = [];
  const seenAt = new Map<string, number>();
  let name: string | null | undefined = names[from];
  while (name && !seenAt.has(name)) {
    seenAt.set(name, walk.length);
    walk.push(name);
    name = parentOf.get(name);
  }
  return name ? [...walk.slice(seenAt.get(name)), name] : walk;
}

/** A binary min-heap of stage indices. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const a = this.items;
    a.push(value);
    for (let i = a.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (a[up] <= a[i]) break;
      [a[up], a[i]] = [a[i], a[up]];
      i = up;
    }
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < a.length && a[l] < a[min]) min = l;
        if (r < a.length && a[r] < a[min]) min = r;
        if (min === i) break;
        [a[min], a[i]] = [a[i], a[min]];
        i = min;
      }
    }
    return top;
  }
}
