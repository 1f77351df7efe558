import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LocalStepFunctions } from '../../local/stepfunctions/asl-runtime';
import { now, sleep } from '../support';

/**
 * The polling-semaphore baseline, shaped like AWS's sample "Controlling concurrency in distributed systems using
 * AWS Step Functions" (aws-samples/aws-stepfunctions-examples, sam/app-control-concurrency-with-dynamodb,
 * statemachines/dynamodb-semaphore.asl.json): a Parallel "Get Lock" whose branch tries a conditional counter
 * increment on one DynamoDB item (limit 3); on ConditionalCheckFailed it reads the lock item, and unless this
 * execution already holds it, waits 3 s (Wait state) and tries again; then the work, then "Release Lock"
 * (conditional decrement). Written here from the sample's shape, not copied.
 *
 * Differences, all in the baseline's favour or neutral:
 * - The local runtime executes only Lambda tasks, so each DynamoDB service integration (updateItem, getItem)
 *   is a Lambda-style task whose handler makes exactly that one DynamoDB call (same calls, same transitions).
 * - The sample's Acquire Lock also retries ConditionalCheckFailed with States.ALL × 6 (1, 2, 4 … 32 s backoff)
 *   before its Catch; here ConditionalCheckFailed goes straight to the 3 s Wait loop, as in the brief.
 * - The sample wraps the work in a Parallel with four demo Pass states; here the work is one Task.
 * - The lock item is created up front (the sample's "Initialize Lock Item" path runs once per table).
 */
const LOCK_NAME = 'provider';

const task = (functionName: string, extra: Record<string, unknown>) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: functionName, Payload: { 'owner.$': '$$.Execution.Id' } },
  ...extra,
});

const SEMAPHORE_DEFINITION = {
  Comment: 'Polling semaphore on a DynamoDB counter (limit 3), after the AWS sample',
  StartAt: 'Get Lock',
  States: {
    'Get Lock': {
      Type: 'Parallel',
      ResultPath: null,
      Next: 'Do Work',
      Branches: [
        {
          StartAt: 'Acquire Lock',
          States: {
            'Acquire Lock': task('acquire-lock', {
              ResultPath: null,
              Retry: [
                { ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], MaxAttempts: 0 },
                { ErrorEquals: ['States.ALL'], MaxAttempts: 6, BackoffRate: 2 },
              ],
              Catch: [
                {
                  ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'],
                  Next: 'Get Current Lock Record',
                  ResultPath: '$.lockinfo.acquisitionerror',
                },
              ],
              End: true,
            }),
            'Get Current Lock Record': task('get-lock', {
              ResultSelector: { 'held.$': '$.Payload.held' },
              ResultPath: '$.lockinfo.currentlockitem',
              Next: 'Check If Lock Already Acquired',
            }),
            'Check If Lock Already Acquired': {
              Type: 'Choice',
              Choices: [
                { Variable: '$.lockinfo.currentlockitem.held', BooleanEquals: true, Next: 'Continue Because Lock Was Already Acquired' },
              ],
              Default: 'Wait to Get Lock',
            },
            'Continue Because Lock Was Already Acquired': { Type: 'Pass', End: true },
            'Wait to Get Lock': { Type: 'Wait', Seconds: 3, Next: 'Acquire Lock' },
          },
        },
      ],
    },
    'Do Work': task('do-work', { ResultPath: null, Next: 'Release Lock' }),
    'Release Lock': task('release-lock', {
      ResultPath: null,
      Retry: [
        { ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], MaxAttempts: 0 },
        { ErrorEquals: ['States.ALL'], MaxAttempts: 5, BackoffRate: 1.5 },
      ],
      Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], Next: 'Success State', ResultPath: null }],
      Next: 'Success State',
    }),
    'Success State': { Type: 'Succeed' },
  },
};

export interface SemaphoreJob {
  jobId: string;
  executionArn: string;
  startedAt: number;
  acquiredAt?: number;
  workStart?: number;
  workEnd?: number;
  releasedAt?: number;
}

/** ±10% (at most ±250 ms), as the local provider jitters its tasks. */
const jitter = (ms: number) => {
  const spread = Math.min(ms * 0.1, 250);
  return Math.max(0, Math.round(ms + (Math.random() * 2 - 1) * spread));
};

