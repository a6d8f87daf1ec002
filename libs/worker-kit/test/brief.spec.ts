import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DomainError, sha256Hex } from '@aevo/contracts';
import {
  DEFAULT_WORKER_BRIEF_FILE,
  DEFAULT_WORKER_BRIEF_PATH,
  MAX_WORKER_BRIEF_BYTES,
  SandboxFiles,
  defaultWorkerBrief,
  resolveWorkerBrief,
} from '../src';

describe('worker brief: a file anyone can read and pin', () => {
  let dir: string;
  const files = () =>
    new SandboxFiles(dir, {
      editable: ['recipe.yaml', 'pipeline/**'],
      frozen: ['harness/**', 'substrate.yaml', 'program.md'],
    });
  const refusal = (f: () => unknown): DomainError => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      return err as DomainError;
    }
    throw new Error('expected a refusal');
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-brief-'));
    fs.mkdirSync(path.join(dir, 'pipeline'));
    fs.mkdirSync(path.join(dir, 'harness'));
    fs.writeFileSync(path.join(dir, 'recipe.yaml'), 'a: 1\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('given no workerBrief, the default: the shipped Markdown file, pinned by its sha256', () => {
    const b = resolveWorkerBrief({}, files());
    const text = fs.readFileSync(DEFAULT_WORKER_BRIEF_FILE, 'utf8');
    expect(b).toEqual({
      source: 'default',
      path: DEFAULT_WORKER_BRIEF_PATH,
      text,
      sha256: sha256Hex(Buffer.from(text, 'utf8')),
    });
    expect(b).toBe(defaultWorkerBrief());
    expect(text).toMatch(/submit_manifest exactly once/);
  });

  it("given a frozen program.md, the substrate's own brief replaces the default", () => {
    fs.writeFileSync(path.join(dir, 'program.md'), '# Our rules\nOnly ever touch the data mix.\n');
    const b = resolveWorkerBrief({ workerBrief: './program.md' }, files());
    expect(b).toMatchObject({
      source: 'substrate',
      path: 'program.md',
      text: '# Our rules\nOnly ever touch the data mix.\n',
    });
    expect(b.sha256).toBe(sha256Hex(Buffer.from(b.text, 'utf8')));
  });

  it(
    'refuses a brief a candidate could edit, one outside the sandbox, a ' +
      'missing, empty, oversized or non-Markdown one',
    () => {
      fs.writeFileSync(path.join(dir, 'pipeline', 'rules.md'), 'edit me');
      const editable = refusal(() => resolveWorkerBrief({ workerBrief: 'pipeline/rules.md' }, files()));
      expect(editable.code).toBe('INVALID_WORKER_BRIEF');
      expect(editable.issues[0]).toEqual({
        path: 'substrate.yaml.workerBrief',
        message: expect.stringMatching(/frozen/),
      });
      expect(refusal(() => resolveWorkerBrief({ workerBrief: '../outside.md' }, files())).message).toMatch(
        /not a path inside the substrate/,
      );
      expect(refusal(() => resolveWorkerBrief({ workerBrief: 'program.md' }, files())).message).toMatch(
        /cannot be read/,
      );
      fs.writeFileSync(path.join(dir, 'program.md'), '  \n');
      expect(refusal(() => resolveWorkerBrief({ workerBrief: 'program.md' }, files())).message).toMatch(/is empty/);
      fs.writeFileSync(path.join(dir, 'program.md'), 'x'.repeat(MAX_WORKER_BRIEF_BYTES + 1));
      expect(refusal(() => resolveWorkerBrief({ workerBrief: 'program.md' }, files())).message).toMatch(/larger than/);
      fs.writeFileSync(path.join(dir, 'harness', 'rules.txt'), 'rules');
      expect(refusal(() => resolveWorkerBrief({ workerBrief: 'harness/rules.txt' }, files())).message).toMatch(
        /not a Markdown file/,
      );
    },
  );
});
