/** The fake's records as the protocol's messages (and back): ids, positions, read and checkpoint responses. */
import { randomUUID } from 'node:crypto';
import {
  AppendReq,
  AppendResp,
  ReadReq,
  ReadResp,
} from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_pb';
import { Empty, StreamIdentifier, UUID } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb';

/** One event as the fake's transaction log holds it. */
export interface FakeRecord {
  stream: string;
  revision: number;
  id: string;
  type: string;
  contentType: string;
  /** ticks (100 ns) since the Unix epoch, as the server sends `created`. */
  created: bigint;
  data: Uint8Array;
  customMetadata: Uint8Array;
  prepare: bigint;
  commit: bigint;
}

export function positionOf(p: ReadReq.Options.Position): { commit: bigint; prepare: bigint } {
  return { commit: BigInt(p.getCommitPosition()), prepare: BigInt(p.getPreparePosition()) };
}

export function compare(r: { commit: bigint; prepare: bigint }, p: { commit: bigint; prepare: bigint }): number {
  if (r.commit !== p.commit) return r.commit < p.commit ? -1 : 1;
  if (r.prepare !== p.prepare) return r.prepare < p.prepare ? -1 : 1;
  return 0;
}

export function uuidText(u: UUID | undefined): string {
  if (!u) return randomUUID();
  if (u.hasString()) return u.getString();
  const s = u.getStructured()!;
  const hex = (v: string) => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0');
  const h = hex(s.getMostSignificantBits()) + hex(s.getLeastSignificantBits());
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function uuidMessage(id: string, structured: boolean): UUID {
  const u = new UUID();
  if (!structured) return u.setString(id);
  const h = id.replace(/-/g, '');
  const s = new UUID.Structured();
  s.setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${h.slice(0, 16)}`)).toString());
  s.setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${h.slice(16)}`)).toString());
  return u.setStructured(s);
}

export function eventResp(r: FakeRecord, structuredIds: boolean): ReadResp {
  const rec = new ReadResp.ReadEvent.RecordedEvent();
  rec.setId(uuidMessage(r.id, structuredIds));
  const sid = new StreamIdentifier();
  sid.setStreamName(Buffer.from(r.stream, 'utf8'));
  rec.setStreamIdentifier(sid);
  rec.setStreamRevision(String(r.revision));
  rec.setPreparePosition(String(r.prepare));
  rec.setCommitPosition(String(r.commit));
  const meta = rec.getMetadataMap();
  meta.set('type', r.type);
  meta.set('content-type', r.contentType);
  meta.set('created', String(r.created));
  rec.setCustomMetadata(r.customMetadata);
  rec.setData(r.data);
  const ev = new ReadResp.ReadEvent();
  ev.setEvent(rec);
  ev.setCommitPosition(String(r.commit));
  const resp = new ReadResp();
  resp.setEvent(ev);
  return resp;
}

export function checkpointResp(r: FakeRecord): ReadResp {
  const cp = new ReadResp.Checkpoint();
  cp.setCommitPosition(String(r.commit));
  cp.setPreparePosition(String(r.prepare));
  const resp = new ReadResp();
  resp.setCheckpoint(cp);
  return resp;
}

/** A successful append of `written` (the last one's revision and position). */
export function appendSuccess(written: FakeRecord[]): AppendResp.Success {
  const last = written[written.length - 1];
  const success = new AppendResp.Success();
  success.setCurrentRevision(String(last.revision));
  const pos = new AppendResp.Position();
  pos.setCommitPosition(String(last.commit));
  pos.setPreparePosition(String(last.prepare));
  success.setPosition(pos);
  return success;
}

/** A successful append of no events: the stream's state, no position. */
export function emptyAppendSuccess(current: number | null): AppendResp.Success {
  const success = new AppendResp.Success();
  if (current === null) success.setNoStream(new Empty());
  else success.setCurrentRevision(String(current));
  success.setNoPosition(new Empty());
  return success;
}

/** The WrongExpectedVersion answer as streams.proto defines it, with both its current and its 20.6 fields. */
export function wrongExpectedVersion(
  current: number | null,
  expectedCase: AppendReq.Options.ExpectedStreamRevisionCase,
  expectedRevision: number | null,
): AppendResp.WrongExpectedVersion {
  const Case = AppendReq.Options.ExpectedStreamRevisionCase;
  const wrong = new AppendResp.WrongExpectedVersion();
  if (current === null) {
    wrong.setCurrentNoStream(new Empty());
    wrong.setNoStream2060(new Empty());
  } else {
    wrong.setCurrentRevision(String(current));
    wrong.setCurrentRevision2060(current);
  }
  if (expectedCase === Case.REVISION) {
    wrong.setExpectedRevision(String(expectedRevision));
    wrong.setExpectedRevision2060(expectedRevision!);
  } else if (expectedCase === Case.NO_STREAM) wrong.setExpectedNoStream(new Empty());
  else if (expectedCase === Case.STREAM_EXISTS) {
    wrong.setExpectedStreamExists(new Empty());
    wrong.setStreamExists2060(new Empty());
  } else wrong.setExpectedAny(new Empty());
  return wrong;
}
