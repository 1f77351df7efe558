import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GhostlessStack } from '../../infra/ghostless-stack';
import { ENV } from '../../lambdas/env-names';
import { synth } from '../support/synth';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type PolicyProps = { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };

let template: Template;
let stack: GhostlessStack;
beforeAll(() => {
  ({ template, stack } = synth());
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);

/** The ManageConnections statements granted to a function's role. */
function manageConnections(functionLogicalId: string): Statement[] {
  const role = (template.toJSON().Resources[functionLogicalId].Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy') as Record<string, { Properties: PolicyProps }>)
    .filter(({ Properties }) => Properties.Roles.some((r) => r.Ref === role))
    .flatMap(({ Properties }) => Properties.PolicyDocument.Statement)
    .filter((s) => [s.Action].flat().includes('execute-api:ManageConnections'));
}

describe('the live updates channel', () => {
  it('is a WebSocket API whose $connect runs a Lambda authorizer on the token query parameter', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
      AuthorizerUri: Match.objectLike({
        'Fn::Join': Match.arrayWith([Match.arrayWith([Match.objectLike({ 'Fn::GetAtt': [logicalId(stack.live.authorizer), 'Arn'] })])]),
      }),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$connect', AuthorizationType: 'CUSTOM' });
    for (const key of ['$disconnect', '$default']) template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: key });
  });

  it("gives the authorizer the user pool's issuer and the SPA client as audience", () => {
    const env = template.toJSON().Resources[logicalId(stack.live.authorizer)].Properties.Environment.Variables;
    expect(JSON.stringify(env[ENV.authIssuer])).toContain('cognito-idp.eu-west-1.amazonaws.com/');
    expect(env[ENV.authClientId]).toEqual({ Ref: logicalId(stack.auth.userPoolClient) });
  });

  it('grants ManageConnections on the live stage connections only to functions that change jobs, with the endpoint beside it', () => {
    const publishers = [stack.admission.apiFunction, stack.admission.s3EventFunction, ...stack.jobs.functions, stack.healing.sweeper];
    for (const fn of publishers) {
      const [statement, ...more] = manageConnections(logicalId(fn));
      expect(more).toEqual([]);
      expect(JSON.stringify(statement?.Resource)).toMatch(/execute-api.*\/live\/POST\/@connections\/\*/);
      const env = template.toJSON().Resources[logicalId(fn)].Properties.Environment.Variables;
      expect(JSON.stringify(env[ENV.liveEndpoint])).toContain('/live');
    }
    for (const fn of [stack.live.connections, stack.live.authorizer]) expect(manageConnections(logicalId(fn))).toEqual([]);
  });

  it('writes the WebSocket URL into the SPA runtime config and allows it in the CSP connect-src', () => {
    const config = JSON.stringify(template.findResources('Custom::CDKBucketDeployment'));
    expect(config).toContain('liveUrl');
    const headers = JSON.stringify(template.findResources('AWS::CloudFront::ResponseHeadersPolicy'));
    expect(headers).toContain('wss://');
  });
});
