import type { Logger } from '@nestjs/common';
import type { MessageHandler } from '@nestjs/microservices';
import type { Msg } from '@nats-io/nats-core';
import { lastValueFrom, type Observable } from 'rxjs';
import type { CommandReply } from '@aevo/contracts';
import { decodeCommandRequest, errorReplyOf, okReply } from './command-decoding';
import { CommandContext } from './contexts';
import { describeError } from './describe-error';
import { ServiceTracing, SpanKind } from './observability/tracing';
import type { ResolvedServerOptions } from './jetstream.options';

export interface CommandDeps {
  opts: Pick<ResolvedServerOptions, 'observer' | 'tracing'>;
  log: Logger;
  /** Nest's conversion of a handler's result to an observable. */
  toObservable(result: unknown): Observable<unknown>;
}

/**
 * Answers one command request: decodes it, runs the handler (in a span when tracing) and replies
 * `{ ok: true, result }` or a structured error; a request without a reply subject is run and not answered.
 */
export async function processCommand(
  name: string,
  handler: MessageHandler,
  msg: Msg,
  deps: CommandDeps,
): Promise<void> {
  const began = deps.opts.observer ? performance.now() : 0;
  let reply: CommandReply;
  const decoded = decodeCommandRequest(name, msg.data);
  if (!decoded.ok) reply = decoded.reply;
  else {
    const command = decoded.command;
    try {
      const ctx = new CommandContext([msg, command]);
      const run = async () =>
        lastValueFrom(deps.toObservable(await handler(command, ctx)), { defaultValue: undefined });
      const tracing = deps.opts.tracing;
      const value = tracing
        ? await tracing.inSpan(
            `handle ${name}`,
            SpanKind.SERVER,
            ServiceTracing.extract(msg.headers),
            { 'messaging.system': 'nats', 'aevo.command': name, 'aevo.command_id': command.commandId },
            run,
            command.commandId,
          )
        : await run();
      reply = okReply(command.commandId, value);
    } catch (err) {
      const failed = errorReplyOf(command.commandId, err);
      reply = failed;
      if (failed.error.code === 'INTERNAL')
        deps.log.error(`${name} ${command.commandId} failed: ${describeError(err)}`);
    }
  }
  deps.opts.observer?.commandAnswered(name, reply.ok ? 'ok' : reply.error.code, (performance.now() - began) / 1000);
  if (!msg.reply) return; // published without a reply subject: nothing to answer
  try {
    msg.respond(JSON.stringify(reply));
  } catch (err) {
    deps.log.error(`could not reply to ${name}: ${describeError(err)}`);
    msg.respond(JSON.stringify(errorReplyOf(reply.commandId, new Error('reply could not be serialised'))));
  }
}
