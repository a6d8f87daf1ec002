import { z } from 'zod';
import { defineEvent } from '../envelope';
import { Sha256, Uuid } from '../ids';

export const CampaignReportRecorded = defineEvent(
  'CampaignReportRecorded',
  {
    owners: ['collector'],
    description:
      'The collector rendered the completed campaign’s report (`aevo report`) from the log up to CampaignCompleted ' +
      'and recorded its hash (once per campaign).',
  },
  z
    .object({
      /** sha256 (hex) of the report's HTML bytes (UTF-8). */
      reportSha256: Sha256,
      /** The campaign's CampaignCompleted: the report covers the campaign's events up to and including it. */
      throughEventId: Uuid,
      /** Its position in the store the collector read (informative; a replay cuts at the event id). */
      throughPosition: z.number().int().min(1),
      /** How many of the campaign's events the report was built from. */
      events: z.number().int().min(1),
      /** Size of the HTML in bytes. */
      bytes: z.number().int().min(1),
      /** Which renderer made it (report format and chart library version): another renderer gives other bytes. */
      rendererVersion: z.string().min(1),
    })
    .strict(),
);
