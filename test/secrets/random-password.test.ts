// GetRandomPassword: defaults, every exclusion switch, required types, impossible options, and uniform draws.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { generatePassword, type PasswordOptions, PUNCTUATION } from '../../src/secrets/random-password.js';

const LOWER = /[a-z]/;
const UPPER = /[A-Z]/;
const DIGIT = /[0-9]/;
const isPunctuation = (c: string): boolean => PUNCTUATION.includes(c);
const hasPunctuation = (s: string): boolean => [...s].some(isPunctuation);

function many(options: PasswordOptions | undefined, count = 200): string[] {
  return Array.from({ length: count }, () => generatePassword(options));
}

function expectInvalid(options: PasswordOptions, message: RegExp): void {
  let caught: unknown;
  try {
    generatePassword(options);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe('InvalidParameterException');
  expect((caught as AppError).message).toMatch(message);
}

describe('the punctuation set', () => {
  it('is every printable ASCII character that is not a letter, digit or space', () => {
    const expected = Array.from({ length: 126 - 33 + 1 }, (_, i) => String.fromCharCode(33 + i))
      .filter((c) => !/[A-Za-z0-9]/.test(c))
      .join('');
    expect(PUNCTUATION).toBe(expected);
    expect(PUNCTUATION).toHaveLength(32);
  });
});

describe('generatePassword defaults', () => {
  it('is 32 characters with a lowercase, uppercase, digit and punctuation character, every time', () => {
    for (const pw of many(undefined)) {
      expect(pw).toHaveLength(32);
      expect(pw).toMatch(LOWER);
      expect(pw).toMatch(UPPER);
      expect(pw).toMatch(DIGIT);
      expect(hasPunctuation(pw)).toBe(true);
      expect(pw).not.toContain(' ');
      for (const c of pw) expect(/[A-Za-z0-9]/.test(c) || isPunctuation(c)).toBe(true);
    }
  });

  it('does not repeat itself', () => {
    expect(new Set(many({})).size).toBe(200);
  });

  it('honours PasswordLength from 1 to 4096', () => {
    expect(generatePassword({ PasswordLength: 1, RequireEachIncludedType: false })).toHaveLength(1);
    expect(generatePassword({ PasswordLength: 4 })).toHaveLength(4);
    expect(generatePassword({ PasswordLength: 4096 })).toHaveLength(4096);
  });
});

describe('exclusion switches', () => {
  const cases: Array<[keyof PasswordOptions, (c: string) => boolean]> = [
    ['ExcludeLowercase', (c) => LOWER.test(c)],
    ['ExcludeUppercase', (c) => UPPER.test(c)],
    ['ExcludeNumbers', (c) => DIGIT.test(c)],
    ['ExcludePunctuation', isPunctuation],
  ];
  for (const [flag, inClass] of cases) {
    it(`${flag} keeps that class out of every character, and still requires the others`, () => {
      for (const pw of many({ [flag]: true })) {
        expect(pw).toHaveLength(32);
        for (const c of pw) expect(inClass(c)).toBe(false);
        for (const [other, otherInClass] of cases) {
          if (other !== flag) expect([...pw].some(otherInClass)).toBe(true);
        }
      }
    });
  }

  it('ExcludeCharacters keeps each listed character out', () => {
    const banned = 'aeiouAEIOU01!@"\'\\`';
    for (const pw of many({ ExcludeCharacters: banned })) {
      for (const c of pw) expect(banned).not.toContain(c);
    }
  });

  it('ExcludeCharacters that leaves one character of a type still puts that character in', () => {
    // Short passwords over a lopsided alphabet: this exercises the place-and-shuffle fallback too.
    const exclude = `${'ABCDEFGHIJKLMNOPRSTUVWXYZ'}${'012345689'}${PUNCTUATION.replace('#', '')}`;
    for (const pw of many({ PasswordLength: 4, ExcludeCharacters: exclude })) {
      expect(pw).toHaveLength(4);
      expect(pw).toContain('Q');
      expect(pw).toContain('7');
      expect(pw).toContain('#');
      expect(pw).toMatch(LOWER);
    }
  });

  it('IncludeSpace allows spaces without requiring one (AWS: "the password can contain space characters")', () => {
    const pws = many({ IncludeSpace: true, PasswordLength: 4 }, 500);
    for (const pw of pws) {
      expect(pw).toMatch(LOWER);
      expect(pw).toMatch(UPPER);
      expect(pw).toMatch(DIGIT);
      expect(hasPunctuation(pw)).toBe(true);
    }
    // Length 4 with four required types leaves no room for a space; longer passwords do hold some.
    expect(pws.some((pw) => pw.includes(' '))).toBe(false);
    const long = many({ IncludeSpace: true, PasswordLength: 64 }, 50);
    expect(long.some((pw) => pw.includes(' '))).toBe(true);
    expect(long.some((pw) => !pw.includes(' '))).toBe(true);
  });

  it('IncludeSpace with RequireEachIncludedType false may draw a space', () => {
    const pws = many(
      {
        IncludeSpace: true,
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludeNumbers: true,
        ExcludePunctuation: true,
        RequireEachIncludedType: false,
        PasswordLength: 3,
      },
      5,
    );
    for (const pw of pws) expect(pw).toBe('   ');
  });

  it('RequireEachIncludedType false may leave types out', () => {
    const pws = many({ PasswordLength: 4, RequireEachIncludedType: false }, 500);
    const complete = pws.filter((pw) => LOWER.test(pw) && UPPER.test(pw) && DIGIT.test(pw) && hasPunctuation(pw));
    // About 6.6% of uniform 4-character draws hold all four types.
    expect(complete.length).toBeLessThan(150);
  });

  it('RequireEachIncludedType false accepts a type that ExcludeCharacters empties', () => {
    for (const pw of many({ ExcludeCharacters: '0123456789', RequireEachIncludedType: false })) {
      expect(pw).not.toMatch(DIGIT);
    }
  });
});

describe('impossible options', () => {
  it('rejects excluding every type', () => {
    expectInvalid(
      { ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true },
      /^The password can't be generated: every character type is excluded\.$/,
    );
  });

  it('rejects ExcludeCharacters that empties the whole alphabet', () => {
    expectInvalid(
      {
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludePunctuation: true,
        ExcludeCharacters: '0123456789',
        RequireEachIncludedType: false,
      },
      /every character type is excluded/,
    );
  });

  it('rejects a length shorter than the number of required types', () => {
    expectInvalid({ PasswordLength: 3 }, /^Password length is too short based on the required types\.$/);
    expect(generatePassword({ PasswordLength: 4, IncludeSpace: true })).toHaveLength(4);
  });

  it('accepts a length equal to the number of required types', () => {
    expect(generatePassword({ PasswordLength: 2, ExcludeNumbers: true, ExcludePunctuation: true })).toMatch(
      /^(?=.*[a-z])(?=.*[A-Z]).{2}$/,
    );
  });

  it('rejects a required type whose every character is excluded', () => {
    expectInvalid({ ExcludeCharacters: '0123456789' }, /number/);
    expectInvalid({ ExcludeCharacters: PUNCTUATION }, /punctuation/);
  });

  it('IncludeSpace with the space excluded is no error: there is simply no space', () => {
    for (const pw of many({ IncludeSpace: true, ExcludeCharacters: ' ', PasswordLength: 64 }, 20)) {
      expect(pw).not.toContain(' ');
    }
  });

  it('rejects a non-positive or fractional length', () => {
    expectInvalid({ PasswordLength: 0 }, /PasswordLength/);
    expectInvalid({ PasswordLength: 2.5 }, /PasswordLength/);
  });
});

describe('uniformity', () => {
  it('draws each of 10 characters equally often (20,000 draws, each within 15% of the mean)', () => {
    const counts = new Map<string, number>();
    const options = { PasswordLength: 100, ExcludeLowercase: true, ExcludeUppercase: true, ExcludePunctuation: true };
    for (const pw of many(options, 200)) {
      for (const c of pw) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect([...counts.keys()].sort().join('')).toBe('0123456789');
    const mean = 20_000 / 10;
    let chiSquare = 0;
    for (const n of counts.values()) {
      expect(Math.abs(n - mean)).toBeLessThan(0.15 * mean);
      chiSquare += (n - mean) ** 2 / mean;
    }
    // 9 degrees of freedom: 45 is beyond p = 1e-6.
    expect(chiSquare).toBeLessThan(45);
  });

  it('puts each required type at each position equally often', () => {
    const classOf = (c: string): number => (LOWER.test(c) ? 0 : UPPER.test(c) ? 1 : DIGIT.test(c) ? 2 : 3);
    const counts = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
    for (const pw of many({ PasswordLength: 4 }, 4000)) {
      [...pw].forEach((c, position) => {
        counts[position]![classOf(c)]!++;
      });
    }
    for (const row of counts) {
      for (const n of row) expect(Math.abs(n - 1000)).toBeLessThan(150);
    }
  });
});
