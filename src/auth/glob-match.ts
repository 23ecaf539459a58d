// Matching a resolved wildcard pattern without backtracking: stars by indexOf, `?` segments by shift-and.
//
// A pattern is cut at its stars into segments of fixed length in characters; the first must match
// at the start of the value, the last at its end, and each middle one is found leftmost after the
// previous one, which is exact because no segment's length varies. See glob.ts for the costs.

/** A pattern with its variables substituted: the segments between stars, each literal text and `?` (null). */
export type Resolved = (string | null)[][];

/**
 * Holds half of a surrogate pair without its other half: text searched by code unit could split a
 * pair there. A loop rather than a RegExp: it runs on substituted pieces per request.
 */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    if (u < 0xd800 || u > 0xdfff) continue;
    if (u > 0xdbff || !isLow(text.charCodeAt(i + 1))) return true;
    i++;
  }
  return false;
}

/** The pieces of a resolved pattern without `?` whose text is well-formed (see matchStars), else undefined. */
export function starsOnly(resolved: Resolved): string[] | undefined {
  if (resolved.some((s) => s.includes(null))) return undefined;
  const plain = resolved.map((s) => s.join(''));
  return plain.some(hasLoneSurrogate) ? undefined : plain;
}

/**
 * `parts` joined by stars matches `value`: prefix, suffix, and the middles in order, each leftmost.
 * Exact in code points when every part is well-formed UTF-16: a part found by code unit then
 * starts and ends between characters (it starts with no low half and ends with no high half).
 */
export function matchStars(parts: readonly string[], value: string): boolean {
  if (parts.length === 1) return value === parts[0];
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const piece = parts[i]!;
    const found = value.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** A matcher for a resolved pattern (literals already folded; the value is folded by the caller). */
export function compileResolved(resolved: Resolved): (value: string) => boolean {
  const plain = starsOnly(resolved);
  if (plain) return (value) => matchStars(plain, value);
  const segments = resolved.map((s) => new Segment(s));
  if (segments.length === 1) return (value) => segments[0]!.matchAt(value, 0) === value.length;
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middles = segments.slice(1, -1);
  return (value) => {
    let at = first.matchAt(value, 0);
    if (at < 0) return false;
    const end = last.matchEnd(value, at);
    if (end < 0) return false;
    for (const segment of middles) {
      at = segment.find(value, at, end);
      if (at < 0) return false;
    }
    return true;
  };
}

/** `?` in a segment's code points. */
const ONE = -1;

const isHigh = (u: number) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number) => u >= 0xdc00 && u <= 0xdfff;

/**
 * A run of literal characters and `?` between stars, as code points. Positions handed in and out
 * are UTF-16 indexes at character boundaries.
 */
class Segment {
  readonly #points: Int32Array;
  #search: ShiftAnd | undefined;

  constructor(parts: readonly (string | null)[]) {
    const points: number[] = [];
    for (const p of parts) {
      if (p === null) points.push(ONE);
      else for (const ch of p) points.push(ch.codePointAt(0)!);
    }
    this.#points = Int32Array.from(points);
  }

  /** End of the match starting at `at`, or -1. */
  matchAt(value: string, at: number): number {
    const n = value.length;
    const points = this.#points;
    for (let i = 0; i < points.length; i++) {
      const want = points[i]!;
      if (at >= n) return -1;
      const c = value.codePointAt(at)!;
      if (want !== ONE && want !== c) return -1;
      at += c > 0xffff ? 2 : 1;
    }
    return at;
  }

  /** Start of a match that ends the value and starts at or after `from`, or -1. */
  matchEnd(value: string, from: number): number {
    let start = value.length;
    for (let i = 0; i < this.#points.length; i++) {
      if (start <= from) return -1;
      const pair = start - 2 >= from && isLow(value.charCodeAt(start - 1)) && isHigh(value.charCodeAt(start - 2));
      start -= pair ? 2 : 1;
    }
    return this.matchAt(value, start) === value.length ? start : -1;
  }

  /** End of the leftmost match that starts at or after `from` and ends by `limit`, or -1. */
  find(value: string, from: number, limit: number): number {
    if (this.#points.length === 0) return from;
    this.#search ??= new ShiftAnd(this.#points);
    return this.#search.find(value, from, limit);
  }
}

/**
 * Shift-and (Baeza-Yates–Gonnet): bit i of the state says the last i+1 characters read match the
 * segment's first i+1; one shift and one AND per word per character, never a step back.
 */
class ShiftAnd {
  readonly #words: number;
  readonly #hit: number;
  /** Per ASCII character, `#words` masks; bit i set when position i is that character or `?`. */
  readonly #ascii: Int32Array;
  readonly #other = new Map<number, Int32Array>();
  /** The masks of a character the segment does not name: its `?` positions. */
  readonly #any: Int32Array;
  readonly #state: Int32Array;

  constructor(points: Int32Array) {
    const words = Math.ceil(points.length / 32);
    this.#words = words;
    this.#hit = 1 << ((points.length - 1) & 31);
    this.#any = new Int32Array(words);
    points.forEach((p, i) => {
      if (p === ONE) this.#any[i >> 5]! |= 1 << (i & 31);
    });
    this.#ascii = new Int32Array(128 * words);
    for (let c = 0; c < 128; c++) this.#ascii.set(this.#any, c * words);
    points.forEach((p, i) => {
      if (p === ONE) return;
      let row: Int32Array;
      if (p < 128) row = this.#ascii.subarray(p * words, (p + 1) * words);
      else {
        row = this.#other.get(p) ?? Int32Array.from(this.#any);
        this.#other.set(p, row);
      }
      row[i >> 5]! |= 1 << (i & 31);
    });
    this.#state = new Int32Array(words);
  }

  find(value: string, from: number, limit: number): number {
    const words = this.#words;
    const ascii = this.#ascii;
    if (words === 1) {
      let state = 0;
      for (let i = from; i < limit; ) {
        const u = value.charCodeAt(i);
        let mask: number;
        if (u < 128) {
          mask = ascii[u]!;
          i++;
        } else {
          const c = value.codePointAt(i)!;
          mask = this.#other.get(c)?.[0] ?? this.#any[0]!;
          i += c > 0xffff ? 2 : 1;
        }
        state = ((state << 1) | 1) & mask;
        if ((state & this.#hit) !== 0) return i;
      }
      return -1;
    }
    const state = this.#state;
    state.fill(0);
    const other = this.#other;
    const any = this.#any;
    const hit = this.#hit;
    const last = words - 1;
    // Words past `top` are zero: a state reaches word w only after 32·w characters have matched.
    let top = 0;
    for (let i = from; i < limit; ) {
      const u = value.charCodeAt(i);
      let masks: Int32Array;
      let at = 0;
      if (u < 128) {
        masks = ascii;
        at = u * words;
        i++;
      } else {
        const c = value.codePointAt(i)!;
        masks = other.get(c) ?? any;
        i += c > 0xffff ? 2 : 1;
      }
      let carry = 1;
      const end = top < last ? top + 1 : last;
      for (let w = 0; w <= end; w++) {
        const s = state[w]!;
        state[w] = ((s << 1) | carry) & masks[at + w]!;
        carry = s >>> 31;
      }
      while (top < end && state[top + 1] !== 0) top++;
      while (top > 0 && state[top] === 0) top--;
      if ((state[last]! & hit) !== 0) return i;
    }
    return -1;
  }
}
