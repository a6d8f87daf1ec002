import { z } from 'zod';
import { commandDefinitions } from './commands';
import { EventEnvelopeFields, eventDefinitions } from './envelope';
import { CommandEnvelope } from './commands';
import { SubstrateManifest, CheckpointInfo, TrainSummary, DevScores } from './substrate';
import { ResultManifest } from './manifest';
import { RoundEvidence } from './evidence';
import { RollingPolicy, Constitution } from './policy';

/** Stand-alone documents that other languages (substrates) validate against. */
export const DOCUMENTS: Record<string, z.ZodType> = {
  'substrate-manifest': SubstrateManifest,
  'checkpoint-info': CheckpointInfo,
  'train-summary': TrainSummary,
  'dev-scores': DevScores,
  'result-manifest': ResultManifest,
  'round-evidence': RoundEvidence,
  'rolling-policy': RollingPolicy,
  constitution: Constitution,
};

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Every JSON Schema file that belongs in `schemas/`, keyed by relative path; content is stable JSON. */
export function generateJsonSchemas(): Record<string, string> {
  const out: Record<string, object> = {};
  for (const [name, schema] of Object.entries(DOCUMENTS)) {
    out[`documents/${name}.schema.json`] = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  }
  for (const def of eventDefinitions()) {
    const full = z
      .object({
        ...EventEnvelopeFields,
        type: z.literal(def.type),
        schemaVersion: z.literal(def.version),
        data: def.data,
      })
      .strict();
    out[`events/${kebab(def.type)}.v${def.version}.schema.json`] = {
      ...z.toJSONSchema(full, { io: 'input', unrepresentable: 'any' }),
      title: def.type,
      description: def.description,
    };
  }
  for (const def of commandDefinitions()) {
    const full = CommandEnvelope.extend({ name: z.literal(def.name), payload: def.payload });
    out[`commands/${kebab(def.name)}.schema.json`] = {
      ...z.toJSONSchema(full, { io: 'input', unrepresentable: 'any' }),
      title: def.name,
      description: def.description,
    };
  }
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(out)) files[k] = JSON.stringify(v, null, 2) + '\n';
  return files;
}
