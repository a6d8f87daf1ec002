import { EventPattern, MessagePattern } from '@nestjs/microservices';
import type { CommandDefinition, EventDefinition } from '@aevo/contracts';

export interface EventHandlerOptions {
  /** Messages of this consumer handled at once per replica (default 1). */
  concurrency?: number;
}

/**
 * `@EventPattern(def.type, opts)` with the event type checked at compile time. Several definitions give one handler
 * for several event types (e.g. a job's three terminal events): each type still has its own durable consumer,
 * with the same options.
 */
export const OnEvent = (
  def: EventDefinition | readonly [EventDefinition, ...EventDefinition[]],
  opts: EventHandlerOptions = {},
): MethodDecorator =>
  EventPattern(Array.isArray(def) ? def.map((d: EventDefinition) => d.type) : (def as EventDefinition).type, {
    ...opts,
  });

/** `@MessagePattern(def.name)` for a command of the catalogue. */
export const OnCommand = (def: CommandDefinition): MethodDecorator => MessagePattern(def.name);
