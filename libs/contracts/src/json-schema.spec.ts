import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateJsonSchemas } from './index';

const dir = path.resolve(__dirname, '../../../schemas');

describe('generated JSON Schema in schemas/', () => {
  const generated = generateJsonSchemas();

  it.each(Object.keys(generated))('%s is up to date (run `npm run gen:schemas`)', (rel) => {
    const file = path.join(dir, rel);
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe(generated[rel]);
  });

  it('has no orphaned schema files', () => {
    const found: string[] = [];
    const walk = (d: string) =>
      fs.readdirSync(d).forEach((f) => {
        const p = path.join(d, f);
        if (fs.statSync(p).isDirectory()) walk(p);
        else if (f.endsWith('.schema.json')) found.push(path.relative(dir, p));
      });
    walk(dir);
    expect(found.filter((f) => !(f in generated))).toEqual([]);
  });
});
