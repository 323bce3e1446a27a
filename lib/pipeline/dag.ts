/**
 * The stage DAG: which stages start from scratch, which follow which, and the order they run in (parents before
 * children, otherwise in file order). The one place that walks `after` links: the loader, the checkpoint folders, and
 * the workflow (scheduling, ETA) all use it. Pure and deterministic, with no Node imports: workflow code bundles it.
 */

export interface StageLink {
  name: string;
  after: string | null;
}

/** Each parent's children in file order; the roots (stages with `after: null`) are under null. */
export function childrenByParent<S extends StageLink>(stages: readonly S[]): Map<string | null, S[]> {
  const children = new Map<string | null, S[]>();
  for (const s of stages) {
    const list = children.get(s.after);
    if (list) list.push(s);
    else children.set(s.after, [s]);
  }
  return children;
}

/** The stages that start from scratch or from the pipeline's base checkpoint, in file order. */
export function roots<S extends StageLink>(stages: readonly S[]): S[] {
  return childrenByParent(stages).get(null) ?? [];
}

/** The stages that start from `name`'s final checkpoint, in file order. */
export function childrenOf<S extends StageLink>(stages: readonly S[], name: string): S[] {
  return childrenByParent(stages).get(name) ?? [];
}

/** Indices into the stages in run order, or the names on a cycle (the first name repeated at the end). */
export type StageOrder = { order: number[] } | { cycle: string[] };

/**
 * Parents before children, otherwise file order (at each step, the first stage in the file whose parent is placed).
 * O(n log n) with a heap of the stages that are ready, reading each stage once, so a pipeline at the stage limit
 * orders in microseconds. `stages` must have unique names (the loader checks first); a missing parent never places.
 */
export function topologicalOrder(stages: readonly StageLink[]): StageOrder {
  const links = stages.map(({ name, after }, index) => ({ name, after, index }));
  const children = childrenByParent(links);
  const ready = new MinHeap();
  for (const root of children.get(null) ?? []) ready.push(root.index);
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const child of children.get(links[i].name) ?? []) ready.push(child.index);
  }
  if (order.length === links.length) return { order };
  const placed = new Uint8Array(links.length);
  for (const i of order) placed[i] = 1;
  return { cycle: findCycle(links, placed.indexOf(0)) };
}

/** Follows `after` from an unplaceable stage until a name repeats; returns the names on the cycle. */
function findCycle(links: readonly StageLink[], from: number): string[] {
  const parentOf = new Map(links.map((s) => [s.name, s.after]));
  const walk: string[] = [];
  const seenAt = new Map<string, number>();
  let name: string | null | undefined = links[from].name;
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
