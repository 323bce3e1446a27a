/**
 * Translation of Python `re` patterns (the dialect NiftyNet configs are written in) to JavaScript RegExp source.
 *
 * The parser follows CPython 3.11's re/_parser.py step by step, so a pattern Python refuses is refused here too, at
 * the same position. What JavaScript expresses exactly is translated; the rest is refused with a reason:
 * - `.` becomes `[^\n]` (`[\s\S]` under (?s)): JavaScript's `.` also stops at \r, U+2028 and U+2029.
 * - `$` becomes `(?=\n?$)` (end, or before a final newline), `\Z` becomes `$`, `\A` becomes `^`; under (?m) `^` and
 *   `$` become look-arounds on \n only (JavaScript's multiline mode also breaks at \r).
 * - `\s` becomes Python's whitespace set (which includes \x1c-\x1f and excludes U+FEFF, unlike JavaScript's).
 * - `\d`, `\w`, `\b` and (?i) follow ASCII rules, i.e. Python's on the names thaw matches: TensorFlow variable names
 *   are ASCII (TensorFlow's op-name rule). On other characters Python's Unicode classes would differ.
 * - `(?P<n>…)` becomes a plain capturing group and `(?P=n)` a numbered backreference, allowed only where the group is
 *   certainly set when the reference is reached (JavaScript matches an unset group as empty, Python fails).
 * - Scoped (?s:…), (?m:…), (?x:…) are applied during translation; a scoped (?i:…) is refused (Node 20 cannot
 *   express it), as are atomic groups, possessive quantifiers, conditionals, \N{…}, characters outside the BMP,
 *   repeated look-arounds and variable-width look-behind (which Python refuses too).
 */

export class PatternSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly position: number,
    readonly fix: string,
  ) {
    super(`${reason} at position ${position}`);
  }
}

type Range = [number, number];
type Anchor = 'start' | 'end' | 'start_line' | 'end_line' | 'string_start' | 'string_end' | 'boundary' | 'non_boundary';
type GroupKind = 'capture' | 'plain' | 'lookahead' | 'neg_lookahead' | 'lookbehind' | 'neg_lookbehind';

interface Alt {
  t: 'alt';
  branches: Node[][];
}
type Node =
  | { t: 'char'; code: number; pos: number }
  | { t: 'set'; negated: boolean; ranges: Range[]; pos: number }
  | { t: 'any'; dotall: boolean; pos: number }
  | { t: 'anchor'; kind: Anchor; pos: number }
  | { t: 'group'; kind: GroupKind; index: number; body: Alt; pos: number }
  | { t: 'backref'; group: number; pos: number }
  | { t: 'repeat'; min: number; max: number; lazy: boolean; body: Node; pos: number };

export interface Translation {
  /** JavaScript RegExp source (no `u`/`v`, `m` or `s` flags; those are expressed in the source). */
  source: string;
  /** `i` or ''. */
  flags: string;
  /** Position of a repeat nested in another unbounded repeat, the usual cause of catastrophic backtracking. */
  nestedRepeatAt: number | null;
}

/** Longest pattern accepted: selection patterns are short, and a length cap bounds translation work. */
export const MAX_PATTERN_LENGTH = 1000;
/** Largest repeat count accepted (Python allows up to 2^32-2; names are never this long). */
export const MAX_REPEAT_COUNT = 65535;

const WHITESPACE_VERBOSE = ' \t\n\r\v\f';
const SPECIAL_CHARS = '.\\[{()*+?^$|';
const DIGITS = '0123456789';
const OCTDIGITS = '01234567';
const HEXDIGITS = '0123456789abcdefABCDEF';
const PY_FLAG_LETTERS = 'iLmsxatu';
const BMP_MAX = 0xffff;

const DIGIT_RANGES: Range[] = [[0x30, 0x39]];
const WORD_RANGES: Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
/** Python's str.isspace() characters (what `\s` matches in a str pattern). */
/** `\s` under the ASCII flag (?a): [ \t\n\r\f\v]. */
const ASCII_SPACE_RANGES: Range[] = [[0x09, 0x0d], [0x20, 0x20]];
const SPACE_RANGES: Range[] = [
  [0x09, 0x0d], [0x1c, 0x20], [0x85, 0x85], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];
const SIMPLE_ESCAPES: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

function normalise(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalise(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= BMP_MAX) out.push([next, BMP_MAX]);
  return out;
}

