/**
 * Pipeline YAML → a Document and plain JS, bounded in time and memory whatever the text holds. The `yaml` library
 * composes nodes recursively (5,000 nested `[` overflow the stack) and expands aliases when converting to JS (a
 * "billion laughs" file expands to 10^9 nodes; `&x [*x]` to a circular structure). So before it composes, the
 * nesting depth is measured on the parser's tokens (an iterative walk); before it converts, every alias is checked:
 * its anchor comes before it, it does not refer to a collection that contains it, and all aliases together add at
 * most MAX_ALIAS_EXPANSION nodes. Values JSON cannot hold exactly (NaN, ±Infinity, integers beyond 2^53, NUL
 * characters), keys that are collections and tags outside YAML 1.2's core schema are problems too. Each problem has
 * the offset of the node it is about.
 */
import {
  Composer,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Parser,
  type CST,
  type Document,
  type LineCounter,
  type Node,
} from 'yaml';
import { MAX_ALIAS_EXPANSION, MAX_YAML_DEPTH } from './limits';

export interface YamlProblem {
  /** Offset in the text (0-based); the problem's line:column. */
  offset: number;
  /** Document path of the node, when it has one. */
  path: Array<string | number>;
  message: string;
}

export interface ParsedYaml {
  /** null when the text could not be composed safely (see problems). */
  doc: Document | null;
  /** The document as plain JS; undefined when there are problems. */
  value: unknown;
  problems: YamlProblem[];
}

const COMPOSE_OPTIONS = {
  // YAML 1.2's core schema whatever a %YAML directive says: no 1.1 booleans (yes/no), sexagesimals or merge keys.
  version: '1.2',
  schema: 'core',
  // !!binary, !!set, !!omap, !!timestamp would give Uint8Array, Set, Map, Date: left unresolved, they are problems.
  resolveKnownTags: false,
  uniqueKeys: true,
  prettyErrors: false,
} as const;

export function parseYaml(text: string, lines: LineCounter): ParsedYaml {
  // The parser's own stack grows with the nesting (a 1 MiB file of "[" costs it a GB): a rough count goes first.
  const rough = roughlyTooDeep(text);
  if (rough !== null) {
    lines.addNewLine(0);
    for (let i = text.indexOf('\n'); i >= 0 && i < rough; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  }
  const tokens = rough === null ? Array.from(new Parser(lines.addNewLine).parse(text)) : [];
  const deep = rough ?? tooDeep(tokens);
  if (deep !== null) {
    return {
      doc: null,
      value: undefined,
      problems: [{
        offset: deep,
        path: [],
        message: `YAML nesting deeper than ${MAX_YAML_DEPTH} levels: a pipeline needs about 4 (stages[i].data.spatial_size); flatten the structure`,
      }],
    };
  }
  let doc: Document | null = null;
  const problems: YamlProblem[] = [];
  for (const d of new Composer(COMPOSE_OPTIONS).compose(tokens, true, text.length)) {
    if (!doc) doc = d;
    else {
      problems.push({ offset: d.range[0], path: [], message: 'YAML syntax: the file holds more than one document (a second "---"): a pipeline is one document' });
      break;
    }
  }
  if (!doc) return { doc: null, value: undefined, problems: [{ offset: 0, path: [], message: 'the file holds no YAML document' }] };
  for (const e of [...doc.errors, ...doc.warnings]) {
    problems.push({ offset: e.pos[0], path: [], message: `YAML${e.name === 'YAMLWarning' ? '' : ' syntax'}: ${e.message.split('\n')[0]}` });
  }
  if (problems.length > 0) return { doc, value: undefined, problems };

  problems.push(...checkNodes(doc));
  if (problems.length > 0) return { doc, value: undefined, problems };
  try {
    // Aliases are checked above (MAX_ALIAS_EXPANSION): the library's own count is not needed.
    return { doc, value: doc.toJS({ maxAliasCount: -1 }), problems };
  } catch (err) {
    // Not expected after the checks above; still one line rather than an internal error.
    return { doc, value: undefined, problems: [{ offset: 0, path: [], message: `YAML: ${(err as Error).message.split('\n')[0]}` }] };
  }
}

/** Far deeper than any pipeline, and than MAX_YAML_DEPTH: what the rough count refuses before parsing. */
const ROUGH_DEPTH_LIMIT = 16 * MAX_YAML_DEPTH;

/**
 * The offset where the text is obviously nested far too deep, or null: unclosed `[` / `{` outside quotes and comments,
 * or more compact block entries (`- - - x`) on one line than ROUGH_DEPTH_LIMIT. It may miss deep nesting (tooDeep
 * decides on the tokens); it does not refuse what a pipeline would hold.
 */
function roughlyTooDeep(text: string): number | null {
  // Offsets of the unclosed brackets and of this line's compact entries; past the limit, the one beyond MAX_YAML_DEPTH.
  const open: number[] = [];
  let compact: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const prev = i === 0 ? '\n' : text[i - 1];
    const boundary = prev === '\n' || prev === ' ' || prev === '\t' || prev === '[' || prev === '{' || prev === ',' || prev === ':';
    const spaceAfter = /[ \t\n]/.test(text[i + 1] ?? '\n');
    if (c === '\n') compact = [];
    else if (c === '#' && (prev === ' ' || prev === '\t' || prev === '\n')) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if ((c === '"' || c === "'") && boundary) {
      // A quoted scalar: skip to its end (single quotes escape themselves, double quotes by backslash).
      for (i++; i < text.length; i++) {
        if (c === '"' && text[i] === '\\') i++;
        else if (text[i] === c) {
          if (c === "'" && text[i + 1] === "'") i++;
          else break;
        }
      }
    } else if (c === '[' || c === '{') {
      open.push(i);
      if (open.length > ROUGH_DEPTH_LIMIT) return open[MAX_YAML_DEPTH];
    } else if (c === ']' || c === '}') {
      open.pop();
    } else if (open.length === 0 && (((c === '-' || c === '?') && boundary) || c === ':') && spaceAfter) {
      compact.push(i);
      if (compact.length > ROUGH_DEPTH_LIMIT) return compact[MAX_YAML_DEPTH];
    }
  }
  return null;
}