/** Runs the baseline state machine on the local interpreter against `dynamodbEndpoint` (the counting proxy). */
export async function startSemaphore(options: { dynamodbEndpoint: string; directEndpoint: string; limit: number; workMs: number }) {
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const tableName = `bench-semaphore-${randomUUID().slice(0, 8)}`;
  const direct = new DynamoDBClient({ endpoint: options.directEndpoint, region: 'us-east-1', credentials });
  await direct.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'LockName', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'LockName', KeyType: 'HASH' }],
    }),
  );
  await direct.send(new PutItemCommand({ TableName: tableName, Item: { LockName: { S: LOCK_NAME }, currentlockcount: { N: '0' } } }));
  direct.destroy();

  const dynamo = new DynamoDBClient({ endpoint: options.dynamodbEndpoint, region: 'us-east-1', credentials });
  const jobs = new Map<string, SemaphoreJob>();
  /** Work of these executions lasts until the promise settles (the blockers of the waiting scenario). */
  const held = new Map<string, Promise<void>>();
  const key = { LockName: { S: LOCK_NAME } };
  const jobOf = (owner: string) => jobs.get(owner) as SemaphoreJob;

  const handlers: Record<string, (owner: string) => Promise<unknown>> = {
    async 'acquire-lock'(owner) {
      try {
        await dynamo.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key,
            ExpressionAttributeNames: { '#currentlockcount': 'currentlockcount', '#lockownerid': owner },
            ExpressionAttributeValues: {
              ':increase': { N: '1' },
              ':limit': { N: String(options.limit) },
              ':lockacquiredtime': { S: new Date().toISOString() },
            },
            UpdateExpression: 'SET #currentlockcount = #currentlockcount + :increase, #lockownerid = :lockacquiredtime',
            ConditionExpression: 'currentlockcount <> :limit and attribute_not_exists(#lockownerid)',
            ReturnValues: 'UPDATED_NEW',
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          const named = new Error('The conditional request failed');
          named.name = 'DynamoDB.ConditionalCheckFailedException';
          throw named;
        }
        throw error;
      }
      jobOf(owner).acquiredAt = now();
      return {};
    },
    async 'get-lock'(owner) {
      const { Item } = await dynamo.send(
        new GetItemCommand({
          TableName: tableName,
          Key: key,
          ExpressionAttributeNames: { '#lockownerid': owner },
          ProjectionExpression: '#lockownerid',
        }),
      );
      return { held: Boolean(Item?.[owner]) };
    },
    async 'do-work'(owner) {
      const job = jobOf(owner);
      job.workStart = now();
      await (held.get(owner) ?? sleep(jitter(options.workMs)));
      job.workEnd = now();
      return {};
    },
    async 'release-lock'(owner) {
      await dynamo.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key,
          ExpressionAttributeNames: { '#currentlockcount': 'currentlockcount', '#lockownerid': owner },
          ExpressionAttributeValues: { ':decrease': { N: '1' } },
          UpdateExpression: 'SET #currentlockcount = #currentlockcount - :decrease REMOVE #lockownerid',
          ConditionExpression: 'attribute_exists(#lockownerid)',
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      jobOf(owner).releasedAt = now();
      return {};
    },
  };

  const sfn = new LocalStepFunctions({
    definition: SEMAPHORE_DEFINITION,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:semaphore-baseline',
    invoke: (file, payload) => {
      const handler = handlers[file];
      if (!handler) throw new Error(`no handler ${file}`);
      return handler((payload as { owner: string }).owner);
    },
  });

  /** Starts one execution (one job); `hold` keeps its work going until the promise settles. */
  function start(hold?: Promise<void>): SemaphoreJob {
    const jobId = randomUUID();
    const executionArn = `${sfn.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
    const job: SemaphoreJob = { jobId, executionArn, startedAt: now() };
    jobs.set(executionArn, job);
    if (hold) held.set(executionArn, hold);
    sfn.startExecution({ name: jobId, input: JSON.stringify({ jobId }) });
    return job;
  }

  return {
    sfn,
    tableName,
    start,
    done: (job: SemaphoreJob) => sfn.whenDone(job.executionArn),
    close() {
      sfn.close();
      dynamo.destroy();
    },
  };
}