function categoryRanges(letter: string, ascii: boolean): Range[] | null {
  const space = ascii ? ASCII_SPACE_RANGES : SPACE_RANGES;
  switch (letter) {
    case 'd': return DIGIT_RANGES;
    case 'D': return complement(DIGIT_RANGES);
    case 'w': return WORD_RANGES;
    case 'W': return complement(WORD_RANGES);
    case 's': return space;
    case 'S': return complement(space);
    default: return null;
  }
}

interface ScopeFlags {
  /** (?a): ASCII classes. Only \s differs from thaw's default (\d, \w and \b are ASCII already). */
  ascii: boolean;
  dotall: boolean;
  multiline: boolean;
  verbose: boolean;
}

type Escape = { t: 'char'; code: number } | { t: 'set'; ranges: Range[] };

class Parser {
  private pos = 0;
  /** Number of groups opened so far (Python's state.groups - 1). */
  private groups = 0;
  private readonly closedGroups = new Set<number>();
  private readonly groupNames = new Map<string, number>();
  ignoreCase = false;
  private readonly global: ScopeFlags = { ascii: false, dotall: false, multiline: false, verbose: false };

  constructor(private readonly src: string) {}

  parse(): Alt {
    const alt = this.parseAlternation(this.global, true);
    if (this.pos < this.src.length) this.fail('unbalanced parenthesis', this.pos, 'remove the ")" or add the missing "("');
    return alt;
  }

