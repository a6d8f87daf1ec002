import { parseCsv, writeCsv } from './csv';
import { deriveSecretSeed, parseHiddenSplit, promptsOnlyCsv, splitPredictions } from './hidden-split';
import fc from 'fast-check';

const pub =
  'id,prompt,answer,domain\np1,"In Alice\'s Wonderland, convert 2, please",4.5,unit_conversion\np2,roman ' +
  '38,XXXVIII,numeral\n';
const priv = 'id,prompt,answer,domain\nq1,"say ""hi""",cat imagines book,cipher\n';

describe('hidden split', () => {
  it('derives a stable 48-bit seed per campaign from the secret', () => {
    const a = deriveSecretSeed('s'.repeat(32), 'c1');
    expect(a).toBe(deriveSecretSeed('s'.repeat(32), 'c1'));
    expect(a).not.toBe(deriveSecretSeed('s'.repeat(32), 'c2'));
    expect(a).not.toBe(deriveSecretSeed('t'.repeat(32), 'c1'));
    expect(Number.isSafeInteger(a) && a >= 0 && a < 2 ** 48).toBe(true);
    expect(() => deriveSecretSeed('short', 'c1')).toThrow(/at least 16/);
  });

  it('writes a prompts-only file with no answer or domain column', () => {
    const csv = promptsOnlyCsv(parseHiddenSplit(pub, 'public.csv'), parseHiddenSplit(priv, 'private.csv'));
    expect(parseCsv(csv)).toEqual([
      ['id', 'prompt'],
      ['p1', "In Alice's Wonderland, convert 2, please"],
      ['p2', 'roman 38'],
      ['q1', 'say "hi"'],
    ]);
    expect(csv).not.toMatch(/XXXVIII|cat imagines book|numeral/);
  });

  it('splits predictions into the halves and names the first bad id', () => {
    const preds = 'id,answer\nq1,cat\np2,XXXVIII\np1,4.5\n';
    expect(splitPredictions(preds, ['p1', 'p2'], ['q1'])).toEqual({
      publicCsv: 'id,answer\np2,XXXVIII\np1,4.5\n',
      privateCsv: 'id,answer\nq1,cat\n',
    });
    expect(() => splitPredictions('id,answer\np1,1\n', ['p1', 'p2'], ['q1'])).toThrow(
      'predictions: 2 prompt(s) unanswered, first p2',
    );
    expect(() => splitPredictions('id,answer\nzz,1\n', ['p1'], [])).toThrow(/"zz" is not one of the prompts/);
    expect(() => splitPredictions('id,answer\np1,1\np1,2\n', ['p1'], [])).toThrow(/p1 appears twice/);
    expect(() => splitPredictions('id,guess\np1,1\n', ['p1'], [])).toThrow(/lacks column\(s\) answer/);
  });

  it('refuses a split whose ids repeat', () => {
    expect(() => parseHiddenSplit('id,prompt,answer,domain\na,x,1,d\na,y,2,d\n', 'public.csv')).toThrow(
      'public.csv: duplicate id a',
    );
  });

  it('property: writeCsv then parseCsv is the identity', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string()), { maxLength: 10 }), (rows) => {
        expect(parseCsv(writeCsv(['id', 'answer'], rows))).toEqual([['id', 'answer'], ...rows.map((r) => [...r])]);
      }),
    );
  });
});
