import type { SchemaNames } from './schema';

/**
 * The payload of a typed notification: the head, a space, and the event types the commit appended, comma-separated
 * (`"412 JobQueued,TraceStepRecorded"`; each item's types come from the client, distinct within the item), so a
 * reader waiting for some types can skip the others. Just the head when an item came without its types (a client
 * older than migration 3) or the list would not fit NOTIFY's 8000 bytes: readers then treat the types as unknown.
 */
const TYPED_PAYLOAD = `CASE WHEN v_untyped OR octet_length(v_typelist) > 7900 THEN v_head::text
                   ELSE v_head::text || ' ' || v_typelist END`;

/** Per appended item, without a query: concatenation only, under the append lock. */
const COLLECT_TYPES = `    IF v_count > 0 THEN
      v_untyped := v_untyped OR NOT (v_item ? 'types');
      v_typelist := CASE WHEN v_typelist = '' THEN coalesce(v_item->>'types', '')
                         ELSE v_typelist || ',' || coalesce(v_item->>'types', '') END;
    END IF;
`;

/**
 * The chained append_group (migration 2; the contract is described above migration 1's in schema.ts): under the
 * append lock, each item's events get their positions, versions and chain links, one commit serves the group and
 * one NOTIFY announces the new head. With `typed` (migration 3) the NOTIFY also names the appended event types.
 */
export function chainedAppendGroupSql(n: SchemaNames, typed: boolean): string {
  return `CREATE OR REPLACE FUNCTION ${n.appendGroupFn}(p_appends jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_item     jsonb;
  v_stream   text;
  v_expected bigint;
  v_command  text;
  v_events   jsonb;
  v_previous jsonb;
  v_version  bigint;
  v_head     bigint;
  v_count    integer;
  v_dup      text;
  v_result   jsonb;
  v_answers  jsonb := '[]'::jsonb;
  v_notify   boolean := false;
  v_prev     text;
  v_hashes   jsonb;
  v_meta     text;
  v_links    text[];
  v_i        integer;
${typed ? "  v_typelist text := '';\n  v_untyped  boolean := false;\n" : ''}BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('${n.appendLockKey}'));
  -- The predecessor's chain hash is read under the lock, so the chain follows the same order as the positions.
  SELECT position, chain_hash INTO v_head, v_prev FROM ${n.events} ORDER BY position DESC LIMIT 1;
  IF NOT FOUND THEN
    v_head := 0;
    v_prev := '${'0'.repeat(64)}';
  END IF;
  FOR v_item IN SELECT value FROM jsonb_array_elements(p_appends) LOOP
    v_stream := v_item->>'stream';
    v_expected := (v_item->>'expected')::bigint;
    v_command := v_item->>'commandId';
    v_events := v_item->'events';
    v_count := jsonb_array_length(v_events);
    IF v_command IS NOT NULL THEN
      SELECT result INTO v_previous FROM ${n.commands} WHERE command_id = v_command;
      IF FOUND THEN
        v_answers := v_answers
          || jsonb_build_array(jsonb_build_object('ok', v_previous || '{"duplicate": true}'::jsonb));
        CONTINUE;
      END IF;
    END IF;
    SELECT coalesce(max(stream_version), 0) INTO v_version FROM ${n.events} WHERE stream_id = v_stream;
    IF v_expected >= 0 AND v_version <> v_expected THEN
      v_answers := v_answers || jsonb_build_array(jsonb_build_object('error', 'concurrency', 'actual', v_version));
      CONTINUE;
    END IF;
    -- Checked here rather than caught, so that a refused item needs no subtransaction.
    SELECT x.id INTO v_dup FROM jsonb_array_elements_text(jsonb_path_query_array(v_events, '$[*].id')) AS x(id)
      WHERE EXISTS (SELECT 1 FROM ${n.events} WHERE event_id = x.id::uuid) LIMIT 1;
    IF v_dup IS NOT NULL THEN
      v_answers := v_answers || jsonb_build_array(jsonb_build_object('error', 'duplicate_event_id', 'eventId', v_dup));
      CONTINUE;
    END IF;
    -- Content hashes come from the store (canonical JSON needs Node); a caller without them is refused rather
    -- than leaving an unchained row.
    v_hashes := v_item->'contentHashes';
    v_meta := v_item->>'metadataHash';
    IF v_count > 0 AND (v_hashes IS NULL OR jsonb_array_length(v_hashes) <> v_count OR v_meta IS NULL) THEN
      RAISE EXCEPTION 'append without content hashes: the client predates the hash chain (schema migration 2)';
    END IF;
    v_links := '{}';
    FOR v_i IN 1..v_count LOOP
      v_prev := encode(sha256(convert_to(
        v_prev || ':' || (v_head + v_i) || ':' || (v_version + v_i) || ':' || (v_hashes->>(v_i - 1)) || ':' || v_meta,
        'UTF8')), 'hex');
      v_links := v_links || v_prev;
    END LOOP;
    INSERT INTO ${n.events} (position, stream_id, stream_version, event_id, type, schema_version, campaign_id,
                             causation_id, correlation_id, source, data, metadata, time, content_hash, chain_hash)
    SELECT v_head + e.ord, v_stream, v_version + e.ord, (e.ev->>'id')::uuid, e.ev->>'type',
           (e.ev->>'schemaVersion')::integer, e.ev->>'campaignId', e.ev->>'causationId', e.ev->>'correlationId',
           e.ev->>'source', coalesce(e.ev->'data', 'null'::jsonb), coalesce(v_item->'metadata', '{}'::jsonb),
           e.ev->>'time',
           v_hashes->>(e.ord::integer - 1), v_links[e.ord]
      FROM jsonb_array_elements(v_events) WITH ORDINALITY AS e(ev, ord);
    v_result := jsonb_build_object(
      'streamId', v_stream,
      'nextExpectedVersion', v_version + v_count,
      'positions', (SELECT coalesce(jsonb_agg(v_head + g ORDER BY g), '[]'::jsonb)
                      FROM generate_series(1, v_count) AS g),
      'duplicate', false)
      || CASE WHEN v_item ? 'commandResult' THEN jsonb_build_object('commandResult', v_item->'commandResult')
              ELSE '{}'::jsonb END;
    IF v_command IS NOT NULL THEN
      INSERT INTO ${n.commands} (command_id, stream_id, result) VALUES (v_command, v_stream, v_result);
    END IF;
    v_head := v_head + v_count;
    v_notify := v_notify OR v_count > 0;
${typed ? COLLECT_TYPES : ''}    v_answers := v_answers || jsonb_build_array(jsonb_build_object('ok', v_result));
  END LOOP;
  IF v_notify THEN
    PERFORM pg_notify('${n.channel}', ${typed ? TYPED_PAYLOAD : 'v_head::text'});
  END IF;
  RETURN v_answers;
END
$fn$;
`;
}