/** The offset of the first token nested deeper than MAX_YAML_DEPTH, or null. Iterative: no recursion on the input. */
function tooDeep(tokens: readonly CST.Token[]): number | null {
  const stack: Array<[CST.Token, number]> = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (depth > MAX_YAML_DEPTH) return token.offset;
    if (token.type === 'document') {
      if (token.value) stack.push([token.value, depth]);
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      for (const item of token.items) {
        if ('key' in item && item.key) stack.push([item.key, depth + 1]);
        if (item.value) stack.push([item.value, depth + 1]);
      }
    }
  }
  return null;
}

const SAFE = Number.MAX_SAFE_INTEGER;

interface Walked {
  /** Nodes, counting what aliases stand for. */
  size: number;
  /** Depth, counting what aliases stand for. */
  depth: number;
}

/**
 * Aliases, keys and scalar values of a composed document (depth already bounded, so recursion is safe). An alias
 * refers to the last node before it with that anchor, as the library resolves it.
 */
function checkNodes(doc: Document): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const anchors = new Map<string, Node>();
  const walked = new Map<Node, Walked>();
  let expansion = 0;
  let stopped = false;
  const report = (node: Node | null | undefined, path: Array<string | number>, message: string) => {
    problems.push({ offset: node?.range?.[0] ?? 0, path: [...path], message });
  };

  const walk = (node: unknown, path: Array<string | number>): Walked => {
    if (stopped || node === null || node === undefined) return { size: 1, depth: 0 };
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) {
        report(node, path, `YAML alias *${node.source} has no anchor &${node.source} before it: define the anchor first, or write the value out`);
        return { size: 1, depth: 0 };
      }
      const seen = walked.get(target);
      if (!seen) {
        report(node, path, `YAML alias *${node.source} refers to the collection that contains it (a circular structure): write the value out`);
        return { size: 1, depth: 0 };
      }
      expansion += seen.size;
      if (expansion > MAX_ALIAS_EXPANSION) {
        report(node, path, `YAML aliases expand the document by more than ${MAX_ALIAS_EXPANSION} nodes (an alias bomb?): write the values out or use fewer aliases`);
        stopped = true;
      } else if (seen.depth + path.length > MAX_YAML_DEPTH) {
        report(node, path, `YAML alias *${node.source} nests the document deeper than ${MAX_YAML_DEPTH} levels: write the value out`);
        stopped = true;
      }
      return seen;
    }
    const n = node as Node;
    if (n.anchor) anchors.set(n.anchor, n);
    let result: Walked;
    if (isMap(n)) {
      result = { size: 1, depth: 1 };
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        let name: string;
        if (key === null || key === undefined) name = '';
        else if (isScalar(key)) {
          checkScalar(key, path, report);
          name = String(key.value);
        } else {
          report(key as Node, path, 'a YAML key must be a plain name, not a list, a mapping or an alias');
          name = '?';
        }
        const child = walk(pair.value, [...path, name]);
        result.size += 1 + child.size;
        result.depth = Math.max(result.depth, child.depth + 1);
      }
    } else if (isSeq(n)) {
      result = { size: 1, depth: 1 };
      n.items.forEach((item, i) => {
        const child = walk(item, [...path, i]);
        result.size += child.size;
        result.depth = Math.max(result.depth, child.depth + 1);
      });
    } else {
      if (isScalar(n)) checkScalar(n, path, report);
      result = { size: 1, depth: 0 };
    }
    walked.set(n, result);
    return result;
  };
  walk(doc.contents, []);
  return problems;
}

function checkScalar(
  node: Node & { value: unknown; source?: string },
  path: Array<string | number>,
  report: (node: Node, path: Array<string | number>, message: string) => void,
): void {
  const v = node.value;
  const written = typeof node.source === 'string' ? node.source : String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) report(node, path, `${written} is not a number a pipeline can use: give a finite number`);
    else if (Math.abs(v) > SAFE) report(node, path, `${written} is beyond the numbers a pipeline holds exactly (at most ${SAFE}): give a smaller value`);
  } else if (typeof v === 'string' && v.includes('\0')) {
    report(node, path, 'contains a NUL character (\\0): remove it');
  }
}
