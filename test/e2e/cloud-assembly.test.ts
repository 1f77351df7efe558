import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCloudAssembly } from '../../local/cloud/assembly';
import type { CfnTemplate } from '../../local/cloud/resolver';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The local stack runs the synthesized cloud assembly as it is: break one thing in a copy of it (an environment
 * variable, an IAM statement) and the job path fails exactly as it would in AWS.
 */
const original = process.env.CLOUD_ASSEMBLY as string;
const copies: string[] = [];
const stacks: StartedTestStack[] = [];

afterAll(async () => {
  await Promise.allSettled(stacks.map((stack) => stack.stop()));
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the run's assembly with its template edited. */
function editedAssembly(edit: (template: CfnTemplate) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'ghostless-assembly-'));
  copies.push(dir);
  cpSync(original, dir, { recursive: true });
  const { stackName } = loadCloudAssembly(dir);
  const file = join(dir, `${stackName}.template.json`);
  const template = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  edit(template);
  writeFileSync(file, JSON.stringify(template));
  return dir;
}

const functionBuiltFrom = (template: CfnTemplate, handlerFile: string) => {
  const entry = Object.entries(template.Resources ?? {}).find(([, r]) => r.Metadata?.['ghostless:handler'] === handlerFile);
  if (!entry) throw new Error(`no function built from ${handlerFile}`);
  return entry;
};

async function start(edit: (template: CfnTemplate) => void, expectDenials = false, env: Record<string, string> = {}) {
  const stack = await startTestStack({ PROVIDER_LATENCY_MS: '100', ...env }, { cloudAssembly: editedAssembly(edit), expectDenials });
  stacks.push(stack);
  return stack;
}

async function submitOne(stack: StartedTestStack, userId: string) {
  const user = await stack.api.user(userId, 5);
  const jobId = await stack.api.submit(user.token, 'upscale-image', [
    { slot: 'image', contentType: 'image/png', body: await image('png', 8, 8) },
  ]);
  return { user, jobId };
}

describe('the local stack on an edited cloud assembly', () => {
  it('fails the job path as Lambda would when one function loses an environment variable', async () => {
    const stack = await start((template) => {
      const [, fn] = functionBuiltFrom(template, 'wait-for-slot');
      const variables = (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
      delete variables.BUCKET_NAME;
    });
    const { user, jobId } = await submitOne(stack, `env-${Date.now()}`);
    const job = await stack.api.waitForJob(user.token, jobId, (j) => j.status === 'failed', 30_000);
    // The init error (config read at cold start) fails WaitForSlot; its Catch finalizes the job, refunded.
    expect(job).toMatchObject({ status: 'failed', refunded: true, error: { code: 'INTERNAL' } });
    const arn = `${stack.stepFunctions.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
    // FinalizeFailure was entered (with the caught error as its input) before it finalized the job.
    const failure = stack.stepFunctions
      .history(arn)
      .find((event) => event.type === 'StateEntered' && (event as { state?: { name?: string } }).state?.name === 'FinalizeFailure');
    expect(failure).toBeDefined();
    expect(JSON.stringify(failure)).toContain('Missing environment variable BUCKET_NAME');
    await assertInvariants(stack);
  }, 60_000);

  it('answers AccessDenied when one IAM statement is removed from a function role', async () => {
    let removed: unknown;
    const stack = await start((template) => {
      const [fnId, fn] = functionBuiltFrom(template, 's3-event');
      const roleId = (fn.Properties as { Role: { 'Fn::GetAtt': string[] } }).Role['Fn::GetAtt'][0];
      const policy = Object.values(template.Resources ?? {}).find(
        (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles).includes(`"${roleId}"`),
      );
      const document = policy?.Properties?.PolicyDocument as { Statement: { Action: unknown }[] };
      const index = document.Statement.findIndex((s) => JSON.stringify(s.Action).includes('states:StartExecution'));
      expect(index, `${fnId} may start executions`).toBeGreaterThanOrEqual(0);
      [removed] = document.Statement.splice(index, 1);
    }, true);
    expect(removed).toBeDefined();
    const { jobId } = await submitOne(stack, `iam-${Date.now()}`);
    const s3Event = stack.functionName('s3-event');
    // Admission commits, then StartExecution is refused; Lambda retries the event and gives up.
    await expect
      .poll(() => stack.lambda.asyncFailures.find((f) => f.functionName === s3Event), { timeout: 30_000, interval: 200 })
      .toMatchObject({ error: { errorType: 'AccessDeniedException' }, attempts: 3 });
    const denied = stack.iamUsage().filter((r) => r.decision !== 'Allowed');
    expect(denied.map((r) => [r.functionName, r.action])).toEqual(Array(3).fill([s3Event, 'states:StartExecution']));
    expect(denied[0]?.resource).toBe(stack.stepFunctions.stateMachineArn);
    expect(stack.stepFunctions.listExecutions().executions.map((e) => e.name)).not.toContain(jobId);
  }, 60_000);

  it('retries a throttled step function instead of failing its job', async () => {
    const stack = await start(
      (template) => {
        const [, fn] = functionBuiltFrom(template, 'wait-for-slot');
        (fn.Properties as Record<string, unknown>).ReservedConcurrentExecutions = 1;
      },
      false,
      { SFN_RETRY_SCALE: '0.2' },
    );
    const submitted = await Promise.all(Array.from({ length: 5 }, (_, i) => submitOne(stack, `throttle-${i}-${Date.now()}`)));
    const jobs = await Promise.all(
      submitted.map(({ user, jobId }) =>
        stack.api.waitForJob(user.token, jobId, (j) => ['succeeded', 'failed'].includes(j.status), 60_000),
      ),
    );
    expect(jobs.map((job) => job.status)).toEqual(Array(5).fill('succeeded'));
    const histories = submitted.map(({ jobId }) =>
      JSON.stringify(
        stack.stepFunctions.history(`${stack.stepFunctions.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`),
      ),
    );
    expect(histories.filter((history) => history.includes('Lambda.TooManyRequestsException')).length).toBeGreaterThan(0);
    await assertInvariants(stack);
  }, 90_000);
  it("releases a leaked slot through the sweeper's own role, and keeps the slot of a running job", async () => {
    const stack = await start(() => {}, false, { PROVIDER_LATENCY_MS: '20000' });
    const { user, jobId } = await submitOne(stack, `leak-${Date.now()}`);
    const running = await stack.api.waitForJob(user.token, jobId, (j) => j.status === 'running', 30_000);
    const ended = randomUUID();
    // A slot left behind by a job that no longer exists (as a crash between two writes would leave it).
    await stack.doc.send(new PutCommand({ TableName: stack.tableName, Item: { pk: 'SLOT', sk: '003', jobId: ended } }));

    const [[result]] = (await stack.sweep()) as [[{ repairs: Record<string, number> }]];

    expect(result.repairs).toEqual({ slot_leak: 1 });
    const held = await stack.doc.send(
      new QueryCommand({ TableName: stack.tableName, KeyConditionExpression: 'pk = :s', ExpressionAttributeValues: { ':s': 'SLOT' } }),
    );
    expect(held.Items?.map((item) => item.jobId)).toEqual([running.jobId]);
  }, 60_000);
});
