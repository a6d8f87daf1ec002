import { z } from 'zod';
import { defineEvent } from '../envelope';

export const MessageDeadLettered = defineEvent(
  'MessageDeadLettered',
  {
    owners: [
      'platform',
      'orchestrator',
      'substrate',
      'worker',
      'dispatch',
      'evaluation',
      'leaderboard',
      'collector',
      'meta-policy',
      'api',
    ],
    description: 'A handler failed on a message max_deliver times; it was terminated and parked here.',
  },
  z
    .object({
      stream: z.string(),
      consumer: z.string(),
      subject: z.string(),
      streamSequence: z.number().int().min(0),
      deliveries: z.number().int().min(1),
      eventId: z.string().nullable(),
      eventType: z.string().nullable(),
      error: z.string(),
    })
    .strict(),
);
