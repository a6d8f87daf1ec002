import { PROPOSE_POLICY_TOOL } from '@aevo/policy-engine';
import { structuredOutputProblem } from '@aevo/testkit';
import { PROPOSAL_OUTPUT } from './claude-meta-agent';
import { structuredOutputFormat } from './structured-output';

describe('the meta agent’s structured-output format', () => {
  it('is in the subset structured outputs accept (the SDK transform’s), with the recipe as a JSON string', () => {
    expect(structuredOutputProblem(PROPOSE_POLICY_TOOL.input_schema, 'schema')).not.toBeNull();
    expect(structuredOutputProblem(PROPOSAL_OUTPUT.schema, 'schema')).toBeNull();
    expect(PROPOSAL_OUTPUT.schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { standingRecipe: { type: 'string' } },
    });
    expect(Object.keys(PROPOSAL_OUTPUT.schema.properties as object).sort()).toEqual(
      Object.keys(PROPOSE_POLICY_TOOL.input_schema.properties as object).sort(),
    );
  });

  it('decodes the free-form maps the model wrote as JSON strings, and leaves everything else as written', () => {
    expect(
      PROPOSAL_OUTPUT.decode({ standingRecipe: '{"optim":{"lr":0.002}}', rationale: '{"not":"decoded"}' }),
    ).toEqual({
      standingRecipe: { optim: { lr: 0.002 } },
      rationale: '{"not":"decoded"}',
    });
    // Not JSON: left as the string, for the validator to refuse naming the field.
    expect(PROPOSAL_OUTPUT.decode({ standingRecipe: 'lr=0.002' })).toEqual({ standingRecipe: 'lr=0.002' });
    const nested = structuredOutputFormat({
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: { type: 'object', properties: { extra: { type: 'object', additionalProperties: {} } } },
        },
      },
    });
    expect(nested.decode({ items: [{ extra: '{"a":1}' }] })).toEqual({ items: [{ extra: { a: 1 } }] });
  });
});