  private fail(reason: string, position: number, fix: string): never {
    throw new PatternSyntaxError(reason, position, fix);
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private nextIn(chars: string): boolean {
    const c = this.src[this.pos];
    return c !== undefined && chars.includes(c);
  }

  private eat(s: string): boolean {
    if (this.src[this.pos] === s) {
      this.pos++;
      return true;
    }
    return false;
  }

  private takeWhile(max: number, chars: string): string {
    let out = '';
    while (out.length < max && this.pos < this.src.length && chars.includes(this.src[this.pos])) out += this.src[this.pos++];
    return out;
  }

  private parseAlternation(flags: ScopeFlags, topLevel: boolean): Alt {
    const branches: Node[][] = [];
    do {
      branches.push(this.parseSequence(flags, topLevel && branches.length === 0));
    } while (this.eat('|'));
    return { t: 'alt', branches };
  }

  private parseSequence(flags: ScopeFlags, first: boolean): Node[] {
    const items: Node[] = [];
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === '|' || c === ')') break;
      const start = this.pos++;
      if (flags.verbose && WHITESPACE_VERBOSE.includes(c)) continue;
      if (flags.verbose && c === '#') {
        while (this.pos < this.src.length && this.src[this.pos++] !== '\n');
        continue;
      }
      if (c === '\\') items.push(this.parseEscape(start, flags.ascii));
      else if (!SPECIAL_CHARS.includes(c)) items.push(this.literal(c, start));
      else if (c === '[') items.push(this.parseSet(start, flags.ascii));
      else if ('*+?{'.includes(c)) {
        if (!this.parseRepeat(c, start, items)) items.push({ t: 'char', code: c.charCodeAt(0), pos: start });
      } else if (c === '.') items.push({ t: 'any', dotall: flags.dotall, pos: start });
      else if (c === '(') {
        const group = this.parseGroup(start, flags, first && items.length === 0);
        if (group) items.push(group);
      } else if (c === '^') items.push({ t: 'anchor', kind: flags.multiline ? 'start_line' : 'start', pos: start });
      else items.push({ t: 'anchor', kind: flags.multiline ? 'end_line' : 'end', pos: start });
    }
    return items;
  }

  private literal(c: string, pos: number): Node {
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) {
      this.fail('characters outside the Basic Multilingual Plane are not supported', pos, 'match them with "." instead');
    }
    return { t: 'char', code, pos };
  }

  private parseEscape(start: number, ascii: boolean): Node {
    const c = this.src[this.pos++];
    if (c === undefined) this.fail('bad escape (end of pattern)', start, 'remove the trailing "\\" or escape it as "\\\\"');
    const anchors: Record<string, Anchor> = { A: 'string_start', Z: 'string_end', b: 'boundary', B: 'non_boundary' };
    if (anchors[c]) return { t: 'anchor', kind: anchors[c], pos: start };
    const category = categoryRanges(c, ascii);
    if (category) return { t: 'set', negated: false, ranges: category, pos: start };
    if (c in SIMPLE_ESCAPES) return { t: 'char', code: SIMPLE_ESCAPES[c], pos: start };
    const code = this.parseCodeEscape(c, start);
    if (code !== null) return { t: 'char', code, pos: start };
    if (c === '0') return { t: 'char', code: parseInt(c + this.takeWhile(2, OCTDIGITS), 8), pos: start };
    if (DIGITS.includes(c)) return this.parseNumericEscape(c, start);
    return this.plainEscape(c, start);
  }

  /** `\xhh`, `\uhhhh`, `\Uhhhhhhhh`, `\N{…}`: the code, or null when `c` starts none of them. */
  private parseCodeEscape(c: string, start: number): number | null {
    const widths: Record<string, number> = { x: 2, u: 4, U: 8 };
    if (c === 'N') this.fail('named character escapes (\\N{...}) are not supported', start, 'write the character itself or use \\uXXXX');
    const width = widths[c];
    if (width === undefined) return null;
    const digits = this.takeWhile(width, HEXDIGITS);
    if (digits.length !== width) this.fail(`incomplete escape \\${c}${digits}`, start, `write exactly ${width} hex digits after \\${c}`);
    const code = parseInt(digits, 16);
    if (code > 0x10ffff) this.fail(`bad escape \\${c}${digits}`, start, 'use a code point up to 10FFFF');
    if (code > BMP_MAX) this.fail('characters outside the Basic Multilingual Plane are not supported', start, 'match them with "." instead');
    return code;
  }

  /** `\1`..`\99` backreference or a three-digit octal escape, decided exactly as Python does. */
  private parseNumericEscape(c: string, start: number): Node {
    let digits = c;
    if (this.nextIn(DIGITS)) {
      digits += this.src[this.pos++];
      if (OCTDIGITS.includes(digits[0]) && OCTDIGITS.includes(digits[1]) && this.nextIn(OCTDIGITS)) {
        digits += this.src[this.pos++];
        const code = parseInt(digits, 8);
        if (code > 0o377) this.fail(`octal escape value \\${digits} outside of range 0-0o377`, start, 'use \\xhh or \\uhhhh');
        return { t: 'char', code, pos: start };
      }
    }
    const group = Number(digits);
    if (group > this.groups || group === 0) {
      this.fail(`invalid group reference ${group}`, start + 1, 'refer to a group that comes before the reference');
    }
    return this.backref(group, start);
  }

  private backref(group: number, pos: number): Node {
    if (!this.closedGroups.has(group)) this.fail('cannot refer to an open group', pos, 'move the reference after the group closes');
    return { t: 'backref', group, pos };
  }

  private plainEscape(c: string, start: number): Node {
    if (/[A-Za-z]/.test(c)) this.fail(`bad escape \\${c}`, start, `write "${c}" without the backslash, or "\\\\${c}" for a backslash`);
    return this.literal(c, start);
  }

  private parseClassEscape(start: number, ascii: boolean): Escape {
    const c = this.src[this.pos++];
    if (c === undefined) this.fail('unterminated character set', start, 'close the set with "]"');
    if (c === 'b') return { t: 'char', code: 8 };
    if (c in SIMPLE_ESCAPES) return { t: 'char', code: SIMPLE_ESCAPES[c] };
    const category = categoryRanges(c, ascii);
    if (category) return { t: 'set', ranges: category };
    const code = this.parseCodeEscape(c, start);
    if (code !== null) return { t: 'char', code };
    if (OCTDIGITS.includes(c)) {
      const digits = c + this.takeWhile(2, OCTDIGITS);
      const value = parseInt(digits, 8);
      if (value > 0o377) this.fail(`octal escape value \\${digits} outside of range 0-0o377`, start, 'use \\xhh or \\uhhhh');
      return { t: 'char', code: value };
    }
    if (DIGITS.includes(c) || /[A-Za-z]/.test(c)) {
      this.fail(`bad escape \\${c}`, start, `write "${c}" without the backslash, or "\\\\${c}" for a backslash`);
    }
    return { t: 'char', code: this.literalCode(c, start) };
  }

  private literalCode(c: string, pos: number): number {
    return (this.literal(c, pos) as { code: number }).code;
  }

  private parseSet(start: number, ascii: boolean): Node {
    const negated = this.eat('^');
    const ranges: Range[] = [];
    let empty = true;
    const unterminated = (): never => this.fail('unterminated character set', start, 'close the set with "]" (write "\\]" for a literal "]")');
    for (;;) {
      const itemStart = this.pos;
      const c = this.src[this.pos++];
      if (c === undefined) unterminated();
      if (c === ']' && !empty) break;
      empty = false;
      const first: Escape = c === '\\' ? this.parseClassEscape(itemStart, ascii) : { t: 'char', code: this.literalCode(c, itemStart) };
      if (!this.eat('-')) {
        ranges.push(...(first.t === 'char' ? [[first.code, first.code] as Range] : first.ranges));
        continue;
      }
      const thatStart = this.pos;
      const that = this.src[this.pos++];
      if (that === undefined) unterminated();
      if (that === ']') {
        ranges.push(...(first.t === 'char' ? [[first.code, first.code] as Range] : first.ranges), [0x2d, 0x2d]);
        break;
      }
      const second: Escape = that === '\\' ? this.parseClassEscape(thatStart, ascii) : { t: 'char', code: this.literalCode(that, thatStart) };
      const text = this.src.slice(itemStart, this.pos);
      if (first.t !== 'char' || second.t !== 'char' || second.code < first.code) {
        this.fail(`bad character range ${text}`, itemStart, 'write ranges low-high between two single characters, or escape the "-"');
      }
      ranges.push([first.code, second.code]);
    }
    return { t: 'set', negated, ranges: normalise(ranges), pos: start };
  }

  /** Applies `*+?{m,n}` to the last item; false when `{` is a literal (as in Python). */
  private parseRepeat(c: string, start: number, items: Node[]): boolean {
    let min = 0;
    let max = Infinity;
    if (c === '?') max = 1;
    else if (c === '+') min = 1;
    else if (c === '{') {
      if (this.peek() === '}') return false;
      const lo = this.takeWhile(Infinity, DIGITS);
      const hi = this.eat(',') ? this.takeWhile(Infinity, DIGITS) : lo;
      if (!this.eat('}')) {
        this.pos = start + 1;
        return false;
      }
      if (lo) min = Number(lo);
      if (hi) max = Number(hi);
      if (Math.max(min, max === Infinity ? 0 : max) > MAX_REPEAT_COUNT) {
        this.fail(`repeat count above ${MAX_REPEAT_COUNT}`, start, `use counts up to ${MAX_REPEAT_COUNT}`);
      }
      if (max < min) this.fail('min repeat greater than max repeat', start, 'write {min,max} with min <= max');
    }
    const last = items[items.length - 1];
    if (!last || last.t === 'anchor') this.fail('nothing to repeat', start, `escape the "${c}" as "\\${c}" to match it literally`);
    if (last.t === 'repeat') this.fail('multiple repeat', start, `remove the extra "${c}" or group the repeated part with (?:...)`);
    if (last.t === 'group' && last.kind !== 'capture' && last.kind !== 'plain') {
      this.fail('a look-around cannot be repeated', start, 'remove the repeat: a look-around matches no characters');
    }
    const lazy = this.eat('?');
    if (!lazy && this.peek() === '+') {
      this.fail('possessive quantifiers are not supported', this.pos, 'remove the "+" after the quantifier');
    }
    items[items.length - 1] = { t: 'repeat', min, max, lazy, body: last, pos: start };
    return true;
  }

  /** Parses `(…)`; returns null for constructs that add nothing (comments, global flags). */
  private parseGroup(start: number, flags: ScopeFlags, firstItem: boolean): Node | null {
    if (!this.eat('?')) return this.groupBody(start, 'capture', flags, null);
    const c = this.src[this.pos++];
    if (c === undefined) this.fail('unexpected end of pattern', this.pos, 'finish or remove the "(?"');
    if (c === 'P') return this.parsePythonExtension(start, flags);
    if (c === ':') return this.groupBody(start, 'plain', flags, null);
    if (c === '#') {
      while (this.src[this.pos] !== ')') {
        if (this.pos >= this.src.length) this.fail('missing ), unterminated comment', start, 'close the comment with ")"');
        this.pos++;
      }
      this.pos++;
      return null;
    }
    if (c === '=' || c === '!') return this.groupBody(start, c === '=' ? 'lookahead' : 'neg_lookahead', flags, null);
    if (c === '<') {
      const d = this.src[this.pos++];
      if (d === '=' || d === '!') return this.groupBody(start, d === '=' ? 'lookbehind' : 'neg_lookbehind', flags, null);
      if (d === undefined) this.fail('unexpected end of pattern', this.pos, 'finish or remove the "(?<"');
      this.fail(`unknown extension ?<${d}`, start + 1, 'name a group with (?P<name>...)');
    }
    if (c === '(') this.fail('conditional groups (?(...)...) are not supported', start, 'write the alternatives out with "|"');
    if (c === '>') this.fail('atomic groups (?>...) are not supported', start, 'use a plain group (?:...)');
    if (PY_FLAG_LETTERS.includes(c) || c === '-') return this.parseFlags(start, c, flags, firstItem);
    this.fail(`unknown extension ?${c}`, start + 1, 'see the Python re syntax; thaw supports (?:, (?P<name>, (?P=name), (?=, (?!, (?<=, (?<!, (?#');
  }

  private parsePythonExtension(start: number, flags: ScopeFlags): Node {
    if (this.eat('<')) {
      const name = this.groupName('>', start);
      if (this.groupNames.has(name)) {
        this.fail(`redefinition of group name '${name}' as group ${this.groups + 1}; was group ${this.groupNames.get(name)}`, start + 4, 'give each group its own name');
      }
      return this.groupBody(start, 'capture', flags, name);
    }
    if (this.eat('=')) {
      const name = this.groupName(')', start);
      const group = this.groupNames.get(name);
      if (group === undefined) this.fail(`unknown group name '${name}'`, start + 4, 'define the group with (?P<name>...) before referring to it');
      return this.backref(group, start);
    }
    const c = this.src[this.pos++];
    if (c === undefined) this.fail('unexpected end of pattern', this.pos, 'finish or remove the "(?P"');
    this.fail(`unknown extension ?P${c}`, start + 1, 'write (?P<name>...) or (?P=name)');
  }

  private groupName(terminator: string, start: number): string {
    const end = this.src.indexOf(terminator, this.pos);
    if (end < 0) this.fail(`missing ${terminator}, unterminated name`, this.pos, `close the group name with "${terminator}"`);
    const name = this.src.slice(this.pos, end);
    if (!name) this.fail('missing group name', this.pos, 'write a name, e.g. (?P<layer>...)');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) this.fail(`bad character in group name '${name}'`, start + 4, 'use letters, digits and "_" (ASCII)');
    this.pos = end + 1;
    return name;
  }

  private parseFlags(start: number, c: string, flags: ScopeFlags, firstItem: boolean): Node | null {
    const on = c === '-' ? '' : this.flagLetters(c, ')-:');
    const terminator = c === '-' ? '-' : this.src[this.pos - 1];
    if (terminator === ')') {
      if (!firstItem) this.fail('global flags not at the start of the expression', start, `move "${this.src.slice(start, this.pos)}" to the very start of the pattern`);
      if (on.includes('i')) this.ignoreCase = true;
      if (on.includes('s')) this.global.dotall = true;
      if (on.includes('m')) this.global.multiline = true;
      if (on.includes('x')) this.global.verbose = true;
      if (on.includes('a')) this.global.ascii = true;
      return null;
    }
    const off = terminator === '-' ? this.flagLetters('', ':') : '';
    if ('auL'.split('').some((f) => off.includes(f))) this.fail("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", start, 'remove them after "-"');
    if ([...on].some((f) => off.includes(f))) this.fail('bad inline flags: flag turned on and off', start, 'name each flag once');
    if (on.includes('i') || off.includes('i')) {
      this.fail('case-insensitivity cannot be limited to a group', start, 'put (?i) at the very start to make the whole pattern case-insensitive');
    }
    const scoped: ScopeFlags = { ...flags };
    for (const [letter, value] of [...[...on].map((f) => [f, true] as const), ...[...off].map((f) => [f, false] as const)]) {
      if (letter === 's') scoped.dotall = value;
      if (letter === 'm') scoped.multiline = value;
      if (letter === 'x') scoped.verbose = value;
      if (letter === 'a') scoped.ascii = value;
    }
    return this.groupBody(start, 'plain', scoped, null);
  }

  /** Reads flag letters starting with `initial` until one of `terminators`; validates them as Python does. */
  private flagLetters(initial: string, terminators: string): string {
    let letters = initial;
    for (;;) {
      const c = this.src[this.pos++];
      if (c === undefined) this.fail(terminators === ':' ? 'missing :' : 'missing -, : or )', this.pos - 1, 'close the flag group');
      if (terminators.includes(c)) break;
      if (!PY_FLAG_LETTERS.includes(c)) this.fail(/[A-Za-z]/.test(c) ? 'unknown flag' : terminators === ':' ? 'missing :' : 'missing -, : or )', this.pos - 1, 'Python flags are a, i, m, s, u, x');
      letters += c;
    }
    if (terminators === ':' && !letters) this.fail('missing flag', this.pos - 1, 'name a flag after "-"');
    if (letters.includes('L')) this.fail("bad inline flags: cannot use 'L' flag with a str pattern", this.pos - 1, 'remove the L flag');
    if (letters.includes('t')) this.fail('the TEMPLATE flag (t) is not supported', this.pos - 1, 'remove the t flag');
    if (letters.includes('a') && letters.includes('u')) this.fail("bad inline flags: flags 'a', 'u' and 'L' are incompatible", this.pos - 1, 'keep one of them');
    return letters;
  }

  private groupBody(start: number, kind: GroupKind, flags: ScopeFlags, name: string | null): Node {
    const index = kind === 'capture' ? ++this.groups : 0;
    if (name !== null) this.groupNames.set(name, index);
    const body = this.parseAlternation(flags, false);
    if (!this.eat(')')) this.fail('missing ), unterminated subpattern', start, 'close the group with ")" (write "\\(" for a literal "(")');
    if (index) this.closedGroups.add(index);
    return { t: 'group', kind, index, body, pos: start };
  }
}

