import * as path from 'node:path';
import type { EventStore } from '@aevo/eventstore';
import { LocalExecutor } from '@aevo/executors';
import {
  EventEvaluationPort,
  EventJobPort,
  LocalEvaluationPort,
  LocalJobPort,
  type EvaluationPort,
  type JobPort,
} from '@aevo/worker-kit';
import type { WorkerSettings } from '../config';

/** Where jobs and evaluations go: dispatch and the evaluation service (events), or this process (local). */
export interface CandidatePorts {
  jobs(campaignId: string): JobPort;
  /** `size` is the campaign's substrate size (the evaluate entrypoint may use it). */
  evaluator(campaignId: string, size: string): EvaluationPort;
  close(): Promise<void>;
}

export class EventPorts implements CandidatePorts {
  private readonly jobPorts = new Map<string, EventJobPort>();
  /** One per campaign, like the job ports: each tails the store once for every candidate of its campaign. */
  private readonly evaluationPorts = new Map<string, EventEvaluationPort>();
  constructor(private readonly store: EventStore) {}
  jobs(campaignId: string): JobPort {
    let p = this.jobPorts.get(campaignId);
    if (!p) this.jobPorts.set(campaignId, (p = new EventJobPort(this.store, { campaignId })));
    return p;
  }
  evaluator(campaignId: string): EvaluationPort {
    let p = this.evaluationPorts.get(campaignId);
    if (!p) this.evaluationPorts.set(campaignId, (p = new EventEvaluationPort(this.store, campaignId)));
    return p;
  }
  async close(): Promise<void> {}
}

export class LocalPorts implements CandidatePorts {
  readonly executor: LocalExecutor;
  private readonly home: string;
  constructor(private readonly settings: Pick<WorkerSettings, 'aevoHome' | 'localSlots' | 'device'>) {
    this.home = path.resolve(settings.aevoHome, 'worker-local');
    // AEVO_HOME is the root the jobs' isolation is planned against (sandboxes and snapshots live there).
    this.executor = new LocalExecutor({
      home: path.resolve(settings.aevoHome),
      stateDir: path.join(this.home, 'local-jobs'),
      logDir: path.join(this.home, 'logs'),
      cpuSlots: settings.localSlots,
    });
  }
  jobs(campaignId: string): JobPort {
    return new LocalJobPort(this.executor, campaignId, { logDir: path.join(this.home, 'logs') });
  }
  evaluator(campaignId: string, size: string): EvaluationPort {
    return new LocalEvaluationPort(this.jobs(campaignId), {
      scoresDir: path.join(this.home, 'scores'),
      size,
      device: this.settings.device,
    });
  }
  async close(): Promise<void> {
    await this.executor.close();
  }
}
