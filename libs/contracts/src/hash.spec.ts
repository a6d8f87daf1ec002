import { canonicalJson, contentHash } from './hash';

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined, keeping array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('keeps keys named like prototype members as data (JSON.parse makes "__proto__" an own key)', () => {
    const parsed = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":"c","toString":"t","hasOwnProperty":1,"valueOf":2}',
    ) as unknown;
    expect(canonicalJson(parsed)).toBe(
      '{"__proto__":{"polluted":true},"constructor":"c","hasOwnProperty":1,"toString":"t","valueOf":2}',
    );
    // Two documents that differ only under "__proto__" hash differently.
    expect(contentHash(JSON.parse('{"__proto__":{"a":1}}'))).not.toBe(contentHash(JSON.parse('{"__proto__":{"a":2}}')));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
