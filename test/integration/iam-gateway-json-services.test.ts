import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assumedRolePrincipal } from '../../local/iam/environment';
import { type AwsGateway, type GatewayIdentity, startAwsGateway } from '../../local/iam/gateway';

const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:Ghostless-jobs';
const other = 'arn:aws:states:us-east-1:000000000000:stateMachine:Other';
const secret = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:runninghub-AbCdEf';

const admission: GatewayIdentity = {
  principalArn: assumedRolePrincipal('AdmissionRole', 'admission'),
  functionName: 'admission',
  secretAccessKey: 'admission-secret',
  policies: [
    {
      name: 'AdmissionPolicy',
      document: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: machine }],
      },
    },
  ],
};

/** Stands in for the local Step Functions / Secrets Manager servers: answers `{}` and remembers what reached it. */
let upstream: Server;
const forwarded: string[] = [];
let gateway: AwsGateway;
const credentials = { accessKeyId: 'AKIDADMISSION', secretAccessKey: admission.secretAccessKey };

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res) => {
    forwarded.push(String(req.headers['x-amz-target']));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = await startAwsGateway({
    upstreams: { sfn: url, secretsmanager: url },
    identities: (key) => (key === 'AKIDADMISSION' ? admission : undefined),
    taskTokenOwner: (token) => (token.startsWith('job-') ? machine : token.startsWith('other-') ? other : undefined),
  });
});

afterAll(async () => {
  await gateway?.stop();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

describe('AWS gateway for JSON-protocol services', () => {
  it('requires the session token of temporary credentials when the identity has one', async () => {
    const withToken = { ...admission, sessionToken: 'session-1' };
    const tokenGateway = await startAwsGateway({
      upstreams: { sfn: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
      identities: (key) => (key === 'AKIDADMISSION' ? withToken : undefined),
      taskTokenOwner: () => machine,
    });
    try {
      const client = (sessionToken?: string) =>
        new SFNClient({
          region: 'us-east-1',
          credentials: { ...credentials, sessionToken },
          endpoint: tokenGateway.endpoints.sfn,
          maxAttempts: 1,
        });
      await client('session-1').send(new SendTaskSuccessCommand({ taskToken: 'job-2', output: '{}' }));
      await expect(client('stolen').send(new SendTaskSuccessCommand({ taskToken: 'job-2', output: '{}' }))).rejects.toMatchObject({
        name: 'UnrecognizedClientException',
      });
      await expect(client().send(new SendTaskSuccessCommand({ taskToken: 'job-2', output: '{}' }))).rejects.toMatchObject({
        name: 'UnrecognizedClientException',
      });
    } finally {
      await tokenGateway.stop();
    }
  });

  it('forwards a task response for a token of the granted state machine', async () => {
    const sfn = new SFNClient({ region: 'us-east-1', credentials, endpoint: gateway.endpoints.sfn, maxAttempts: 1 });
    await sfn.send(new SendTaskSuccessCommand({ taskToken: 'job-1', output: '{}' }));
    expect(forwarded).toContain('AWSStepFunctions.SendTaskSuccess');
  });

  it('refuses a task response for another state machine and a StartExecution, as Step Functions does', async () => {
    const sfn = new SFNClient({ region: 'us-east-1', credentials, endpoint: gateway.endpoints.sfn, maxAttempts: 1 });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: 'other-1', output: '{}' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`states:SendTaskSuccess on resource: ${other}`),
    });
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: machine, input: '{}' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect(forwarded).not.toContain('AWSStepFunctions.StartExecution');
  });

  it('refuses a secret the role was not granted', async () => {
    const secrets = new SecretsManagerClient({
      region: 'us-east-1',
      credentials,
      endpoint: gateway.endpoints.secretsmanager,
      maxAttempts: 1,
    });
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: secret }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${admission.principalArn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secret} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    });
  });
});
