import { EventPattern, MessagePattern } from '@nestjs/microservices';
import type { CommandDefinition, EventDefinition } from '@aevo/contracts';

export interface EventHandlerOptions {
  /** Messages of this consumer handled at once per replica (default 1). */
  concurrency?: number;
}

/** `@EventPattern(def.type, opts)` with the event type checked at compile time. */
export const OnEvent = (def: EventDefinition, opts: EventHandlerOptions = {}): MethodDecorator =>
  EventPattern(def.type, { ...opts });

/** `@MessagePattern(def.name)` for a command of the catalogue. */
export const OnCommand = (def: CommandDefinition): MethodDecorator => MessagePattern(def.name);
