import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobSpec } from '@aevo/contracts';
import { eventually } from '@aevo/testkit';
import { useLocalJobHome } from '../../test/local-fixture';
import { isProcessAlive } from './proc';

jest.setTimeout(60_000);

const home = useLocalJobHome();
const { spec, start } = home;
let root: string;
let out: string;
beforeEach(() => ({ root, out } = home.paths()));

/**
 * A rank as a torch.distributed env:// rendezvous would see it: rank 0 listens on MASTER_ADDR:MASTER_PORT and writes
 * what every other rank sends it into the job's output; rank r > 0 connects (retrying until rank 0 listens) and says
 * who it is. Every rank prints its environment to its own log.
 */
const RENDEZVOUS = `
const net = require('net'), fs = require('fs');
const { RANK, NODE_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK, LOCAL_WORLD_SIZE } = process.env;
console.log('env', RANK, NODE_RANK, WORLD_SIZE, MASTER_ADDR, LOCAL_RANK, LOCAL_WORLD_SIZE);
if (RANK === '0') {
  const got = [];
  const srv = net.createServer((s) => {
    let b = '';
    s.on('data', (d) => (b += d));
    s.on('end', () => {
      got.push(b);
      if (got.length === Number(WORLD_SIZE) - 1) {
        fs.writeFileSync('out/rendezvous.txt', got.sort().join('\\n') + '\\n');
        console.log('rank 0 heard', got.length);
        srv.close();
      }
    });
  }).listen(Number(MASTER_PORT), MASTER_ADDR);
} else {
  const tryConnect = () => {
    const hello = 'hello from rank ' + RANK + ' of ' + WORLD_SIZE;
    const c = net.connect(Number(MASTER_PORT), MASTER_ADDR, () => c.end(hello));
    c.on('error', () => setTimeout(tryConnect, 50));
  };
  tryConnect();
}
`;

const nodeJob = (id: string, script: string, nodes: number, over: Partial<JobSpec> = {}): JobSpec => ({
  ...spec(id, ''),
  argv: ['node', '-e', script],
  resources: { cpu: 1, memoryMiB: 256, gpu: 0, nodes },
  ...over,
});