/** Width bounds [min, max] of what a node matches, for Python's fixed-width look-behind rule. */
function width(node: Node | Alt): [number, number] {
  switch (node.t) {
    case 'alt': {
      const widths = node.branches.map((b) => b.map(width).reduce((a, w) => [a[0] + w[0], a[1] + w[1]], [0, 0]));
      return [Math.min(...widths.map((w) => w[0])), Math.max(...widths.map((w) => w[1]))];
    }
    case 'char':
    case 'set':
    case 'any':
      return [1, 1];
    case 'anchor':
      return [0, 0];
    case 'group':
      return node.kind === 'capture' || node.kind === 'plain' ? width(node.body) : [0, 0];
    case 'backref':
      return [0, Infinity];
    case 'repeat': {
      const [lo, hi] = width(node.body);
      return [lo * node.min, hi === 0 ? 0 : hi * node.max];
    }
  }
}

type PathStep = { node: Node | Alt; branch: number };

/**
 * Semantic checks after parsing: fixed-width look-behind (Python), backreferences only where their group is certainly
 * set (JavaScript and Python differ on unset groups), no backreference inside a look-behind.
 */
class Checker {
  private readonly groupPaths = new Map<number, PathStep[]>();
  nestedRepeatAt: number | null = null;

  check(root: Alt): void {
    this.visitAlt(root, [], 0, 0);
  }

