import {
  KaggleCompetitionClient,
  sanitizeSubmissionDescription,
  type KaggleSubmission,
  type PollOptions,
} from '@aevo/kaggle';

/**
 * One competition's submissions seen from the leaderboard service: each is tagged with its aevo id in the description,
 * so a redelivered submission finds the one it already created (on whichever page of ListSubmissions it now is)
 * instead of spending quota twice.
 */
export class KaggleSubmissions {
  constructor(
    readonly client: KaggleCompetitionClient,
    readonly competition: string,
    private readonly poll: PollOptions = {},
  ) {}

  /**
   * The description a submission is sent with. Space-separated (Kaggle reportedly refuses a `/` in descriptions) and
   * passed through the same sanitiser the client applies, so the duplicate check compares what Kaggle stored.
   */
  static description(campaignId: string, submissionId: string): string {
    return sanitizeSubmissionDescription(`aevo ${campaignId} ${submissionId}`);
  }

  async submit(campaignId: string, submissionId: string, content: Buffer): Promise<{ ref: string; reused: boolean }> {
    const description = KaggleSubmissions.description(campaignId, submissionId);
    const existing = await this.client.findSubmission(this.competition, (s) => s.description === description);
    if (existing) return { ref: existing.ref, reused: true };
    const { ref, reused } = await this.client.submitFile({
      competitionName: this.competition,
      fileName: `${submissionId}.csv`,
      content,
      description,
    });
    return { ref, reused };
  }

  wait(ref: string): Promise<KaggleSubmission> {
    return this.client.waitForSubmission(ref, this.competition, this.poll);
  }

  get(ref: string): Promise<KaggleSubmission> {
    return this.client.getSubmission(ref);
  }
}
