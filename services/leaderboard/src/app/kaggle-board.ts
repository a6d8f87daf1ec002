import { KaggleCompetitionClient, type KaggleSubmission, type PollOptions } from '@aevo/kaggle';

/**
 * The Kaggle leaderboard seen from one service: submissions are tagged with their aevo id in the description,
 * so a redelivered submission finds the one it already created instead of spending quota twice.
 */
export class KaggleBoard {
  constructor(
    readonly client: KaggleCompetitionClient,
    readonly competition: string,
    private readonly poll: PollOptions = {},
  ) {}

  static description(campaignId: string, submissionId: string): string {
    return `aevo ${campaignId}/${submissionId}`;
  }

  async submit(campaignId: string, submissionId: string, content: Buffer): Promise<{ ref: string; reused: boolean }> {
    const description = KaggleBoard.description(campaignId, submissionId);
    const existing = (await this.client.listSubmissions({ competitionName: this.competition })).find((s) => s.description === description);
    if (existing) return { ref: existing.ref, reused: true };
    const { ref } = await this.client.submitFile({ competitionName: this.competition, fileName: `${submissionId}.csv`, content, description });
    return { ref, reused: false };
  }

  wait(ref: string): Promise<KaggleSubmission> {
    return this.client.waitForSubmission(ref, this.competition, this.poll);
  }

  get(ref: string): Promise<KaggleSubmission> {
    return this.client.getSubmission(ref);
  }
}
