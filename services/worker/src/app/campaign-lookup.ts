import {
  CampaignStarted,
  DomainError,
  PolicyRevised,
  isEvent,
  type CampaignConfig,
  type Constitution,
  type RollingPolicy,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';

export interface CampaignFacts {
  config: CampaignConfig;
  constitutionSha256: string;
  /** The constitution as pinned at campaign start (read-only for everyone; the Claude worker's system block). */
  constitution: Constitution;
}

/**
 * Reads what a worker may know about its campaign: its fixed configuration (size, worker kind, budgets,
 * constitution) and the rolling policy of the revision its fork names — the current round's policy, never an
 * earlier round's evidence. Policies are immutable once recorded, so they are cached.
 */
export class CampaignLookup {
  private readonly campaigns = new Map<string, CampaignFacts>();
  private readonly policies = new Map<string, RollingPolicy>();
  /** Reads in flight, shared: a round's candidates open at once and would each read the same events. */
  private readonly reading = new Map<string, Promise<unknown>>();

  constructor(private readonly store: EventStore) {}

  async campaign(campaignId: string): Promise<CampaignFacts> {
    return this.campaigns.get(campaignId) ?? this.once(`campaign:${campaignId}`, () => this.readCampaign(campaignId));
  }

  async policy(campaignId: string, revision: number): Promise<RollingPolicy> {
    const key = `${campaignId}:${revision}`;
    const hit = this.policies.get(key);
    if (hit) return hit;
    await this.campaign(campaignId);
    if (!this.policies.has(key)) await this.once(`policies:${key}`, () => this.readPolicies(campaignId));
    const p = this.policies.get(key);
    if (!p)
      throw new DomainError('POLICY_NOT_FOUND', `campaign ${campaignId} has no policy revision ${revision} recorded`, [
        { path: 'policyRevision', message: `no PolicyRevised with revision ${revision}` },
      ]);
    return p;
  }

  /** `read` once for all concurrent callers of `key` (a failure reaches them all and is not remembered). */
  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.reading.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read().finally(() => this.reading.delete(key));
      this.reading.set(key, p);
    }
    return p;
  }

  private async readCampaign(campaignId: string): Promise<CampaignFacts> {
    const [e] = await this.store.readAll({ campaignId, types: [CampaignStarted.type], limit: 1 });
    if (!e || !isEvent(e, CampaignStarted))
      throw new DomainError('CAMPAIGN_NOT_FOUND', `no CampaignStarted recorded for campaign ${campaignId}`, [
        { path: 'campaignId', message: 'unknown campaign' },
      ]);
    const facts = {
      config: e.data.config,
      constitutionSha256: e.data.constitutionSha256,
      constitution: e.data.constitution,
    };
    this.campaigns.set(campaignId, facts);
    this.policies.set(`${campaignId}:${e.data.initialPolicy.revision}`, e.data.initialPolicy);
    return facts;
  }

  private async readPolicies(campaignId: string): Promise<void> {
    const revised = await this.store.readAll({ campaignId, types: [PolicyRevised.type] });
    for (const e of revised)
      if (isEvent(e, PolicyRevised)) this.policies.set(`${campaignId}:${e.data.policy.revision}`, e.data.policy);
  }
}
