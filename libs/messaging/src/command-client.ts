import { connect } from '@nats-io/transport-node';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { CommandReply, uuidv7, type CommandDefinition } from '@aevo/contracts';
import type { z } from 'zod';
import type { NatsAuthOptions } from '@aevo/eventstore';
import { natsServers } from './config';
import { commandSubject } from './subjects';
import { activeTraceContext, type TraceContextCarrier } from './observability/tracing';

function traceHeaders(t: TraceContextCarrier): MsgHdrs {
  const h = headers();
  h.set('traceparent', t.traceparent);
  if (t.tracestate) h.set('tracestate', t.tracestate);
  return h;
}

export interface SendOptions {
  /** Idempotency key; generated (`cmd-<uuidv7>`) when absent. Resend with the same id after a TIMEOUT. */
  commandId?: string;
  issuedBy?: string;
  correlationId?: string | null;
  timeoutMs?: number;
}

export interface CommandClientOptions {
  natsUrl: string;
  subjectPrefix: string;
  /** Default request timeout (10 s). */
  timeoutMs?: number;
  /** Who the commands are from when `issuedBy` is not given (default "cli"). */
  issuedBy?: string;
  /** The sender's NATS user (natsAuthFor); empty for a server without authorization. */
  natsAuth?: NatsAuthOptions;
}

export const newCommandId = (): string => `cmd-${uuidv7()}`;

/**
 * Sends commands on `<prefix>.cmd.<name>` and returns the parsed `CommandReply`; transport failures are replies too.
 */
export class CommandClient {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: CommandClientOptions,
    private readonly ownsConnection: boolean,
  ) {}

  static async connect(opts: CommandClientOptions): Promise<CommandClient> {
    const nc = await connect({
      servers: natsServers(opts.natsUrl),
      name: 'aevo-command-client',
      ...(opts.natsAuth ?? {}),
    });
    return new CommandClient(nc, opts, true);
  }

  /** Uses an existing connection (not closed by close()). */
  static on(nc: NatsConnection, opts: Omit<CommandClientOptions, 'natsUrl'>): CommandClient {
    return new CommandClient(nc, { natsUrl: '', ...opts }, false);
  }

  async send<D extends CommandDefinition>(
    def: D | string,
    payload: z.input<D['payload']> | unknown,
    opts: SendOptions = {},
  ): Promise<CommandReply> {
    const name = typeof def === 'string' ? def : def.name;
    const commandId = opts.commandId ?? newCommandId();
    const envelope = {
      commandId,
      name,
      issuedBy: opts.issuedBy ?? this.opts.issuedBy ?? 'cli',
      correlationId: opts.correlationId ?? null,
      payload,
    };
    return this.request(name, JSON.stringify(envelope), commandId, opts.timeoutMs);
  }

  /** Sends arbitrary bytes or JSON as a command request (for tests of bad input); returns the reply as received. */
  async sendRaw(name: string, body: string | Uint8Array | object, timeoutMs?: number): Promise<CommandReply> {
    const data = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    return this.request(name, data, null, timeoutMs);
  }

  private async request(
    name: string,
    data: string | Uint8Array,
    commandId: string | null,
    timeoutMs?: number,
  ): Promise<CommandReply> {
    const timeout = timeoutMs ?? this.opts.timeoutMs ?? 10_000;
    let text: string;
    try {
      // The caller's trace (when tracing is on and a span is active) continues in the handler.
      const caller = activeTraceContext();
      const msg = await this.nc.request(
        commandSubject(this.opts.subjectPrefix, name),
        data,
        caller ? { timeout, headers: traceHeaders(caller) } : { timeout },
      );
      text = msg.string();
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { name?: string }; isNoResponders?: () => boolean };
      const noResponders =
        e.isNoResponders?.() === true ||
        e.name === 'NoRespondersError' ||
        e.cause?.name === 'NoRespondersError' ||
        /no responders/i.test(String(e.message));
      if (noResponders)
        return {
          ok: false,
          commandId,
          error: { code: 'NO_RESPONDERS', message: `no service answers ${name} (is its service running?)`, issues: [] },
        };
      const timedOut =
        e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError' || /time ?out/i.test(String(e.message));
      if (timedOut)
        return {
          ok: false,
          commandId,
          error: {
            code: 'TIMEOUT',
            message:
              `${name} got no reply within ${timeout} ms; ` + `the outcome is unknown, resend with the same commandId`,
            issues: [],
          },
        };
      throw err;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return {
        ok: false,
        commandId,
        error: { code: 'INVALID_REPLY', message: `reply to ${name} is not JSON`, issues: [] },
      };
    }
    const parsed = CommandReply.safeParse(raw);
    if (!parsed.success)
      return {
        ok: false,
        commandId,
        error: {
          code: 'INVALID_REPLY',
          message: `reply to ${name} is not a CommandReply`,
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
        },
      };
    return parsed.data;
  }

  async close(): Promise<void> {
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}