  private visitAlt(alt: Alt, path: PathStep[], lookbehinds: number, unboundedRepeats: number): void {
    alt.branches.forEach((branch, i) => {
      for (const node of branch) this.visit(node, [...path, { node: alt, branch: i }], lookbehinds, unboundedRepeats);
    });
  }

  private visit(node: Node, path: PathStep[], lookbehinds: number, unboundedRepeats: number): void {
    const here = [...path, { node, branch: 0 }];
    if (node.t === 'group') {
      const isLookbehind = node.kind === 'lookbehind' || node.kind === 'neg_lookbehind';
      if (isLookbehind) {
        const [lo, hi] = width(node.body);
        if (lo !== hi) throw new PatternSyntaxError('look-behind requires fixed-width pattern', node.pos, 'make every alternative of the look-behind the same length, without * + ? or {m,n}');
      }
      if (node.kind === 'capture') this.groupPaths.set(node.index, here);
      this.visitAlt(node.body, here, lookbehinds + (isLookbehind ? 1 : 0), unboundedRepeats);
      return;
    }
    if (node.t === 'repeat') {
      const unbounded = node.max === Infinity;
      if (unboundedRepeats > 0 && this.nestedRepeatAt === null && node.max > 1) this.nestedRepeatAt = node.pos;
      this.visit(node.body, here, lookbehinds, unboundedRepeats + (unbounded ? 1 : 0));
      return;
    }
    if (node.t === 'backref') this.checkBackref(node.group, node.pos, path, lookbehinds);
  }