describe('LocalExecutor, multi-node jobs (n rank processes on loopback)', () => {
  it.each(['bubblewrap', 'none'] as const)(
    'runs every rank with the rendezvous environment; rank 1 reaches rank 0 over TCP (sandbox %s)',
    async (sandbox) => {
      const { ex, events, finished } = start({ sandbox, cpuSlots: 3 });
      await ex.recover();
      await ex.submit({ campaignId: 'camp', spec: nodeJob('mn-ok', RENDEZVOUS, 3) });
      const outcome = await finished('mn-ok');
      expect(outcome).toMatchObject({ status: 'succeeded', exitCode: 0, budgetUnit: 'cpu-slot-seconds' });
      // One slot per rank, and the boundary the single process would have had.
      expect(events.find((e) => e.type === 'started')).toMatchObject({ slot: 'cpu:0,1,2', isolation: sandbox });
      expect(readFileSync(join(out, 'rendezvous.txt'), 'utf8')).toBe(
        'hello from rank 1 of 3\nhello from rank 2 of 3\n',
      );
      // Rank 0's output is the job log; each other rank's is kept beside it.
      expect(outcome.logPath).toBe(join(root, 'logs', 'mn-ok.log'));
      const log = readFileSync(outcome.logPath!, 'utf8');
      expect(log).toContain('env 0 0 3 127.0.0.1 0 1');
      expect(log).toContain('rank 0 heard 2');
      expect(log).not.toContain('env 1');
      expect(readFileSync(join(root, 'logs', 'mn-ok.rank1.log'), 'utf8')).toBe('env 1 1 3 127.0.0.1 0 1\n');
      expect(readFileSync(join(root, 'logs', 'mn-ok.rank2.log'), 'utf8')).toBe('env 2 2 3 127.0.0.1 0 1\n');
    },
  );

  it('fails the job when one rank exits non-zero, naming the rank, and stops the other ranks', async () => {
    const { ex, finished } = start({ sandbox: 'none' });
    await ex.recover();
    // Rank 0 would wait for ever; rank 1 fails once rank 0 has recorded its pid.
    const script =
      "const fs=require('fs');" +
      "if (process.env.RANK==='0'){fs.writeFileSync('out/rank0.pid',String(process.pid));setInterval(()=>{},1000);}" +
      "else{const w=()=>fs.existsSync('out/rank0.pid')?process.exit(1):setTimeout(w,20);w();}";
    await ex.submit({ campaignId: 'camp', spec: nodeJob('mn-fail', script, 2) });
    const outcome = await finished('mn-fail');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 1 });
    expect(outcome.message).toBe('rank 1 of 2: exited with code 1');
    const rank0 = Number(readFileSync(join(out, 'rank0.pid'), 'utf8'));
    await eventually(() => !isProcessAlive(rank0));
    expect(outcome.logTail).toContain('aevo-ranks: rank 1 of 2 exited with code 1; stopping the other ranks');
  });

  it('kills every rank on cancel, and frees all the slots the job held', async () => {
    const { ex, finished, events } = start({ sandbox: 'none', cpuSlots: 2 });
    await ex.recover();
    const script =
      "require('fs').writeFileSync('out/rank'+process.env.RANK+'.pid',String(process.pid));setInterval(()=>{},1000);";
    await ex.submit({ campaignId: 'camp', spec: nodeJob('mn-cancel', script, 2) });
    const pids = await eventually(() => {
      try {
        return [0, 1].map((r) => Number(readFileSync(join(out, `rank${r}.pid`), 'utf8')));
      } catch {
        return undefined;
      }
    });
    // Both slots are taken: a one-node job waits.
    await ex.submit({ campaignId: 'camp', spec: spec('after', 'echo ran') });
    expect(ex.view('after')?.phase).toBe('queued');
    await ex.cancel('mn-cancel', 'operator');
    expect(await finished('mn-cancel')).toMatchObject({ status: 'cancelled' });
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(false);
    expect(await finished('after')).toMatchObject({ status: 'succeeded' });
    expect(events.find((e) => e.type === 'started' && e.jobId === 'after')).toMatchObject({ slot: 'cpu:0' });
  });

  it('kills every rank when the job times out', async () => {
    const { ex, finished } = start({ sandbox: 'none', cpuSlots: 2 });
    await ex.recover();
    const script =
      "require('fs').writeFileSync('out/t'+process.env.RANK+'.pid',String(process.pid));setInterval(()=>{},1000);";
    await ex.submit({ campaignId: 'camp', spec: nodeJob('mn-slow', script, 2, { timeoutSeconds: 1 }) });
    const outcome = await finished('mn-slow');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'timeout' });
    for (const r of [0, 1]) expect(isProcessAlive(Number(readFileSync(join(out, `t${r}.pid`), 'utf8')))).toBe(false);
  });

  it("gives each rank its own share of the job's GPUs", async () => {
    const { ex, events, finished } = start({ sandbox: 'none', gpus: [0, 1, 2, 3] });
    await ex.recover();
    const script =
      "console.log('gpus', process.env.RANK, process.env.CUDA_VISIBLE_DEVICES, process.env.AEVO_RANK_GPUS)";
    await ex.submit({
      campaignId: 'camp',
      spec: nodeJob('mn-gpu', script, 2, { resources: { cpu: 1, memoryMiB: 256, gpu: 2, nodes: 2 } }),
    });
    const outcome = await finished('mn-gpu');
    expect(outcome).toMatchObject({ status: 'succeeded', gpuCount: 4, budgetUnit: 'gpu-seconds' });
    expect(events.find((e) => e.type === 'started')).toMatchObject({ slot: 'gpu:0,1,2,3' });
    expect(outcome.logTail).toBe('gpus 0 0,1 undefined');
    expect(readFileSync(join(root, 'logs', 'mn-gpu.rank1.log'), 'utf8')).toBe('gpus 1 2,3 undefined\n');
  });

  it('refuses a job asking for more nodes than the machine has slots, saying so', async () => {
    const { ex, finished } = start({ sandbox: 'none', cpuSlots: 2 });
    await ex.recover();
    await ex.submit({ campaignId: 'camp', spec: nodeJob('mn-too-big', 'process.exit(0)', 3) });
    expect(await finished('mn-too-big')).toMatchObject({
      status: 'failed',
      reason: 'executor-error',
      message: 'job asks for 3 nodes (a CPU slot each), this machine has 2 CPU slots',
    });
  });
});
