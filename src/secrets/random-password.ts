// GetRandomPassword: AWS's character classes, exclusions and "one of each type" rule (the space is allowed, never
// required), drawn uniformly from a CSPRNG.
import { AppError } from '../core/errors.js';
import { randomIndex } from '../crypto/index.js';

export interface PasswordOptions {
  PasswordLength?: number;
  ExcludeCharacters?: string;
  ExcludeNumbers?: boolean;
  ExcludePunctuation?: boolean;
  ExcludeUppercase?: boolean;
  ExcludeLowercase?: boolean;
  IncludeSpace?: boolean;
  RequireEachIncludedType?: boolean;
}

/** AWS's punctuation set, in ASCII order. */
export const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

const DEFAULT_LENGTH = 32;
const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

/**
 * Whole-password draws tried before falling back to placing one character of each type. Plain
 * rejection keeps the result exactly uniform over all valid passwords; the fallback only matters
 * for very short passwords over lopsided alphabets, where almost every draw misses a type.
 */
const MAX_UNIFORM_ATTEMPTS = 64;

interface CharType {
  name: string;
  chars: string[];
}

/** A password as GetRandomPassword returns it. Throws AppError('InvalidParameterException') for impossible options. */
export function generatePassword(options: PasswordOptions = {}): string {
  const length = options.PasswordLength ?? DEFAULT_LENGTH;
  if (!Number.isInteger(length) || length < 1) {
    throw new AppError('InvalidParameterException', 'PasswordLength must be a positive integer.');
  }
  const requireEach = options.RequireEachIncludedType ?? true;
  const excluded = new Set(options.ExcludeCharacters ?? '');

  const types: CharType[] = [];
  const addType = (name: string, chars: string, include: boolean): void => {
    if (include) types.push({ name, chars: [...chars].filter((c) => !excluded.has(c)) });
  };
  addType('lowercase', LOWERCASE, !options.ExcludeLowercase);
  addType('uppercase', UPPERCASE, !options.ExcludeUppercase);
  addType('number', DIGITS, !options.ExcludeNumbers);
  addType('punctuation', PUNCTUATION, !options.ExcludePunctuation);
  // IncludeSpace lets the space in ("the password can contain space characters"); it never requires one.
  const space = options.IncludeSpace === true && !excluded.has(' ') ? [' '] : [];

  const alphabet = [...types.flatMap((t) => t.chars), ...space];
  if (alphabet.length === 0) {
    throw new AppError(
      'InvalidParameterException',
      "The password can't be generated: every character type is excluded.",
    );
  }
  if (!requireEach) return draw(alphabet, length).join('');

  for (const t of types) {
    if (t.chars.length === 0) {
      throw new AppError(
        'InvalidParameterException',
        `The password can't be generated: ExcludeCharacters removes every ${t.name} character, but each included type is required.`,
      );
    }
  }
  if (length < types.length) {
    throw new AppError('InvalidParameterException', 'Password length is too short based on the required types.');
  }

  const typeOf = new Map<string, number>();
  types.forEach((t, i) => {
    for (const c of t.chars) typeOf.set(c, i);
  });
  for (let attempt = 0; attempt < MAX_UNIFORM_ATTEMPTS; attempt++) {
    const candidate = draw(alphabet, length);
    const seen = new Set(candidate.map((c) => typeOf.get(c)).filter((t) => t !== undefined));
    if (seen.size === types.length) return candidate.join('');
  }
  // One character of each type, the rest from the whole alphabet, then shuffled so the required
  // characters land at uniformly random positions.
  const out = [...types.map((t) => pick(t.chars)), ...draw(alphabet, length - types.length)];
  shuffle(out);
  return out.join('');
}

function pick(chars: string[]): string {
  return chars[randomIndex(chars.length)]!;
}

function draw(alphabet: string[], length: number): string[] {
  const out = new Array<string>(length);
  for (let i = 0; i < length; i++) out[i] = pick(alphabet);
  return out;
}

/** Fisher–Yates with an unbiased index source: every permutation is equally likely. */
function shuffle(items: string[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomIndex(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}