  private checkBackref(group: number, pos: number, refPath: PathStep[], lookbehinds: number): void {
    if (lookbehinds > 0) throw new PatternSyntaxError('backreferences inside a look-behind are not supported', pos, 'move the reference out of the look-behind');
    const groupPath = this.groupPaths.get(group) as PathStep[];
    let common = 0;
    while (common < groupPath.length && common < refPath.length && groupPath[common].node === refPath[common].node && groupPath[common].branch === refPath[common].branch) common++;
    for (const step of groupPath.slice(common)) {
      const n = step.node;
      const optional =
        (n.t === 'alt' && n.branches.length > 1) ||
        (n.t === 'repeat' && n.min === 0) ||
        (n.t === 'group' && n.kind !== 'capture' && n.kind !== 'plain');
      if (optional) {
        throw new PatternSyntaxError(
          `backreference to group ${group}, which may not have matched (it is optional, in an alternative or in a look-around)`,
          pos,
          'make the group itself always match, e.g. (a?) instead of (a)?',
        );
      }
    }
  }
}

function hex4(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

function emitCode(code: number): string {
  if (/[A-Za-z0-9_]/.test(String.fromCharCode(code))) return String.fromCharCode(code);
  if (code >= 0x20 && code < 0x7f) return `\\${String.fromCharCode(code)}`;
  return hex4(code);
}

function emitSet(negated: boolean, ranges: Range[]): string {
  const body = ranges.map(([lo, hi]) => (lo === hi ? emitCode(lo) : `${emitCode(lo)}-${emitCode(hi)}`)).join('');
  return `[${negated ? '^' : ''}${body}]`;
}

const ANCHOR_SOURCE: Record<Anchor, string> = {
  start: '^',
  end: '(?=\\n?$)',
  start_line: '(?:^|(?<=\\n))',
  end_line: '(?=\\n|$)',
  string_start: '^',
  string_end: '$',
  boundary: '\\b',
  // Python (before 3.14) never matches \B in an empty string; JavaScript does.
  non_boundary: '(?!^$)\\B',
};

const GROUP_OPEN: Record<GroupKind, string> = {
  capture: '(',
  plain: '(?:',
  lookahead: '(?=',
  neg_lookahead: '(?!',
  lookbehind: '(?<=',
  neg_lookbehind: '(?<!',
};

function emitAlt(alt: Alt): string {
  return alt.branches.map((b) => b.map(emit).join('')).join('|');
}

function emit(node: Node): string {
  switch (node.t) {
    case 'char':
      return emitCode(node.code);
    case 'set':
      return emitSet(node.negated, node.ranges);
    case 'any':
      return node.dotall ? '[\\s\\S]' : '[^\\n]';
    case 'anchor':
      return ANCHOR_SOURCE[node.kind];
    case 'group':
      return `${GROUP_OPEN[node.kind]}${emitAlt(node.body)})`;
    case 'backref':
      return `(?:\\${node.group})`;
    case 'repeat': {
      const body = emit(node.body);
      const atom = node.body.t === 'char' || node.body.t === 'set' || node.body.t === 'any' || node.body.t === 'group' ? body : `(?:${body})`;
      let q: string;
      if (node.min === 0 && node.max === Infinity) q = '*';
      else if (node.min === 1 && node.max === Infinity) q = '+';
      else if (node.min === 0 && node.max === 1) q = '?';
      else if (node.max === Infinity) q = `{${node.min},}`;
      else if (node.min === node.max) q = `{${node.min}}`;
      else q = `{${node.min},${node.max}}`;
      return `${atom}${q}${node.lazy ? '?' : ''}`;
    }
  }
}

/** Translates a Python `re` pattern; throws PatternSyntaxError (reason, position, fix) when it cannot. */
export function translatePythonRegex(pattern: string): Translation {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new PatternSyntaxError(`the pattern is ${pattern.length} characters long, more than ${MAX_PATTERN_LENGTH}`, MAX_PATTERN_LENGTH, 'split it into several shorter patterns (a name is selected when any pattern matches)');
  }
  const parser = new Parser(pattern);
  const root = parser.parse();
  const checker = new Checker();
  checker.check(root);
  return { source: emitAlt(root), flags: parser.ignoreCase ? 'i' : '', nestedRepeatAt: checker.nestedRepeatAt };
}
