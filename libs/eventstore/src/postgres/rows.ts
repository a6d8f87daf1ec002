import type { StoredEvent } from '../port';

export interface EventRow {
  position: string;
  stream_id: string;
  stream_version: string;
  event_id: string;
  type: string;
  schema_version: number;
  campaign_id: string;
  causation_id: string | null;
  correlation_id: string | null;
  source: string;
  data: unknown;
  time: string;
}

export const EVENT_COLUMNS =
  'position, stream_id, stream_version, event_id, type, schema_version, campaign_id, causation_id, ' +
  'correlation_id, source, data, time';

export function rowToStoredEvent(r: EventRow): StoredEvent {
  return {
    id: r.event_id,
    type: r.type,
    schemaVersion: r.schema_version,
    streamId: r.stream_id,
    campaignId: r.campaign_id,
    causationId: r.causation_id,
    correlationId: r.correlation_id,
    time: r.time,
    source: r.source as StoredEvent['source'],
    data: r.data,
    position: Number(r.position),
    streamVersion: Number(r.stream_version),
  };
}
