/**
 * The environment torch.distributed's env:// rendezvous (and torchrun's static one) reads, for one rank of a job that
 * runs as `worldSize` ranks, one process per node: torchrun users may still pass their own --nproc-per-node.
 */
export interface Rendezvous {
  /** Where rank 0 listens: 127.0.0.1 locally, `<job>-0.<service>` on Kubernetes. */
  masterAddr: string;
  masterPort: number;
  worldSize: number;
}

/** Default port of rank 0 on Kubernetes (torch's own default); each pod has its own network namespace. */
export const DEFAULT_MASTER_PORT = 29500;

export function rendezvousProblem(rdv: Rendezvous, rank?: number): string | null {
  if (!rdv.masterAddr) return 'MASTER_ADDR must not be empty';
  if (!Number.isInteger(rdv.masterPort) || rdv.masterPort < 1 || rdv.masterPort > 65535)
    return `MASTER_PORT must be an integer port 1..65535, got ${rdv.masterPort}`;
  if (!Number.isInteger(rdv.worldSize) || rdv.worldSize < 1)
    return `WORLD_SIZE must be an integer of at least 1, got ${rdv.worldSize}`;
  if (rank !== undefined && (!Number.isInteger(rank) || rank < 0 || rank >= rdv.worldSize))
    return `RANK must be an integer 0..${rdv.worldSize - 1}, got ${rank}`;
  return null;
}

/** What every rank shares (Kubernetes fills RANK and NODE_RANK from the pod's completion index instead). */
export function sharedRendezvousEnv(rdv: Rendezvous): Record<string, string> {
  const problem = rendezvousProblem(rdv);
  if (problem) throw new RangeError(problem);
  return {
    MASTER_ADDR: rdv.masterAddr,
    MASTER_PORT: String(rdv.masterPort),
    WORLD_SIZE: String(rdv.worldSize),
    LOCAL_RANK: '0',
    LOCAL_WORLD_SIZE: '1',
  };
}

/** The full rendezvous environment of rank `rank` (0-based; rank 0 hosts the store at MASTER_ADDR:MASTER_PORT). */
export function rendezvousEnv(rdv: Rendezvous, rank: number): Record<string, string> {
  const problem = rendezvousProblem(rdv, rank);
  if (problem) throw new RangeError(problem);
  return { ...sharedRendezvousEnv(rdv), RANK: String(rank), NODE_RANK: String(rank) };
}
