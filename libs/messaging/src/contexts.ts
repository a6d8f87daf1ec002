import { BaseRpcContext } from '@nestjs/microservices';
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/nats-core';
import type { CommandEnvelope } from '@aevo/contracts';

export interface ConsumerRef {
  stream: string;
  consumer: string;
}

/** Second argument of an `@EventPattern` handler. */
export class JetStreamEventContext extends BaseRpcContext<[JsMsg, ConsumerRef]> {
  /** Tells the server the handler is still busy, so the ack timer restarts (also done automatically). */
  working(): void {
    this.args[0].working();
  }
  getMessage(): JsMsg {
    return this.args[0];
  }
  getSubject(): string {
    return this.args[0].subject;
  }
  /** 1 on the first delivery. */
  getDeliveryCount(): number {
    return this.args[0].info.deliveryCount;
  }
  getStreamSequence(): number {
    return this.args[0].info.streamSequence;
  }
  getConsumerName(): string {
    return this.args[1].consumer;
  }
  getStreamName(): string {
    return this.args[1].stream;
  }
}

/** Second argument of a `@MessagePattern` (command) handler. */
export class CommandContext extends BaseRpcContext<[Msg, CommandEnvelope]> {
  getMessage(): Msg {
    return this.args[0];
  }
  getSubject(): string {
    return this.args[0].subject;
  }
  getCommand(): CommandEnvelope {
    return this.args[1];
  }
}
