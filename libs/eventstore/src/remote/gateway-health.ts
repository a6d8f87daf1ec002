import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * `/healthz` and `/readyz` for the store gateway process (a Deployment's probes). Here, not in the messaging layer's
 * health server, because the gateway sits below it: it is the event store's own process and imports no Nest.
 * Live: the process answers. Ready: its NATS connection is open and the store it fronts answered a head-position
 * read within the timeout — a gateway that cannot reach the record must leave the Service's endpoints, so that the
 * compute clusters' requests go to a replica that can (they are answered by a queue group).
 */
export interface GatewayHealthChecks {
  natsOpen(): boolean;
  /** A cheap read of the record (the store's head position). */
  storeAnswers(): Promise<unknown>;
}

export interface GatewayHealthServer {
  url: string;
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 2_000;

/** Why the gateway is not ready, or null when it is. Never throws. */
export async function gatewayNotReady(
  checks: GatewayHealthChecks,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<string | null> {
  if (!checks.natsOpen()) return 'the NATS connection is closed';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the event store did not answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([
      checks.storeAnswers().then(
        () => null,
        (err: unknown) => `the event store refused a read: ${err instanceof Error ? err.message : String(err)}`,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Serves the probes on `port` (0: any free port) at `host`; resolves once listening. */
export function startGatewayHealthServer(
  checks: GatewayHealthChecks,
  port: number,
  host = '0.0.0.0',
): Promise<GatewayHealthServer> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const route = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, { error: 'GET only' });
    if (route === '/healthz') return reply(200, { status: 'ok' });
    if (route === '/readyz') {
      gatewayNotReady(checks).then((reason) =>
        reason === null ? reply(200, { status: 'ready' }) : reply(503, { status: 'not ready', reason }),
      );
      return;
    }
    reply(404, { error: 'not found: /healthz and /readyz only' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
      resolve({
        url: `http://${shown}:${address.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
