import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireBuiltServices } from './built-services';

describe('requireBuiltServices', () => {
  it('names the services without a build and the command that builds them; passes once they are built', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'built-'));
    try {
      fs.mkdirSync(path.join(root, 'services', 'substrate', 'dist'), { recursive: true });
      fs.writeFileSync(path.join(root, 'services', 'substrate', 'dist', 'main.js'), '');
      expect(() => requireBuiltServices(root, ['substrate', 'dispatch'])).toThrow(
        'build these services first (npx nx run-many -t build -p @aevo/dispatch): no dist/main.js for dispatch',
      );
      expect(() => requireBuiltServices(root, ['substrate'])).not.toThrow();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
