import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import { campaignReport, chartJsUmdSource, type CampaignReport } from '@aevo/projections';
import { UsageError } from './campaign-commands';
import type { CliIo } from './program';

/** A campaign's events, in log order, up to `upTo` (the head when the report started, so a live log gives a defined cut). */
async function readCampaignLog(store: EventStore, campaignId: string, upTo: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let from = 0; from < upTo;) {
    const page = await store.readAll({ fromPosition: from, limit: 5000, campaignId });
    if (page.length === 0) break;
    for (const e of page) if (e.position <= upTo) events.push(e);
    from = page[page.length - 1].position;
  }
  return events;
}

/**
 * Builds the campaign report from the log alone (the same view builders as the API's dashboard) and writes it.
 * Throws UsageError for a campaign the store does not hold.
 */
export async function writeCampaignReport(
  store: EventStore,
  campaignId: string,
  out: string,
  chartJs: string = chartJsUmdSource(),
): Promise<CampaignReport & { upTo: number; file: string }> {
  const upTo = await store.headPosition();
  const events = await readCampaignLog(store, campaignId, upTo);
  if (!events.some((e) => e.type === 'CampaignStarted'))
    throw new UsageError(`<campaign>: no campaign "${campaignId}" in the store (aevo campaign status lists them)`);
  const report = campaignReport(events, campaignId, chartJs);
  const file = path.resolve(out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written beside and renamed, so a reader never sees half a report.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, report.html, 'utf8');
  fs.renameSync(tmp, file);
  return { ...report, upTo, file };
}

/** `aevo report <campaign> --out report.html`. */
export function addReportCommand(program: Command, io: CliIo, result: { code: number }): void {
  program
    .command('report <campaign>')
    .description(
      'write one self-contained HTML report of a campaign (its dashboard views; no server, no network), built from the log alone, and print its sha256',
    )
    .requiredOption('--out <file>', 'where to write the HTML file')
    .option('--json', 'print one JSON line: file, sha256, events, bytes')
    .action(async (campaignId: string, opts: { out: string; json?: boolean }) => {
      const store = await io.openStore(io.env);
      try {
        const r = await writeCampaignReport(store, campaignId, opts.out);
        const bytes = Buffer.byteLength(r.html, 'utf8');
        if (opts.json) io.out(JSON.stringify({ campaignId, file: r.file, sha256: r.sha256, events: r.events, bytes }));
        else {
          io.out(
            `report of ${campaignId}: ${r.events} event(s) (log read up to position ${r.upTo}) → ${r.file} (${bytes} bytes)`,
          );
          io.out(`sha256 ${r.sha256}`);
        }
        result.code = 0;
      } finally {
        await store.close();
      }
    });
}
