import 'reflect-metadata';
import { PATTERN_METADATA, PATTERN_EXTRAS_METADATA } from '@nestjs/microservices/constants';
import { JobCancelled, JobFailed, JobSucceeded, RoundClosed } from '@aevo/contracts';
import { OnEvent } from './decorators';

class Handlers {
  @OnEvent(RoundClosed)
  one(): void {}

  @OnEvent([JobSucceeded, JobFailed, JobCancelled], { concurrency: 4 })
  terminal(): void {}
}

describe('OnEvent', () => {
  it('subscribes a handler to one event type', () => {
    expect(Reflect.getMetadata(PATTERN_METADATA, Handlers.prototype.one)).toEqual(['RoundClosed']);
  });

  it('subscribes one handler to several event types, each with the same options (Nest binds one consumer each)', () => {
    expect(Reflect.getMetadata(PATTERN_METADATA, Handlers.prototype.terminal)).toEqual([
      'JobSucceeded',
      'JobFailed',
      'JobCancelled',
    ]);
    expect(Reflect.getMetadata(PATTERN_EXTRAS_METADATA, Handlers.prototype.terminal)).toEqual({ concurrency: 4 });
  });
});
