import type { SubstrateManifest } from '@aevo/contracts';
import type { CandidateCommand } from '../domain/candidate';
import type { EvaluationPort, JobPort, WorkerConfig, WorkerInputs } from '../ports';
import type { SandboxFiles } from '../sandbox-files';
import type { CandidateSummary } from '../summary';
import type { TraceState } from '../trace';
import type { JobTools } from './jobs';

/** What a tool handler may use of the runtime: the candidate's inputs, its sandbox, its trace and its ports. */
export interface ToolHost {
  readonly inputs: WorkerInputs;
  readonly config: WorkerConfig;
  readonly substrate: SubstrateManifest;
  readonly files: SandboxFiles;
  readonly candidateId: string;
  /** The trace including what is staged. */
  readonly trace: TraceState;
  readonly jobPort: JobPort;
  readonly evaluator: EvaluationPort;
  /** Jobs of this candidate (requests, waits, log tails). */
  readonly jobs: JobTools;
  summary(): CandidateSummary;
  currentRecipe(): string;
  /** Decides a command on the trace and appends it with everything staged. */
  apply(cmd: CandidateCommand): Promise<void>;
  /** Appends what is staged before waiting on anything outside the process. */
  flush(): Promise<void>;
  /** The longest single wait of a tool call. */
  maxWaitSeconds(): number;
}
