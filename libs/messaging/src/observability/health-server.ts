import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One readiness condition: resolves when it holds, rejects (or resolves with a reason string) when it does not. */
export type ReadinessCheck = () => Promise<string | null | void>;

export interface ReadinessReport {
  ready: boolean;
  /** Per check: "ok" or why it fails. */
  checks: Record<string, string>;
  /** Names of the failing checks (empty when ready). */
  failing: string[];
}

/** Runs every check at once, each bounded by `timeoutMs` (a hung store connection must not hang the probe). */
export async function evaluateReadiness(
  checks: Record<string, ReadinessCheck>,
  timeoutMs: number,
): Promise<ReadinessReport> {
  const names = Object.keys(checks);
  const outcomes = await Promise.all(names.map((n) => withTimeout(checks[n], timeoutMs)));
  const report: ReadinessReport = { ready: true, checks: {}, failing: [] };
  names.forEach((n, i) => {
    const problem = outcomes[i];
    report.checks[n] = problem ?? 'ok';
    if (problem !== null) {
      report.ready = false;
      report.failing.push(n);
    }
  });
  return report;
}

async function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    const problem = await Promise.race([check().then((r) => (typeof r === 'string' && r !== '' ? r : null)), timedOut]);
    return problem;
  } catch (err) {
    return err instanceof Error ? err.message || err.name : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/** What `/metrics` answers: Prometheus text exposition of one registry. */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

export interface ObservabilityServerOptions {
  host: string;
  /** `/healthz` and `/readyz`; null: not served. */
  healthPort: number | null;
  /** `/metrics`; null: not served. Equal to healthPort: one server serves all three. */
  metricsPort: number | null;
  readiness: Record<string, ReadinessCheck>;
  metrics?: MetricsSource;
  /** Bound on each readiness check (default 2 s; give the readiness probe a timeoutSeconds of at least 3). */
  checkTimeoutMs?: number;
}

type Route = 'healthz' | 'readyz' | 'metrics';

/**
 * The small HTTP side of a service: `/healthz` (the process is up and its event loop answers), `/readyz` (every
 * readiness check holds, else 503 with the failing ones named) and `/metrics`. node:http only: probes must keep
 * answering when the application's own framework is what is stuck.
 */
export class ObservabilityServer {
  private readonly servers: Array<{ server: http.Server; routes: Set<Route> }> = [];
  private constructor(private readonly opts: ObservabilityServerOptions) {}

  /** Listens on the configured ports; resolves once bound (a port in use rejects, naming it). */
  static async start(opts: ObservabilityServerOptions): Promise<ObservabilityServer> {
    const s = new ObservabilityServer(opts);
    const plan = new Map<number, Set<Route>>();
    const add = (port: number | null, routes: Route[]) => {
      if (port === null) return;
      // Port 0 means "any": two zeros are two servers, not one.
      const key = port === 0 ? -1 - plan.size : port;
      const set = plan.get(key) ?? new Set<Route>();
      for (const r of routes) set.add(r);
      plan.set(key, set);
    };
    add(opts.healthPort, ['healthz', 'readyz']);
    add(opts.metricsPort !== null && opts.metrics ? opts.metricsPort : null, ['metrics']);
    try {
      for (const [key, routes] of plan) await s.listen(key < 0 ? 0 : key, routes);
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  private listen(port: number, routes: Set<Route>): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(routes, req, res));
    // Probes are short; a client that keeps a socket open must not hold shutdown.
    server.keepAliveTimeout = 1000;
    this.servers.push({ server, routes });
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new Error(
            `cannot serve ${[...routes].map((r) => `/${r}`).join(', ')} on ${this.opts.host}:${port}: ${err.message}`,
          ),
        ),
      );
      server.listen(port, this.opts.host, () => resolve());
    });
  }

  /** The port serving a route (useful with port 0), or null when it is not served. */
  portOf(route: Route): number | null {
    const s = this.servers.find((x) => x.routes.has(route));
    if (!s) return null;
    const addr = s.server.address() as AddressInfo | null;
    return addr ? addr.port : null;
  }

  private async handle(routes: Set<Route>, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const route = (req.url ?? '/').split('?')[0].replace(/^\/+/, '') as Route;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(res, 405, { error: `${req.method} not allowed: expected GET` });
      if (!routes.has(route))
        return send(res, 404, { error: `no route ${req.url}: expected ${[...routes].map((r) => `/${r}`).join(', ')}` });
      if (route === 'healthz') return send(res, 200, { status: 'up' });
      if (route === 'readyz') {
        const report = await evaluateReadiness(this.opts.readiness, this.opts.checkTimeoutMs ?? 2000);
        return send(res, report.ready ? 200 : 503, {
          status: report.ready ? 'ready' : 'not ready',
          failing: report.failing,
          checks: report.checks,
        });
      }
      const source = this.opts.metrics as MetricsSource;
      const body = await source.metrics();
      res.writeHead(200, { 'content-type': source.contentType, 'cache-control': 'no-store' });
      res.end(body);
    } catch (err) {
      send(res, 500, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.splice(0).map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
