/** Where a service serves its probes and its metrics; null turns one off. */
export interface ObservabilityPorts {
  /** `/healthz` and `/readyz` (AEVO_HEALTH_PORT; 0 = any free port, for tests). */
  healthPort: number | null;
  /** `/metrics` (AEVO_METRICS_PORT); the same number as healthPort serves all three on one server. */
  metricsPort: number | null;
  /** Interface both listen on (AEVO_HEALTH_HOST, default 0.0.0.0 so that kubelet and Prometheus reach the pod). */
  host: string;
}

/**
 * Reads one port setting: unset or empty is off, otherwise an integer 0..65535. Throws naming the variable and
 * the value, so a typo in a manifest fails the start instead of silently turning the probe off.
 */
export function parsePortSetting(name: string, raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const text = raw.trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port > 65535)
    throw new Error(
      `${name} "${raw}": expected a TCP port number 0..65535 (0 = any free port), or unset to turn it off`,
    );
  return port;
}

/** Explicit options first (a number, or null for off), then the environment; off when neither says. */
export function resolveObservabilityPorts(
  explicit: { healthPort?: number | null; metricsPort?: number | null; host?: string },
  env: NodeJS.ProcessEnv,
): ObservabilityPorts {
  const healthPort =
    explicit.healthPort !== undefined
      ? explicit.healthPort
      : parsePortSetting('AEVO_HEALTH_PORT', env.AEVO_HEALTH_PORT);
  const metricsPort =
    explicit.metricsPort !== undefined
      ? explicit.metricsPort
      : parsePortSetting('AEVO_METRICS_PORT', env.AEVO_METRICS_PORT);
  for (const [name, port] of [
    ['healthPort', healthPort],
    ['metricsPort', metricsPort],
  ] as const)
    if (port !== null && (!Number.isInteger(port) || port < 0 || port > 65535))
      throw new Error(`${name} ${String(port)}: expected a TCP port number 0..65535, or null to turn it off`);
  return { healthPort, metricsPort, host: explicit.host ?? (env.AEVO_HEALTH_HOST?.trim() || '0.0.0.0') };
}
