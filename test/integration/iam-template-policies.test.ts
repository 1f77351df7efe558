import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_METADATA } from '../../infra/constructs/ghostless-function';
import { assumedRolePrincipal } from '../../local/iam/environment';
import { PolicyEvaluator } from '../../local/iam/evaluate';
import { functionRolePolicies, stateMachineRolePolicies } from '../../local/iam/policies';
import { type CfnTemplate, synthesizeTemplate } from '../../local/stepfunctions/template';
import { templateResolver } from '../support/cfn-resolver';

let template: CfnTemplate;
let handlerFunctions: [string, string][];

beforeAll(async () => {
  template = await synthesizeTemplate();
  handlerFunctions = Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && typeof r.Metadata?.[HANDLER_METADATA] === 'string')
    .map(([id, r]) => [id, r.Metadata?.[HANDLER_METADATA] as string]);
}, 120_000);

describe('policies of the synthesized Ghostless template', () => {
  it('extracts non-empty, valid role policies for every handler function', async () => {
    expect(handlerFunctions.length).toBeGreaterThan(0);
    const resolve = templateResolver(template);
    const evaluator = new PolicyEvaluator();
    for (const [id, handler] of handlerFunctions) {
      const role = functionRolePolicies(template, id, resolve);
      expect(role.policies.length, `${id} (${handler})`).toBeGreaterThan(0);
      // Every function writes to its own log group: evaluating that also proves iam-simulate accepts each policy document.
      const caller = { principalArn: assumedRolePrincipal(role.roleName, handler), policies: role.policies };
      const resource = (template.Resources as Record<string, unknown>)[id];
      const { Properties } = resource as { Properties: { LoggingConfig: { LogGroup: { Ref: string } } } };
      const logGroup = Properties.LoggingConfig.LogGroup.Ref;
      const logs = {
        action: 'logs:PutLogEvents',
        resource: `arn:aws:logs:us-east-1:000000000000:log-group:${String(resolve({ Ref: logGroup }))}:log-stream:x`,
      };
      expect(await evaluator.evaluate(caller, logs), `${id} (${handler})`).toBe('Allowed');
    }
  });

  it('extracts the state machine role policies', () => {
    const [machineId] = Object.entries(template.Resources ?? {}).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine') ?? [];
    expect(machineId).toBeDefined();
    const role = stateMachineRolePolicies(template, machineId as string, templateResolver(template));
    expect(role.policies.length).toBeGreaterThan(0);
  });
});
