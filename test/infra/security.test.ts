import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GhostlessStack } from '../../infra/ghostless-stack';
import { acknowledgements } from '../../infra/nag';
import { ROUTES, routeKey } from '../../lambdas/handlers/routes';
import { buildStack, newApp, synth } from '../support/synth';

let stack: GhostlessStack;
let template: Template;
beforeAll(() => {
  ({ stack, template } = synth());
});

/** CloudFormation properties, read as loose JSON by the assertions below. */
// biome-ignore lint/suspicious/noExplicitAny: template properties are arbitrary JSON; the assertions check their shape.
type Loose = Record<string, any>;

const only = <T = Record<string, unknown>>(type: string, from = template) => {
  const found = Object.values(from.findResources(type));
  expect(found, type).toHaveLength(1);
  return (found[0] as { Properties: T }).Properties;
};
const distributionConfig = (from = template) =>
  only<{ DistributionConfig: Loose }>('AWS::CloudFront::Distribution', from).DistributionConfig;

describe('cdk-nag (AwsSolutions)', () => {
  it('fails synthesis on a finding nobody acknowledged, and passes without it', () => {
    const app = newApp();
    // A bucket with no access logs and no TLS-only policy: AwsSolutions-S1 and -S10.
    new Bucket(buildStack({}, app), 'Careless');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1[\s\S]*Test\/Careless/);
    expect(() => newApp().synth()).not.toThrow();
    const clean = newApp();
    buildStack({}, clean);
    expect(() => clean.synth()).not.toThrow();
  });

  it('passes whatever the environment: agnostic, custom domain, Essentials plan', () => {
    for (const props of [
      { env: undefined },
      {
        webDomain: { names: ['app.example.com'], certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' },
        cognitoFeaturePlan: 'essentials' as const,
      },
    ]) {
      const app = newApp();
      buildStack(props, app);
      expect(() => app.synth()).not.toThrow();
    }
  });

  it('acknowledges each finding on its own construct, never on the app or the stack, with a sentence of reason', () => {
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.path, ack.rule).not.toBe(stack.node.path);
      expect(ack.path.split('/').length, ack.rule).toBeGreaterThan(1);
      expect(ack.reason.length, `${ack.path} ${ack.rule}`).toBeGreaterThan(40);
      expect(ack.reason, `${ack.path} ${ack.rule}`).toMatch(/[.)]$/);
    }
  });

  it('acknowledges only the reviewed rules: wildcards at prefix/execution level, CDK-owned handlers, open routes, edge choices', () => {
    const rules = new Set(acknowledgements(stack).map((ack) => ack.rule.replace(/\[.*$/, '')));
    expect([...rules].sort()).toEqual(['APIG4', 'CFR1', 'CFR2', 'CFR4', 'COG2', 'IAM4', 'IAM5', 'L1', 'S1', 'SMG4', 'SQS3']);
    // SQS3 (no DLQ of its own): only the admission function's on-failure queue, which is itself the dead letter.
    expect(
      acknowledgements(stack)
        .filter((a) => a.rule === 'SQS3')
        .map((a) => a.path),
    ).toEqual(['Test/Admission/FailedS3Events']);
    // The application's own functions hold no acknowledged IAM4 or L1: those are only on aws-cdk-lib's handlers.
    for (const ack of acknowledgements(stack).filter((a) => /^(IAM4|L1)/.test(a.rule))) {
      expect(ack.path).toMatch(/^Test\/(Custom::CDKBucketDeployment|BucketNotificationsHandler|AWS679f53fa)/);
    }
    // Open routes: exactly the two without a user token.
    const open = acknowledgements(stack).filter((a) => a.rule === 'APIG4');
    expect(open.map((a) => a.path).sort()).toEqual([
      'Test/Api/HttpApi/GET--api--health',
      'Test/Api/HttpApi/POST--api--provider--callback--{jobId}',
      // WebSocket routes after $connect run on the connection its authorizer let in.
      'Test/Live/Api/$default-Route',
      'Test/Live/Api/$disconnect-Route',
    ]);
    // Function wildcards stop at a bucket prefix or the jobs state machine's executions.
    for (const ack of acknowledgements(stack).filter((a) => a.rule.startsWith('IAM5') && /FunctionRole$/.test(a.path))) {
      expect(ack.rule).toMatch(
        /^IAM5\[Resource::(<StorageBucket\w+\.Arn>\/(inputs|outputs|admitted)\/\*|arn:aws:states:[\w-]+:\d+:execution:Test-jobs:\*|arn:aws:execute-api:[\w-]+:\d+:<LiveApi\w+>\/live\/POST\/@connections\/\*)\]$/,
      );
    }
  });

  it('drops the CFR4 acknowledgement when a certificate is configured, and then serves TLS 1.2+ only on the custom name', () => {
    const { stack: withDomain, template: t } = synth({
      webDomain: { names: ['app.example.com'], certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' },
    });
    expect(acknowledgements(withDomain).map((a) => a.rule)).not.toContain('CFR4');
    expect(distributionConfig(t)).toMatchObject({
      Aliases: ['app.example.com'],
      ViewerCertificate: { MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
    });
  });
});

describe('edge (CloudFront)', () => {
  const headers = () =>
    only<{
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: Loose;
        CustomHeadersConfig: { Items: { Header: string; Value: string }[] };
      };
    }>('AWS::CloudFront::ResponseHeadersPolicy').ResponseHeadersPolicyConfig;

  it('adds the security headers policy to the SPA and to /api/*', () => {
    const [[policyId]] = Object.entries(template.findResources('AWS::CloudFront::ResponseHeadersPolicy')) as [[string, unknown]];
    const config = distributionConfig();
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
    for (const behavior of config.CacheBehaviors) expect(behavior.ResponseHeadersPolicyId, behavior.PathPattern).toEqual({ Ref: policyId });
  });

  it('sends HSTS for two years, nosniff, DENY framing and no referrer', () => {
    expect(headers().SecurityHeadersConfig).toMatchObject({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 63_072_000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
    });
  });

  it('sends a strict CSP: nothing inline, no eval, no framing, only the SPA, the media bucket and Cognito', () => {
    const csp = JSON.stringify(headers().SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy);
    for (const directive of [
      "default-src 'none'",
      "script-src 'self';",
      "style-src 'self';",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(csp).toContain(`https://cognito-idp.${Stack.of(stack).region}.amazonaws.com`);
    expect(csp).toContain(stack.getLogicalId(stack.storage.bucket.node.defaultChild as never));
  });

  it('writes standard logs to the access-log bucket', () => {
    const logging = distributionConfig().Logging;
    expect(logging.Prefix).toBe('cloudfront/');
    expect(JSON.stringify(logging.Bucket)).toContain(stack.getLogicalId(stack.accessLogs.bucket.node.defaultChild as never));
  });
});

describe('users (Cognito)', () => {
  const pool = () => only<Loose>('AWS::Cognito::UserPool');

  it('requires 8+ characters with upper and lower case, a digit and a symbol, and verifies the e-mail address by code', () => {
    expect(pool().Policies.PasswordPolicy).toMatchObject({
      MinimumLength: 8,
      RequireLowercase: true,
      RequireUppercase: true,
      RequireNumbers: true,
      RequireSymbols: true,
    });
    expect(pool().AutoVerifiedAttributes).toEqual(['email']);
    expect(pool().VerificationMessageTemplate.DefaultEmailOption).toBe('CONFIRM_WITH_CODE');
  });

  it('offers optional TOTP MFA (no SMS) and enforces threat protection on the Plus plan', () => {
    expect(pool().MfaConfiguration).toBe('OPTIONAL');
    expect(pool().EnabledMfas).toEqual(['SOFTWARE_TOKEN_MFA']);
    expect(pool().UserPoolTier).toBe('PLUS');
    expect(pool().UserPoolAddOns).toEqual({ AdvancedSecurityMode: 'ENFORCED' });
  });
});

describe('http api', () => {
  // The HTTP API's stage (the push channel's WebSocket stage is covered by test/infra/live-updates.test.ts).
  const stage = () => {
    const httpApi = stack.getLogicalId(stack.api.httpApi.node.defaultChild as CfnElement);
    const stages = Object.values(template.findResources('AWS::ApiGatewayV2::Stage')) as { Properties: Loose }[];
    return stages.filter((s) => s.Properties.ApiId?.Ref === httpApi).map((s) => s.Properties)[0] as Loose;
  };

  it('writes one JSON access-log line per request to a log group with bounded retention, never the query string', () => {
    const { DestinationArn, Format } = stage().AccessLogSettings;
    const [[groupId, group]] = Object.entries(template.findResources('AWS::Logs::LogGroup')).filter(([id]) =>
      id.startsWith('ApiAccessLogs'),
    ) as [[string, { Properties: { RetentionInDays: number } }]];
    expect(DestinationArn).toEqual({ 'Fn::GetAtt': [groupId, 'Arn'] });
    expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    const fields = JSON.parse(Format);
    expect(fields).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', status: '$context.status' });
    // The webhook's secret travels in the query string: it must not reach the logs.
    expect(Format).not.toMatch(/querystring|path\b|\$context\.path/i);
  });

  it('throttles every route, and the routes without a user token much lower', () => {
    const { DefaultRouteSettings, RouteSettings } = stage();
    expect(DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const open = ROUTES.filter((route) => !route.auth).map(routeKey);
    expect(Object.keys(RouteSettings).sort()).toEqual([...open].sort());
    for (const key of open) {
      expect(RouteSettings[key].ThrottlingRateLimit, key).toBeLessThan(DefaultRouteSettings.ThrottlingRateLimit);
      expect(RouteSettings[key].ThrottlingBurstLimit, key).toBeLessThan(DefaultRouteSettings.ThrottlingBurstLimit);
    }
  });
});

describe('job state machine', () => {
  it('logs every transition without payloads (they hold task tokens) and traces with X-Ray', () => {
    const machine = only<Loose>('AWS::StepFunctions::StateMachine');
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
  });
});
