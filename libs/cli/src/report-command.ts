import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { CampaignReportRecorded, DataOf } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import {
  campaignReport,
  chartJsUmdSource,
  completedCampaignReport,
  readCampaignLog,
  reportRendererVersion,
  type CampaignReport,
} from '@aevo/projections';
import { UsageError } from './campaign-commands';
import type { CliIo } from './program';

type RecordedReport = StoredEvent & { data: DataOf<typeof CampaignReportRecorded> };

/** How the written report compares with the one the collector recorded when the campaign completed. */
export type RecordedComparison =
  | { kind: 'not-completed' }
  | { kind: 'not-recorded' }
  | { kind: 'other-renderer'; recorded: RecordedReport; renderer: string }
  | { kind: 'equal' | 'differs'; recorded: RecordedReport };

export interface WrittenReport extends CampaignReport {
  /** The log position read up to (the head when the report started, so a live log gives a defined cut). */
  upTo: number;
  file: string;
  /** The completed campaign's CampaignCompleted, the last event the report covers; null while it runs. */
  through: { id: string; position: number } | null;
  recorded: RecordedComparison;
}

function compareWithRecorded(log: StoredEvent[], sha256: string, renderer: string, completed: boolean) {
  if (!completed) return { kind: 'not-completed' } as const;
  const recorded = log.find((e) => e.type === 'CampaignReportRecorded') as RecordedReport | undefined;
  if (!recorded) return { kind: 'not-recorded' } as const;
  if (recorded.data.rendererVersion !== renderer) return { kind: 'other-renderer', recorded, renderer } as const;
  return { kind: recorded.data.reportSha256 === sha256 ? 'equal' : 'differs', recorded } as const;
}

/**
 * Builds the campaign report from the log alone (the same view builders as the API's dashboard) and writes it. A
 * completed campaign's report covers its events up to and including CampaignCompleted — the cut the collector
 * recorded the hash of — so the two can be compared; a running campaign's covers the log as read now.
 * Throws UsageError for a campaign the store does not hold.
 */
export async function writeCampaignReport(
  store: EventStore,
  campaignId: string,
  out: string,
  chartJs: string = chartJsUmdSource(),
): Promise<WrittenReport> {
  const upTo = await store.headPosition();
  const log = await readCampaignLog(store, campaignId, upTo);
  if (!log.some((e) => e.type === 'CampaignStarted'))
    throw new UsageError(`<campaign>: no campaign "${campaignId}" in the store (aevo campaign status lists them)`);
  const completed = completedCampaignReport(log, campaignId, chartJs);
  const report = completed ?? campaignReport(log, campaignId, chartJs);
  const file = path.resolve(out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written beside and renamed, so a reader never sees half a report.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, report.html, 'utf8');
  fs.renameSync(tmp, file);
  const renderer = reportRendererVersion(chartJs);
  return {
    ...report,
    upTo,
    file,
    through: completed?.through ?? null,
    recorded: compareWithRecorded(log, report.sha256, renderer, completed !== null),
  };
}

function describeRecorded(r: RecordedComparison): string {
  switch (r.kind) {
    case 'not-completed':
      return 'recorded: none (the campaign has not completed; its report hash is recorded when it does)';
    case 'not-recorded':
      return 'recorded: none yet (the collector records the hash after CampaignCompleted)';
    case 'other-renderer':
      return (
        `recorded: by renderer ${r.recorded.data.rendererVersion}, this is ${r.renderer}: not comparable ` +
        `(CampaignReportRecorded at position ${r.recorded.position})`
      );
    case 'equal':
      return `recorded: equal (CampaignReportRecorded at position ${r.recorded.position})`;
    case 'differs':
      return (
        `recorded: DIFFERS: CampaignReportRecorded at position ${r.recorded.position} ` +
        `holds ${r.recorded.data.reportSha256}`
      );
  }
}

/** `aevo report <campaign> --out report.html`. */
export function addReportCommand(program: Command, io: CliIo, result: { code: number }): void {
  program
    .command('report <campaign>')
    .description(
      'write one self-contained HTML report of a campaign (no server, no network) from the log alone; ' +
        'print its sha256 and compare it with the recorded one',
    )
    .requiredOption('--out <file>', 'where to write the HTML file')
    .option('--json', 'print one JSON line: file, sha256, events, bytes, through, recorded')
    .action(async (campaignId: string, opts: { out: string; json?: boolean }) => {
      const store = await io.openStore(io.env);
      try {
        const r = await writeCampaignReport(store, campaignId, opts.out);
        if (opts.json) {
          const rec = r.recorded;
          const recorded =
            'recorded' in rec
              ? { status: rec.kind, position: rec.recorded.position, sha256: rec.recorded.data.reportSha256 }
              : { status: rec.kind };
          const { sha256, events, bytes, through, file } = r;
          io.out(JSON.stringify({ campaignId, file, sha256, events, bytes, through, recorded }));
        } else {
          const cut = r.through
            ? `up to its CampaignCompleted at position ${r.through.position}`
            : `log read up to position ${r.upTo}`;
          io.out(`report of ${campaignId}: ${r.events} event(s) (${cut}) → ${r.file} (${r.bytes} bytes)`);
          io.out(`sha256 ${r.sha256}`);
          io.out(describeRecorded(r.recorded));
        }
        // A report that no longer hashes to its record is a verification finding.
        result.code = r.recorded.kind === 'differs' ? 1 : 0;
      } finally {
        await store.close();
      }
    });
}
